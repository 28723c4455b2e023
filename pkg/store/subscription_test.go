package store

import (
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/internal/heapbench"
)

// A subscription lets go of the room a burst of changes took once it is taken: a replica's
// first list marks every job in every subscription, and a map keeps the size it grew to.
func TestTakeLetsTheBurstGo(t *testing.T) {
	const n = 50000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("job-%06d", i)
	}
	c := NewCache(nil, zap.NewNop(), nil, nil)
	var s *Subscription
	kept := heapbench.Kept(func() any {
		s = c.Subscribe()
		c.mu.Lock()
		for _, name := range names {
			c.markLocked(name)
		}
		c.mu.Unlock()
		if got := len(s.Take()); got != n {
			t.Errorf("took %d names, want %d", got, n)
		}
		return s
	})
	// Holding the 50 000 names' map took over 1 MB; an empty one is a few hundred bytes.
	if kept > 32<<10 {
		t.Errorf("a subscription that took %d names keeps %d B of heap; want its map let go", n, kept)
	}
	c.mu.Lock()
	c.markLocked("again")
	c.mu.Unlock()
	if got := s.Take(); len(got) != 1 || got[0] != "again" {
		t.Errorf("after the burst: took %v, want [again]", got)
	}
}
