package scheduler_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// drive advances the fake clock one second at a time and waits, after each step, for the run
// of that slot to reach the target.
func drive(t *testing.T, clock *clockwork.FakeClock, tg *target, name string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		clock.Advance(time.Second)
		etcdtest.WaitFor(t, 20*time.Second, "run "+slot(name, i), func() bool { return tg.has(slot(name, i)) })
	}
}

// Test 1: two replicas, one @every 1s job, 100 slots: each run dispatched exactly once, by the
// leader only, carrying the leader's token.
func TestTwoReplicasDispatchEachSlotOnceByLeader(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	b := startReplica(t, e, "b", clock, replicaOpts{})
	putJob(t, a.store, "tick", httpSpec(tg.srv.URL, "@every 1s"), t0)
	leader := leaderOf(t, a, b)
	follower := map[*replica]*replica{a: b, b: a}[leader]

	drive(t, clock, tg, "tick", 1, 100)

	var want []string
	for i := 1; i <= 100; i++ {
		want = append(want, slot("tick", i))
	}
	got := tg.received()
	exactlyOnce(t, got, want)
	for _, d := range got {
		if d.Token != leader.token() || d.Job != "tick" || d.Attempt != 1 {
			t.Fatalf("dispatch %+v not from the leader's term (token %d)", d, leader.token())
		}
	}
	if n := promtest.Value(t, leader.reg, "schedulerd_claims_total", "result", "ok"); n != 100 {
		t.Errorf("leader made %v claims, want 100", n)
	}
	if n := promtest.Value(t, follower.reg, "schedulerd_claims_total"); n != 0 {
		t.Errorf("follower attempted %v claims, want none", n)
	}
	etcdtest.WaitFor(t, 20*time.Second, "every result recorded", func() bool {
		runs, err := a.store.ListRuns(context.Background(), "tick", 1000)
		if err != nil || len(runs) != 100 {
			return false
		}
		for _, r := range runs {
			if r.State != store.StateSucceeded || r.Status != 204 || r.Attempts != 1 || r.Replica != leader.id {
				return false
			}
		}
		return true
	})
}

// Test 2: a leader whose session was revoked (or that was replaced) wakes up and runs its loop
// with its old term: every claim is fenced, nothing reaches the target, nothing is written.
func TestStaleLeaderIsFenced(t *testing.T) {
	e := etcdtest.Start(t)
	client := e.Client()
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	zombie := startReplica(t, e, "zombie", clock, replicaOpts{ttl: time.Hour})
	putJob(t, zombie.store, "tick", httpSpec(tg.srv.URL, "@every 1s"), t0)
	leaderOf(t, zombie)
	drive(t, clock, tg, "tick", 1, 3)
	old := zombie.currentTerm(t)
	etcdtest.WaitFor(t, 20*time.Second, "results recorded", func() bool {
		runs, _ := zombie.store.ListRuns(context.Background(), "tick", 10)
		return len(runs) == 3 && runs[0].State == store.StateSucceeded
	})
	zombie.stop() // its lease is revoked; its term is over

	for _, tc := range []struct {
		name      string
		newLeader bool
	}{
		{"no leader now", false},
		{"another replica leads now", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.newLeader {
				events := make(chan fence.Token, 1)
				el, err := election.New(election.Config{
					Client: client, Prefix: store.NewKeys(prefix).Election(), TTL: time.Hour, ReplicaID: "new",
					Lead: func(term election.Term) error { events <- term.Token; <-term.Done(); return nil },
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = el.Run(ctx) }()
				defer func() { cancel(); <-done }()
				select {
				case tok := <-events:
					if tok <= old.Token {
						t.Fatalf("new token %d not above old %d", tok, old.Token)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("new leader not elected")
				}
			}
			s, _ := newScheduler(t, client, clock, "zombie")
			clock.Advance(time.Second) // slot 4 is due
			before := etcdtest.Revision(t, client)
			sent := len(tg.received())
			// The zombie believes its term is still on: its context is live. The deadline only
			// bounds the test when the guard is broken and the loop keeps leading.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := s.Lead(election.Term{Context: ctx, Token: old.Token, LeaderKey: old.LeaderKey})
			if !errors.Is(err, fence.ErrFenced) {
				t.Errorf("Lead returned %v, want fence.ErrFenced", err)
			}
			if after := etcdtest.Revision(t, client); after != before {
				t.Errorf("the stale leader wrote to etcd: revision %d → %d", before, after)
			}
			if n := len(tg.received()); n != sent {
				t.Errorf("the stale leader dispatched %d runs", n-sent)
			}
		})
	}
}

// newScheduler builds a scheduler with a synced cache, outside any election.
func newScheduler(t *testing.T, client *clientv3.Client, clock clockwork.Clock, id string) (*scheduler.Scheduler, *store.Cache) {
	t.Helper()
	log := zaptest.NewLogger(t)
	st := store.New(client, prefix, nil)
	cache := store.NewCache(st, log, clockwork.NewRealClock(), nil)
	s, err := scheduler.New(scheduler.Config{Store: st, Cache: cache, ReplicaID: id, Clock: clock, StoreTimeout: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = cache.Run(ctx); done <- struct{}{} }()
	go func() { _ = s.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	<-cache.Synced()
	return s, cache
}

// Test 3: identically configured replicas (same replica id, same flags — prefork workers, or a
// second process started by mistake) started at once never dispatch a run twice.
func TestIdenticalReplicasStartedAtOnce(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	putJob(t, store.New(e.Client(), prefix, nil), "tick", httpSpec(tg.srv.URL, "@every 1s"), t0)
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, e, "web-1", clock, replicaOpts{}))
	}
	leaderOf(t, rs...)
	drive(t, clock, tg, "tick", 1, 30)
	var want []string
	for i := 1; i <= 30; i++ {
		want = append(want, slot("tick", i))
	}
	exactlyOnce(t, tg.received(), want)
}

// Test 4: the leader's session is closed; the follower takes over and dispatches the next slot,
// with no slot lost or repeated. Then a graceful stop hands over although the TTL is an hour.
func TestFailover(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	t.Run("session closed", func(t *testing.T) {
		a := startReplica(t, e, "a", clock, replicaOpts{})
		b := startReplica(t, e, "b", clock, replicaOpts{})
		putJob(t, a.store, "tick", httpSpec(tg.srv.URL, "@every 1s"), t0)
		first := leaderOf(t, a, b)
		drive(t, clock, tg, "tick", 1, 10)
		second := map[*replica]*replica{a: b, b: a}[first]

		key := first.currentTerm(t).LeaderKey
		lease, _ := strconv.ParseInt(key[strings.LastIndex(key, "/")+1:], 16, 64)
		if _, err := e.Client().Revoke(context.Background(), clientv3.LeaseID(lease)); err != nil {
			t.Fatal(err)
		}
		etcdtest.WaitFor(t, 30*time.Second, "the follower to lead", second.elect.IsLeader)
		drive(t, clock, tg, "tick", 11, 20)

		var want []string
		for i := 1; i <= 20; i++ {
			want = append(want, slot("tick", i))
		}
		exactlyOnce(t, tg.received(), want)
		for _, d := range tg.received()[10:] {
			if d.Token != second.token() || d.Token <= first.terms[0].Token {
				t.Errorf("after failover %s carried token %d, want the new term's %d", d.RunID, d.Token, second.token())
			}
		}
		a.stop()
		b.stop()
	})
	t.Run("resign on shutdown", func(t *testing.T) {
		a := startReplica(t, e, "a", clock, replicaOpts{ttl: time.Hour})
		b := startReplica(t, e, "b", clock, replicaOpts{ttl: time.Hour})
		first := leaderOf(t, a, b)
		second := map[*replica]*replica{a: b, b: a}[first]
		drive(t, clock, tg, "tick", 21, 22)
		first.stop()
		etcdtest.WaitFor(t, 30*time.Second, "hand-over without waiting for the 1h TTL", second.elect.IsLeader)
		drive(t, clock, tg, "tick", 23, 25)
		var want []string
		for i := 1; i <= 25; i++ {
			want = append(want, slot("tick", i))
		}
		exactlyOnce(t, tg.received(), want)
	})
}

// Test 5: etcd stops while a run is due and starts again: the loop resumes by itself and
// dispatches the due run; no component exits. The session TTL outlasts the outage, so the
// same term goes on: it is the loop's own retry that resumes, not a new term.
func TestStoreOutageResumes(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{ttl: time.Hour})
	sp := httpSpec(tg.srv.URL, "@every 1s")
	// Time moves on while etcd restarts; catching up on every slot makes slot 4 the one sent.
	sp.Misfire.CatchUp = job.CatchUpAll
	putJob(t, a.store, "tick", sp, t0)
	leaderOf(t, a)
	drive(t, clock, tg, "tick", 1, 3)

	e.Stop()
	clock.Advance(time.Second) // slot 4 is due while etcd is down
	etcdtest.WaitFor(t, 30*time.Second, "a failed claim", func() bool {
		return promtest.Value(t, a.reg, "schedulerd_claims_total", "result", "error") > 0
	})
	e.Restart()
	slot4 := store.RunID("tick", t0.Add(4*time.Second))
	etcdtest.WaitFor(t, 60*time.Second, "slot 4 dispatched after etcd came back", func() bool {
		clock.Advance(100 * time.Millisecond) // time goes on; backoff timers run on this clock
		return tg.has(slot4)
	})
	if !a.alive() {
		t.Fatal("a component of the replica exited during the outage")
	}
	a.mu.Lock()
	terms := len(a.terms)
	a.mu.Unlock()
	if terms != 1 || !a.elect.IsLeader() {
		t.Errorf("the loop did not resume in its term: %d terms, leader %v", terms, a.elect.IsLeader())
	}
	etcdtest.WaitFor(t, 30*time.Second, "slot 4 recorded", func() bool {
		r, err := a.store.GetRun(context.Background(), "tick", slot4)
		return err == nil && r.State == store.StateSucceeded
	})
	got := map[string]int{}
	for _, d := range tg.received() {
		got[d.RunID]++
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("run %s dispatched %d times", id, n)
		}
	}
}

// Slots later than the misfire grace are recorded as skipped/missed, never dispatched; of the
// slots still within the grace, the catch-up policy dispatches the newest (latest) or each in
// turn up to maxCatchUp (all), and records the rest as skipped with the reason.
func TestMisfireAndCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		catchUp    job.CatchUp
		maxCatchUp int
		schedule   string
		advance    time.Duration  // how far the clock jumps at once
		records    int            // run records in the end
		dispatched []int          // slots sent to the target, in seconds after t0
		skipped    map[string]int // records by reason
	}{
		// @every 1s, 20s at once: slots 1..14 are more than the 5s grace late; 15..20 are not.
		{"latest (default)", "", 0, "@every 1s", 20 * time.Second, 20, []int{20}, map[string]int{store.ReasonMissed: 19}},
		{"all", job.CatchUpAll, 0, "@every 1s", 20 * time.Second, 20, []int{15, 16, 17, 18, 19, 20}, map[string]int{store.ReasonMissed: 14}},
		{"all, at most 2", job.CatchUpAll, 2, "@every 1s", 20 * time.Second, 20, []int{19, 20}, map[string]int{store.ReasonMissed: 14, store.ReasonCatchupLimit: 4}},
		// @every 10s, 13s at once: the slot at 10s is 3s late, within the grace.
		{"latest sends a slot 3s late", "", 0, "@every 10s", 13 * time.Second, 1, []int{10}, map[string]int{}},
		{"none does not", job.CatchUpNone, 0, "@every 10s", 13 * time.Second, 1, nil, map[string]int{store.ReasonMissed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			clock := clockwork.NewFakeClockAt(t0)
			tg := newTarget(t, 204)
			a := startReplica(t, e, "a", clock, replicaOpts{})
			sp := httpSpec(tg.srv.URL, tc.schedule)
			sp.Misfire = job.Misfire{Grace: job.Duration(5 * time.Second), CatchUp: tc.catchUp, MaxCatchUp: tc.maxCatchUp}
			putJob(t, a.store, "tick", sp, t0)
			leaderOf(t, a)
			etcdtest.WaitFor(t, 30*time.Second, "the loop to wait on the clock", func() bool { return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil })

			clock.Advance(tc.advance)
			var want []string
			for _, i := range tc.dispatched {
				want = append(want, slot("tick", i))
			}
			etcdtest.WaitFor(t, 30*time.Second, "every slot recorded", func() bool {
				runs, _ := a.store.ListRuns(context.Background(), "tick", 100)
				return len(runs) == tc.records && len(tg.received()) >= len(want)
			})
			exactlyOnce(t, tg.received(), want)
			runs, err := a.store.ListRuns(context.Background(), "tick", 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, r := range runs {
				if r.State == store.StateSkipped {
					got[r.Reason]++
				}
			}
			for reason, n := range tc.skipped {
				if got[reason] != n {
					t.Errorf("skipped %v, want %v", got, tc.skipped)
				}
				waitSkipped(t, a.reg, "tick", reason, n)
			}
		})
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A paused job is not dispatched; edits re-plan it; a deleted job stops.
func TestJobChangesReplan(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	leaderOf(t, a)
	sp := httpSpec(tg.srv.URL, "@every 1s")
	putJob(t, a.store, "tick", sp, t0)
	drive(t, clock, tg, "tick", 1, 2)

	sp.Paused = true
	putJob(t, a.store, "tick", sp, clock.Now())
	etcdtest.WaitFor(t, 10*time.Second, "cache to see the pause", func() bool {
		j, _ := a.cache.Get("tick")
		return j.Spec.Paused
	})
	sp.Paused = false
	sp.Schedule = "@every 5s"
	putJob(t, a.store, "tick", sp, t0.Add(10*time.Second)) // resumed at +10s on a new schedule
	clock.Advance(15 * time.Second)                        // now +17s: the new schedule's slot +15s is due
	etcdtest.WaitFor(t, 20*time.Second, "the re-planned slot", func() bool { return tg.has(slot("tick", 15)) })
	exactlyOnce(t, tg.received(), []string{slot("tick", 1), slot("tick", 2), slot("tick", 15)})

	if err := a.store.DeleteJob(context.Background(), "tick", 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, 10*time.Second, "cache to see the deletion", func() bool { _, ok := a.cache.Get("tick"); return !ok })
	clock.Advance(time.Minute)
	etcdtest.WaitFor(t, 10*time.Second, "per-job metrics to be dropped", func() bool {
		return promtest.Value(t, a.reg, "schedulerd_runs_total", "job_name", "tick") == 0
	})
	if n := len(tg.received()); n != 3 {
		t.Errorf("a deleted job was dispatched: %d runs", n)
	}
}

// The leader prunes a job's run history to its bound as it goes.
func TestLeaderPrunesHistory(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(tg.srv.URL, "@every 1s")
	sp.History.Keep = 10
	putJob(t, a.store, "tick", sp, t0)
	leaderOf(t, a)
	drive(t, clock, tg, "tick", 1, 60)
	etcdtest.WaitFor(t, 20*time.Second, "results recorded", func() bool {
		runs, _ := a.store.ListRuns(context.Background(), "tick", 1)
		return len(runs) == 1 && runs[0].State == store.StateSucceeded
	})
	runs, err := a.store.ListRuns(context.Background(), "tick", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Pruned every 10 claims down to 10: never more than 20 records.
	if len(runs) > 20 || len(runs) < 10 || runs[0].ID != slot("tick", 60) {
		t.Errorf("%d records kept, newest %s; want 10 to 20, newest %s", len(runs), runs[0].ID, slot("tick", 60))
	}
}

// A run claimed by a term that ended without recording a result (its leader crashed between
// claim and result) is marked unknown by the next leader once its timeout and a margin have
// passed, and never sent again.
func TestRunOfADeadLeaderBecomesUnknown(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(tg.srv.URL, "@every 1h")
	sp.Target.HTTP.Timeout = job.Duration(10 * time.Second)
	j := putJob(t, a.store, "hourly", sp, t0)
	leaderOf(t, a)
	term := a.currentTerm(t)
	// What a crashed leader leaves behind: a claimed record, no result.
	dead := store.Run{ID: store.RunID("hourly", t0.Add(-time.Hour)), Job: "hourly", Scheduled: t0.Add(-time.Hour),
		State: store.StateClaimed, Token: term.Token, Term: "crashed/0000", Replica: "crashed", JobVersion: j.Version, Claimed: t0}
	if _, err := a.store.Claim(context.Background(), store.Fence{LeaderKey: term.LeaderKey, Token: term.Token}, j.Version, []store.Run{dead}); err != nil {
		t.Fatal(err)
	}
	state := func() store.State {
		r, err := a.store.GetRun(context.Background(), "hourly", dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}
	clock.Advance(30 * time.Second) // within timeout + margin: its claimer may still deliver it
	clock.Advance(5 * time.Second)
	if s := state(); s != store.StateClaimed {
		t.Fatalf("marked %s before its timeout and margin passed", s)
	}
	etcdtest.WaitFor(t, 20*time.Second, "run marked unknown", func() bool {
		clock.Advance(time.Second) // reaps look every 10s of scheduler time
		return state() == store.StateUnknown
	})
	r, err := a.store.GetRun(context.Background(), "hourly", dead.ID)
	if err != nil || r.Finished.Sub(r.Claimed) < 40*time.Second || r.Error == "" {
		t.Errorf("marked unknown %s after its claim (want at least timeout 10s + margin 30s), error %q: %v",
			r.Finished.Sub(r.Claimed), r.Error, err)
	}
	if n := promtest.Value(t, a.reg, "schedulerd_runs_total", "job_name", "hourly", "outcome", "unknown"); n != 1 {
		t.Errorf("runs_total{outcome=unknown} = %v", n)
	}
	if inflight, err := a.store.InFlight(context.Background()); err != nil || len(inflight) != 0 {
		t.Errorf("in-flight index after reaping: %v %v", inflight, err)
	}
	if tg.has(dead.ID) {
		t.Error("the run of the dead leader was sent again")
	}
}

// With concurrency forbid, a slot due while the job's previous run is in flight is recorded as
// skipped/overlap; once the run finishes, the next slot is dispatched.
func TestForbidSkipsOverlappingRuns(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	release := make(chan struct{})
	arrived := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get(fence.HeaderRunID)
		if r.Header.Get(fence.HeaderRunID) == slot("slow", 1) {
			<-release // the first run is slow
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(srv.URL, "@every 1s")
	sp.Concurrency = job.ConcurrencyForbid
	putJob(t, a.store, "slow", sp, t0)
	leaderOf(t, a)
	recorded := func(i int) store.Run {
		var r store.Run
		etcdtest.WaitFor(t, 20*time.Second, "record of "+slot("slow", i), func() bool {
			var err error
			r, err = a.store.GetRun(context.Background(), "slow", slot("slow", i))
			return err == nil
		})
		return r
	}
	clock.Advance(time.Second)
	if got := <-arrived; got != slot("slow", 1) {
		t.Fatalf("first request %s", got)
	}
	for i := 2; i <= 3; i++ {
		clock.Advance(time.Second)
		if r := recorded(i); r.State != store.StateSkipped || r.Reason != store.ReasonOverlap {
			t.Errorf("slot %d: %s/%s, want skipped/overlap", i, r.State, r.Reason)
		}
	}
	close(release)
	etcdtest.WaitFor(t, 20*time.Second, "slot 1 finished", func() bool { return recorded(1).State == store.StateSucceeded })
	clock.Advance(time.Second)
	if got := <-arrived; got != slot("slow", 4) {
		t.Errorf("after the slow run finished, got %s, want slot 4", got)
	}
	if n := promtest.Value(t, a.reg, "schedulerd_runs_skipped_total", "job_name", "slow", "reason", "overlap"); n != 2 {
		t.Errorf("skipped{overlap} = %v, want 2", n)
	}
}

// A one-shot fires once, and never again: not after more time, not after failover.
func TestOneShotFiresOnceAcrossFailover(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	b := startReplica(t, e, "b", clock, replicaOpts{})
	at := t0.Add(3 * time.Second)
	j := putJob(t, a.store, "once", httpSpec(tg.srv.URL, "@at "+at.Format(time.RFC3339)), t0)
	first := leaderOf(t, a, b)
	clock.Advance(3 * time.Second)
	etcdtest.WaitFor(t, 20*time.Second, "the one-shot", func() bool { return tg.has(store.RunID("once", at)) })
	first.stop()
	second := leaderOf(t, a, b)
	if second == first {
		t.Fatal("no failover")
	}
	for range 5 {
		clock.Advance(time.Hour)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the new leader to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	exactlyOnce(t, tg.received(), []string{store.RunID("once", at)})
	_, cursor, err := a.store.GetJob(context.Background(), "once")
	if err != nil || !j.Next(cursor).IsZero() {
		t.Errorf("cursor %v (%v): the one-shot is not complete", cursor, err)
	}
}

// Jitter delays a run by its recorded, stable amount.
func TestJitterDelaysTheRun(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(tg.srv.URL, "@every 1h")
	sp.Jitter = job.Duration(10 * time.Minute)
	putJob(t, a.store, "spread", sp, t0)
	leaderOf(t, a)
	slot1 := t0.Add(time.Hour)
	id := store.RunID("spread", slot1)
	want := sp.JitterFor(id)
	if want <= 0 || want >= 10*time.Minute {
		t.Fatalf("jitter %v out of range", want)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	clock.Advance(time.Hour)
	etcdtest.WaitFor(t, 20*time.Second, "the claim", func() bool {
		r, err := a.store.GetRun(context.Background(), "spread", id)
		return err == nil && r.Jitter.D() == want && r.State == store.StateClaimed // running only once sent
	})
	etcdtest.WaitFor(t, 20*time.Second, "the delayed request", func() bool {
		if tg.has(id) {
			return true
		}
		clock.Advance(10 * time.Second)
		return false
	})
	if sent := clock.Now(); sent.Before(slot1.Add(want)) {
		t.Errorf("sent by %v, before its jitter %v had passed", sent.Sub(slot1), want)
	}
	r := waitRun(t, a.store, "spread", id, "finished", finished)
	if r.State != store.StateSucceeded || r.Started.Before(slot1.Add(want)) {
		t.Errorf("record %s, started %v after the slot (jitter %v)", r.State, r.Started.Sub(slot1), want)
	}
}

// Retries: same run id, Schedulerd-Attempt counting up, the target's Retry-After honoured,
// each attempt in the record; a 4xx answer is not retried, nor one whose Retry-After is longer
// than maxBackoff.
func TestRetries(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	type req struct {
		run, attempt string
		at           time.Time
	}
	reqs := make(chan req, 10)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- req{r.Header.Get(fence.HeaderRunID), r.Header.Get(fence.HeaderAttempt), clock.Now()}
		switch r.URL.Path {
		case "/bad":
			w.WriteHeader(http.StatusBadRequest)
			return
		case "/busy":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "20")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	retry := job.Retry{Attempts: 3, Backoff: job.Duration(time.Second), MaxBackoff: job.Duration(30 * time.Second)}
	sp := httpSpec(srv.URL+"/flaky", "@every 1h")
	sp.Retry = retry
	putJob(t, a.store, "flaky", sp, t0)
	bad := httpSpec(srv.URL+"/bad", "@every 1h")
	bad.Retry = retry
	putJob(t, a.store, "bad", bad, t0)
	busy := httpSpec(srv.URL+"/busy", "@every 1h")
	busy.Retry = retry
	putJob(t, a.store, "busy", busy, t0)
	leaderOf(t, a)
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	clock.Advance(time.Hour)
	var got []req
	etcdtest.WaitFor(t, 30*time.Second, "five requests", func() bool {
		select {
		case r := <-reqs:
			got = append(got, r)
		default:
			clock.Advance(time.Second)
		}
		return len(got) == 5
	})
	var flaky []req
	for _, r := range got {
		if r.run == store.RunID("flaky", t0.Add(time.Hour)) {
			flaky = append(flaky, r)
		}
	}
	if len(flaky) != 3 || flaky[0].attempt != "1" || flaky[1].attempt != "2" || flaky[2].attempt != "3" {
		t.Fatalf("flaky requests %+v", flaky)
	}
	if d := flaky[1].at.Sub(flaky[0].at); d < 20*time.Second {
		t.Errorf("second attempt %v after the first; the target asked for 20s", d)
	}
	record := func(name string) store.Run {
		var r store.Run
		etcdtest.WaitFor(t, 20*time.Second, name+" recorded", func() bool {
			var err error
			r, err = a.store.GetRun(context.Background(), name, store.RunID(name, t0.Add(time.Hour)))
			return err == nil && !r.State.InFlight()
		})
		return r
	}
	r := record("flaky")
	if r.State != store.StateSucceeded || r.Attempts != 3 || len(r.AttemptLog) != 3 ||
		r.AttemptLog[0].Status != 503 || r.AttemptLog[1].Status != 502 || r.AttemptLog[2].Status != 204 {
		t.Errorf("flaky record: %s, %d attempts, log %+v", r.State, r.Attempts, r.AttemptLog)
	}
	if r := record("bad"); r.State != store.StateFailed || r.Attempts != 1 {
		t.Errorf("a 400 was retried: %s after %d attempts", r.State, r.Attempts)
	}
	if r := record("busy"); r.State != store.StateFailed || r.Attempts != 1 || !strings.Contains(r.Error, "not retried") {
		t.Errorf("a Retry-After beyond maxBackoff: %s after %d attempts, error %q", r.State, r.Attempts, r.Error)
	}
}

// delivery atLeastOnce: the next leader sends a dead leader's run again with the same run id
// and its own token; a fence-guarded target that had it already answers duplicate-run, which
// counts as delivered.
func TestAtLeastOnceSendsAgain(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	var mu sync.Mutex
	var seen []fence.Dispatch
	srv := httptest.NewServer(fence.Middleware(fence.NewVerifier(0), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := fence.FromContext(r.Context())
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	leaderOf(t, a)
	term := a.currentTerm(t)
	f := store.Fence{LeaderKey: term.LeaderKey, Token: term.Token}
	var dead []store.Run
	for _, name := range []string{"lost", "delivered"} {
		sp := httpSpec(srv.URL, "@every 24h")
		sp.Delivery = job.AtLeastOnce
		sp.Target.HTTP.Timeout = job.Duration(time.Minute)
		j := putJob(t, a.store, name, sp, t0)
		r := store.Run{ID: store.RunID(name, t0.Add(-time.Hour)), Job: name, Scheduled: t0.Add(-time.Hour),
			State: store.StateClaimed, Token: term.Token, Term: "crashed/0000", Replica: "crashed", JobVersion: j.Version, Claimed: t0}
		if _, err := a.store.Claim(context.Background(), f, j.Version, []store.Run{r}); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, r)
	}
	// The crashed leader had reached the target with "delivered" before it died.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	fence.Dispatch{Job: "delivered", RunID: dead[1].ID, Scheduled: dead[1].Scheduled, Token: term.Token, Attempt: 1}.Set(req.Header)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	etcdtest.WaitFor(t, 20*time.Second, "the jobs in the leader's cache", func() bool {
		_, ok1 := a.cache.Get("lost")
		_, ok2 := a.cache.Get("delivered")
		return ok1 && ok2
	})
	// Past the claimer's budget (timeout 1m + margin 30s): the next look sends them again.
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	clock.Advance(2 * time.Minute)
	for _, r := range dead {
		etcdtest.WaitFor(t, 20*time.Second, r.ID+" sent again", func() bool {
			got, err := a.store.GetRun(context.Background(), r.Job, r.ID)
			return err == nil && got.State == store.StateSucceeded
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].RunID != dead[1].ID || seen[1].RunID != dead[0].ID {
		t.Errorf("the target's handler saw %+v; want the manual delivery, then the lost run once", seen)
	}
	got, _ := a.store.GetRun(context.Background(), "delivered", dead[1].ID)
	if got.Status != http.StatusConflict || got.Error == "" || got.Term == "crashed/0000" {
		t.Errorf("re-sent delivered run recorded %+v", got)
	}
}

// With concurrency replace, a new slot cancels the run in flight (recorded as cancelled) and
// is sent itself.
func TestReplaceCancelsTheRunInFlight(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	arrived := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get(fence.HeaderRunID)
		if r.Header.Get(fence.HeaderRunID) == slot("long", 1) {
			<-r.Context().Done() // hangs until the scheduler gives up on it
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(srv.URL, "@every 1s")
	sp.Concurrency = job.ConcurrencyReplace
	sp.Target.HTTP.Timeout = job.Duration(time.Hour)
	putJob(t, a.store, "long", sp, t0)
	leaderOf(t, a)
	clock.Advance(time.Second)
	if got := <-arrived; got != slot("long", 1) {
		t.Fatalf("first request %s", got)
	}
	clock.Advance(time.Second)
	if got := <-arrived; got != slot("long", 2) {
		t.Fatalf("second request %s", got)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the first run cancelled", func() bool {
		r, err := a.store.GetRun(context.Background(), "long", slot("long", 1))
		return err == nil && r.State == store.StateCancelled && strings.Contains(r.Error, slot("long", 2))
	})
	etcdtest.WaitFor(t, 20*time.Second, "the second run done", func() bool {
		r, err := a.store.GetRun(context.Background(), "long", slot("long", 2))
		return err == nil && r.State == store.StateSucceeded
	})
}

// A pause with an end resumes by itself. Slots during the pause are not owed: they are
// recorded as skipped/paused (default), or not at all (pause.record false).
func TestPauseUntilResumes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record *bool
		want   []string // the records before the first slot after the pause, oldest first
	}{
		{"recorded", nil, []string{store.RunID("p", t0.Add(10*time.Second)), store.RunID("p", t0.Add(20*time.Second))}},
		{"not recorded", new(bool), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			clock := clockwork.NewFakeClockAt(t0)
			tg := newTarget(t, 204)
			a := startReplica(t, e, "a", clock, replicaOpts{})
			sp := httpSpec(tg.srv.URL, "@every 10s")
			sp.Paused, sp.Pause = true, &job.Pause{Note: "maintenance", Until: t0.Add(30 * time.Second), Record: tc.record}
			putJob(t, a.store, "p", sp, t0)
			leaderOf(t, a)
			etcdtest.WaitFor(t, 20*time.Second, "the first slot after the pause", func() bool {
				clock.Advance(time.Second)
				return tg.has(store.RunID("p", t0.Add(40*time.Second)))
			})
			runs, err := a.store.ListRuns(context.Background(), "p", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := len(runs) - 1; i >= 0 && runs[i].Scheduled.Before(t0.Add(40*time.Second)); i-- {
				if r := runs[i]; r.State != store.StateSkipped || r.Reason != store.ReasonPaused {
					t.Errorf("%s recorded %s/%s during the pause, want skipped/paused", r.ID, r.State, r.Reason)
				}
				got = append(got, runs[i].ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("records during the pause %v, want %v", got, tc.want)
			}
			if n := promtest.Value(t, a.reg, "schedulerd_runs_skipped_total", "job_name", "p", "reason", "paused"); n != float64(len(tc.want)) {
				t.Errorf("skipped{paused} = %v, want %d", n, len(tc.want))
			}
		})
	}
}

// A long pause records at most job.MaxPausedRecords slots, and nothing is sent.
func TestPauseRecordsAreCapped(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, 204)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(tg.srv.URL, "@every 1s")
	sp.Paused = true
	sp.History.Keep = 1000
	putJob(t, a.store, "p", sp, t0)
	leaderOf(t, a)
	count := func() int {
		runs, err := a.store.ListRuns(context.Background(), "p", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}
	etcdtest.WaitFor(t, 30*time.Second, "the pause's records", func() bool {
		clock.Advance(time.Second)
		return count() >= job.MaxPausedRecords
	})
	// Well past the cap: the loop must have nothing more to record.
	for range 3 * job.MaxPausedRecords / 2 {
		clock.Advance(time.Second)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the loop to be idle", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	if n := count(); n != job.MaxPausedRecords {
		t.Errorf("%d records after %d paused slots, want the cap %d", n, 5*job.MaxPausedRecords/2, job.MaxPausedRecords)
	}
	if got := tg.received(); len(got) != 0 {
		t.Errorf("a paused job sent %d runs", len(got))
	}
}
