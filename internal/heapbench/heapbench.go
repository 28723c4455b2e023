// Package heapbench measures what a piece of code leaves on the heap, for benchmarks that
// report what a cached job, a metric series or a scrape costs to keep rather than to make.
package heapbench

import "runtime"

// Kept returns the bytes of heap that build leaves in use: the live heap after a collection
// that follows it, less the live heap after one that precedes it. What build returns stays
// alive until the second reading, so it is counted; what the caller holds across both
// readings is not. A benchmark starts and stops its timer inside build.
func Kept(build func() any) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}
