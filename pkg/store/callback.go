package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// Callback is kept in a run record once a target with completion "callback" has accepted the
// run: the target reports the result (and heartbeats) later, to any replica.
type Callback struct {
	Accepted  time.Time `json:"accepted"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	// Timeout is how long after acceptance or a heartbeat the next report may take.
	Timeout job.Duration `json:"timeout"`
	// Deadline: without a report by then, the leader records the run failed/timeout.
	Deadline time.Time `json:"deadline"`
}

// NewCallbackToken returns a fresh callback token.
func NewCallbackToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// Completion is what a target reports for a callback run: a heartbeat, or the result.
type Completion struct {
	Heartbeat bool
	Succeeded bool
	// Error says why the run failed (Succeeded false).
	Error string
	// Output is kept as the run's Response (truncated to MaxResponse bytes).
	Output string
}

// Errors of Complete.
var (
	// ErrNoCallback: the run does not take callbacks (its job's completion is sync).
	ErrNoCallback = errors.New("store: run does not take callbacks")
	// ErrCallbackToken: the callback token is not this run's.
	ErrCallbackToken = errors.New("store: callback token does not match the run")
	// ErrRunFinished: the run has its result already (reported, timed out, or cancelled).
	ErrRunFinished = errors.New("store: run already has its result")
)

// Complete applies a target's report to a callback run, if token is the run's callback token
// and the run is still running: a heartbeat moves the deadline, a result finishes the run. A
// result may arrive before the target's 2xx was recorded (the dispatcher then finds the record
// changed and leaves it); a heartbeat that early changes nothing. The write is a
// compare-and-swap on the record, so two reports cannot both finish a run and a report cannot
// overwrite a timeout the leader recorded.
func (s *Store) Complete(ctx context.Context, jobName, id, token string, c Completion, now time.Time) (Run, error) {
	for {
		run, err := s.GetRun(ctx, jobName, id)
		if err != nil {
			return Run{}, err
		}
		if run.CallbackToken == "" {
			if !run.State.InFlight() {
				return run, fmt.Errorf("%w: %s is %s", ErrRunFinished, id, run.State)
			}
			return Run{}, fmt.Errorf("%w: %s", ErrNoCallback, id)
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(run.CallbackToken)) != 1 {
			return Run{}, fmt.Errorf("%w: %s", ErrCallbackToken, id)
		}
		if !run.State.InFlight() {
			return run, fmt.Errorf("%w: %s is %s", ErrRunFinished, id, run.State)
		}
		if c.Heartbeat {
			if run.Callback == nil {
				return run, nil // its acceptance is being recorded, with a deadline from now
			}
			cb := *run.Callback
			cb.Heartbeat, cb.Deadline = now, now.Add(cb.Timeout.D())
			run.Callback = &cb
		} else {
			run.State, run.Finished, run.Error = StateSucceeded, now, ""
			if !c.Succeeded {
				run.State, run.Error = StateFailed, c.Error
				if run.Error == "" {
					run.Error = "the target reported failure"
				}
			}
			if run.Started.IsZero() {
				run.Started = now
			}
			run.Duration = job.Duration(now.Sub(run.Started))
			run.Response = Truncate(c.Output, MaxResponse)
		}
		updated, err := s.UpdateRun(ctx, run)
		if errors.Is(err, ErrRunChanged) {
			continue // a heartbeat or a timeout in between: look again
		}
		return updated, err
	}
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence; invalid bytes become
// U+FFFD first, so a record always holds valid text.
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
