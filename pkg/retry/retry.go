// Package retry provides the one backoff policy schedulerd uses for every store fault, and a
// tracker that logs a fault once when it starts and once when it clears, not on every attempt.
//
// Loops that must never die (the scheduling loop, the job cache, the election) retry forever;
// what they need is to back off without hammering etcd in lock-step with their peers (full
// jitter) and to stay readable in the logs during a long outage.
package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Backoff is an exponential backoff with full jitter: the n-th wait is uniform in
// [Min/2, min(Max, Min·2ⁿ)]. The zero value is not usable; use NewBackoff.
type Backoff struct {
	min, max time.Duration
	attempt  int
}

// NewBackoff returns a backoff that starts near min and never waits longer than max.
func NewBackoff(min, max time.Duration) *Backoff {
	if min <= 0 {
		min = 50 * time.Millisecond
	}
	if max < min {
		max = min
	}
	return &Backoff{min: min, max: max}
}

// Next returns the next wait and advances the attempt counter.
func (b *Backoff) Next() time.Duration {
	ceil := b.min << min(b.attempt, 30)
	if ceil > b.max || ceil <= 0 {
		ceil = b.max
	}
	b.attempt++
	lo := b.min / 2
	return lo + rand.N(ceil-lo+1)
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps for the next backoff on clock, or returns ctx's error when ctx ends first.
func (b *Backoff) Wait(ctx context.Context, clock clockwork.Clock) error {
	t := clock.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// Tracker logs the transitions of one fault-prone activity: the first failure at warn level,
// the recovery at info level with how many attempts failed in between. Not safe for concurrent
// use: it belongs to the goroutine that retries.
type Tracker struct {
	log      *zap.Logger
	what     string
	failures int
	first    error
}

// NewTracker returns a tracker for the activity named what ("claim", "job watch", …).
func NewTracker(log *zap.Logger, what string) *Tracker {
	return &Tracker{log: log, what: what}
}

// Failed records a failed attempt; only the first of a run of failures is logged.
func (t *Tracker) Failed(err error, fields ...zap.Field) {
	t.failures++
	if t.failures == 1 {
		t.first = err
		t.log.Warn(t.what+" failing; retrying with backoff", append(fields, zap.Error(err))...)
	}
}

// Succeeded records a success; it logs the recovery if the activity was failing.
func (t *Tracker) Succeeded(fields ...zap.Field) {
	if t.failures > 0 {
		t.log.Info(t.what+" recovered", append(fields, zap.Int("failedAttempts", t.failures), zap.NamedError("firstError", t.first))...)
	}
	t.failures, t.first = 0, nil
}

// Failing reports whether the last attempt failed.
func (t *Tracker) Failing() bool { return t.failures > 0 }
