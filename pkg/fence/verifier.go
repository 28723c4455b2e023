package fence

import (
	"errors"
	"fmt"
	"sync"
)

var (
	// ErrStaleToken reports a request from an older leadership term than one already seen for the job.
	ErrStaleToken = errors.New("fence: token is older than one already seen for this job")
	// ErrDuplicateRun reports a run id that was already accepted (or is being processed).
	ErrDuplicateRun = errors.New("fence: run already accepted")
)

// DefaultMaxRunsPerJob is how many accepted run ids a Verifier remembers per job by default.
const DefaultMaxRunsPerJob = 10000

// Verifier is the target-side check: per job, it rejects tokens lower than the highest seen and
// run ids already accepted. It is safe for concurrent use. The zero value is not usable; use
// NewVerifier.
type Verifier struct {
	maxRuns int

	mu   sync.Mutex
	jobs map[string]*jobFence
}

type jobFence struct {
	highest Token
	runs    map[string]struct{}
	order   []string // accepted run ids, oldest first, for eviction
}

// NewVerifier returns a Verifier that remembers up to maxRunsPerJob accepted run ids per job
// (DefaultMaxRunsPerJob when maxRunsPerJob <= 0); older ids are forgotten first.
func NewVerifier(maxRunsPerJob int) *Verifier {
	if maxRunsPerJob <= 0 {
		maxRunsPerJob = DefaultMaxRunsPerJob
	}
	return &Verifier{maxRuns: maxRunsPerJob, jobs: make(map[string]*jobFence)}
}

// Accept admits a dispatch or says why not: ErrStaleToken when a newer term already reached this
// job, ErrDuplicateRun when the run id was accepted before. An accepted run id stays remembered
// until Release is called for it (the work failed and may be retried) or it ages out.
func (v *Verifier) Accept(d Dispatch) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.jobs[d.Job]
	if f == nil {
		f = &jobFence{runs: make(map[string]struct{})}
		v.jobs[d.Job] = f
	}
	if d.Token < f.highest {
		return fmt.Errorf("%w: job %q run %q token %d < %d", ErrStaleToken, d.Job, d.RunID, d.Token, f.highest)
	}
	if _, dup := f.runs[d.RunID]; dup {
		return fmt.Errorf("%w: job %q run %q", ErrDuplicateRun, d.Job, d.RunID)
	}
	f.highest = d.Token
	f.runs[d.RunID] = struct{}{}
	f.order = append(f.order, d.RunID)
	if len(f.order) > v.maxRuns {
		delete(f.runs, f.order[0])
		f.order = f.order[1:]
	}
	return nil
}

// Release forgets an accepted run id so that a retry of the same run is accepted again; call it
// when the work for the run failed without effect. The highest token is kept.
func (v *Verifier) Release(d Dispatch) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.jobs[d.Job]
	if f == nil {
		return
	}
	if _, ok := f.runs[d.RunID]; !ok {
		return
	}
	delete(f.runs, d.RunID)
	for i, id := range f.order {
		if id == d.RunID {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
}
