package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// A trigger is claimed once, by a fenced transaction that deletes it and leaves the cursor;
// an idempotency key maps to one run; deleting the job takes its triggers and keys along.
func TestTriggers(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	j, _, err := s.PutJob(ctx, "tick", spec("@every 1h"), t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	trig := store.Trigger{Job: "tick", Run: store.ManualRunID("tick", t0, "aaaa0000"), Requested: t0, By: "alice"}
	id, created, err := s.AddTrigger(ctx, trig, j.Version, "key-1")
	if err != nil || !created || id != trig.Run {
		t.Fatalf("add: %s %v %v", id, created, err)
	}
	again := trig
	again.Run = store.ManualRunID("tick", t0.Add(time.Second), "bbbb1111")
	if id, created, err := s.AddTrigger(ctx, again, j.Version, "key-1"); err != nil || created || id != trig.Run {
		t.Errorf("same key: run %s created %v err %v; want the first run", id, created, err)
	}
	if _, _, err := s.AddTrigger(ctx, again, j.Version-1, ""); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("stale job version: %v", err)
	}
	if _, _, err := s.AddTrigger(ctx, store.Trigger{Job: "nope", Run: "nope@x"}, 1, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing job: %v", err)
	}
	pending, err := s.PendingTriggers(ctx)
	if err != nil || len(pending) != 1 || pending[0].Run != trig.Run || pending[0].By != "alice" || pending[0].Revision == 0 {
		t.Fatalf("pending: %+v %v", pending, err)
	}

	run := store.Run{ID: trig.Run, Job: "tick", Scheduled: t0, State: store.StateRunning, Trigger: store.TriggerManual, Term: "term-1", Claimed: t0}
	f := leader(t, c, "/test/election/a")
	stale := f
	stale.Token--
	if _, err := s.ClaimTrigger(ctx, stale, j.Version, run, pending[0]); !errors.Is(err, fence.ErrFenced) {
		t.Errorf("stale token: %v", err)
	}
	claimed, err := s.ClaimTrigger(ctx, f, j.Version, run, pending[0])
	if err != nil || claimed.Revision == 0 {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	if _, err := s.ClaimTrigger(ctx, f, j.Version, run, pending[0]); err == nil {
		t.Error("a trigger was claimed twice")
	} else if existing, ok := store.IsExists(err); !ok || existing[0].Term != "term-1" {
		t.Errorf("second claim: %v", err)
	}
	other := run
	other.ID = store.ManualRunID("tick", t0, "cccc2222")
	if _, err := s.ClaimTrigger(ctx, f, j.Version, other, pending[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claim of a trigger no longer pending: %v", err)
	}
	if pending, _ := s.PendingTriggers(ctx); len(pending) != 0 {
		t.Errorf("claimed trigger still pending: %+v", pending)
	}
	if cur, err := s.Cursor(ctx, "tick"); err != nil || !cur.IsZero() {
		t.Errorf("a manual claim moved the cursor to %v (%v)", cur, err)
	}
	if n, err := s.InFlightCount(ctx, "tick"); err != nil || n != 1 {
		t.Errorf("in flight after the claim: %d %v", n, err)
	}

	if _, _, err := s.AddTrigger(ctx, again, j.Version, "key-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, "tick", 0); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{s.Keys().Triggers(), s.Keys().Idempotency(), s.Keys().InFlight()} {
		if resp, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
			t.Errorf("%s after the job's deletion: %d keys (%v)", prefix, resp.Count, err)
		}
	}
}

// Idempotency keys older than the TTL are pruned, younger ones kept, under the fence.
func TestPruneIdempotency(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	j, _, err := s.PutJob(ctx, "tick", spec("@every 1h"), t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(25 * time.Hour)} {
		trig := store.Trigger{Job: "tick", Run: store.ManualRunID("tick", at, "0000000"+string(rune('a'+i))), Requested: at}
		if _, _, err := s.AddTrigger(ctx, trig, j.Version, "key-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	f := leader(t, c, "/test/election/a")
	stale := f
	stale.Token--
	if _, err := s.PruneIdempotency(ctx, stale, t0.Add(2*time.Hour)); !errors.Is(err, fence.ErrFenced) {
		t.Errorf("stale token: %v", err)
	}
	n, err := s.PruneIdempotency(ctx, f, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("pruned %d (%v), want 2", n, err)
	}
	if resp, err := c.Get(ctx, s.Keys().Idempotency(), clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 1 {
		t.Errorf("left %d idempotency keys, want 1 (%v)", resp.Count, err)
	}
}

// A callback report needs the run's token, finishes the run once, and a heartbeat moves the
// deadline.
func TestComplete(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	j, _, err := s.PutJob(ctx, "tick", spec("@every 1h"), t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := leader(t, c, "/test/election/a")
	sync := runAt("tick", t0, store.StateRunning, "term-1")
	r := runAt("tick", t0.Add(time.Hour), store.StateRunning, "term-1")
	r.Started, r.CallbackToken = t0, "tok"
	runs, err := s.Claim(ctx, f, j.Version, []store.Run{sync, r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, "tick", sync.ID, "tok", store.Completion{Succeeded: true}, t0); !errors.Is(err, store.ErrNoCallback) {
		t.Errorf("report for a sync run: %v", err)
	}
	// A heartbeat before the target's acceptance is recorded changes nothing.
	if early, err := s.Complete(ctx, "tick", r.ID, "tok", store.Completion{Heartbeat: true}, t0); err != nil || early.Revision != runs[1].Revision {
		t.Errorf("early heartbeat: revision %d → %d (%v)", runs[1].Revision, early.Revision, err)
	}
	r = runs[1]
	r.Callback = &store.Callback{Accepted: t0, Timeout: job.Duration(time.Minute), Deadline: t0.Add(time.Minute)}
	if r, err = s.UpdateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, "tick", r.ID, "other", store.Completion{Succeeded: true}, t0); !errors.Is(err, store.ErrCallbackToken) {
		t.Errorf("wrong token: %v", err)
	}
	beat, err := s.Complete(ctx, "tick", r.ID, "tok", store.Completion{Heartbeat: true}, t0.Add(30*time.Second))
	if err != nil || beat.State != store.StateRunning || !beat.Callback.Deadline.Equal(t0.Add(90*time.Second)) {
		t.Errorf("heartbeat: %s deadline %v (%v)", beat.State, beat.Callback, err)
	}
	done, err := s.Complete(ctx, "tick", r.ID, "tok", store.Completion{Error: "disk full", Output: "partial"}, t0.Add(time.Minute))
	if err != nil || done.State != store.StateFailed || done.Error != "disk full" || done.Response != "partial" || done.Duration.D() != time.Minute {
		t.Errorf("failure report: %+v (%v)", done, err)
	}
	if _, err := s.Complete(ctx, "tick", r.ID, "tok", store.Completion{Succeeded: true}, t0.Add(time.Minute)); !errors.Is(err, store.ErrRunFinished) {
		t.Errorf("second report: %v", err)
	}
	if n, err := s.InFlightCount(ctx, "tick"); err != nil || n != 1 {
		t.Errorf("in flight after the result: %d (%v), want only the sync run", n, err)
	}
	counts, err := s.RunCounts(ctx, "tick")
	if err != nil || len(counts) != 2 || counts[store.StateFailed] != 1 || counts[store.StateRunning] != 1 {
		t.Errorf("counts %v (%v)", counts, err)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456789"},
		{strings.Repeat("é", 6), 5, "éé"}, // 2 bytes each: no half character
		{"ok\xffbad", 20, "ok\uFFFDbad"},
	} {
		got := store.Truncate(tc.in, tc.n)
		if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
