package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

// UserAgent is sent with every dispatch.
var UserAgent = "schedulerd"

// HTTPExecutor sends a run as the HTTP request its job describes, with the dispatch headers
// (fence.Dispatch.Set). A 2xx answer is success; redirects are not followed (a 3xx is a
// failure), so a run goes exactly where its spec says.
//
// It enforces the replica's target policy (package targets) on every attempt: the URL's host
// must be allowed, header secrets are read at that moment, and a link-local address is not
// dialled unless the policy names it. An attempt the policy refuses fails with an error that
// names the header or host, never a secret, and is not retried.
type HTTPExecutor struct {
	client  *http.Client
	targets *targets.Policy
}

// HTTPOption configures an HTTPExecutor.
type HTTPOption func(*HTTPExecutor)

// WithTargets makes the executor enforce p. Default: the zero targets.Config's policy (any
// host but link-local addresses; fromFile secrets under targets.DefaultSecretsDir).
func WithTargets(p *targets.Policy) HTTPOption { return func(e *HTTPExecutor) { e.targets = p } }

// NewHTTPExecutor returns an executor with its own connection pool.
func NewHTTPExecutor(opts ...HTTPOption) *HTTPExecutor {
	e := &HTTPExecutor{}
	for _, o := range opts {
		o(e)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Many jobs often call one host at the same instant (cron slots align): a pool that keeps
	// a burst's connections spares the next burst a TCP (and TLS) handshake per run.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 256
	// As http.DefaultTransport dials, with the link-local check on each address dialled.
	tr.DialContext = e.targets.DialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	e.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

// Execute performs one attempt; ctx carries the job's timeout.
func (e *HTTPExecutor) Execute(ctx context.Context, j job.Job, d fence.Dispatch) Result {
	h := j.Spec.Target.HTTP
	if h == nil {
		return Result{Err: errors.New("job has no http target")}
	}
	// Checked again here: the job may have been written under another policy.
	if err := e.targets.CheckURL(h.URL); err != nil {
		return Result{Err: err}
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL, body)
	if err != nil {
		return Result{Err: fmt.Errorf("build request: %w", describe(ctx, err))}
	}
	for _, k := range slices.Sorted(maps.Keys(h.Headers)) { // sorted: the first bad one is always the same
		v, err := e.targets.Header(k, h.Headers[k])
		if err != nil {
			return Result{Err: err}
		}
		req.Header.Set(k, v)
	}
	if h.Body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", UserAgent)
	d.Set(req.Header)

	resp, err := e.client.Do(req)
	if err != nil {
		var refused *targets.Error
		if errors.As(err, &refused) {
			// The policy refused the address dialled. Returned bare, without the *net.OpError
			// around it, so the attempt does not pass for a connection failure to retry.
			return Result{Err: refused}
		}
		return Result{Err: describe(ctx, err)}
	}
	defer resp.Body.Close()
	// Read a bounded amount so the connection can be reused; the start is recorded.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	snippet := store.Truncate(string(answer), store.MaxResponse)
	refusal := fenceRefusal(resp.StatusCode, resp.Header, answer)
	if refusal == FenceDuplicateRun {
		// A target guarded by package fence had this run already: delivered before.
		return Result{Status: resp.StatusCode, AlreadyDelivered: true, FenceRefusal: refusal, Response: snippet}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{Status: resp.StatusCode, Err: fmt.Errorf("target answered %s", resp.Status), RetryAfter: retryAfter(resp.Header),
			FenceRefusal: refusal, Response: snippet}
	}
	return Result{Status: resp.StatusCode, Response: snippet}
}

// describe says what went wrong without repeating the URL, whose query may hold a secret.
func describe(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timeout: no answer within the job's timeout: %w", err)
	case ctx.Err() != nil:
		return fmt.Errorf("cancelled (replica shutting down): %w", err)
	}
	return fmt.Errorf("request failed: %w", err)
}

// retryAfter reads Retry-After: delay-seconds, or an HTTP date taken relative to the response's
// own Date (not this replica's clock). Zero when absent or unreadable.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	at, err1 := http.ParseTime(v)
	date, err2 := http.ParseTime(h.Get("Date"))
	if err1 != nil || err2 != nil || !at.After(date) {
		return 0
	}
	return at.Sub(date)
}

// fenceRefusal names the refusal of a target guarded by package fence: the kind of its 409
// problem (FenceStaleToken, FenceDuplicateRun), or "" for any other answer.
func fenceRefusal(status int, h http.Header, body []byte) string {
	if status != http.StatusConflict || !strings.HasPrefix(h.Get("Content-Type"), problem.ContentType) {
		return ""
	}
	var p problem.Details
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	switch kind := strings.TrimPrefix(p.Type, problem.TypeBase+"fence-"); kind {
	case FenceStaleToken, FenceDuplicateRun:
		return kind
	}
	return ""
}
