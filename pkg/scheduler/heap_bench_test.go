package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// BenchmarkNext is the leader's per-run planning cost with 100k jobs: take the job due first
// off the heap, compute its next slot, and put it back. Schedules are a mix of cron (with and
// without seconds, in several zones), descriptors and @every.
func BenchmarkNext(b *testing.B) {
	const jobs = 100_000
	schedules := []struct{ expr, zone string }{
		{"*/5 * * * *", "UTC"},
		{"0 30 9 * * MON-FRI", "Europe/Berlin"},
		{"@hourly", "America/New_York"},
		{"@every 90s", "UTC"},
		{"15 */2 * * * *", "Australia/Lord_Howe"},
		{"0 0 1 * *", "Asia/Tokyo"},
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	byName := make(map[string]*job.Job, jobs)
	p := newPlans()
	for i := range jobs {
		s := schedules[i%len(schedules)]
		j := &job.Job{Name: fmt.Sprintf("job-%06d", i), Spec: job.Spec{Schedule: s.expr, Timezone: s.zone}, ScheduledFrom: t0}
		j.Compile()
		if j.Invalid != nil {
			b.Fatal(j.Invalid)
		}
		byName[j.Name] = j
		next := j.Next(time.Time{})
		p.set(j.Name, next, next, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		due := p.peek()
		j := byName[due.name]
		next := j.Next(due.next)
		p.set(due.name, next, next, due.version)
	}
}
