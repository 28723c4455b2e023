package scheduler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/history"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// For random schedules, catch-up policies, clock jumps and leader changes, every slot ends up
// dispatched once or recorded as skipped: never both, never neither, never twice, and no claim
// by a term after a newer one (the history checker of the chaos harness, on a fake clock).
func TestPropertyEverySlotOnce(t *testing.T) {
	schedules := []string{"@every 1s", "@every 3s", "@every 7s", "*/2 * * * * *", "*/5 * * * * *"}
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			e := etcdtest.Start(t)
			clock := clockwork.NewFakeClockAt(t0)
			tg := newTarget(t, 204)
			// Even seeds claim a second ahead: with whole-second steps, every leader change
			// then leaves runs claimed ahead of their slot behind.
			o := replicaOpts{}
			if seed%2 == 0 {
				o.ahead = time.Second
			}
			replicas := []*replica{startReplica(t, e, "r0", clock, o), startReplica(t, e, "r1", clock, o)}
			var jobs []job.Job
			for i := range 3 {
				sp := httpSpec(tg.srv.URL, schedules[rng.IntN(len(schedules))])
				sp.Misfire.Grace = job.Duration(time.Duration(2+rng.IntN(8)) * time.Second)
				sp.Misfire.CatchUp = []job.CatchUp{job.CatchUpLatest, job.CatchUpAll, job.CatchUpNone}[rng.IntN(3)]
				sp.History.Keep = 100_000
				jobs = append(jobs, putJob(t, replicas[0].store, fmt.Sprintf("j%d", i), sp, t0))
			}
			for _, j := range jobs {
				j.Compile()
			}
			next := 2
			for step := 0; step < 25; step++ {
				if rng.IntN(5) == 0 { // a leader change: the leader stops (and resigns), a new replica joins
					// It is not waited for: with runs claimed ahead it hands over only once
					// they are sent, when the clock reaches their slot.
					l := leaderOf(t, replicas...)
					l.cancel()
					replicas = slices.DeleteFunc(replicas, func(r *replica) bool { return r == l || !r.alive() })
					replicas = append(replicas, startReplica(t, e, fmt.Sprintf("r%d", next), clock, o))
					next++
				}
				leaderOf(t, replicas...)
				clock.Advance(time.Duration(1+rng.IntN(12)) * time.Second)
			}
			to := clock.Now()
			st := replicas[0].store
			// Wait until every slot up to now has a finished record: the property itself, so a
			// slot lost without a trace makes this time out.
			etcdtest.WaitFor(t, 60*time.Second, "every slot recorded", func() bool {
				for _, j := range jobs {
					for s := j.Next(time.Time{}); !s.IsZero() && !s.After(to); s = j.Next(s) {
						r, err := st.GetRun(context.Background(), j.Name, store.RunID(j.Name, s))
						if err != nil || r.State.InFlight() {
							return false
						}
					}
				}
				return true
			})
			in := history.Input{Jobs: jobs, From: t0, To: to}
			for _, j := range jobs {
				runs, err := st.ListRuns(context.Background(), j.Name, 0)
				if err != nil {
					t.Fatal(err)
				}
				in.Runs = append(in.Runs, runs...)
			}
			for _, d := range tg.received() {
				in.Entries = append(in.Entries, history.Entry{Job: d.Job, Run: d.RunID, Scheduled: d.Scheduled, Token: d.Token,
					Attempt: d.Attempt, Verdict: history.Accepted})
			}
			r := history.Check(in)
			if !r.OK() || r.Slots == 0 {
				t.Errorf("slots %d: duplicates %v, losses %v, stale claims %v", r.Slots, r.DuplicateRuns, r.LostRuns, r.StaleClaimRuns)
			}
			// Never both: a delivered slot has a record that says it was dispatched.
			for _, run := range in.Runs {
				if run.State == store.StateSkipped && tg.has(run.ID) {
					t.Errorf("%s was dispatched and recorded as skipped", run.ID)
				}
			}
		})
	}
}
