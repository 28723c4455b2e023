package job

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/schedule"
)

// Limits on a spec, so that one job cannot bloat etcd or the dispatch path.
const (
	MaxNameLength        = 63
	MaxDescriptionLength = 1024
	MaxURLLength         = 2048
	MaxHeaders           = 50
	MaxBodyBytes         = 256 << 10
	MaxTimeout           = 24 * time.Hour
	// MinTimeout and MinMisfireGrace keep a typo ("1ns") from making every run fail or skip.
	MinTimeout      = 100 * time.Millisecond
	MinMisfireGrace = time.Second
	// History bounds: a few records are always kept (a slow run's record must outlive its
	// dispatch), and a cap keeps one job from filling etcd.
	MinHistoryKeep   = 10
	MaxHistoryKeep   = 100_000
	MinHistoryMaxAge = time.Minute
	MaxMaxCatchUp    = 1000
	MaxMaxConcurrent = 1000
	MaxJitter        = time.Hour
	MaxAttempts      = 10
	MaxLabels        = 32
	MaxLabelLength   = 63
)

// FieldError names one invalid field by JSON Pointer ("#/target/http/url").
type FieldError struct {
	Pointer string
	Detail  string
}

// ValidationError lists every invalid field of a spec.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Pointer + ": " + f.Detail
	}
	return "invalid job: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(pointer, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Pointer: pointer, Detail: fmt.Sprintf(format, args...)})
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// labelRE is what a label key or value may be: as in Kubernetes, without the key prefix.
var labelRE = regexp.MustCompile(`^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$`)

// ValidateLabel checks a label key (value false) or value: 1-63 (a value also 0) letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit.
func ValidateLabel(s string, value bool) error {
	if s == "" && value {
		return nil
	}
	if len(s) > MaxLabelLength || !labelRE.MatchString(s) {
		return fmt.Errorf("must be 1-%d letters, digits, '-', '_' or '.', starting and ending with a letter or digit (got %q)", MaxLabelLength, s)
	}
	return nil
}

// ErrInvalidName reports a job name that is not a DNS label.
var ErrInvalidName = errors.New("job name must be a DNS label: 1-63 characters, lowercase letters, digits and '-', starting and ending with a letter or digit")

// ValidateName checks that name is a DNS label (RFC 1123), like Kubernetes object names, so it
// is safe in etcd keys, URLs, run ids and metric labels.
func ValidateName(name string) error {
	if len(name) > MaxNameLength || !nameRE.MatchString(name) {
		return fmt.Errorf("%w (got %q)", ErrInvalidName, name)
	}
	return nil
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// headers the transport computes; setting them in a spec would corrupt the request.
var computedHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Upgrade", "Trailer"}

// Validate checks every field and returns a *ValidationError listing all problems, or nil.
// It does not need defaults applied; zero values mean "default". It is what a stored spec
// must pass to be scheduled; a spec being written must pass ValidateWrite.
func (s Spec) Validate() error {
	var v ValidationError
	if len(s.Description) > MaxDescriptionLength {
		v.add("#/description", "must be at most %d bytes", MaxDescriptionLength)
	}
	if len(s.Labels) > MaxLabels {
		v.add("#/labels", "at most %d labels", MaxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if err := ValidateLabel(k, false); err != nil {
			v.add("#/labels", "key %v", err)
		} else if err := ValidateLabel(s.Labels[k], true); err != nil {
			v.add("#/labels/"+k, "%v", err)
		}
	}
	loc := time.UTC
	switch s.Timezone {
	case "", "UTC":
	case "Local":
		v.add("#/timezone", `"Local" depends on the replica's machine; name an IANA zone such as "Europe/Berlin"`)
	default:
		l, err := LoadLocation(s.Timezone)
		if err != nil {
			v.add("#/timezone", "unknown IANA time zone %q", s.Timezone)
		} else {
			loc = l
		}
	}
	if _, err := schedule.Parse(s.Schedule, loc); err != nil {
		v.add("#/schedule", "%v", err)
	}
	if p := s.Pause; p != nil {
		if len(p.Note) > MaxDescriptionLength {
			v.add("#/pause/note", "must be at most %d bytes", MaxDescriptionLength)
		}
		if len(p.By) > MaxNameLength {
			v.add("#/pause/by", "must be at most %d bytes", MaxNameLength)
		}
		if !p.Until.IsZero() && !s.Paused {
			v.add("#/pause/until", "only with \"paused\": true")
		}
	}
	if !s.StartAt.IsZero() && !s.EndAt.IsZero() && !s.EndAt.After(s.StartAt) {
		v.add("#/endAt", "must be after startAt")
	}
	if s.Jitter < 0 || s.Jitter.D() > MaxJitter || (s.Jitter > 0 && s.Jitter.D() < time.Millisecond) {
		v.add("#/jitter", "must be from 1ms to %s", MaxJitter)
	}
	if a := s.Retry.Attempts; a < 0 || a > MaxAttempts {
		v.add("#/retry/attempts", "must be from 1 to %d (attempts in all; 0 or absent means 1, no retry)", MaxAttempts)
	}
	if b := s.Retry.Backoff; b < 0 || (b != 0 && (b.D() < 100*time.Millisecond || b.D() > time.Hour)) {
		v.add("#/retry/backoff", "must be from 100ms to 1h")
	}
	if m := s.Retry.MaxBackoff; m < 0 || m.D() > time.Hour || (m != 0 && m < max(s.Retry.Backoff, Duration(time.Second))) {
		v.add("#/retry/maxBackoff", "must be from the backoff (and 1s) to 1h")
	}
	for i, on := range s.Retry.On {
		if !slices.Contains(RetryOnAll, on) {
			v.add(fmt.Sprintf("#/retry/on/%d", i), "must be one of 5xx, 429, timeout, connect")
		}
	}
	switch s.Delivery {
	case "", AtMostOnce, AtLeastOnce:
	default:
		v.add("#/delivery", "must be %q or %q", AtMostOnce, AtLeastOnce)
	}
	switch s.Concurrency {
	case "", ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace:
	default:
		v.add("#/concurrency", "must be %q, %q or %q", ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace)
	}
	switch m := s.MaxConcurrent; {
	case m < 0 || m > MaxMaxConcurrent:
		v.add("#/maxConcurrent", "must be from 1 to %d (0 or absent: no bound)", MaxMaxConcurrent)
	case m > 1 && s.Concurrency == ConcurrencyForbid:
		v.add("#/maxConcurrent", "forbid allows one run at a time; use concurrency \"allow\" with maxConcurrent %d", m)
	case m > 0 && s.Concurrency == ConcurrencyReplace:
		v.add("#/maxConcurrent", "replace keeps one run (the newest); maxConcurrent goes with concurrency \"allow\"")
	}
	if h := s.Target.HTTP; h != nil && h.Completion == CompletionCallback && s.Concurrency == ConcurrencyReplace {
		v.add("#/concurrency", "replace cannot cancel a run its target has accepted (completion \"callback\"); use forbid or allow")
	}
	switch s.Misfire.CatchUp {
	case "", CatchUpLatest, CatchUpAll, CatchUpNone:
	default:
		v.add("#/misfire/catchUp", "must be %q, %q or %q", CatchUpLatest, CatchUpAll, CatchUpNone)
	}
	if m := s.Misfire.MaxCatchUp; m < 0 || m > MaxMaxCatchUp {
		v.add("#/misfire/maxCatchUp", "must be from 1 to %d (0 or absent means the default, %d)", MaxMaxCatchUp, DefaultMaxCatchUp)
	}
	if k := s.History.Keep; k != 0 && (k < MinHistoryKeep || k > MaxHistoryKeep) {
		v.add("#/history/keep", "must be from %d to %d (0 or absent means the default, %d)", MinHistoryKeep, MaxHistoryKeep, DefaultHistoryKeep)
	}
	if a := s.History.MaxAge; a < 0 || (a != 0 && a.D() < MinHistoryMaxAge) {
		v.add("#/history/maxAge", "must be at least %s (0 or absent means the default, %s)", MinHistoryMaxAge, DefaultHistoryAge)
	}
	switch s.DST.Gap {
	case "", schedule.GapShift, schedule.GapSkip:
	default:
		v.add("#/dst/gap", "must be %q or %q", schedule.GapShift, schedule.GapSkip)
	}
	switch s.DST.Overlap {
	case "", schedule.OverlapFirst, schedule.OverlapBoth:
	default:
		v.add("#/dst/overlap", "must be %q or %q", schedule.OverlapFirst, schedule.OverlapBoth)
	}
	if s.Misfire.Grace < 0 {
		v.add("#/misfire/grace", "must not be negative")
	} else if s.Misfire.Grace != 0 && s.Misfire.Grace.D() < MinMisfireGrace {
		v.add("#/misfire/grace", "must be at least %s (0 or absent means the default, %s)", MinMisfireGrace, DefaultMisfireGrace)
	}
	s.Target.validate(&v)
	if len(v.Errors) > 0 {
		return &v
	}
	return nil
}

// ValidateWrite is Validate plus the rules a spec must follow to be written, which a spec
// already stored is not held to, so that upgrading schedulerd never stops a job that runs: a
// header that carries a credential (CredentialHeader) must be a secret reference, because a
// literal would be stored in etcd and shown by every GET. A job stored with such a literal
// keeps running as it is; its next write must use a reference.
func (s Spec) ValidateWrite() error {
	var v ValidationError
	if err := s.Validate(); err != nil {
		ve, ok := err.(*ValidationError)
		if !ok {
			return err
		}
		v = *ve
	}
	reported := func(p string) bool {
		return slices.ContainsFunc(v.Errors, func(f FieldError) bool { return f.Pointer == p })
	}
	if h := s.Target.HTTP; h != nil {
		for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
			p := "#/target/http/headers/" + problem.EscapeToken(name)
			if CredentialHeader(name) && !h.Headers[name].IsRef() && !reported(p) { // (a header refused already needs no advice)
				v.add(p, "carries a credential, and a literal would be stored in etcd and shown by GET: "+
					`give it as {"fromEnv": "%s…"} or {"fromFile": "/etc/schedulerd/secrets/…"} (under the replica's --secrets-dir), read by the replica at dispatch`, SecretEnvPrefix)
			}
		}
	}
	if len(v.Errors) > 0 {
		return &v
	}
	return nil
}

func (t Target) validate(v *ValidationError) {
	h := t.HTTP
	if h == nil {
		v.add("#/target/http", "required: a job needs a target, and http is the only kind")
		return
	}
	if h.URL == "" {
		v.add("#/target/http/url", "required")
	} else if len(h.URL) > MaxURLLength {
		v.add("#/target/http/url", "must be at most %d bytes", MaxURLLength)
	} else if u, err := url.Parse(h.URL); err != nil {
		v.add("#/target/http/url", "not a URL: %v", err)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		v.add("#/target/http/url", "scheme must be http or https (got %q)", u.Scheme)
	} else if u.Host == "" {
		v.add("#/target/http/url", "must have a host")
	} else if u.User != nil {
		v.add("#/target/http/url", "must not carry credentials (user:password@); send them in a header")
	}
	if h.Method != "" && !slices.Contains(methods, strings.ToUpper(h.Method)) {
		v.add("#/target/http/method", "must be one of %s", strings.Join(methods, ", "))
	}
	if len(h.Headers) > MaxHeaders {
		v.add("#/target/http/headers", "at most %d headers", MaxHeaders)
	}
	names := make([]string, 0, len(h.Headers))
	for name := range h.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // report in a stable order
	canonical := make(map[string]string, len(names))
	for _, name := range names {
		p := "#/target/http/headers/" + problem.EscapeToken(name)
		c := http.CanonicalHeaderKey(name)
		other, dup := canonical[c]
		canonical[c] = name
		switch {
		case dup:
			v.add(p, "same header as %q (header names are case-insensitive)", other)
		case !httpguts.ValidHeaderFieldName(name):
			v.add(p, "not a valid header name")
		case fence.Reserved(name):
			v.add(p, "set by schedulerd on every dispatch; a job may not set it")
		case slices.Contains(computedHeaders, http.CanonicalHeaderKey(name)):
			v.add(p, "computed by the HTTP transport; a job may not set it")
		default:
			h.Headers[name].validate(v, p)
		}
	}
	switch h.Completion {
	case "", CompletionSync, CompletionCallback:
	default:
		v.add("#/target/http/completion", "must be %q or %q", CompletionSync, CompletionCallback)
	}
	if len(h.Body) > MaxBodyBytes {
		v.add("#/target/http/body", "must be at most %d bytes", MaxBodyBytes)
	}
	if h.Timeout < 0 {
		v.add("#/target/http/timeout", "must not be negative")
	} else if h.Timeout != 0 && h.Timeout.D() < MinTimeout {
		v.add("#/target/http/timeout", "must be at least %s (0 or absent means the default, %s)", MinTimeout, DefaultTimeout)
	} else if h.Timeout.D() > MaxTimeout {
		v.add("#/target/http/timeout", "must be at most %s", MaxTimeout)
	}
}

// Normalize returns s with cosmetic variation removed (method case, surrounding spaces, an
// empty pause), so equal intents store equal specs.
func (s Spec) Normalize() Spec {
	s.Schedule = strings.TrimSpace(s.Schedule)
	if s.Pause.IsZero() {
		s.Pause = nil // "pause": {} says nothing
	}
	if h := s.Target.HTTP; h != nil {
		c := *h
		c.Method = strings.ToUpper(c.Method)
		s.Target.HTTP = &c
	}
	return s
}
