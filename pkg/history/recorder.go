package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/schedulerd/schedulerd/internal/httpx"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

// Verdicts of the fence on a request.
const (
	Accepted     = "accepted"
	StaleToken   = "stale-token"
	DuplicateRun = "duplicate-run"
	NoDispatch   = "no-dispatch"
)

// Entry is one request a Recorder received.
type Entry struct {
	Arrived   time.Time   `json:"arrived"`
	Job       string      `json:"job"`
	Run       string      `json:"run"`
	Scheduled time.Time   `json:"scheduled"`
	Token     fence.Token `json:"token"`
	Attempt   int         `json:"attempt"`
	Verdict   string      `json:"verdict"`
	Status    int         `json:"status"`
}

// Recorder is a target that logs every request. It is safe for concurrent use.
type Recorder struct {
	guarded http.Handler
	now     func() time.Time

	mu     sync.Mutex
	out    *bufio.Writer
	err    error
	latest time.Time // newest scheduled time among accepted requests
}

// NewRecorder guards next with a fresh fence.Verifier and logs every request to out as JSON
// lines. Call Flush before reading the log.
func NewRecorder(out io.Writer, next http.Handler, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{guarded: fence.Middleware(fence.NewVerifier(0), next), now: now, out: bufio.NewWriter(out)}
}

func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := rec.now()
	d, _ := fence.ParseDispatch(r) // the middleware answers a bad one; the log keeps what there is
	cw := &captureWriter{StatusWriter: httpx.NewStatusWriter(w)}
	rec.guarded.ServeHTTP(cw, r)
	e := Entry{Arrived: arrived, Job: d.Job, Run: d.RunID, Scheduled: d.Scheduled, Token: d.Token, Attempt: d.Attempt,
		Verdict: verdict(cw), Status: cw.Status}
	b, _ := json.Marshal(e)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if e.Verdict == Accepted && e.Scheduled.After(rec.latest) {
		rec.latest = e.Scheduled
	}
	if rec.err == nil {
		_, rec.err = rec.out.Write(append(b, '\n'))
	}
}

// LatestScheduled is the newest scheduled time among the requests accepted so far: when it
// passes a moment, runs scheduled after that moment are being delivered.
func (rec *Recorder) LatestScheduled() time.Time {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.latest
}

// Flush writes buffered entries out and reports the first write error.
func (rec *Recorder) Flush() error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.err == nil {
		rec.err = rec.out.Flush()
	}
	return rec.err
}

// verdict tells from the middleware's answer whether the request got through and, if not, why.
func verdict(cw *captureWriter) string {
	if !strings.HasPrefix(cw.Header().Get("Content-Type"), problem.ContentType) {
		return Accepted
	}
	var p problem.Details
	if json.Unmarshal(cw.body, &p) != nil {
		return Accepted // the handler's own problem answer
	}
	switch p.Type {
	case problem.TypeBase + "fence-stale-token":
		return StaleToken
	case problem.TypeBase + "fence-duplicate-run":
		return DuplicateRun
	case problem.TypeBase + "fence-no-dispatch":
		return NoDispatch
	}
	return Accepted
}

// captureWriter keeps the status and the start of the body (to tell the fence's problems apart).
type captureWriter struct {
	*httpx.StatusWriter
	body []byte
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if len(c.body) < 4096 {
		c.body = append(c.body, b[:min(len(b), 4096-len(c.body))]...)
	}
	return c.StatusWriter.Write(b)
}

// ReadEntries reads a recorder log.
func ReadEntries(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("recorder log line %d: %w", line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
