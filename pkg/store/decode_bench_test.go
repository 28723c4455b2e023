package store

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/schedulerd/schedulerd/internal/heapbench"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// BenchmarkCachedJob is what a job costs every replica's cache: the heap its decoded, compiled
// form keeps (heapB/job, after a GC, the map entry included), for jobs shaped like the
// footprint benchmark's (one schedule and one target for all, as jobs made from a template
// are). Run it with a fixed -benchtime (10000x), since the map grows in steps.
func BenchmarkCachedJob(b *testing.B) {
	s := New(nil, "/bench/", nil)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	kvs := make([]*mvccpb.KeyValue, b.N)
	for i := range kvs {
		name := fmt.Sprintf("idle-%06d", i)
		spec := job.Spec{Schedule: "0 0 0 1 1 *", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:40000/ok"}}}.WithDefaults()
		val, err := json.Marshal(storedJob{Spec: spec, Created: at, Updated: at, ScheduledFrom: at})
		if err != nil {
			b.Fatal(err)
		}
		kvs[i] = &mvccpb.KeyValue{Key: []byte(s.keys.Job(name)), Value: val, ModRevision: int64(i + 1)}
	}
	cache := make(map[string]job.Job)
	b.ReportAllocs()
	kept := heapbench.Kept(func() any {
		b.ResetTimer()
		for i := range b.N {
			j := s.decodeJob(kvs[i])
			if j.Invalid != nil {
				b.Fatal(j.Invalid)
			}
			cache[j.Name] = j
		}
		b.StopTimer()
		return cache
	})
	b.ReportMetric(float64(kept)/float64(b.N), "heapB/job")
	runtime.KeepAlive(kvs) // in both readings, so heapB/job is the cache's alone
}
