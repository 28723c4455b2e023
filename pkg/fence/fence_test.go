package fence_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

func dispatch(job, run string, tok fence.Token) fence.Dispatch {
	return fence.Dispatch{Job: job, RunID: run, Scheduled: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Token: tok, Attempt: 1}
}

func TestVerifier(t *testing.T) {
	type step struct {
		d       fence.Dispatch
		release bool // release d instead of accepting it
		want    error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first request is accepted", []step{{d: dispatch("a", "a@1", 5)}}},
		{"older token is stale", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@2", 4), want: fence.ErrStaleToken},
		}},
		{"same run id twice is a duplicate", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@1", 5), want: fence.ErrDuplicateRun},
		}},
		{"same run id from a newer leader is still a duplicate", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@1", 9), want: fence.ErrDuplicateRun},
		}},
		{"newer token is accepted and raises the bar", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@2", 9)},
			{d: dispatch("a", "a@3", 5), want: fence.ErrStaleToken},
		}},
		{"same token next run is accepted", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@2", 5)},
		}},
		{"jobs are fenced independently", []step{
			{d: dispatch("a", "a@1", 9)},
			{d: dispatch("b", "b@1", 5)},
		}},
		{"released run may be retried", []step{
			{d: dispatch("a", "a@1", 5)},
			{d: dispatch("a", "a@1", 5), release: true},
			{d: dispatch("a", "a@1", 5)},
		}},
		{"release keeps the highest token", []step{
			{d: dispatch("a", "a@1", 9)},
			{d: dispatch("a", "a@1", 9), release: true},
			{d: dispatch("a", "a@1", 5), want: fence.ErrStaleToken},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := fence.NewVerifier(0)
			for i, s := range tc.steps {
				if s.release {
					v.Release(s.d)
					continue
				}
				if err := v.Accept(s.d); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
					t.Fatalf("step %d: Accept(%+v) = %v, want %v", i, s.d, err, s.want)
				}
			}
		})
	}
}

func TestVerifierForgetsOldestRunsBeyondItsBound(t *testing.T) {
	v := fence.NewVerifier(2)
	for _, id := range []string{"a@1", "a@2", "a@3"} {
		if err := v.Accept(dispatch("a", id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Accept(dispatch("a", "a@3", 1)); !errors.Is(err, fence.ErrDuplicateRun) {
		t.Errorf("newest run id forgotten: %v", err)
	}
	if err := v.Accept(dispatch("a", "a@1", 1)); err != nil {
		t.Errorf("oldest run id still remembered beyond the bound: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	v := fence.NewVerifier(0)
	var reached []fence.Dispatch
	status := http.StatusNoContent
	h := fence.Middleware(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := fence.FromContext(r.Context())
		if !ok {
			t.Error("handler reached without a dispatch in its context")
		}
		reached = append(reached, d)
		w.WriteHeader(status)
	}))
	send := func(d fence.Dispatch, mutate func(http.Header)) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("{}"))
		d.Set(r.Header)
		if mutate != nil {
			mutate(r.Header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name    string
		d       fence.Dispatch
		mutate  func(http.Header)
		handler int // what the handler answers, when reached
		want    int
		kind    string // problem type fragment when rejected
		reaches bool
	}{
		{name: "first run", d: dispatch("a", "a@1", 5), handler: 204, want: 204, reaches: true},
		{name: "same run id again", d: dispatch("a", "a@1", 5), want: 409, kind: "fence-duplicate-run"},
		{name: "newer token", d: dispatch("a", "a@2", 7), handler: 204, want: 204, reaches: true},
		{name: "older token", d: dispatch("a", "a@3", 5), want: 409, kind: "fence-stale-token"},
		{name: "handler fails with 503", d: dispatch("a", "a@4", 7), handler: 503, want: 503, reaches: true},
		{name: "retry after 503 is admitted", d: dispatch("a", "a@4", 7), handler: 200, want: 200, reaches: true},
		{name: "retry after success is not", d: dispatch("a", "a@4", 7), want: 409, kind: "fence-duplicate-run"},
		{name: "no headers", d: dispatch("a", "a@5", 7), mutate: func(h http.Header) {
			h.Del(fence.HeaderJob)
			h.Del(fence.HeaderRunID)
		}, want: 400, kind: "fence-no-dispatch"},
		{name: "bad token", d: dispatch("a", "a@5", 7), mutate: func(h http.Header) { h.Set(fence.HeaderToken, "-3") }, want: 400, kind: "fence-no-dispatch"},
		{name: "bad scheduled time", d: dispatch("a", "a@5", 7), mutate: func(h http.Header) { h.Set(fence.HeaderScheduledTime, "yesterday") }, want: 400, kind: "fence-no-dispatch"},
		{name: "bad attempt", d: dispatch("a", "a@5", 7), mutate: func(h http.Header) { h.Set(fence.HeaderAttempt, "0") }, want: 400, kind: "fence-no-dispatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status = tc.handler
			before := len(reached)
			w := send(tc.d, tc.mutate)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if got := len(reached) > before; got != tc.reaches {
				t.Fatalf("handler reached = %v, want %v", got, tc.reaches)
			}
			if tc.reaches {
				if got := reached[len(reached)-1]; got != tc.d {
					t.Errorf("handler saw %+v, want %+v", got, tc.d)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type %q, want %q", ct, problem.ContentType)
			}
			var p problem.Details
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("body is not problem+json: %v", err)
			}
			if p.Type != problem.TypeBase+tc.kind || p.Status != tc.want || p.Detail == "" {
				t.Errorf("problem %+v, want kind %s status %d", p, tc.kind, tc.want)
			}
		})
	}
}

func TestDispatchHeadersRoundTrip(t *testing.T) {
	d := dispatch("nightly-report", "nightly-report@2026-03-01T10:00:00Z", 42)
	d.Attempt = 3
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	d.Set(r.Header)
	if got := r.Header.Get(fence.HeaderIdempotencyKey); got != d.RunID {
		t.Errorf("Idempotency-Key %q, want the run id", got)
	}
	got, err := fence.ParseDispatch(r)
	if err != nil || got != d {
		t.Fatalf("ParseDispatch = %+v, %v; want %+v", got, err, d)
	}
}

func TestReserved(t *testing.T) {
	for name, want := range map[string]bool{
		"schedulerd-run-id": true, "Schedulerd-Anything": true, "idempotency-key": true,
		"Authorization": false, "X-Schedulerd": false,
	} {
		if got := fence.Reserved(name); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", name, got, want)
		}
	}
}
