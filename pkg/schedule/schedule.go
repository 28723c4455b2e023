// Package schedule parses job schedules and computes their fire times. It is pure: no clock,
// no I/O, every function a function of its arguments.
//
// Accepted forms: standard cron with 5 fields (minute precision) or 6 fields (leading
// seconds field), the descriptors @yearly/@annually, @monthly, @weekly, @daily/@midnight and
// @hourly, and "@every <duration>" (whole seconds, at least 1s). Cron fields are evaluated in
// the job's time zone; @every counts from the instant its slots are anchored to.
//
// Parsing is delegated to github.com/robfig/cron/v3 (parser and Next only; its runner has no
// clock or context). The time zone comes from the job, never from a CRON_TZ= prefix, so there
// is one way to say it.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule yields fire times.
type Schedule interface {
	// Next returns the first fire time strictly after t, in UTC; the zero time if there is none.
	Next(t time.Time) time.Time
}

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrNeverFires reports a well-formed cron expression that matches no date (30 February).
var ErrNeverFires = errors.New("schedule never fires")

// Parse parses expr, evaluating cron fields in loc (UTC when nil).
func Parse(expr string, loc *time.Location) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case expr == "":
		return nil, errors.New("schedule is empty")
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, errors.New("a TZ= prefix is not accepted; set the job's timezone field instead")
	case strings.HasPrefix(expr, "@every"):
		return parseEvery(expr)
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %q", expr)
	}
	spec.Location = loc
	c := cronSchedule{spec}
	// Any satisfiable cron expression fires within robfig's five-year search window (29 February
	// included), so one probe from a fixed instant tells whether it ever fires.
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, ErrNeverFires
	}
	return c, nil
}

func parseEvery(expr string) (Schedule, error) {
	arg, ok := strings.CutPrefix(expr, "@every ")
	if !ok {
		return nil, errors.New(`@every needs a duration, as in "@every 30s"`)
	}
	d, err := time.ParseDuration(strings.TrimSpace(arg))
	if err != nil {
		return nil, fmt.Errorf("@every: %w", err)
	}
	if d < time.Second || d%time.Second != 0 {
		return nil, fmt.Errorf("@every: interval must be a whole number of seconds, at least 1s (got %s)", d)
	}
	return Every(d), nil
}

// Every is a fixed interval, counted from the instant its slots are anchored to, in whole seconds.
type Every time.Duration

// Next returns t truncated to the second plus the interval.
func (e Every) Next(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second).Add(time.Duration(e))
}

type cronSchedule struct{ spec *cron.SpecSchedule }

func (c cronSchedule) Next(t time.Time) time.Time {
	n := c.spec.Next(t)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}
