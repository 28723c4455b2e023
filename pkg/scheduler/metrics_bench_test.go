package scheduler

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulerd/schedulerd/internal/heapbench"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// BenchmarkMetricsPerJob is what a job's metric series cost every replica: the heap that
// addJob (and a first count) leaves behind (heapB/job, after a GC), not just what it
// allocates on the way (B/op). Run it with a fixed -benchtime (10000x: the heap profile's job
// count), since the registry's maps grow in steps and heapB/job depends on where b.N falls
// between them.
func BenchmarkMetricsPerJob(b *testing.B) {
	// idle: jobs this replica has not counted a run of (every job on a follower); counted:
	// each with one run counted.
	for _, counted := range []bool{false, true} {
		b.Run(map[bool]string{false: "idle", true: "counted"}[counted], func(b *testing.B) {
			// The names exist before the first reading, as the job cache holds them anyway.
			names := make([]string, b.N)
			for i := range names {
				names[i] = fmt.Sprintf("job-%07d", i)
			}
			reg := prometheus.NewRegistry()
			m := newMetrics(reg)
			b.ReportAllocs()
			kept := heapbench.Kept(func() any {
				b.ResetTimer()
				for i := range b.N {
					m.addJob(names[i])
					if counted {
						m.counted(store.Run{Job: names[i], State: store.StateSucceeded}, 1)
					}
				}
				b.StopTimer()
				return m
			})
			b.ReportMetric(float64(kept)/float64(b.N), "heapB/job")
			runtime.KeepAlive(names)
		})
	}
}

// BenchmarkMetricsCollect10k is the scrape side of the same trade: one Gather of a registry
// holding 10 000 jobs' series (160 000 of them), as /metrics does before encoding. It also
// reports the heap a Gather's result holds until it is encoded (gatheredB/scrape, after a GC),
// on top of what the registry keeps between scrapes.
func BenchmarkMetricsCollect10k(b *testing.B) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	for i := range 10_000 {
		m.addJob(fmt.Sprintf("job-%07d", i))
	}
	gathered := heapbench.Kept(func() any {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		return mfs
	})

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(gathered), "gatheredB/scrape") // after the loop: ResetTimer drops reported metrics
}
