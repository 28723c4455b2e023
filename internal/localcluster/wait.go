package localcluster

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Sleep waits for d or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Until polls cond every 100 ms, each call with a context of at most a second, until it holds
// or timeout passes (an error naming what) or ctx ends (ctx's error).
func Until(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		ok := cond(cctx)
		cancel()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s", what, timeout)
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// AwaitReady waits up to a minute for a replica's /readyz at api (its base URL) to answer 200.
func AwaitReady(ctx context.Context, client *http.Client, name, api string) error {
	return Until(ctx, time.Minute, name+" ready", func(ctx context.Context) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/readyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
