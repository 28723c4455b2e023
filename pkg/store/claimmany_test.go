package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// ClaimMany packs many jobs' claims into few transactions, and a job whose claim Claim would
// refuse gets Claim's answer without costing the others theirs.
func TestClaimMany(t *testing.T) {
	c := etcdtest.Start(t).Client()
	reg := prometheus.NewRegistry()
	s := store.New(c, "/test/", reg)
	ctx := context.Background()
	f := leader(t, c, "/test/election/a")
	const jobs = 100
	versions := map[string]int64{}
	for i := range jobs {
		name := fmt.Sprintf("job-%03d", i)
		j, _, err := s.PutJob(ctx, name, spec("@every 1s"), t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		versions[name] = j.Version
	}
	claimsAt := func(at time.Time, term string) []store.JobClaim {
		var cs []store.JobClaim
		for i := range jobs {
			name := fmt.Sprintf("job-%03d", i)
			cs = append(cs, store.JobClaim{JobVersion: versions[name], Runs: []store.Run{runAt(name, at, store.StateRunning, term)}})
		}
		return cs
	}
	timed := func() float64 {
		return promtest.Value(t, reg, "schedulerd_store_request_duration_seconds", "op", "claim")
	}

	t.Run("all commit, 42 jobs to a transaction", func(t *testing.T) {
		slot := t0.Add(time.Second)
		before := timed()
		results := s.ClaimMany(ctx, f, claimsAt(slot, "term-1"))
		for i, r := range results {
			if r.Err != nil || len(r.Runs) != 1 || r.Runs[0].Revision == 0 {
				t.Fatalf("claim %d: %+v", i, r)
			}
		}
		// A run to dispatch is 2 compares and 3 puts (record, in-flight entry, cursor): 42
		// fit under etcd's 128 operations, so 100 jobs take 3 transactions.
		if n := timed() - before; n != 3 {
			t.Errorf("%v claim transactions for %d jobs, want 3", n, jobs)
		}
		for _, name := range []string{"job-000", "job-041", "job-042", "job-099"} {
			if got, err := s.GetRun(ctx, name, store.RunID(name, slot)); err != nil || got.Term != "term-1" {
				t.Errorf("%s: %+v %v", name, got, err)
			}
			if _, cursor, _ := s.GetJob(ctx, name); !cursor.Equal(slot) {
				t.Errorf("%s: cursor %v, want %v", name, cursor, slot)
			}
		}
		if n, err := s.InFlightCount(ctx, "job-099"); err != nil || n != 1 {
			t.Errorf("job-099 in flight: %d %v", n, err)
		}
	})

	t.Run("a refused job gets its own answer; the rest commit", func(t *testing.T) {
		slot := t0.Add(2 * time.Second)
		// job-007's run is recorded already (by an earlier leader), job-050 was edited.
		if _, err := s.Claim(ctx, f, versions["job-007"], []store.Run{runAt("job-007", slot, store.StateRunning, "term-0")}); err != nil {
			t.Fatal(err)
		}
		edited := spec("@every 1s")
		edited.Description = "edited"
		if _, _, err := s.PutJob(ctx, "job-050", edited, t0, 0); err != nil {
			t.Fatal(err)
		}
		results := s.ClaimMany(ctx, f, claimsAt(slot, "term-1"))
		for i, r := range results {
			name := fmt.Sprintf("job-%03d", i)
			switch existing, exists := store.IsExists(r.Err); name {
			case "job-007":
				if !exists || existing[0].Term != "term-0" {
					t.Errorf("%s: %v, want it recorded by term-0", name, r.Err)
				}
			case "job-050":
				if !errors.Is(r.Err, store.ErrJobChanged) {
					t.Errorf("%s: %v, want ErrJobChanged", name, r.Err)
				}
			default:
				if r.Err != nil {
					t.Errorf("%s: %v", name, r.Err)
				} else if got, err := s.GetRun(ctx, name, store.RunID(name, slot)); err != nil || got.Term != "term-1" {
					t.Errorf("%s: %+v %v", name, got, err)
				}
			}
		}
		if _, err := s.GetRun(ctx, "job-050", store.RunID("job-050", slot)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the edited job's run was recorded at its old version: %v", err)
		}
	})

	t.Run("a stale token is fenced for every job and writes nothing", func(t *testing.T) {
		stale := f
		stale.Token--
		before := etcdtest.Revision(t, c)
		for i, r := range s.ClaimMany(ctx, stale, claimsAt(t0.Add(3*time.Second), "zombie")) {
			if !errors.Is(r.Err, fence.ErrFenced) {
				t.Errorf("claim %d: %v, want ErrFenced", i, r.Err)
			}
		}
		if after := etcdtest.Revision(t, c); after != before {
			t.Errorf("a fenced claim changed etcd: revision %d → %d", before, after)
		}
	})

	t.Run("a malformed claim fails alone", func(t *testing.T) {
		slot := t0.Add(4 * time.Second)
		cs := claimsAt(slot, "term-1")[:3]
		cs[1].Runs = append(cs[1].Runs, runAt("job-002", slot, store.StateRunning, "term-1")) // two jobs in one claim
		results := s.ClaimMany(ctx, f, cs)
		if results[0].Err != nil || results[1].Err == nil || results[2].Err != nil {
			t.Errorf("results %+v", results)
		}
	})
}

// InFlight reads the records of every run in flight, many to a read, across the reads'
// boundaries, and drops index entries whose record is gone.
func TestInFlightReadsEveryRecord(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	f := leader(t, c, "/test/election/a")
	const jobs = 300 // more than two reads of MaxTxnOps
	var claims []store.JobClaim
	for i := range jobs {
		name := fmt.Sprintf("job-%03d", i)
		j, _, err := s.PutJob(ctx, name, spec("@every 1s"), t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, store.JobClaim{JobVersion: j.Version, Runs: []store.Run{runAt(name, t0.Add(time.Second), store.StateRunning, "term-1")}})
	}
	for i, r := range s.ClaimMany(ctx, f, claims) {
		if r.Err != nil {
			t.Fatalf("claim %d: %v", i, r.Err)
		}
	}
	// job-150's record goes without its index entry, as a record pruned under a run would.
	if _, err := c.Delete(ctx, s.Keys().Run("job-150", store.RunID("job-150", t0.Add(time.Second)))); err != nil {
		t.Fatal(err)
	}
	runs, err := s.InFlight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Term != "term-1" || r.State != store.StateRunning {
			t.Errorf("in flight: %+v", r)
		}
		seen[r.Job] = true
	}
	if len(runs) != jobs-1 || len(seen) != jobs-1 || seen["job-150"] {
		t.Errorf("%d runs in flight of %d jobs (job-150 among them: %v), want %d", len(runs), len(seen), seen["job-150"], jobs-1)
	}
	if n, err := s.InFlightCount(ctx, "job-150"); err != nil || n != 0 {
		t.Errorf("job-150's stale index entry: %d %v", n, err)
	}
}
