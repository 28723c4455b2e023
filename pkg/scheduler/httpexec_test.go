package scheduler_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
)

func TestHTTPExecutor(t *testing.T) {
	type seen struct {
		method string
		header http.Header
		body   string
	}
	got := make(chan seen, 1)
	block := make(chan struct{})
	defer close(block)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- seen{r.Method, r.Header.Clone(), string(b)}:
		default:
		}
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-block:
			}
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	exec := scheduler.NewHTTPExecutor()
	d := fence.Dispatch{Job: "tick", RunID: "tick@2026-03-01T10:00:00Z", Scheduled: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Token: 42, Attempt: 1}
	mk := func(path string, mutate func(*job.HTTPTarget)) job.Job {
		h := &job.HTTPTarget{URL: srv.URL + path + "?secret=hunter2"}
		if mutate != nil {
			mutate(h)
		}
		return job.Job{Name: "tick", Spec: job.Spec{Schedule: "@every 1s", Target: job.Target{HTTP: h}}.WithDefaults()}
	}

	t.Run("headers and body", func(t *testing.T) {
		res := exec.Execute(context.Background(), mk("/ok", func(h *job.HTTPTarget) {
			h.Body, h.Headers = `{"a":1}`, map[string]job.HeaderValue{"Authorization": job.Literal("Bearer t")}
		}), d)
		if res.Err != nil || res.Status != http.StatusAccepted {
			t.Fatalf("result %+v", res)
		}
		s := <-got
		want := map[string]string{
			"Schedulerd-Job": "tick", "Schedulerd-Run-Id": d.RunID, "Idempotency-Key": d.RunID,
			"Schedulerd-Scheduled-Time": "2026-03-01T10:00:00Z", "Schedulerd-Fencing-Token": "42",
			"Schedulerd-Attempt": "1", "Authorization": "Bearer t", "Content-Type": "application/json",
			"User-Agent": "schedulerd",
		}
		for k, v := range want {
			if g := s.header.Get(k); g != v {
				t.Errorf("header %s = %q, want %q", k, g, v)
			}
		}
		if s.method != "POST" || s.body != `{"a":1}` {
			t.Errorf("request %s %q", s.method, s.body)
		}
	})
	t.Run("non-2xx is a failure", func(t *testing.T) {
		res := exec.Execute(context.Background(), mk("/fail", nil), d)
		<-got
		if res.Err == nil || res.Status != http.StatusServiceUnavailable {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("redirect is not followed", func(t *testing.T) {
		res := exec.Execute(context.Background(), mk("/redirect", func(h *job.HTTPTarget) { h.Method = "GET" }), d)
		<-got
		if res.Err == nil || res.Status != http.StatusFound {
			t.Errorf("result %+v", res)
		}
		select {
		case s := <-got:
			t.Errorf("redirect followed to a second request: %v", s)
		default:
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		res := exec.Execute(ctx, mk("/slow", nil), d)
		<-got
		if res.Err == nil || !strings.Contains(res.Err.Error(), "timeout") || !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Errorf("result %+v", res)
		}
		if strings.Contains(res.Err.Error(), "hunter2") {
			t.Errorf("error leaks the URL: %v", res.Err)
		}
	})
	t.Run("connection refused does not leak the URL", func(t *testing.T) {
		l := httptest.NewServer(http.NotFoundHandler())
		url := l.URL
		l.Close()
		j := mk("", nil)
		j.Spec.Target.HTTP.URL = url + "/?token=hunter2"
		res := exec.Execute(context.Background(), j, d)
		if res.Err == nil || strings.Contains(res.Err.Error(), "hunter2") {
			t.Errorf("result %+v", res)
		}
	})
}
