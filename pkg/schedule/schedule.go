// Package schedule parses job schedules and computes their fire times. It is pure: no clock,
// no I/O, every function a function of its arguments.
//
// Accepted forms: standard cron with 5 fields (minute precision) or 6 fields (leading
// seconds field), the descriptors @yearly/@annually, @monthly, @weekly, @daily/@midnight and
// @hourly, "@every <duration>" (whole seconds, at least 1s), and "@at <RFC 3339 time>" (once). Cron fields are evaluated in
// the job's time zone; @every counts from the instant its slots are anchored to.
//
// Parsing is delegated to github.com/robfig/cron/v3 (parser and Next only; its runner has no
// clock or context). The time zone comes from the job, never from a CRON_TZ= prefix, so there
// is one way to say it.
//
// Daylight-saving transitions (and other offset changes) follow one rule, chosen per job by
// a DST policy (docs/schedules.md): a wall-clock time that does not exist (spring forward)
// fires once, at the first instant after the gap (GapShift) or not at all (GapSkip); a
// wall-clock time that happens twice (fall back) fires once, at the first occurrence
// (OverlapFirst), or at both (OverlapBoth). robfig/cron gets both cases wrong on its own — it
// skips gap times and fires twice in overlaps — so cron fields are matched against wall-clock
// time here and mapped to instants by this package.
package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unique"

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

// DST says what a cron schedule does when its zone's offset changes.
type DST struct {
	Gap     Gap
	Overlap Overlap
}

// Gap is the policy for wall-clock times that do not exist.
type Gap string

// Overlap is the policy for wall-clock times that happen twice.
type Overlap string

// DST policies; the zero DST is the default (GapShift, OverlapFirst).
const (
	GapShift     Gap     = "shift" // fire once at the first instant after the gap
	GapSkip      Gap     = "skip"  // do not fire
	OverlapFirst Overlap = "first" // fire at the first occurrence only
	OverlapBoth  Overlap = "both"  // fire at both occurrences
)

// Parse parses expr, evaluating cron fields in loc (UTC when nil), with the default DST policy.
func Parse(expr string, loc *time.Location) (Schedule, error) {
	return ParseDST(expr, loc, DST{})
}

// ParseDST is Parse with a DST policy for cron schedules (@every ignores it).
func ParseDST(expr string, loc *time.Location, dst DST) (Schedule, error) {
	return ParseJob(expr, loc, dst, "")
}

// ParseJob is ParseDST for the job named name: an H in a cron field stands for a value
// derived from the name (H, H/15), so jobs written "H * * * *" spread over the hour instead of
// all firing at :00 — the same value on every replica, as long as the name stays the same.
func ParseJob(expr string, loc *time.Location, dst DST, name string) (Schedule, error) {
	switch dst.Gap {
	case "", GapShift, GapSkip:
	default:
		return nil, fmt.Errorf("unknown DST gap policy %q (shift or skip)", dst.Gap)
	}
	switch dst.Overlap {
	case "", OverlapFirst, OverlapBoth:
	default:
		return nil, fmt.Errorf("unknown DST overlap policy %q (first or both)", dst.Overlap)
	}
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
	case strings.HasPrefix(expr, "@at"):
		return parseAt(expr)
	}
	expr, err := expandH(expr, name)
	if err != nil {
		return nil, err
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %q", expr)
	}
	spec.Location = time.UTC // it matches wall-clock times; Next maps them to instants in loc
	c := cronSchedule{spec: *spec, loc: loc, dst: dst}
	// Any satisfiable cron expression fires within robfig's five-year search window (29 February
	// included), so one probe from a fixed instant tells whether it ever fires.
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, ErrNeverFires
	}
	return sharedCron{unique.Make(c)}, nil
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

func parseAt(expr string) (Schedule, error) {
	arg, ok := strings.CutPrefix(expr, "@at ")
	if !ok {
		return nil, errors.New(`@at needs an RFC 3339 time, as in "@at 2026-12-01T09:00:00+01:00"`)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(arg))
	if err != nil {
		return nil, fmt.Errorf("@at: not an RFC 3339 time with an offset (2026-12-01T09:00:00+01:00 or …Z): %q", strings.TrimSpace(arg))
	}
	if t.Nanosecond() != 0 {
		return nil, errors.New("@at: whole seconds only")
	}
	return At(t.UTC()), nil
}

// At fires once, at one instant: a one-shot job. Its time zone is the offset written in it.
type At time.Time

// Next returns the instant if t is before it, else the zero time: a one-shot never fires again.
func (a At) Next(t time.Time) time.Time {
	if t.Before(time.Time(a)) {
		return time.Time(a)
	}
	return time.Time{}
}

// Every is a fixed interval, counted from the instant its slots are anchored to, in whole seconds.
type Every time.Duration

// Next returns t truncated to the second plus the interval.
func (e Every) Next(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second).Add(time.Duration(e))
}

type cronSchedule struct {
	spec cron.SpecSchedule // in UTC: matches wall-clock times written as UTC times
	loc  *time.Location
	dst  DST
}

// sharedCron is a cron schedule held once per process for every job with the same fields
// (after H), zone and DST policy, as jobs made from a template are; it is freed with the last
// of them. Every replica keeps every job compiled, so this is memory per job on each.
type sharedCron struct{ c unique.Handle[cronSchedule] }

func (s sharedCron) Next(t time.Time) time.Time { return s.c.Value().Next(t) }

// Next walks wall-clock times in loc from t's and returns the first whose instant (by the DST
// policy) is after t.
func (c cronSchedule) Next(t time.Time) time.Time {
	if c.loc == time.UTC {
		return c.spec.Next(t.UTC())
	}
	// From just before t's own wall time: with OverlapBoth, the wall time t is at may fire
	// again at its second occurrence.
	wall := wallClock(t, c.loc).Truncate(time.Second).Add(-time.Second)
	// A wall time whose instants are all at or before t (the second occurrence of an
	// overlap, with OverlapFirst) is passed over; an hour of every-second slots at most.
	for range 4000 {
		wall = c.spec.Next(wall)
		if wall.IsZero() {
			return wall
		}
		for _, in := range c.instants(wall) {
			if in.After(t) {
				return in
			}
		}
	}
	return time.Time{}
}

// instants are the UTC instants at which wall-clock time wall (written as a UTC time) fires in
// c.loc, earliest first: normally one; per the DST policy, none, the end of the gap, or both
// occurrences.
func (c cronSchedule) instants(wall time.Time) []time.Time {
	// The offsets in force around wall: a transition changes the offset within these 4 days.
	var valid []time.Time
	lo, hi := time.Time{}, time.Time{}
	seen := map[int]bool{}
	for _, probe := range []time.Duration{-48 * time.Hour, -24 * time.Hour, 0, 24 * time.Hour, 48 * time.Hour} {
		_, off := wall.Add(probe).In(c.loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		in := wall.Add(-time.Duration(off) * time.Second)
		if lo.IsZero() || in.Before(lo) {
			lo = in
		}
		if hi.IsZero() || in.After(hi) {
			hi = in
		}
		if wallClock(in, c.loc).Equal(wall) && !slices.ContainsFunc(valid, in.Equal) {
			valid = append(valid, in)
		}
	}
	slices.SortFunc(valid, func(a, b time.Time) int { return a.Compare(b) })
	switch {
	case len(valid) > 1 && c.dst.Overlap != OverlapBoth:
		return valid[:1]
	case len(valid) == 0 && c.dst.Gap != GapSkip:
		return []time.Time{gapEnd(lo, hi, wall, c.loc)}
	}
	return valid
}

// gapEnd is the first instant in [lo, hi] whose wall clock in loc is after wall: the end of
// the gap that wall falls into.
func gapEnd(lo, hi, wall time.Time, loc *time.Location) time.Time {
	n := sort.Search(int(hi.Sub(lo)/time.Second)+1, func(i int) bool {
		return wallClock(lo.Add(time.Duration(i)*time.Second), loc).After(wall)
	})
	return lo.Add(time.Duration(n) * time.Second)
}

// wallClock is t's wall-clock time in loc, written as a UTC time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	w := t.In(loc)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
}

// fieldRanges are the value ranges of cron fields, seconds first.
var fieldRanges = [6]struct{ min, max int }{{0, 59}, {0, 59}, {0, 23}, {1, 28}, {1, 12}, {0, 6}}

// expandH replaces H and H/step in the fields of a cron expression with values hashed from
// name: H becomes a value in the field's range (day of month 1–28, so every month has it);
// H/step becomes offset/step with offset below step.
func expandH(expr, name string) (string, error) {
	if strings.HasPrefix(expr, "@") || !strings.Contains(expr, "H") {
		return expr, nil
	}
	fields := strings.Fields(expr)
	first := 0 // index in fieldRanges of fields[0]
	switch len(fields) {
	case 5:
		first = 1
	case 6:
	default:
		return expr, nil // the parser reports the field count
	}
	for i, f := range fields {
		if !strings.HasPrefix(f, "H") {
			if strings.Contains(f, "H") {
				return "", fmt.Errorf("field %q: H stands alone or as H/step", f)
			}
			continue
		}
		r := fieldRanges[first+i]
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d", name, first+i) // each field its own value
		v := int(h.Sum32())
		switch {
		case f == "H":
			fields[i] = strconv.Itoa(r.min + v%(r.max-r.min+1))
		case strings.HasPrefix(f, "H/"):
			step, err := strconv.Atoi(f[2:])
			if err != nil || step < 1 || step > r.max-r.min+1 {
				return "", fmt.Errorf("field %q: step must be from 1 to %d", f, r.max-r.min+1)
			}
			fields[i] = fmt.Sprintf("%d/%d", r.min+v%step, step)
		default:
			return "", fmt.Errorf("field %q: H stands alone or as H/step", f)
		}
	}
	return strings.Join(fields, " "), nil
}
