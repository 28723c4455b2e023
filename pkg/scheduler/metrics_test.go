package scheduler_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// The per-job series a dashboard and the alerts read: outcomes with their reason, failures in
// a row (reset by a success), and a fenced target's refusals; and the store's latency.
func TestRunMetrics(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if flaky.Add(1) <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case "/fenced":
			problem.Write(w, r, problem.New(http.StatusConflict, "fence-stale-token", "Stale fencing token", "a newer token was seen"))
		}
	}))
	defer srv.Close()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	putJob(t, a.store, "flaky", httpSpec(srv.URL+"/flaky", "@every 1s"), t0)
	putJob(t, a.store, "fenced", httpSpec(srv.URL+"/fenced", "@every 1s"), t0)
	leaderOf(t, a)
	value := func(name string, labels ...string) float64 { return promtest.Value(t, a.reg, name, labels...) }

	// Pre-created: every outcome of a job exists at zero before its first run (the fake clock
	// has not moved). Waited for, as the scheduler learns of the job from the cache's watch.
	etcdtest.WaitFor(t, 20*time.Second, "9 runs_total series for the new job (outcome × reason)", func() bool {
		return len(promtest.Series(t, a.reg, "schedulerd_runs_total", "job_name", "flaky")) == 9
	})
	if n := value("schedulerd_runs_total", "job_name", "flaky"); n != 0 {
		t.Errorf("runs_total of a job that has not run: %v, want 0", n)
	}
	failuresAfter := func(i int) float64 {
		t.Helper()
		waitOnClock(t, clock, "the loop")
		clock.Advance(time.Second)
		waitRun(t, a.store, "flaky", slot("flaky", i), "recorded", finished)
		etcdtest.WaitFor(t, 20*time.Second, "the run counted", func() bool {
			return value("schedulerd_runs_total", "job_name", "flaky") == float64(i)
		})
		return value("schedulerd_job_consecutive_failures", "job_name", "flaky")
	}
	if n := failuresAfter(1); n != 1 {
		t.Errorf("after one failure: %v in a row", n)
	}
	if n := failuresAfter(2); n != 2 {
		t.Errorf("after two failures: %v in a row", n)
	}
	if n := failuresAfter(3); n != 0 {
		t.Errorf("after a success: %v in a row, want 0", n)
	}
	if n := value("schedulerd_runs_total", "job_name", "flaky", "outcome", "failed", "reason", ""); n != 2 {
		t.Errorf("runs_total{failed} = %v, want 2", n)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the fenced target's refusals counted", func() bool {
		return value("schedulerd_fence_rejections_total", "job_name", "fenced", "kind", "stale-token") >= 1
	})
	if n := value("schedulerd_store_request_duration_seconds", "op", "claim"); n < 3 {
		t.Errorf("%v claims timed, want at least 3", n)
	}
	if r := waitRun(t, a.store, "fenced", slot("fenced", 1), "recorded", finished); r.State != store.StateFailed {
		t.Errorf("a refused dispatch recorded %s, want failed", r.State)
	}
}
