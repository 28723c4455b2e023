package scheduler_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const prefix = "/test/"

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// target records every request it receives, like a service behind schedulerd.
type target struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []fence.Dispatch
	hdrs []http.Header
}

func newTarget(t *testing.T, status int) *target {
	t.Helper()
	tg := &target{}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := fence.ParseDispatch(r)
		if err != nil {
			t.Errorf("target got a request without dispatch headers: %v", err)
		}
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, d)
		tg.hdrs = append(tg.hdrs, r.Header.Clone())
		tg.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) received() []fence.Dispatch {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]fence.Dispatch(nil), tg.reqs...)
}

func (tg *target) has(runID string) bool {
	for _, d := range tg.received() {
		if d.RunID == runID {
			return true
		}
	}
	return false
}

// replica is one schedulerd replica made of real parts: cache, elector, scheduler.
type replica struct {
	id     string
	store  *store.Store
	cache  *store.Cache
	sched  *scheduler.Scheduler
	elect  *election.Elector
	reg    *prometheus.Registry
	clock  clockwork.Clock
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	terms []election.Term
	done  chan struct{} // closed when every component has returned
}

type replicaOpts struct {
	ttl      time.Duration
	client   *clientv3.Client
	executor scheduler.Executor
	quiet    bool // no logs: a benchmark's logging would be what it measures
	ahead    time.Duration
}

func startReplica(t testing.TB, e *etcdtest.Etcd, id string, clock clockwork.Clock, o replicaOpts) *replica {
	t.Helper()
	if o.ttl == 0 {
		o.ttl = 2 * time.Second
	}
	if o.client == nil {
		o.client = e.Client()
	}
	log := zaptest.NewLogger(t).With(zap.String("replica", id))
	if o.quiet {
		log = zap.NewNop()
	}
	r := &replica{id: id, clock: clock, reg: prometheus.NewRegistry(), done: make(chan struct{})}
	r.store = store.New(o.client, prefix, r.reg)
	r.cache = store.NewCache(r.store, log, clockwork.NewRealClock(), r.reg)
	var err error
	r.sched, err = scheduler.New(scheduler.Config{
		Store: r.store, Cache: r.cache, ReplicaID: id, CallbackURL: "http://127.0.0.1:8080", Clock: clock, Executor: o.executor,
		StoreTimeout: time.Second, ClaimAhead: o.ahead, Logger: log, Registerer: r.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.elect, err = election.New(election.Config{
		Client: o.client, Prefix: r.store.Keys().Election(), TTL: o.ttl, ReplicaID: id,
		Logger: log, Registerer: r.reg,
		Lead: func(term election.Term) error {
			r.mu.Lock()
			r.terms = append(r.terms, term)
			r.mu.Unlock()
			return r.sched.Lead(term)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, run := range []func(context.Context) error{r.cache.Run, r.sched.Run, r.elect.Run} {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); _ = run(ctx) }()
	}
	go func() { r.wg.Wait(); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	fake, ok := r.clock.(*clockwork.FakeClock)
	if !ok {
		<-r.done
		return
	}
	// A fake clock does not move by itself, so a shutdown waiting on it (a retry's backoff,
	// the drain timeout) would hang a test that failed before advancing it. Shutdowns that the
	// tests rely on finish at once; only a stuck one gets the clock moved, after a while.
	stuck := time.NewTimer(5 * time.Second)
	defer stuck.Stop()
	select {
	case <-r.done:
		return
	case <-stuck.C:
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
			fake.Advance(time.Second)
		}
	}
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// currentTerm waits for the replica's Lead to have been called (IsLeader turns true a moment
// before) and returns its latest term.
func (r *replica) currentTerm(t testing.TB) election.Term {
	t.Helper()
	var term election.Term
	etcdtest.WaitFor(t, 20*time.Second, r.id+"'s term", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.terms) == 0 {
			return false
		}
		term = r.terms[len(r.terms)-1]
		return true
	})
	return term
}

// token is the token of the replica's latest term.
func (r *replica) token() fence.Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.terms) == 0 {
		return 0
	}
	return r.terms[len(r.terms)-1].Token
}

func leaderOf(t testing.TB, rs ...*replica) *replica {
	t.Helper()
	var l *replica
	etcdtest.WaitFor(t, 30*time.Second, "a leader", func() bool {
		for _, r := range rs {
			if r.elect.IsLeader() {
				l = r
				return true
			}
		}
		return false
	})
	return l
}

func httpSpec(url, schedule string) job.Spec {
	return job.Spec{Schedule: schedule, Target: job.Target{HTTP: &job.HTTPTarget{URL: url}}}
}

func putJob(t testing.TB, s *store.Store, name string, sp job.Spec, now time.Time) job.Job {
	t.Helper()
	if err := sp.Validate(); err != nil {
		t.Fatal(err)
	}
	j, _, err := s.PutJob(context.Background(), name, sp, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// slot is the run id of a job's i-th slot after t0 at one-second intervals.
func slot(name string, i int) string {
	return store.RunID(name, t0.Add(time.Duration(i)*time.Second))
}

// exactlyOnce fails unless every run id in want was received exactly once and nothing else was.
func exactlyOnce(t *testing.T, got []fence.Dispatch, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, d := range got {
		count[d.RunID]++
	}
	for _, id := range want {
		if count[id] != 1 {
			t.Errorf("run %s received %d times, want once", id, count[id])
		}
		delete(count, id)
	}
	for id, n := range count {
		t.Errorf("unexpected run %s received %d times", id, n)
	}
}

// waitSkipped waits until g has counted at least n runs of jobName skipped for reason, then
// fails the test unless it counted exactly n. A claim's records are in etcd once it commits;
// the loop counts them just after, so a test that saw the records must wait for the count.
func waitSkipped(t *testing.T, g prometheus.Gatherer, jobName, reason string, n int) {
	t.Helper()
	count := func() int {
		return int(promtest.Value(t, g, "schedulerd_runs_skipped_total", "job_name", jobName, "reason", reason))
	}
	etcdtest.WaitFor(t, 10*time.Second, fmt.Sprintf("%d runs of %s counted skipped/%s", n, jobName, reason), func() bool { return count() >= n })
	if got := count(); got != n {
		t.Errorf("schedulerd_runs_skipped_total{job_name=%q,reason=%q} = %d, want %d", jobName, reason, got, n)
	}
}
