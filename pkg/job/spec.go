package job

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/schedulerd/schedulerd/pkg/schedule"
)

// Defaults, applied by Spec.WithDefaults.
const (
	DefaultMethod       = "POST"
	DefaultTimeout      = 30 * time.Second
	DefaultMisfireGrace = time.Minute
	DefaultTimezone     = "UTC"
	DefaultHistoryKeep  = 100
	DefaultMaxCatchUp   = 100
	DefaultHistoryAge   = 7 * 24 * time.Hour
)

// Spec is what a user writes for a job.
type Spec struct {
	Description string `json:"description,omitempty"`
	// Labels are the user's key/value tags: GET /v1/jobs?label=k=v and the CLI's --selector
	// select jobs by them.
	Labels map[string]string `json:"labels,omitempty"`
	// Schedule: cron (5 or 6 fields), a descriptor (@hourly…) or "@every <duration>".
	Schedule string `json:"schedule"`
	// Timezone is the IANA zone cron fields are read in; default UTC.
	Timezone string `json:"timezone,omitempty"`
	// Paused jobs are not scheduled; their slots while paused are not owed.
	Paused bool `json:"paused,omitempty"`
	// Pause says why and until when the job is paused (with Paused); nil when it says
	// nothing. A pointer: few jobs are paused, and every replica caches every job (88 B each
	// as a value). Like every field of a cached spec, what it points to is read-only.
	Pause *Pause `json:"pause,omitzero"`
	// StartAt and EndAt bound the slots: none before StartAt, none after EndAt.
	StartAt time.Time `json:"startAt,omitzero"`
	EndAt   time.Time `json:"endAt,omitzero"`
	Target  Target    `json:"target"`
	Misfire Misfire   `json:"misfire,omitzero"`
	// DST says what cron fields do when the time zone's offset changes (docs/schedules.md).
	DST DST `json:"dst,omitzero"`
	// History bounds the job's run records; the leader prunes older ones.
	History History `json:"history,omitzero"`
	// Retry re-sends a failed attempt of a run (same run id, Schedulerd-Attempt counting up).
	Retry Retry `json:"retry,omitzero"`
	// Delivery: a run whose leader died before recording a result is marked unknown and not
	// sent again ("atMostOnce", default), or sent again by the next leader with the same run
	// id ("atLeastOnce"; a target guarded by package fence drops a duplicate).
	Delivery Delivery `json:"delivery,omitempty"`
	// Jitter delays each run by a stable pseudo-random amount below it (derived from the run
	// id, recorded in the run), so jobs due at the same instant do not all hit at once.
	Jitter Duration `json:"jitter,omitzero"`
	// Concurrency: may a run start while an earlier one of the job is in flight ("allow",
	// default), is it skipped with reason "overlap" ("forbid"), or does it cancel the earlier
	// one ("replace")?
	Concurrency Concurrency `json:"concurrency,omitempty"`
	// MaxConcurrent (with concurrency "allow") bounds the job's runs in flight at once; a
	// slot due at the bound is skipped with reason "overlap". 0: no bound.
	MaxConcurrent int `json:"maxConcurrent,omitempty"`
}

// Retry is a run's retry policy: up to Attempts attempts in all, waiting an exponentially
// growing, jittered delay from Backoff up to MaxBackoff between them (or the target's
// Retry-After, when longer), for the failures named in On.
type Retry struct {
	Attempts   int       `json:"attempts,omitempty"`
	Backoff    Duration  `json:"backoff,omitzero"`
	MaxBackoff Duration  `json:"maxBackoff,omitzero"`
	On         []RetryOn `json:"on,omitempty"`
}

// RetryOn names a kind of failed attempt.
type RetryOn string

// Retryable failures.
const (
	Retry5xx     RetryOn = "5xx"     // the target answered 500–599
	Retry429     RetryOn = "429"     // the target answered 429 Too Many Requests
	RetryTimeout RetryOn = "timeout" // no answer within the timeout
	RetryConnect RetryOn = "connect" // the connection could not be made
)

// RetryOnAll is every retryable failure, the default of Retry.On.
var RetryOnAll = []RetryOn{Retry5xx, Retry429, RetryTimeout, RetryConnect}

// Delivery is a delivery guarantee across leader failure.
type Delivery string

// Delivery guarantees.
const (
	AtMostOnce  Delivery = "atMostOnce"
	AtLeastOnce Delivery = "atLeastOnce"
)

// Concurrency is an overlap policy.
type Concurrency string

// Overlap policies.
const (
	ConcurrencyAllow  Concurrency = "allow"
	ConcurrencyForbid Concurrency = "forbid"
	// ConcurrencyReplace cancels the job's runs in flight on the leading replica (their
	// requests' contexts) and starts the new one; the cancelled runs are recorded as such.
	ConcurrencyReplace Concurrency = "replace"
)

// Pause annotates a paused job: a note for people, who paused it and when, an optional
// automatic resume, and whether slots during the pause are recorded.
type Pause struct {
	Note string `json:"note,omitempty"`
	// By is who paused the job.
	By string `json:"by,omitempty"`
	// Since is when the job was paused; set by the store, not by clients.
	Since time.Time `json:"since,omitzero"`
	// Until resumes the job at this instant; slots before it are not owed.
	Until time.Time `json:"until,omitzero"`
	// Record: each slot during the pause is recorded as skipped/paused (default true), up to
	// MaxPausedRecords per pause; false records none.
	Record *bool `json:"record,omitempty"`
}

// MaxPausedRecords bounds the skipped/paused records one pause writes.
const MaxPausedRecords = 100

// Records reports whether slots during the pause are recorded (by default they are).
func (p *Pause) Records() bool { return p == nil || p.Record == nil || *p.Record }

// IsZero reports whether the pause says nothing; JSON leaves such a pause out.
func (p *Pause) IsZero() bool { return p == nil || *p == (Pause{}) }

// End is when the pause ends by itself: Until, zero for a pause without an end (or none).
func (p *Pause) End() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.Until
}

// History is the retention of a job's run records: the newest Keep are kept, and none older
// than MaxAge.
type History struct {
	Keep   int      `json:"keep,omitempty"`
	MaxAge Duration `json:"maxAge,omitzero"`
}

// DST is the daylight-saving policy of a cron schedule.
type DST struct {
	// Gap: a wall-clock time that does not exist fires at the first instant after the gap
	// ("shift", default) or not at all ("skip").
	Gap schedule.Gap `json:"gap,omitempty"`
	// Overlap: a wall-clock time that happens twice fires at the first occurrence ("first",
	// default) or at both ("both").
	Overlap schedule.Overlap `json:"overlap,omitempty"`
}

// Target is where a run is sent. HTTP is the only kind so far.
type Target struct {
	HTTP *HTTPTarget `json:"http,omitempty"`
}

// HTTPTarget is an HTTP request made for each run; 2xx is success.
type HTTPTarget struct {
	URL string `json:"url"`
	// Method defaults to POST.
	Method string `json:"method,omitempty"`
	// Headers are sent with every request: each a literal, or a secret the dispatching
	// replica reads at dispatch time (HeaderValue).
	Headers map[string]HeaderValue `json:"headers,omitempty"`
	Body    string                 `json:"body,omitempty"`
	// Timeout bounds one attempt; default 30s. With completion "callback" it also bounds the
	// wait for each report after the target accepted the run.
	Timeout Duration `json:"timeout,omitzero"`
	// Completion: the answer to the request is the result ("sync", default), or the target
	// accepts the run with a 2xx at once and reports its result later to
	// POST /v1/runs/{run}/complete ("callback").
	Completion Completion `json:"completion,omitempty"`
}

// Completion says how a run's result arrives.
type Completion string

// Completion modes.
const (
	CompletionSync     Completion = "sync"
	CompletionCallback Completion = "callback"
)

// Misfire says what happens to a run that could not be dispatched on time.
type Misfire struct {
	// Grace is how late a run may still be dispatched; later ones are recorded as skipped
	// with reason "missed". Default 1m.
	Grace Duration `json:"grace,omitzero"`
	// CatchUp says which of several slots due at once (after an outage or a failover) and
	// still within the grace are dispatched: only the newest ("latest", default; the others
	// are skipped as missed), each in turn ("all"), or none that is more than a second late
	// ("none").
	CatchUp CatchUp `json:"catchUp,omitempty"`
	// MaxCatchUp bounds how many late slots "all" dispatches; older ones are skipped with
	// reason "catchup-limit". Default 100.
	MaxCatchUp int `json:"maxCatchUp,omitempty"`
}

// CatchUp is a catch-up policy.
type CatchUp string

// Catch-up policies.
const (
	CatchUpLatest CatchUp = "latest"
	CatchUpAll    CatchUp = "all"
	// CatchUpNone dispatches a slot only on time (at most a second late, and within the
	// grace); anything later is skipped as missed and the job waits for its next slot.
	CatchUpNone CatchUp = "none"
)

// WithDefaults returns s with every defaulted field filled in.
func (s Spec) WithDefaults() Spec {
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	if s.DST.Gap == "" {
		s.DST.Gap = schedule.GapShift
	}
	if s.DST.Overlap == "" {
		s.DST.Overlap = schedule.OverlapFirst
	}
	if s.History.Keep == 0 {
		s.History.Keep = DefaultHistoryKeep
	}
	if s.History.MaxAge == 0 {
		s.History.MaxAge = Duration(DefaultHistoryAge)
	}
	if s.Retry.Attempts == 0 {
		s.Retry.Attempts = 1
	}
	if s.Retry.Backoff == 0 {
		s.Retry.Backoff = Duration(time.Second)
	}
	if s.Retry.MaxBackoff == 0 {
		// A backoff above the default maximum is its own maximum: the stored spec must pass
		// Validate, which wants maxBackoff ≥ backoff.
		s.Retry.MaxBackoff = max(Duration(time.Minute), s.Retry.Backoff)
	}
	if len(s.Retry.On) == 0 {
		s.Retry.On = slices.Clone(RetryOnAll)
	}
	if s.Delivery == "" {
		s.Delivery = AtMostOnce
	}
	if s.Concurrency == "" {
		s.Concurrency = ConcurrencyAllow
	}
	if s.Paused && (s.Pause == nil || s.Pause.Record == nil) {
		p := Pause{}
		if s.Pause != nil {
			p = *s.Pause // a copy: the one pointed to may be someone else's
		}
		yes := true
		p.Record = &yes
		s.Pause = &p
	}
	if s.Misfire.CatchUp == "" {
		s.Misfire.CatchUp = CatchUpLatest
	}
	if s.Misfire.MaxCatchUp == 0 {
		s.Misfire.MaxCatchUp = DefaultMaxCatchUp
	}
	if s.Misfire.Grace == 0 {
		s.Misfire.Grace = Duration(DefaultMisfireGrace)
	}
	if h := s.Target.HTTP; h != nil {
		c := *h
		if c.Method == "" {
			c.Method = DefaultMethod
		}
		if c.Timeout == 0 {
			c.Timeout = Duration(DefaultTimeout)
		}
		if c.Completion == "" {
			c.Completion = CompletionSync
		}
		s.Target.HTTP = &c
	}
	return s
}

// Job is a stored job: its spec, its version and what the scheduler needs to plan it.
type Job struct {
	Name string
	Spec Spec
	// Version is the etcd mod revision of the job's key; every write changes it.
	Version int64
	Created time.Time
	Updated time.Time
	// ScheduledFrom anchors the schedule: slots at or before it are not owed. It moves when the
	// schedule, the time zone or the paused flag changes, so a new schedule does not inherit
	// the old one's missed slots.
	ScheduledFrom time.Time
	// Schedule is the compiled schedule; nil when Invalid is set.
	Schedule schedule.Schedule
	// Invalid is why a stored spec cannot be scheduled (written around the API, or a time
	// zone this binary does not know). Such a job is kept, reported, and never dispatched.
	// When Invalid is nil, Spec is valid and has its defaults applied.
	Invalid error
}

// Compile parses j's schedule into j.Schedule, or records why not in j.Invalid.
func (j *Job) Compile() {
	loc, err := LoadLocation(j.Spec.Timezone)
	if err == nil {
		j.Schedule, err = schedule.ParseJob(j.Spec.Schedule, loc, schedule.DST{Gap: j.Spec.DST.Gap, Overlap: j.Spec.DST.Overlap}, j.Name)
	}
	if err != nil {
		j.Schedule, j.Invalid = nil, fmt.Errorf("job %q: %w", j.Name, err)
	}
}

// Next returns the first slot to dispatch after both the cursor (the last slot already
// claimed or skipped) and ScheduledFrom; the zero time when the job cannot fire.
func (j *Job) Next(cursor time.Time) time.Time {
	if j.Schedule == nil || (j.Spec.Paused && j.Spec.Pause.End().IsZero()) {
		return time.Time{}
	}
	start := j.Spec.StartAt
	if j.Spec.Paused && j.Spec.Pause.End().After(start) {
		start = j.Spec.Pause.End() // a pause with an end is a late start
	}
	return j.slotAfter(cursor, start)
}

// NextSlot returns the next slot the leader acts on after cursor: the next to dispatch
// (paused false), or, for a paused job that records its pause, the next slot of the pause,
// to be recorded as skipped (paused true). Past MaxPausedRecords slots of one pause it is
// the first slot after the pause (zero for a pause without an end).
func (j *Job) NextSlot(cursor time.Time) (time.Time, bool) {
	if j.Schedule == nil || !j.Spec.Paused || !j.Spec.Pause.Records() {
		return j.Next(cursor), false
	}
	in := func(slot time.Time) bool {
		return !slot.IsZero() && (j.Spec.Pause.End().IsZero() || slot.Before(j.Spec.Pause.End()))
	}
	next := j.slotAfter(cursor, j.Spec.StartAt)
	if !in(next) {
		return j.Next(cursor), false
	}
	// The pause began at ScheduledFrom (pausing moves it): count its slots up to next.
	n := 0
	for s := j.slotAfter(time.Time{}, j.Spec.StartAt); in(s) && !s.After(next); s = j.slotAfter(s, j.Spec.StartAt) {
		if n++; n > MaxPausedRecords {
			return j.Next(cursor), false
		}
	}
	return next, true
}

// slotAfter is the first slot of the schedule after both cursor and ScheduledFrom, at or
// after start and not after EndAt; zero when there is none.
func (j *Job) slotAfter(cursor, start time.Time) time.Time {
	base := j.ScheduledFrom
	if cursor.After(base) {
		base = cursor
	}
	if start.After(base) {
		base = start
		if _, every := j.Schedule.(schedule.Every); !every {
			base = start.Add(-time.Nanosecond) // a cron slot at start itself counts
		}
	}
	next := j.Schedule.Next(base)
	if end := j.Spec.EndAt; !end.IsZero() && next.After(end) {
		return time.Time{}
	}
	return next
}

// PausedAt reports whether the job is paused at now (paused, and not past pause.until).
func (j *Job) PausedAt(now time.Time) bool {
	return j.Spec.Paused && (j.Spec.Pause.End().IsZero() || now.Before(j.Spec.Pause.End()))
}

// Reanchors reports whether changing from old to s starts a new schedule (see ScheduledFrom).
func (s Spec) Reanchors(old Spec) bool {
	return s.Schedule != old.Schedule || s.Timezone != old.Timezone || s.Paused != old.Paused
}

// JitterFor is the delay of run id: below the job's jitter, the same wherever it is computed.
func (s Spec) JitterFor(runID string) time.Duration {
	if s.Jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(runID))
	return time.Duration(h.Sum64()%uint64(s.Jitter/Duration(time.Millisecond))) * time.Millisecond
}
