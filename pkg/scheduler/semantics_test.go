package scheduler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// blockingTarget answers 204 to every run except those whose id starts with a prefix in hold,
// which it holds until free is called. Tests defer free: replicas (stopped in cleanups) drain
// their runs on the fake clock, so a held request must be let go before they stop.
type blockingTarget struct {
	*target
	release chan struct{}
	once    sync.Once
}

func (bt *blockingTarget) free() { bt.once.Do(func() { close(bt.release) }) }

func newBlockingTarget(t *testing.T, hold ...string) *blockingTarget {
	t.Helper()
	bt := &blockingTarget{target: &target{}, release: make(chan struct{})}
	bt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := fence.ParseDispatch(r)
		if err != nil {
			t.Errorf("target got a request without dispatch headers: %v", err)
		}
		bt.mu.Lock()
		bt.reqs = append(bt.reqs, d)
		bt.mu.Unlock()
		for _, h := range hold {
			if strings.HasPrefix(d.RunID, h) {
				select {
				case <-bt.release:
				case <-r.Context().Done():
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(bt.srv.Close)
	t.Cleanup(bt.free) // before Close, which waits for the handlers
	return bt
}

// waitRun waits for a run record that satisfies ok and returns it.
func waitRun(t *testing.T, s *store.Store, jobName, id, what string, ok func(store.Run) bool) store.Run {
	t.Helper()
	var r store.Run
	etcdtest.WaitFor(t, 20*time.Second, id+" "+what, func() bool {
		var err error
		r, err = s.GetRun(context.Background(), jobName, id)
		return err == nil && ok(r)
	})
	return r
}

func finished(r store.Run) bool { return !r.State.InFlight() }

func trigger(t *testing.T, s *store.Store, name, key string, whilePaused bool, at time.Time) (string, bool) {
	t.Helper()
	j, _, err := s.GetJob(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	id, created, err := s.AddTrigger(context.Background(), store.Trigger{
		Job: name, Run: store.ManualRunID(name, at, key+"-nonce"), Requested: at, By: "tester", WhilePaused: whilePaused,
	}, j.Version, key)
	if err != nil {
		t.Fatal(err)
	}
	return id, created
}

// A manual trigger is claimed (fenced) and sent once, with its trigger recorded, and leaves
// the schedule's cursor alone; the same idempotency key twice makes one run. A paused job's
// trigger is recorded skipped/paused unless it says whilePaused; concurrency forbid holds a
// trigger back while a run is in flight.
func TestManualTrigger(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newBlockingTarget(t, "slow@")
	defer tg.free()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	putJob(t, a.store, "daily", httpSpec(tg.srv.URL, "@every 24h"), t0)
	paused := httpSpec(tg.srv.URL, "@every 24h")
	paused.Paused = true
	putJob(t, a.store, "paused", paused, t0)
	slow := httpSpec(tg.srv.URL, "@every 24h")
	slow.Concurrency = job.ConcurrencyForbid
	putJob(t, a.store, "slow", slow, t0)
	// Asked for before any replica leads: the first leader finds it.
	first, created := trigger(t, a.store, "daily", "key-1", false, t0)
	if !created {
		t.Fatal("first trigger not created")
	}
	leaderOf(t, a)

	r := waitRun(t, a.store, "daily", first, "finished", finished)
	if r.State != store.StateSucceeded || r.Trigger != store.TriggerManual || r.By != "tester" || r.Token != a.token() {
		t.Errorf("manual run recorded %+v", r)
	}
	if again, created := trigger(t, a.store, "daily", "key-1", false, t0.Add(time.Second)); created || again != first {
		t.Errorf("same idempotency key: created %v, run %s; want the first run %s", created, again, first)
	}
	second, _ := trigger(t, a.store, "daily", "key-2", false, t0.Add(time.Second))
	waitRun(t, a.store, "daily", second, "finished", finished)
	exactlyOnce(t, tg.received(), []string{first, second})
	if cur, err := a.store.Cursor(context.Background(), "daily"); err != nil || !cur.IsZero() {
		t.Errorf("manual runs moved the cursor to %v (%v)", cur, err)
	}

	skipped, _ := trigger(t, a.store, "paused", "p-1", false, t0)
	if r := waitRun(t, a.store, "paused", skipped, "finished", finished); r.State != store.StateSkipped || r.Reason != store.ReasonPaused {
		t.Errorf("trigger of a paused job: %s/%s, want skipped/paused", r.State, r.Reason)
	}
	forced, _ := trigger(t, a.store, "paused", "p-2", true, t0)
	if r := waitRun(t, a.store, "paused", forced, "finished", finished); r.State != store.StateSucceeded {
		t.Errorf("whilePaused trigger of a paused job: %s", r.State)
	}

	held, _ := trigger(t, a.store, "slow", "s-1", false, t0)
	waitRun(t, a.store, "slow", held, "sent", func(r store.Run) bool { return tg.has(held) })
	overlap, _ := trigger(t, a.store, "slow", "s-2", false, t0)
	if r := waitRun(t, a.store, "slow", overlap, "finished", finished); r.State != store.StateSkipped || r.Reason != store.ReasonOverlap {
		t.Errorf("trigger while a forbid run is in flight: %s/%s, want skipped/overlap", r.State, r.Reason)
	}
	if pending, err := a.store.PendingTriggers(context.Background()); err != nil || len(pending) != 0 {
		t.Errorf("pending triggers after claiming: %+v (%v)", pending, err)
	}
	if tg.has(skipped) || tg.has(overlap) {
		t.Error("a skipped manual run was sent")
	}
}

// maxConcurrent bounds the runs in flight; a slot at the bound is skipped/overlap.
func TestMaxConcurrent(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newBlockingTarget(t, slot("two", 1), slot("two", 2))
	defer tg.free()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(tg.srv.URL, "@every 1s")
	sp.MaxConcurrent = 2
	putJob(t, a.store, "two", sp, t0)
	leaderOf(t, a)
	for i := 1; i <= 2; i++ {
		clock.Advance(time.Second)
		waitRun(t, a.store, "two", slot("two", i), "sent", func(store.Run) bool { return tg.has(slot("two", i)) })
	}
	clock.Advance(time.Second)
	if r := waitRun(t, a.store, "two", slot("two", 3), "recorded", finished); r.State != store.StateSkipped || r.Reason != store.ReasonOverlap {
		t.Errorf("third run with two in flight: %s/%s, want skipped/overlap", r.State, r.Reason)
	}
	waitSkipped(t, a.reg, "two", store.ReasonOverlap, 1)
}

// callbackTarget accepts every run with 202 and keeps the callback fields of each dispatch.
type callbackTarget struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]fence.Dispatch
}

func newCallbackTarget(t *testing.T) *callbackTarget {
	ct := &callbackTarget{got: make(map[string]fence.Dispatch)}
	ct.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := fence.ParseDispatch(r)
		if err != nil || d.CallbackURL == "" || d.CallbackToken == "" {
			t.Errorf("callback dispatch without its headers: %+v %v", d, err)
		}
		ct.mu.Lock()
		ct.got[d.RunID] = d
		ct.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(ct.srv.Close)
	return ct
}

func (ct *callbackTarget) dispatch(id string) (fence.Dispatch, bool) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	d, ok := ct.got[id]
	return d, ok
}

// completion callback: the target's 202 leaves the run running (and in flight) until the
// target reports; a heartbeat moves the deadline; silence past the deadline is failed/timeout,
// whichever leader sent the run.
func TestCallbackCompletion(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	ct := newCallbackTarget(t)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	for _, name := range []string{"reports", "silent", "beats"} {
		sp := httpSpec(ct.srv.URL, "@every 24h")
		sp.Target.HTTP.Completion = job.CompletionCallback
		sp.Target.HTTP.Timeout = job.Duration(time.Minute)
		sp.Concurrency = job.ConcurrencyForbid
		putJob(t, a.store, name, sp, t0)
	}
	leaderOf(t, a)
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	clock.Advance(24 * time.Hour)
	accepted := func(name string) (store.Run, fence.Dispatch) {
		id := store.RunID(name, t0.Add(24*time.Hour))
		r := waitRun(t, a.store, name, id, "accepted", func(r store.Run) bool { return r.Callback != nil })
		d, ok := ct.dispatch(id)
		if !ok || r.State != store.StateRunning || r.CallbackToken != d.CallbackToken ||
			!strings.HasSuffix(d.CallbackURL, "/v1/runs/"+id+"/complete") || !r.Callback.Deadline.Equal(r.Callback.Accepted.Add(time.Minute)) {
			t.Errorf("%s accepted: record %+v callback %+v, dispatch %+v", name, r, r.Callback, d)
		}
		return r, d
	}
	for _, name := range []string{"reports", "silent", "beats"} {
		accepted(name)
	}
	if n, err := a.store.InFlightCount(context.Background(), "silent"); err != nil || n != 1 {
		t.Errorf("an accepted callback run is not in flight: %d (%v)", n, err)
	}

	r, d := accepted("reports")
	if _, err := a.store.Complete(context.Background(), "reports", r.ID, "not-the-token", store.Completion{Succeeded: true}, clock.Now()); err == nil {
		t.Error("a report with a wrong token was accepted")
	}
	done, err := a.store.Complete(context.Background(), "reports", r.ID, d.CallbackToken, store.Completion{Succeeded: true, Output: "42 rows"}, clock.Now())
	if err != nil || done.State != store.StateSucceeded || done.Response != "42 rows" {
		t.Errorf("report: %+v %v", done, err)
	}

	_, bd := accepted("beats")
	clock.Advance(50 * time.Second)
	if _, err := a.store.Complete(context.Background(), "beats", bd.RunID, bd.CallbackToken, store.Completion{Heartbeat: true}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Past the first deadline: silent times out, beats (deadline moved to +50s+1m) does not.
	for range 4 {
		clock.Advance(10 * time.Second) // reaps look every 10s
	}
	s := waitRun(t, a.store, "silent", store.RunID("silent", t0.Add(24*time.Hour)), "timed out", finished)
	if s.State != store.StateFailed || s.Reason != store.ReasonTimeout || !strings.Contains(s.Error, "timeout") {
		t.Errorf("silent run: %s/%s %q, want failed/timeout", s.State, s.Reason, s.Error)
	}
	if b, _ := a.store.GetRun(context.Background(), "beats", bd.RunID); b.State != store.StateRunning {
		t.Errorf("a run with a heartbeat 40s ago (timeout 1m) is %s", b.State)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the heartbeat run to time out", func() bool {
		clock.Advance(10 * time.Second)
		b, err := a.store.GetRun(context.Background(), "beats", bd.RunID)
		return err == nil && b.State == store.StateFailed && b.Reason == store.ReasonTimeout
	})
	if n := promtest.Value(t, a.reg, "schedulerd_runs_total", "job_name", "silent", "outcome", "failed"); n != 1 {
		t.Errorf("runs_total{silent,failed} = %v", n)
	}
}

// A callback run accepted under an earlier leader is not marked unknown by the next one: its
// target still reports to any replica. Only its deadline ends it.
func TestCallbackRunSurvivesFailover(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	ct := newCallbackTarget(t)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(ct.srv.URL, "@every 24h")
	sp.Target.HTTP.Completion = job.CompletionCallback
	sp.Target.HTTP.Timeout = job.Duration(10 * time.Minute)
	j := putJob(t, a.store, "long", sp, t0)
	leaderOf(t, a)
	term := a.currentTerm(t)
	// What a leader that died after the target accepted the run leaves behind.
	id := store.RunID("long", t0.Add(-time.Hour))
	claimed, err := a.store.Claim(context.Background(), store.Fence{LeaderKey: term.LeaderKey, Token: term.Token}, j.Version, []store.Run{{
		ID: id, Job: "long", Scheduled: t0.Add(-time.Hour), State: store.StateRunning, Token: term.Token,
		Term: "crashed/0000", Replica: "crashed", JobVersion: j.Version, Claimed: t0, Started: t0, CallbackToken: "tok",
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := claimed[0]
	run.Callback = &store.Callback{Accepted: t0, Timeout: job.Duration(10 * time.Minute), Deadline: t0.Add(10 * time.Minute)}
	if _, err := a.store.UpdateRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	// Well past the claimer's budget for unknown (timeout + margin) but before the deadline.
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	for range 9 * 6 {
		clock.Advance(10 * time.Second)
	}
	if r, _ := a.store.GetRun(context.Background(), "long", id); r.State != store.StateRunning {
		t.Fatalf("an accepted callback run of a dead leader became %s before its deadline", r.State)
	}
	etcdtest.WaitFor(t, 20*time.Second, "the deadline", func() bool {
		clock.Advance(10 * time.Second)
		r, err := a.store.GetRun(context.Background(), "long", id)
		return err == nil && r.State == store.StateFailed && r.Reason == store.ReasonTimeout
	})
}

// A run record keeps the start of the target's answer, at most store.MaxResponse bytes.
func TestResponseSnippetRecorded(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	long := strings.Repeat("é", 1000) // 2000 bytes; a cut must not split a character
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(long))
	}))
	defer srv.Close()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	putJob(t, a.store, "talky", httpSpec(srv.URL, "@every 1h"), t0)
	leaderOf(t, a)
	etcdtest.WaitFor(t, 20*time.Second, "the loop to wait on the clock", func() bool {
		return clock.BlockUntilContext(ctxTimeout(t, 10*time.Millisecond), 1) == nil
	})
	clock.Advance(time.Hour)
	r := waitRun(t, a.store, "talky", store.RunID("talky", t0.Add(time.Hour)), "finished", finished)
	if r.State != store.StateFailed || r.Status != 500 || len(r.Response) > store.MaxResponse ||
		len(r.Response) < store.MaxResponse-1 || !strings.HasPrefix(long, r.Response) {
		t.Errorf("record: %s %d, response of %d bytes %q…", r.State, r.Status, len(r.Response), r.Response[:min(10, len(r.Response))])
	}
}

// A callback run whose leader died before recording the target's acceptance is sent again
// (delivery atLeastOnce) with the same callback token, so the target's report, whichever
// dispatch it answers, still lands.
func TestCallbackResendKeepsToken(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	ct := newCallbackTarget(t)
	a := startReplica(t, e, "a", clock, replicaOpts{})
	sp := httpSpec(ct.srv.URL, "@every 24h")
	sp.Target.HTTP.Completion = job.CompletionCallback
	sp.Target.HTTP.Timeout = job.Duration(time.Minute)
	sp.Delivery = job.AtLeastOnce
	j := putJob(t, a.store, "long", sp, t0)
	leaderOf(t, a)
	term := a.currentTerm(t)
	id := store.RunID("long", t0.Add(-time.Hour))
	if _, err := a.store.Claim(context.Background(), store.Fence{LeaderKey: term.LeaderKey, Token: term.Token}, j.Version, []store.Run{{
		ID: id, Job: "long", Scheduled: t0.Add(-time.Hour), State: store.StateRunning, Token: term.Token,
		Term: "crashed/0000", Replica: "crashed", JobVersion: j.Version, Claimed: t0, Started: t0, CallbackToken: "first-token",
	}}); err != nil {
		t.Fatal(err)
	}
	// Past the claimer's budget (timeout 1m + margin 30s), a reap sends it again.
	r := waitRun(t, a.store, "long", id, "accepted again", func(r store.Run) bool {
		clock.Advance(10 * time.Second)
		return r.Callback != nil
	})
	d, ok := ct.dispatch(id)
	if !ok || d.CallbackToken != "first-token" || r.Term == "crashed/0000" || r.State != store.StateRunning {
		t.Fatalf("re-sent dispatch %+v (sent %v); record %s by %s", d, ok, r.State, r.Term)
	}
	done, err := a.store.Complete(context.Background(), "long", id, "first-token", store.Completion{Succeeded: true}, clock.Now())
	if err != nil || done.State != store.StateSucceeded {
		t.Errorf("report with the first dispatch's token: %s (%v)", done.State, err)
	}
}

// A run cancelled through the API (store.Cancel, from any replica) has its request aborted on
// the leader, which watches the in-flight index, and keeps the record the cancel wrote.
func TestCancelAbortsTheDispatch(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newBlockingTarget(t, slot("slow", 1))
	defer tg.free()
	a := startReplica(t, e, "a", clock, replicaOpts{})
	putJob(t, a.store, "slow", httpSpec(tg.srv.URL, "@every 1s"), t0)
	leaderOf(t, a)
	waitOnClock(t, clock, "a's loop")
	clock.Advance(time.Second)
	id := slot("slow", 1)
	waitRun(t, a.store, "slow", id, "sent", func(store.Run) bool { return tg.has(id) })

	if _, _, err := a.store.Cancel(context.Background(), "slow", id, "ops", clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The target still holds the request: only the leader's abort ends the dispatch.
	etcdtest.WaitFor(t, 20*time.Second, "the dispatch to end as cancelled", func() bool {
		return promtest.Value(t, a.reg, "schedulerd_runs_total", "job_name", "slow", "outcome", "cancelled") == 1
	})
	r, err := a.store.GetRun(context.Background(), "slow", id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.StateCancelled || r.Error != "cancelled by ops" {
		t.Errorf("record %s %q, want cancelled by ops", r.State, r.Error)
	}
}

// With ClaimAhead, a run is claimed before its slot and sent exactly at it: the claim's round
// trip is not part of its lateness. A job whose concurrency bounds its runs in flight is claimed
// at its slot, when the runs in flight are known.
func TestClaimAhead(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, http.StatusNoContent)
	a := startReplica(t, e, "a", clock, replicaOpts{ahead: 300 * time.Millisecond})
	putJob(t, a.store, "tick", httpSpec(tg.srv.URL, "@every 1s"), t0)
	forbid := httpSpec(tg.srv.URL, "@every 1s")
	forbid.Concurrency = job.ConcurrencyForbid
	putJob(t, a.store, "forbid", forbid, t0)
	// A paused job's slots are recorded once they come, never ahead.
	paused := httpSpec(tg.srv.URL, "@every 1s")
	paused.Paused = true
	putJob(t, a.store, "paused", paused, t0)
	leaderOf(t, a)
	a.currentTerm(t)

	waitOnClock(t, clock, "the loop")
	clock.Advance(800 * time.Millisecond) // 200 ms before the first slot
	r := waitRun(t, a.store, "tick", slot("tick", 1), "claimed ahead", func(store.Run) bool { return true })
	if r.State != store.StateClaimed || !r.Claimed.Equal(t0.Add(800*time.Millisecond)) || !r.Started.IsZero() {
		t.Errorf("claimed ahead: %+v", r)
	}
	if tg.has(slot("tick", 1)) {
		t.Error("a run claimed ahead was sent before its slot")
	}
	for _, name := range []string{"forbid", "paused"} {
		if _, err := a.store.GetRun(context.Background(), name, slot(name, 1)); err == nil {
			t.Errorf("a %s job's run was claimed ahead of its slot", name)
		}
	}

	waitOnClock(t, clock, "the run claimed ahead")
	clock.Advance(200 * time.Millisecond) // the slot
	r = waitRun(t, a.store, "tick", slot("tick", 1), "finished", finished)
	if r.State != store.StateSucceeded || !r.Started.Equal(t0.Add(time.Second)) {
		t.Errorf("sent at %v (want its slot %v), recorded %s", r.Started, t0.Add(time.Second), r.State)
	}
	waitRun(t, a.store, "forbid", slot("forbid", 1), "finished", finished)
	if r := waitRun(t, a.store, "paused", slot("paused", 1), "recorded", finished); r.State != store.StateSkipped || r.Reason != store.ReasonPaused {
		t.Errorf("a paused slot: %s %s, want skipped/paused", r.State, r.Reason)
	}

	// A late slot is still sent when the next one is near enough to claim ahead: only slots
	// that have come count as late for catchUp "latest".
	waitOnClock(t, clock, "the loop")
	clock.Advance(1900 * time.Millisecond) // slot 2 is 900 ms late, slot 3 is 100 ms away
	if r := waitRun(t, a.store, "tick", slot("tick", 2), "finished", finished); r.State != store.StateSucceeded {
		t.Errorf("a late slot with the next one near: recorded %s %s, want sent", r.State, r.Reason)
	}
	if r := waitRun(t, a.store, "tick", slot("tick", 3), "claimed ahead", func(store.Run) bool { return true }); r.State != store.StateClaimed {
		t.Errorf("the next slot: %s, want claimed ahead", r.State)
	}
	// Before slot 3 comes: a forbid run still in flight then would hold slot 3 back (overlap).
	waitRun(t, a.store, "forbid", slot("forbid", 2), "finished", finished)
	waitOnClock(t, clock, "the run claimed ahead")
	clock.Advance(100 * time.Millisecond)
	waitRun(t, a.store, "tick", slot("tick", 3), "finished", finished)
	waitRun(t, a.store, "forbid", slot("forbid", 3), "finished", finished)
	exactlyOnce(t, tg.received(), []string{slot("tick", 1), slot("tick", 2), slot("tick", 3), slot("forbid", 1), slot("forbid", 2), slot("forbid", 3)})
}

// A run claimed ahead of its slot is not sent if its job is paused or deleted before the slot
// comes: the paused job's run is recorded skipped (paused), the deleted job's is gone with it.
// An edit of another kind leaves the claimed run alone.
func TestClaimedAheadThenWithdrawn(t *testing.T) {
	e := etcdtest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	tg := newTarget(t, http.StatusNoContent)
	a := startReplica(t, e, "a", clock, replicaOpts{ahead: 300 * time.Millisecond})
	for _, name := range []string{"pause", "delete", "edit"} {
		putJob(t, a.store, name, httpSpec(tg.srv.URL, "@every 1s"), t0)
	}
	leaderOf(t, a)
	a.currentTerm(t)

	waitOnClock(t, clock, "the loop")
	clock.Advance(800 * time.Millisecond) // 200 ms before the first slot
	for _, name := range []string{"pause", "delete", "edit"} {
		waitRun(t, a.store, name, slot(name, 1), "claimed ahead", func(r store.Run) bool { return r.State == store.StateClaimed })
	}
	ctx := context.Background()
	paused := httpSpec(tg.srv.URL, "@every 1s")
	paused.Paused = true
	pj, _, err := a.store.PutJob(ctx, "pause", paused, t0.Add(800*time.Millisecond), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.DeleteJob(ctx, "delete", 0); err != nil {
		t.Fatal(err)
	}
	edited := httpSpec(tg.srv.URL, "@every 1s")
	edited.Description = "edited while its run waits"
	ej, _, err := a.store.PutJob(ctx, "edit", edited, t0.Add(800*time.Millisecond), 0)
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, 10*time.Second, "the cache to see the pause, the deletion and the edit", func() bool {
		p, _ := a.cache.Get("pause")
		_, deleted := a.cache.Get("delete")
		ed, _ := a.cache.Get("edit")
		return p.Version == pj.Version && !deleted && ed.Version == ej.Version
	})

	waitOnClock(t, clock, "the runs claimed ahead")
	clock.Advance(200 * time.Millisecond) // the slot
	if r := waitRun(t, a.store, "pause", slot("pause", 1), "recorded", finished); r.State != store.StateSkipped || r.Reason != store.ReasonPaused {
		t.Errorf("a run claimed ahead, job paused before its slot: %s %s, want skipped/paused", r.State, r.Reason)
	}
	if r := waitRun(t, a.store, "edit", slot("edit", 1), "finished", finished); r.State != store.StateSucceeded {
		t.Errorf("a run claimed ahead, job edited before its slot: %s, want sent", r.State)
	}
	etcdtest.WaitFor(t, 10*time.Second, "every dispatch over", func() bool {
		return promtest.Value(t, a.reg, "schedulerd_runs_in_flight") == 0
	})
	exactlyOnce(t, tg.received(), []string{slot("edit", 1)})
	if n := promtest.Value(t, a.reg, "schedulerd_runs_skipped_total", "job_name", "pause", "reason", store.ReasonPaused); n != 1 {
		t.Errorf("skipped (paused) counted %v times, want 1", n)
	}
}
