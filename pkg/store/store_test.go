package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func spec(schedule string) job.Spec {
	return job.Spec{Schedule: schedule, Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9/hook"}}}
}

func newStore(t *testing.T) (*store.Store, *clientv3.Client) {
	t.Helper()
	c := etcdtest.Start(t).Client()
	return store.New(c, "/test/", nil), c
}

// leader creates a stand-in leader key and returns the fence it grants. Fencing only looks at
// the key's create revision, so a plain key is enough here; package election makes real ones.
func leader(t *testing.T, c *clientv3.Client, key string) store.Fence {
	t.Helper()
	resp, err := c.Put(context.Background(), key, "leader")
	if err != nil {
		t.Fatal(err)
	}
	return store.Fence{LeaderKey: key, Token: fence.Token(resp.Header.Revision)}
}

func TestPutJobVersionsAndAnchors(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()

	j1, created, err := s.PutJob(ctx, "tick", spec("@every 2s"), t0, 0)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	if j1.Spec.Target.HTTP.Method != "POST" || j1.Spec.Misfire.Grace.D() != time.Minute || j1.Spec.Timezone != "UTC" {
		t.Errorf("defaults not stored: %+v", j1.Spec)
	}
	if !j1.ScheduledFrom.Equal(t0) || j1.Schedule == nil {
		t.Errorf("anchor %v schedule %v", j1.ScheduledFrom, j1.Schedule)
	}

	same, created, err := s.PutJob(ctx, "tick", spec("@every 2s"), t0.Add(time.Hour), 0)
	if err != nil || created || same.Version != j1.Version {
		t.Fatalf("identical put must write nothing: version %d→%d created=%v err=%v", j1.Version, same.Version, created, err)
	}

	edited := spec("@every 2s")
	edited.Description = "only the description changes"
	j2, _, err := s.PutJob(ctx, "tick", edited, t0.Add(time.Minute), j1.Version)
	if err != nil {
		t.Fatal(err)
	}
	if j2.Version <= j1.Version || !j2.Created.Equal(t0) || !j2.ScheduledFrom.Equal(t0) || !j2.Updated.Equal(t0.Add(time.Minute)) {
		t.Errorf("edit without schedule change: %+v", j2)
	}

	j3, _, err := s.PutJob(ctx, "tick", spec("*/5 * * * * *"), t0.Add(2*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !j3.ScheduledFrom.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("a new schedule must re-anchor: %v", j3.ScheduledFrom)
	}

	if _, _, err := s.PutJob(ctx, "tick", spec("@hourly"), t0, j1.Version); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("stale If-Match: got %v", err)
	}
	if _, _, err := s.PutJob(ctx, "nope", spec("@hourly"), t0, 7); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("If-Match on a missing job: got %v", err)
	}

	got, cursor, err := s.GetJob(ctx, "tick")
	if err != nil || got.Version != j3.Version || !cursor.IsZero() {
		t.Fatalf("get: %+v cursor=%v err=%v", got, cursor, err)
	}
	if err := s.DeleteJob(ctx, "tick", j1.Version); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("conditional delete with stale version: %v", err)
	}
	if err := s.DeleteJob(ctx, "tick", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetJob(ctx, "tick"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted job: %v", err)
	}
	if err := s.DeleteJob(ctx, "tick", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}

func runAt(jobName string, at time.Time, st store.State, term string) store.Run {
	return store.Run{ID: store.RunID(jobName, at), Job: jobName, Scheduled: at, State: st, Term: term, Claimed: at}
}

func TestClaim(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	j, _, err := s.PutJob(ctx, "tick", spec("@every 1s"), t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := leader(t, c, "/test/election/a")
	slot := t0.Add(time.Second)

	runs, err := s.Claim(ctx, f, j.Version, []store.Run{runAt("tick", slot, store.StateClaimed, "term-1")})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if runs[0].ID != "tick@2026-03-01T10:00:01Z" || runs[0].Revision == 0 {
		t.Errorf("claimed run %+v", runs[0])
	}
	if _, cursor, _ := s.GetJob(ctx, "tick"); !cursor.Equal(slot) {
		t.Errorf("cursor %v, want %v", cursor, slot)
	}

	t.Run("twice is refused and names the first claimer", func(t *testing.T) {
		_, err := s.Claim(ctx, f, j.Version, []store.Run{runAt("tick", slot, store.StateClaimed, "term-2")})
		existing, ok := store.IsExists(err)
		if !ok || len(existing) != 1 || existing[0].Term != "term-1" {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("stale token is fenced and writes nothing", func(t *testing.T) {
		stale := f
		stale.Token-- // a term that is not the key's
		before := etcdtest.Revision(t, c)
		_, err := s.Claim(ctx, stale, j.Version, []store.Run{runAt("tick", slot.Add(time.Second), store.StateClaimed, "zombie")})
		if !errors.Is(err, fence.ErrFenced) {
			t.Fatalf("got %v, want ErrFenced", err)
		}
		if after := etcdtest.Revision(t, c); after != before {
			t.Errorf("a fenced claim changed etcd: revision %d → %d", before, after)
		}
	})

	t.Run("deleted leader key is fenced", func(t *testing.T) {
		g := leader(t, c, "/test/election/b")
		if _, err := c.Delete(ctx, g.LeaderKey); err != nil {
			t.Fatal(err)
		}
		_, err := s.Claim(ctx, g, j.Version, []store.Run{runAt("tick", slot.Add(time.Second), store.StateClaimed, "x")})
		if !errors.Is(err, fence.ErrFenced) {
			t.Fatalf("got %v, want ErrFenced", err)
		}
	})

	t.Run("edited job is not claimed at the old version", func(t *testing.T) {
		edited := spec("@every 1s")
		edited.Description = "edited"
		if _, _, err := s.PutJob(ctx, "tick", edited, t0, 0); err != nil {
			t.Fatal(err)
		}
		_, err := s.Claim(ctx, f, j.Version, []store.Run{runAt("tick", slot.Add(time.Second), store.StateClaimed, "term-1")})
		if !errors.Is(err, store.ErrJobChanged) {
			t.Fatalf("got %v, want ErrJobChanged", err)
		}
	})

	t.Run("a batch of skipped runs moves the cursor to the last", func(t *testing.T) {
		cur, _, _ := s.GetJob(ctx, "tick")
		var batch []store.Run
		for i := 2; i <= 6; i++ {
			r := runAt("tick", slot.Add(time.Duration(i)*time.Second), store.StateSkipped, "term-1")
			r.Reason = store.ReasonMissed
			batch = append(batch, r)
		}
		if _, err := s.Claim(ctx, f, cur.Version, batch); err != nil {
			t.Fatal(err)
		}
		runs, err := s.ListRuns(ctx, "tick", 100)
		if err != nil || len(runs) != 6 || runs[0].ID != "tick@2026-03-01T10:00:07Z" || runs[0].Reason != store.ReasonMissed {
			t.Fatalf("history newest first: %v %+v", err, runs)
		}
		if _, cursor, _ := s.GetJob(ctx, "tick"); !cursor.Equal(slot.Add(6 * time.Second)) {
			t.Errorf("cursor %v", cursor)
		}
	})

	t.Run("result is written only by the record's owner", func(t *testing.T) {
		r := runs[0]
		r.State, r.Status = store.StateSucceeded, 204
		done, err := s.UpdateRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		r.State = store.StateFailed // written from the claim's revision, not the latest
		if _, err := s.UpdateRun(ctx, r); !errors.Is(err, store.ErrRunChanged) {
			t.Fatalf("got %v, want ErrRunChanged", err)
		}
		got, err := s.GetRun(ctx, "tick", r.ID)
		if err != nil || got.State != store.StateSucceeded || got.Revision != done.Revision {
			t.Errorf("stored %+v err=%v", got, err)
		}
	})
}

// Keys written around the API are checked like API input: anything the scheduler could trip
// over comes back as a job with Invalid set, never as a runnable job.
func TestJobsWrittenAroundTheAPIAreInvalid(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	const anchored = `"created":"2026-03-01T10:00:00Z","updated":"2026-03-01T10:00:00Z","scheduledFrom":"2026-03-01T10:00:00Z"`
	for _, tc := range []struct {
		name, value string
		invalid     bool
	}{
		{"ok", `{"spec":{"schedule":"@every 1s","target":{"http":{"url":"http://127.0.0.1:9/"}}},` + anchored + `}`, false},
		{"not-json", `{"spec":`, true},
		{"no-target", `{"spec":{"schedule":"@every 1s"},` + anchored + `}`, true},
		{"bad-schedule", `{"spec":{"schedule":"every second","target":{"http":{"url":"http://127.0.0.1:9/"}}},` + anchored + `}`, true},
		{"bad-url", `{"spec":{"schedule":"@every 1s","target":{"http":{"url":"file:///etc/passwd"}}},` + anchored + `}`, true},
		{"no-anchor", `{"spec":{"schedule":"@every 1s","target":{"http":{"url":"http://127.0.0.1:9/"}}}}`, true},
		{"Bad_Name", `{"spec":{"schedule":"@every 1s","target":{"http":{"url":"http://127.0.0.1:9/"}}},` + anchored + `}`, true},
	} {
		if _, err := c.Put(ctx, s.Keys().Job(tc.name), tc.value); err != nil {
			t.Fatal(err)
		}
		j, _, err := s.GetJob(ctx, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (j.Invalid != nil) != tc.invalid {
			t.Errorf("%s: Invalid = %v, want invalid=%v", tc.name, j.Invalid, tc.invalid)
		}
		if j.Invalid == nil && (j.Spec.Target.HTTP.Timeout <= 0 || j.Schedule == nil) {
			t.Errorf("%s: valid job without defaults or schedule: %+v", tc.name, j)
		}
	}
}

// Over 10 000 runs, pruning after every batch keeps a job's record count at its bound, keeps
// the newest records, and a deposed leader cannot prune.
func TestPruneKeepsHistoryBounded(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	j, _, err := s.PutJob(ctx, "tick", spec("@every 1s"), t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := leader(t, c, "/test/election/a")
	count := func() int64 {
		resp, err := c.Get(ctx, s.Keys().Runs("tick"), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	const keep = 100
	slot := 0
	for batch := 0; batch < 100; batch++ {
		runs := make([]store.Run, store.MaxClaimBatch)
		for i := range runs {
			slot++
			runs[i] = runAt("tick", t0.Add(time.Duration(slot)*time.Second), store.StateSkipped, "term-1")
			runs[i].Reason = store.ReasonMissed
		}
		if _, err := s.Claim(ctx, f, j.Version, runs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PruneRuns(ctx, f, "tick", keep, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := count(); n > keep {
			t.Fatalf("after %d runs: %d records, want at most %d", slot, n, keep)
		}
	}
	if slot != 10_000 {
		t.Fatalf("claimed %d runs", slot)
	}
	kept, err := s.ListRuns(ctx, "tick", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != keep || kept[0].Scheduled != t0.Add(10_000*time.Second) || kept[keep-1].Scheduled != t0.Add(9_901*time.Second) {
		t.Errorf("kept %d records from %v to %v, want the newest %d", len(kept), kept[len(kept)-1].Scheduled, kept[0].Scheduled, keep)
	}

	// By age: everything scheduled before the 9 991st slot goes.
	if n, err := s.PruneRuns(ctx, f, "tick", keep, t0.Add(9_991*time.Second)); err != nil || n != 90 || count() != 10 {
		t.Errorf("prune by age deleted %d (%v), %d left; want 90 and 10", n, err, count())
	}

	// A deposed leader prunes nothing.
	if _, err := c.Delete(ctx, f.LeaderKey); err != nil {
		t.Fatal(err)
	}
	before := etcdtest.Revision(t, c)
	if _, err := s.PruneRuns(ctx, f, "tick", 1, t0.Add(time.Hour*24*365)); !errors.Is(err, fence.ErrFenced) {
		t.Errorf("stale prune: %v, want fence.ErrFenced", err)
	}
	if etcdtest.Revision(t, c) != before || count() != 10 {
		t.Error("a stale leader deleted history")
	}
}

// pause.since is set when a pause begins and kept while it lasts; a pause whose until has
// passed is over, so pausing again begins a new one, with a new anchor.
func TestPauseSince(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	paused := spec("@every 1m")
	paused.Paused = true
	record := true // set, so that no default makes a copy of the caller's pause before PutJob
	paused.Pause = &job.Pause{Note: "first", Until: t0.Add(time.Hour), Record: &record}
	j, _, err := s.PutJob(ctx, "tick", paused, t0, 0)
	if err != nil || !j.Spec.Pause.Since.Equal(t0) || !j.ScheduledFrom.Equal(t0) {
		t.Fatalf("pause: since %v anchor %v (%v)", j.Spec.Pause.Since, j.ScheduledFrom, err)
	}
	if !paused.Pause.Since.IsZero() {
		t.Errorf("PutJob wrote into the caller's pause: since %v", paused.Pause.Since)
	}
	paused.Pause.Note = "still"
	paused.Pause.Since = t0.Add(-time.Hour) // a client's value is not taken
	if j, _, err = s.PutJob(ctx, "tick", paused, t0.Add(time.Minute), 0); err != nil || !j.Spec.Pause.Since.Equal(t0) {
		t.Errorf("edit during the pause: since %v (%v), want %v", j.Spec.Pause.Since, err, t0)
	}
	again := spec("@every 1m")
	again.Paused, again.Pause = true, &job.Pause{Note: "again"}
	later := t0.Add(2 * time.Hour) // past the first pause's until
	if j, _, err = s.PutJob(ctx, "tick", again, later, 0); err != nil || !j.Spec.Pause.Since.Equal(later) || !j.ScheduledFrom.Equal(later) {
		t.Errorf("new pause after the first ended: since %v anchor %v (%v), want both %v", j.Spec.Pause.Since, j.ScheduledFrom, err, later)
	}
	if j, _, err = s.PutJob(ctx, "tick", spec("@every 1m"), later.Add(time.Hour), 0); err != nil || j.Spec.Pause != nil {
		t.Errorf("resumed: pause %+v (%v)", j.Spec.Pause, err)
	}
	// A pause that says only since says nothing the store keeps: put again, it writes nothing.
	onlySince := spec("@every 1m")
	onlySince.Pause = &job.Pause{Since: t0}
	first, _, err := s.PutJob(ctx, "since-only", onlySince, t0, 0)
	if err != nil || first.Spec.Pause != nil {
		t.Fatalf("pause with only since: %+v (%v), want none", first.Spec.Pause, err)
	}
	if again, _, err := s.PutJob(ctx, "since-only", onlySince, t0.Add(time.Minute), 0); err != nil || again.Version != first.Version {
		t.Errorf("the same spec put again: version %d → %d (%v), want no write", first.Version, again.Version, err)
	}
}
