package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The limit: what etcd itself does with transactions shaped like a claim.
type limitReport struct {
	scenarioInfo
	Parameters limitParams `json:"parameters"`
	Results    []txnRate   `json:"results"`
}

type limitParams struct {
	EtcdMembers   int     `json:"etcdMembers"`
	Concurrency   []int   `json:"concurrency"`
	WindowSeconds float64 `json:"windowSeconds"`
	// Shape of each transaction: one compare (a key's create revision) and two puts.
	Shape      string `json:"shape"`
	ValueBytes []int  `json:"valueBytes"`
}

// txnRate is one measured concurrency.
type txnRate struct {
	Concurrency int `json:"concurrency"`
	Txns        int `json:"txns"`
	Errors      int `json:"errors"`
	// FirstError is what the first failed transaction said, when one did.
	FirstError string  `json:"firstError,omitempty"`
	TxnsPerSec float64 `json:"txnsPerSec"`
	Latency    dist    `json:"latency"`
}

// Sizes of the two values, as a claim's run record and cursor are.
const (
	runValueBytes    = 600
	cursorValueBytes = 60
)

const limitShape = "If(CreateRevision(leader key) = token) Then(Put(run key, 600 B), Put(cursor key, 60 B))"

func (b *bench) limit(ctx context.Context) (*limitReport, error) {
	p := limitParams{EtcdMembers: b.o.etcd, Concurrency: []int{1, 16, 64}, Shape: limitShape, ValueBytes: []int{runValueBytes, cursorValueBytes},
		WindowSeconds: b.o.window(5*time.Second, 500*time.Millisecond).Seconds()}
	c, err := b.startCluster(ctx, "limit")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	r := &limitReport{Parameters: p}
	for _, n := range p.Concurrency {
		rate, err := measureTxns(ctx, c.etcd, fmt.Sprintf("/bench-limit/%d/", n), n, time.Duration(p.WindowSeconds*float64(time.Second)))
		if err != nil {
			return nil, err
		}
		b.say("limit: %d concurrent: %.0f txn/s, p50 %.2f ms, p99 %.2f ms", n, rate.TxnsPerSec, rate.Latency.P50, rate.Latency.P99)
		r.Results = append(r.Results, rate)
	}
	return r, nil
}

// measureTxns runs claim-shaped transactions under keyPrefix from n goroutines for window
// (after a short warm-up) and reports their rate and latency.
func measureTxns(ctx context.Context, etcd *clientv3.Client, keyPrefix string, n int, window time.Duration) (txnRate, error) {
	leaderKey := keyPrefix + "leader"
	resp, err := etcd.Put(ctx, leaderKey, "bench")
	if err != nil {
		return txnRate{}, err
	}
	token := resp.Header.Revision // the key's create revision
	runValue, cursorValue := strings.Repeat("r", runValueBytes), strings.Repeat("c", cursorValueBytes)
	txn := func(ctx context.Context, worker, i int) error {
		_, err := etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(leaderKey), "=", token)).
			Then(clientv3.OpPut(fmt.Sprintf("%sruns/w%d/%08d", keyPrefix, worker, i), runValue),
				clientv3.OpPut(fmt.Sprintf("%scursors/w%d", keyPrefix, worker), cursorValue)).Commit()
		return err
	}
	for i := range 50 { // warm-up: connections, leases of the gRPC streams
		if err := txn(ctx, -1, i); err != nil {
			return txnRate{}, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		firstErr  string
	)
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			var own []time.Duration
			bad := 0
			for i := 0; wctx.Err() == nil; i++ {
				t := time.Now()
				if err := txn(wctx, w, i); err != nil {
					// The window's deadline is the only one: gRPC may report it a moment
					// before wctx does, and that is the window ending, not a failure.
					if wctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
						bad++
						mu.Lock()
						if firstErr == "" {
							firstErr = err.Error()
						}
						mu.Unlock()
					}
					continue
				}
				own = append(own, time.Since(t))
			}
			mu.Lock()
			latencies, errs = append(latencies, own...), errs+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return txnRate{}, ctx.Err()
	}
	if _, err := etcd.Delete(ctx, keyPrefix, clientv3.WithPrefix()); err != nil {
		return txnRate{}, err
	}
	return txnRate{Concurrency: n, Txns: len(latencies), Errors: errs, FirstError: firstErr, TxnsPerSec: perSecond(len(latencies), elapsed), Latency: summarize(latencies)}, nil
}
