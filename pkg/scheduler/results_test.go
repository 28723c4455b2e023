package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Results that queue up while the writer is busy go to etcd together: 100 results in two
// transactions. One whose record changed meanwhile gets ErrRunChanged, and costs the others
// nothing.
func TestResultsAreWrittenTogether(t *testing.T) {
	st, reg, runs := claimedRuns(t, 100)
	ctx := context.Background()
	at := runs[0].Scheduled
	// job-042's record changes before its result is written: cancelled through the API.
	if _, _, err := st.Cancel(ctx, "job-042", runs[42].ID, "tester", at); err != nil {
		t.Fatal(err)
	}

	w := newResultWriter(st, 5*time.Second, &sendGate{}, resultLinger)
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		r.State, r.Status = store.StateSucceeded, 204
		wg.Go(func() { _, errs[i] = w.write(ctx, r) })
	}
	etcdtest.WaitFor(t, 10*time.Second, "every result queued", func() bool { return len(w.reqs) == len(runs) })
	before := promtest.Value(t, reg, "schedulerd_store_request_duration_seconds", "op", "update_run")
	wctx, stop := context.WithCancel(ctx)
	var writer sync.WaitGroup
	writer.Go(func() { w.run(wctx) })
	wg.Wait()
	stop()
	writer.Wait()

	for i, err := range errs {
		if i == 42 {
			if !errors.Is(err, store.ErrRunChanged) {
				t.Errorf("the cancelled run's result: %v, want ErrRunChanged", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("result %d: %v", i, err)
		}
	}
	// 64 to a transaction: two, then the batch with job-042 (64 or 36 results, as they
	// queued) again one by one.
	if n := promtest.Value(t, reg, "schedulerd_store_request_duration_seconds", "op", "update_run") - before; n != 2+64 && n != 2+36 {
		t.Errorf("%v update transactions, want 66 or 38", n)
	}
	for _, name := range []string{"job-000", "job-063", "job-064", "job-099"} {
		r, err := st.GetRun(ctx, name, store.RunID(name, at))
		if err != nil || r.State != store.StateSucceeded {
			t.Errorf("%s: %+v %v", name, r, err)
		}
		if n, err := st.InFlightCount(ctx, name); err != nil || n != 0 {
			t.Errorf("%s still in flight: %d %v", name, n, err)
		}
	}
	if r, err := st.GetRun(ctx, "job-042", runs[42].ID); err != nil || r.State != store.StateCancelled {
		t.Errorf("job-042: %+v %v", r, err)
	}
}

// claimedRuns claims one run each of n jobs (job-000…), as a leader would.
func claimedRuns(t *testing.T, n int) (*store.Store, *prometheus.Registry, []store.Run) {
	t.Helper()
	c := etcdtest.Start(t).Client()
	reg := prometheus.NewRegistry()
	st := store.New(c, "/test/", reg)
	ctx := context.Background()
	lr, err := c.Put(ctx, "/test/election/a", "a")
	if err != nil {
		t.Fatal(err)
	}
	f := store.Fence{LeaderKey: "/test/election/a", Token: fence.Token(lr.Header.Revision)}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var claims []store.JobClaim
	for i := range n {
		name := fmt.Sprintf("job-%03d", i)
		j, _, err := st.PutJob(ctx, name, job.Spec{Schedule: "@every 1s", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9/"}}}, at, 0)
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, store.JobClaim{JobVersion: j.Version, Runs: []store.Run{{
			ID: store.RunID(name, at), Job: name, Scheduled: at, State: store.StateRunning, Token: f.Token, Term: "a/1", Claimed: at,
		}}})
	}
	var runs []store.Run
	for i, r := range st.ClaimMany(ctx, f, claims) {
		if r.Err != nil {
			t.Fatalf("claim %d: %v", i, r.Err)
		}
		runs = append(runs, r.Runs[0])
	}
	return st, reg, runs
}

// A result waits while requests are being sent, and goes when they are answered; with none
// being sent it goes at once, and however long sends take, it waits no longer than linger.
func TestResultsYieldToSends(t *testing.T) {
	st, _, runs := claimedRuns(t, 3)
	ctx := context.Background()
	state := func(r store.Run) store.State {
		got, err := st.GetRun(ctx, r.Job, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}
	var sends sendGate
	start := func(linger time.Duration) *resultWriter {
		w := newResultWriter(st, 5*time.Second, &sends, linger)
		wctx, stop := context.WithCancel(ctx)
		var writer sync.WaitGroup
		writer.Go(func() { w.run(wctx) })
		t.Cleanup(func() { stop(); writer.Wait() })
		return w
	}
	w := start(time.Hour)

	done := make([]store.Run, len(runs))
	for i, r := range runs {
		r.State, r.Status = store.StateSucceeded, 204
		done[i] = r
	}

	sends.begin()
	// While a request is out the result is held: the writer answers nobody, whatever the
	// wait. A writer that did not yield would have written it within this deadline.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := w.write(short, done[0])
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a result while a request is being sent: %v, want it held (deadline exceeded)", err)
	}
	if s := state(runs[0]); s != store.StateRunning {
		t.Fatalf("held result written already: %s", s)
	}
	sends.end()
	etcdtest.WaitFor(t, 10*time.Second, "the held result written once the send was answered", func() bool {
		return state(runs[0]) == store.StateSucceeded
	})

	// Nothing being sent: at once, even with an hour's linger.
	if _, err := w.write(ctx, done[1]); err != nil {
		t.Fatal(err)
	}

	// A send that never ends holds a result for linger only.
	w = start(10 * time.Millisecond)
	sends.begin()
	t.Cleanup(sends.end)
	long, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.write(long, done[2]); err != nil {
		t.Fatalf("a result behind a send that is not answered: %v, want written after the linger", err)
	}
	if s := state(runs[2]); s != store.StateSucceeded {
		t.Errorf("result after the linger: %s", s)
	}
}
