package scheduler_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
)

// countingExecutor answers every attempt at once and counts them, so a benchmark measures
// the leader's path (plan, claim, dispatch, record) and not a target.
type countingExecutor struct {
	n    atomic.Int64
	want atomic.Int64
	done chan struct{} // receives when n reaches want
}

func (c *countingExecutor) Execute(context.Context, job.Job, fence.Dispatch) scheduler.Result {
	if c.n.Add(1) == c.want.Load() {
		c.done <- struct{}{}
	}
	return scheduler.Result{Status: 204}
}

// BenchmarkDueSlots measures how long the leader takes to claim and dispatch the slots of
// many jobs due at the same instant, against a real etcd: one op is one run. Every job fires
// every second; each iteration moves the clock one second and waits for every job's run.
func BenchmarkDueSlots(b *testing.B) {
	for _, jobs := range []int{1, 40, 400} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) { benchDueSlots(b, jobs) })
	}
}

func benchDueSlots(b *testing.B, jobs int) {
	e := etcdtest.Start(b)
	clock := clockwork.NewFakeClockAt(t0)
	exec := &countingExecutor{done: make(chan struct{}, 1)}
	a := startReplica(b, e, "a", clock, replicaOpts{executor: exec, quiet: true})
	for i := range jobs {
		putJob(b, a.store, fmt.Sprintf("job-%04d", i), httpSpec("http://127.0.0.1:9/", "@every 1s"), t0)
	}
	etcdtest.WaitFor(b, 20*time.Second, "the cache", func() bool { return len(a.cache.Names()) == jobs })
	leaderOf(b, a)
	a.currentTerm(b)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		exec.want.Store(int64(i * jobs))
		clock.Advance(time.Second)
		select {
		case <-exec.done:
		case <-time.After(time.Minute):
			b.Fatalf("round %d: %d of %d runs dispatched after a minute", i, exec.n.Load()-int64((i-1)*jobs), jobs)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*jobs), "ns/run")
}
