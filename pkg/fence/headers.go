package fence

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a dispatch, sent by schedulerd's HTTP executor on every attempt.
const (
	HeaderJob            = "Schedulerd-Job"
	HeaderRunID          = "Schedulerd-Run-Id"
	HeaderScheduledTime  = "Schedulerd-Scheduled-Time"
	HeaderToken          = "Schedulerd-Fencing-Token"
	HeaderAttempt        = "Schedulerd-Attempt"
	HeaderIdempotencyKey = "Idempotency-Key" // equals the run id
	// Sent only to targets whose job has completion "callback": where to report the result
	// (POST, any replica) and the token that authenticates the report (new for each dispatch).
	HeaderCallbackURL   = "Schedulerd-Callback-Url"
	HeaderCallbackToken = "Schedulerd-Callback-Token"
)

// Reserved reports whether a header name is set by schedulerd itself, so job specs may not set it.
func Reserved(name string) bool {
	c := http.CanonicalHeaderKey(name)
	return strings.HasPrefix(c, "Schedulerd-") || c == HeaderIdempotencyKey
}

// Dispatch is what a target learns from a dispatch's headers.
type Dispatch struct {
	Job       string
	RunID     string
	Scheduled time.Time
	Token     Token
	Attempt   int
	// CallbackURL and CallbackToken are set for completion "callback" (else empty).
	CallbackURL   string
	CallbackToken string
}

// Set writes d into h as the dispatch headers.
func (d Dispatch) Set(h http.Header) {
	h.Set(HeaderJob, d.Job)
	h.Set(HeaderRunID, d.RunID)
	h.Set(HeaderScheduledTime, d.Scheduled.UTC().Format(time.RFC3339))
	h.Set(HeaderToken, d.Token.String())
	h.Set(HeaderAttempt, strconv.Itoa(d.Attempt))
	h.Set(HeaderIdempotencyKey, d.RunID)
	if d.CallbackURL != "" {
		h.Set(HeaderCallbackURL, d.CallbackURL)
		h.Set(HeaderCallbackToken, d.CallbackToken)
	}
}

// ErrNoDispatch reports a request without valid dispatch headers: it did not come from schedulerd.
var ErrNoDispatch = errors.New("fence: request carries no valid schedulerd dispatch headers")

// ParseDispatch reads the dispatch headers of r. Job, run id and token are required; the
// scheduled time and attempt are optional (zero when absent) so a target can be exercised by hand.
func ParseDispatch(r *http.Request) (Dispatch, error) {
	var d Dispatch
	d.Job = r.Header.Get(HeaderJob)
	d.RunID = r.Header.Get(HeaderRunID)
	if d.Job == "" || d.RunID == "" {
		return d, fmt.Errorf("%w: %s and %s are required", ErrNoDispatch, HeaderJob, HeaderRunID)
	}
	tok, err := ParseToken(r.Header.Get(HeaderToken))
	if err != nil {
		return d, fmt.Errorf("%w: %s: %v", ErrNoDispatch, HeaderToken, err)
	}
	d.Token = tok
	d.CallbackURL, d.CallbackToken = r.Header.Get(HeaderCallbackURL), r.Header.Get(HeaderCallbackToken)
	if s := r.Header.Get(HeaderScheduledTime); s != "" {
		if d.Scheduled, err = time.Parse(time.RFC3339, s); err != nil {
			return d, fmt.Errorf("%w: %s is not RFC 3339: %q", ErrNoDispatch, HeaderScheduledTime, s)
		}
	}
	if s := r.Header.Get(HeaderAttempt); s != "" {
		if d.Attempt, err = strconv.Atoi(s); err != nil || d.Attempt < 1 {
			return d, fmt.Errorf("%w: %s must be a positive integer: %q", ErrNoDispatch, HeaderAttempt, s)
		}
	}
	return d, nil
}
