package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// The leader loses etcd while a run waits between two attempts; the next leader waits out the
// claimer's budget, then marks the run unknown (at most once) or sends it again under its own
// token (at least once). The cut-off leader can still reach the target, so its pending retry
// goes out too, within its budget. (A Retry-After longer than maxBackoff ends the run at once,
// so no wait can outlast the budget: TestRetries.)
func TestFailoverMidRetry(t *testing.T) {
	const (
		timeout = 10 * time.Second
		backoff = 10 * time.Second // also the maxBackoff, so the first wait is 5–10s
		// How long loop.go's reap leaves the claimer at it: every attempt's timeout, the
		// longest wait between attempts, and the 30s margin.
		budget = 3*timeout + 2*backoff + 30*time.Second
	)
	for _, tc := range []struct {
		name     string
		delivery job.Delivery
		// requests is what reached the target for the run, in order: replica#attempt, the
		// answer and, when the fence gave it rather than the handler, the problem kind.
		requests []string
		state    store.State
		by       string // whose claim the final record is
		status   int
	}{
		{
			name: "at most once, A retries within its budget", delivery: job.AtMostOnce,
			requests: []string{"a#1 503", "a#2 204"},
			state:    store.StateUnknown, by: "a",
		},
		{
			name: "at least once, A retries within its budget", delivery: job.AtLeastOnce,
			requests: []string{"a#1 503", "a#2 204", "b#1 409 fence-duplicate-run"},
			state:    store.StateSucceeded, by: "b", status: http.StatusConflict,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			clock := clockwork.NewFakeClockAt(t0)
			var calls atomic.Int32
			tg := newFencedTarget(t, func(fence.Dispatch, http.Header) int {
				if calls.Add(1) > 1 {
					return http.StatusNoContent
				}
				return http.StatusServiceUnavailable
			})
			a, b, cut := leaderAndStandby(t, e, clock)
			aTok := a.currentTerm(t).Token
			sp := httpSpec(tg.srv.URL, "@every 1h")
			sp.Delivery = tc.delivery
			sp.Target.HTTP.Timeout = job.Duration(timeout)
			sp.Retry = job.Retry{Attempts: 3, Backoff: job.Duration(backoff), MaxBackoff: job.Duration(backoff)}
			putJob(t, a.store, "hourly", sp, t0)
			due := t0.Add(time.Hour)
			run := store.RunID("hourly", due)

			waitOnClock(t, clock, "a's loop")
			clock.Advance(time.Hour)
			etcdtest.WaitFor(t, 20*time.Second, "a's first attempt", func() bool { return tg.answered(run, aTok, 1) })
			// A now waits on the fake clock for its second attempt, which it can still send,
			// but it can neither record a result nor keep its lease.
			cut()
			etcdtest.WaitFor(t, 30*time.Second, "b to lead", b.elect.IsLeader)
			bTok := b.currentTerm(t).Token
			if bTok <= aTok {
				t.Fatalf("b's token %d is not above a's %d", bTok, aTok)
			}

			// A is done with the run (and holds a result it cannot record) once it counts it.
			aDone := func() bool { return promtest.Value(t, a.reg, "schedulerd_runs_total", "job_name", "hourly") == 1 }
			clock.Advance(backoff)
			etcdtest.WaitFor(t, 20*time.Second, "a's retry", aDone)
			// A second at a time, so that B looks at every reap and would take the run over
			// early if it undercounted A's budget; it stops once B has, so that B's own
			// attempt does not time out on the fake clock.
			etcdtest.WaitFor(t, 20*time.Second, "b to take the run over", func() bool {
				r, err := b.store.GetRun(context.Background(), "hourly", run)
				if err == nil && !(inFlight(r) && r.Token == aTok) {
					return true
				}
				clock.Advance(time.Second)
				return false
			})
			etcdtest.WaitFor(t, 20*time.Second, "b to settle the run", func() bool {
				r, err := b.store.GetRun(context.Background(), "hourly", run)
				return err == nil && !inFlight(r)
			})
			// B reaps before it fires, so by its next slot it has had every chance to send
			// the run (again).
			next := store.RunID("hourly", due.Add(time.Hour))
			clock.Advance(due.Add(time.Hour).Sub(clock.Now()))
			etcdtest.WaitFor(t, 20*time.Second, "b's next slot", func() bool { return tg.answered(next, bTok, 1) })

			who := map[fence.Token]string{aTok: "a", bTok: "b"}
			if got := tg.requests(run, who); !slices.Equal(got, tc.requests) {
				t.Errorf("the target got %q, want %q", got, tc.requests)
			}
			var handled []string
			for _, r := range tc.requests {
				if !strings.Contains(r, " fence-") {
					handled = append(handled, r)
				}
			}
			got := tg.handledBy(run, who)
			if !slices.Equal(got, handled) {
				t.Errorf("the target's handler saw %q, want %q", got, handled)
			}
			if n := len(slices.DeleteFunc(got, func(s string) bool { return !strings.HasSuffix(s, " 204") })); n != 1 {
				t.Errorf("the target's handler accepted the run %d times, want once", n)
			}

			r, err := b.store.GetRun(context.Background(), "hourly", run)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tc.state || r.Replica != tc.by || who[r.Token] != tc.by || r.Status != tc.status {
				t.Errorf("record %s by %s with token %d, status %d; want %s by %s with its token, status %d (tokens %v)",
					r.State, r.Replica, r.Token, r.Status, tc.state, tc.by, tc.status, who)
			}
			if r.State == store.StateUnknown && r.Error == "" {
				t.Error("run marked unknown without saying why")
			}
			takenOver := r.Claimed // a run sent again is claimed anew
			if r.State == store.StateUnknown {
				takenOver = r.Finished
			}
			if d := takenOver.Sub(due); d < budget {
				t.Errorf("b took the run over %s after a claimed it, within a's budget of %s", d, budget)
			}
		})
	}
}

// With concurrency forbid, a run in flight on a leader that is then cut off holds the job's
// next slots back on the new leader, which knows of the run only from etcd's in-flight index;
// once the claimer's budget has passed, the new leader marks the run unknown and sends the
// next slot.
func TestFailoverMidForbidRun(t *testing.T) {
	const (
		timeout = 5 * time.Second
		budget  = timeout + 30*time.Second // one attempt, no backoff, and reap's margin
	)
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	release := make(chan struct{})
	tg := newFencedTarget(t, func(d fence.Dispatch, _ http.Header) int {
		if d.RunID == slot("slow", 1) {
			<-release // A's run never ends at the target while the test looks
		}
		return http.StatusNoContent
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	a, b, cut := leaderAndStandby(t, e, clock)
	aTok := a.currentTerm(t).Token
	sp := httpSpec(tg.srv.URL, "@every 1s")
	sp.Concurrency = job.ConcurrencyForbid
	sp.Target.HTTP.Timeout = job.Duration(timeout)
	putJob(t, a.store, "slow", sp, t0)

	waitOnClock(t, clock, "a's loop")
	clock.Advance(time.Second)
	etcdtest.WaitFor(t, 20*time.Second, "slot 1 at the target", func() bool { return tg.has(slot("slow", 1)) })
	cut()
	etcdtest.WaitFor(t, 30*time.Second, "b to lead", b.elect.IsLeader)
	bTok := b.currentTerm(t).Token
	inflight, err := b.store.InFlight(context.Background())
	if err != nil || len(inflight) != 1 || inflight[0].ID != slot("slow", 1) || inflight[0].Token != aTok || !inFlight(inflight[0]) {
		t.Fatalf("in-flight index after the cut: %+v, %v; want slot 1 claimed by a", inflight, err)
	}

	record := func(i int) store.Run {
		var r store.Run
		etcdtest.WaitFor(t, 20*time.Second, "record of "+slot("slow", i), func() bool {
			var err error
			r, err = b.store.GetRun(context.Background(), "slow", slot("slow", i))
			return err == nil
		})
		return r
	}
	// B reaps every 10s, so it sends a slot at most that long after the budget has passed.
	last := int((time.Second + budget + 10*time.Second) / time.Second)
	first := 0 // the first slot b sends
	for i := 2; first == 0; i++ {
		if i > last {
			t.Fatalf("b still holds slot %d back, past a's budget", i)
		}
		clock.Advance(time.Second)
		switch r := record(i); {
		case inFlight(r) || r.State == store.StateSucceeded:
			first = i
		case r.State != store.StateSkipped || r.Reason != store.ReasonOverlap:
			t.Fatalf("slot %d: %s/%s, want skipped/overlap while slot 1 is in flight", i, r.State, r.Reason)
		}
	}
	sent := t0.Add(time.Duration(first) * time.Second)
	if claimed := t0.Add(time.Second); sent.Sub(claimed) < budget {
		t.Errorf("b sent slot %d %s after a claimed slot 1, within a's budget of %s", first, sent.Sub(claimed), budget)
	}
	if r := record(1); r.State != store.StateUnknown || r.Replica != "a" || r.Token != aTok || r.Finished.After(sent) {
		t.Errorf("slot 1: %s by %s (token %d), finished %s; want unknown, by a, by %s when slot %d was sent",
			r.State, r.Replica, r.Token, r.Finished.Format(time.TimeOnly), sent.Format(time.TimeOnly), first)
	}
	etcdtest.WaitFor(t, 20*time.Second, "b's slot at the target", func() bool { return tg.answered(slot("slow", first), bTok, 1) })
	exactlyOnce(t, tg.received(), []string{slot("slow", 1), slot("slow", first)})
	for _, d := range tg.received() {
		if want := map[string]fence.Token{slot("slow", 1): aTok, slot("slow", first): bTok}[d.RunID]; d.Token != want {
			t.Errorf("%s carried token %d, want %d", d.RunID, d.Token, want)
		}
	}
	etcdtest.WaitFor(t, 20*time.Second, "b's slot recorded", func() bool {
		r := record(first)
		return r.State == store.StateSucceeded && r.Replica == "b"
	})
	if n := promtest.Value(t, b.reg, "schedulerd_runs_skipped_total", "job_name", "slow", "reason", store.ReasonOverlap); int(n) != first-2 {
		t.Errorf("b counted %v overlaps, want %d", n, first-2)
	}
}

// leaderAndStandby starts replica a on an etcd client that cut severs from etcd, waits for
// it to lead, and starts replica b on a direct client to take over.
func leaderAndStandby(t *testing.T, e *etcdtest.Etcd, clock *clockwork.FakeClock) (a, b *replica, cut func()) {
	t.Helper()
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := etcdtest.NewProxy(t, u.Host)
	a = startReplica(t, e, "a", clock, replicaOpts{client: etcdtest.NewClient(t, proxy.URL())})
	// Cut off, a cannot record its runs' results, so its shutdown drain waits on the fake
	// clock until it gives up on them: time has to move for a to stop.
	t.Cleanup(func() {
		stopped := make(chan struct{})
		go func() { a.stop(); close(stopped) }()
		etcdtest.WaitFor(t, 30*time.Second, "a to stop", func() bool {
			select {
			case <-stopped:
				return true
			default:
				clock.Advance(100 * time.Millisecond)
				return false
			}
		})
	})
	leaderOf(t, a)
	b = startReplica(t, e, "b", clock, replicaOpts{})
	return a, b, proxy.Cut
}

// waitOnClock waits until something (the leader loop, when nothing else uses the clock) waits
// on the fake clock, so that an Advance reaches it.
func waitOnClock(t *testing.T, clock *clockwork.FakeClock, what string) {
	t.Helper()
	etcdtest.WaitFor(t, 20*time.Second, what+" to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
}

// inFlight reports whether a run is claimed without a result. A claimed run without jitter is
// stored as "running" once that state exists.
func inFlight(r store.Run) bool {
	return r.State == store.StateClaimed || string(r.State) == "running"
}

// fencedTarget is a target guarded by the fence middleware, as a service that must do each run
// once would be. It logs every request in arrival order with its answer, whether the fence gave
// it or the handler, and separately what reached the handler.
type fencedTarget struct {
	srv *httptest.Server

	mu       sync.Mutex
	arrivals []*exchange
	handled  []exchange
}

// exchange is a request and its answer: status 0 while it is pending, fenced the problem kind
// when the fence refused it.
type exchange struct {
	d      fence.Dispatch
	status int
	fenced string
}

// newFencedTarget serves handle behind the fence; handle sets any headers on h and returns
// the status to answer.
func newFencedTarget(t *testing.T, handle func(d fence.Dispatch, h http.Header) int) *fencedTarget {
	t.Helper()
	ft := &fencedTarget{}
	guarded := fence.Middleware(fence.NewVerifier(0), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := fence.FromContext(r.Context())
		status := handle(d, w.Header())
		ft.mu.Lock()
		ft.handled = append(ft.handled, exchange{d: d, status: status})
		ft.mu.Unlock()
		w.WriteHeader(status)
	}))
	ft.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := fence.ParseDispatch(r)
		if err != nil {
			t.Errorf("target got a request without dispatch headers: %v", err)
		}
		a := &exchange{d: d}
		ft.mu.Lock()
		ft.arrivals = append(ft.arrivals, a)
		ft.mu.Unlock()

		rec := httptest.NewRecorder()
		guarded.ServeHTTP(rec, r)
		var p problem.Details
		fenced := ""
		if rec.Header().Get("Content-Type") == problem.ContentType && json.Unmarshal(rec.Body.Bytes(), &p) == nil {
			fenced = strings.TrimPrefix(p.Type, problem.TypeBase)
		}
		ft.mu.Lock()
		a.status, a.fenced = rec.Code, fenced
		ft.mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(ft.srv.Close)
	return ft
}

// answered reports whether attempt n of a run under token tok has had its answer.
func (ft *fencedTarget) answered(runID string, tok fence.Token, n int) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, a := range ft.arrivals {
		if a.d.RunID == runID && a.d.Token == tok && a.d.Attempt == n && a.status != 0 {
			return true
		}
	}
	return false
}

func (ft *fencedTarget) has(runID string) bool {
	return slices.ContainsFunc(ft.received(), func(d fence.Dispatch) bool { return d.RunID == runID })
}

// received is every dispatch that arrived, answered or not.
func (ft *fencedTarget) received() []fence.Dispatch {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []fence.Dispatch
	for _, a := range ft.arrivals {
		out = append(out, a.d)
	}
	return out
}

// requests describes the arrivals of a run as "<replica>#<attempt> <status>[ <fence problem>]",
// naming replicas by their tokens.
func (ft *fencedTarget) requests(runID string, who map[fence.Token]string) []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []string
	for _, a := range ft.arrivals {
		if a.d.RunID == runID {
			out = append(out, strings.TrimSpace(describeAnswer(*a, who)+" "+a.fenced))
		}
	}
	return out
}

// handledBy describes what reached the handler for a run, like requests.
func (ft *fencedTarget) handledBy(runID string, who map[fence.Token]string) []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []string
	for _, a := range ft.handled {
		if a.d.RunID == runID {
			out = append(out, describeAnswer(a, who))
		}
	}
	return out
}

func describeAnswer(a exchange, who map[fence.Token]string) string {
	name, ok := who[a.d.Token]
	if !ok {
		name = fmt.Sprintf("token %d", a.d.Token)
	}
	return fmt.Sprintf("%s#%d %d", name, a.d.Attempt, a.status)
}
