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
	for i := range 100 {
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
	// job-042's record changes before its result is written: cancelled through the API.
	if _, _, err := st.Cancel(ctx, "job-042", runs[42].ID, "tester", at); err != nil {
		t.Fatal(err)
	}

	w := newResultWriter(st, 5*time.Second)
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
