package scheduler

import (
	"container/heap"
	"time"
)

// plan is the next slot of one job, and when to claim it: at the slot, or a little ahead.
type plan struct {
	name string
	next time.Time
	// at is when to claim next, in Unix nanoseconds: the heap compares it 17 times per move at
	// 100k jobs, and a plan per job is kept small.
	at      int64
	version int64 // job version the slot was computed from
	index   int
}

// plans is a min-heap of plans by claim time, with an index by name. One goroutine owns it.
type plans struct {
	h      planHeap
	byName map[string]*plan
}

func newPlans() *plans { return &plans{byName: make(map[string]*plan)} }

// set inserts or moves the plan of name: slot next, to be claimed at due.
func (p *plans) set(name string, next, due time.Time, version int64) {
	if pl, ok := p.byName[name]; ok {
		pl.next, pl.at, pl.version = next, due.UnixNano(), version
		heap.Fix(&p.h, pl.index)
		return
	}
	pl := &plan{name: name, next: next, at: due.UnixNano(), version: version}
	p.byName[name] = pl
	heap.Push(&p.h, pl)
}

func (p *plans) remove(name string) {
	if pl, ok := p.byName[name]; ok {
		heap.Remove(&p.h, pl.index)
		delete(p.byName, name)
	}
}

func (p *plans) get(name string) (*plan, bool) {
	pl, ok := p.byName[name]
	return pl, ok
}

// due is when to claim the plan's slot.
func (pl *plan) due() time.Time { return time.Unix(0, pl.at) }

// peek returns the plan to claim first, or nil.
func (p *plans) peek() *plan {
	if len(p.h) == 0 {
		return nil
	}
	return p.h[0]
}

func (p *plans) len() int { return len(p.h) }

type planHeap []*plan

func (h planHeap) Len() int { return len(h) }
func (h planHeap) Less(i, j int) bool {
	if h[i].at == h[j].at {
		return h[i].name < h[j].name // deterministic order among equal slots
	}
	return h[i].at < h[j].at
}
func (h planHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *planHeap) Push(x any) {
	pl := x.(*plan)
	pl.index = len(*h)
	*h = append(*h, pl)
}
func (h *planHeap) Pop() any {
	old := *h
	pl := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return pl
}
