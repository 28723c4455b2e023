package job_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// BenchmarkCompileInZone compiles jobs scheduled in a time zone, as every replica's cache does
// for each job it reads: B/op is what one job's compiled schedule costs.
func BenchmarkCompileInZone(b *testing.B) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := job.Job{Name: fmt.Sprintf("job-%d", i), Spec: job.Spec{Schedule: "0 30 9 * * MON-FRI", Timezone: "Europe/Berlin"}, ScheduledFrom: t0}
		j.Compile()
		if j.Invalid != nil {
			b.Fatal(j.Invalid)
		}
		i++
	}
}
