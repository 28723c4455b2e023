package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/schedulerd/schedulerd/internal/httpx"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/history"
)

// Verdicts of the target's fence on a request.
const (
	verdictAccepted   = history.Accepted
	verdictStale      = history.StaleToken
	verdictDuplicate  = history.DuplicateRun
	verdictNoDispatch = history.NoDispatch
)

// delivery is one request the target received.
type delivery struct {
	Arrived   time.Time
	Job       string
	Run       string
	Scheduled time.Time // from Schedulerd-Scheduled-Time (whole seconds)
	Token     fence.Token
	Attempt   int
	Verdict   string
}

// lateness is how long after its slot the request arrived.
func (d delivery) lateness() time.Duration { return d.Arrived.Sub(d.Scheduled) }

// target is the recording target: every request goes through pkg/fence's middleware (so a
// duplicate or a stale leader's request is refused and counted) and is kept in memory with
// its arrival time. It is safe for concurrent use.
type target struct {
	guarded http.Handler
	srv     *http.Server
	done    chan struct{}
	url     string

	mu   sync.Mutex
	recs []delivery
}

type acceptedKey struct{}

// startTarget serves the target on a loopback port until close.
func startTarget() (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &target{url: "http://" + ln.Addr().String() + "/ok", done: make(chan struct{})}
	t.guarded = fence.Middleware(fence.NewVerifier(0), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*r.Context().Value(acceptedKey{}).(*bool) = true
		w.WriteHeader(http.StatusNoContent)
	}))
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 5 * time.Second}
	go func() { defer close(t.done); _ = t.srv.Serve(ln) }() // close shuts it down and waits
	return t, nil
}

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	d, _ := fence.ParseDispatch(r) // the middleware answers a bad one
	accepted := false
	cw := &bodyWriter{StatusWriter: httpx.NewStatusWriter(w)}
	t.guarded.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), acceptedKey{}, &accepted)))
	v := verdictAccepted
	switch body := cw.body.String(); {
	case accepted:
	case strings.Contains(body, "fence-duplicate-run"):
		v = verdictDuplicate
	case strings.Contains(body, "fence-stale-token"):
		v = verdictStale
	default:
		v = verdictNoDispatch
	}
	t.mu.Lock()
	t.recs = append(t.recs, delivery{Arrived: arrived, Job: d.Job, Run: d.RunID, Scheduled: d.Scheduled, Token: d.Token, Attempt: d.Attempt, Verdict: v})
	t.mu.Unlock()
}

// count is the number of requests received so far.
func (t *target) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recs)
}

// since returns a copy of the requests received after the first n.
func (t *target) since(n int) []delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]delivery(nil), t.recs[min(n, len(t.recs)):]...)
}

// first returns the first request after the first n for which ok holds.
func (t *target) first(n int, ok func(delivery) bool) (delivery, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.recs[min(n, len(t.recs)):] {
		if ok(d) {
			return d, true
		}
	}
	return delivery{}, false
}

func (t *target) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		_ = t.srv.Close()
	}
	<-t.done
}

// bodyWriter keeps the start of the answer, to tell the fence's refusals apart.
type bodyWriter struct {
	*httpx.StatusWriter
	body strings.Builder
}

func (b *bodyWriter) Write(p []byte) (int, error) {
	if b.body.Len() < 1024 {
		b.body.Write(p[:min(len(p), 1024-b.body.Len())])
	}
	return b.StatusWriter.Write(p)
}
