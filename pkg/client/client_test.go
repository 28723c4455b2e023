package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/internal/apitest"
	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spec(schedule string, labels map[string]string) job.Spec {
	return job.Spec{Schedule: schedule, Labels: labels, Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9/hook"}}}
}

func newClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func problemOf(t *testing.T, err error) *client.Problem {
	t.Helper()
	var p *client.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not a *client.Problem", err, err)
	}
	return p
}

func TestJobLifecycle(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	c := newClient(t, srv.URL, "")
	ctx := context.Background()

	j, created, err := c.PutJob(ctx, "report", spec("@hourly", map[string]string{"team": "payments"}), client.Precondition{IfAbsent: true})
	if err != nil || !created {
		t.Fatalf("create: created %v, %v", created, err)
	}
	if j.Name != "report" || j.Status.Version == 0 || j.Timezone != "UTC" || j.Target.HTTP.Method != "POST" {
		t.Errorf("created job %+v: want its name, a version and the defaults", j)
	}
	_, _, err = c.PutJob(ctx, "report", spec("@daily", nil), client.Precondition{IfAbsent: true})
	if p := problemOf(t, err); p.Status != http.StatusPreconditionFailed || p.Kind() != "job-exists" {
		t.Errorf("second create: %v, want 412 job-exists", err)
	}

	got, err := c.GetJob(ctx, "report")
	if err != nil || got.Status.Version != j.Status.Version || got.Labels["team"] != "payments" || len(got.Status.NextRuns) == 0 {
		t.Fatalf("get: %+v, %v", got, err)
	}
	updated, created, err := c.PutJob(ctx, "report", spec("@daily", nil), client.Precondition{IfVersion: got.Status.Version})
	if err != nil || created || updated.Schedule != "@daily" || updated.Status.Version <= got.Status.Version {
		t.Fatalf("update: %+v created %v, %v", updated, created, err)
	}
	_, _, err = c.PutJob(ctx, "report", spec("@weekly", nil), client.Precondition{IfVersion: got.Status.Version})
	if !client.IsKind(err, "version-mismatch") {
		t.Errorf("stale update: %v, want version-mismatch", err)
	}

	paused, err := c.PauseJob(ctx, "report", client.PauseRequest{Note: "disk swap", By: "alice"}, client.Precondition{})
	if err != nil || !paused.Paused || paused.Pause == nil || paused.Pause.Note != "disk swap" || paused.Status.State != "paused" {
		t.Fatalf("pause: %+v, %v", paused, err)
	}
	if _, err := c.TriggerJob(ctx, "report", client.TriggerRequest{}); !client.IsKind(err, "job-paused") {
		t.Errorf("trigger while paused: %v, want job-paused", err)
	}
	first, err := c.TriggerJob(ctx, "report", client.TriggerRequest{WhilePaused: true, IdempotencyKey: "deploy-42", By: "ci"})
	if err != nil || first.Replayed || !strings.HasPrefix(first.Run, "report@") {
		t.Fatalf("trigger: %+v, %v", first, err)
	}
	again, err := c.TriggerJob(ctx, "report", client.TriggerRequest{WhilePaused: true, IdempotencyKey: "deploy-42"})
	if err != nil || !again.Replayed || again.Run != first.Run {
		t.Errorf("trigger with the same key: %+v, %v; want a replay of %s", again, err, first.Run)
	}
	pending, err := c.GetRun(ctx, "report", first.Run)
	if err != nil || pending.State != "triggered" || pending.By != "ci" {
		t.Errorf("pending run: %+v, %v", pending, err)
	}
	resumed, err := c.ResumeJob(ctx, "report", client.Precondition{})
	if err != nil || resumed.Paused || resumed.Status.State != "active" {
		t.Errorf("resume: %+v, %v", resumed, err)
	}

	if err := c.DeleteJob(ctx, "report", client.Precondition{IfVersion: 1}); !client.IsKind(err, "version-mismatch") {
		t.Errorf("delete at a stale version: %v", err)
	}
	if err := c.DeleteJob(ctx, "report", client.Precondition{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(ctx, "report")
	if p := problemOf(t, err); p.Status != http.StatusNotFound || p.Kind() != "job-not-found" || p.Detail == "" {
		t.Errorf("get after delete: %+v", p)
	}
}

func TestListFollowsPages(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	c := newClient(t, srv.URL, "")
	ctx := context.Background()
	var want []string
	for _, name := range []string{"a-1", "a-2", "a-3", "a-4", "a-5", "b-1"} {
		team := "x"
		if name == "a-2" || name == "a-5" {
			team = "y"
		}
		if _, _, err := c.PutJob(ctx, name, spec("@hourly", map[string]string{"team": team}), client.Precondition{}); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "a-") && team == "x" {
			want = append(want, name)
		}
	}
	page, err := c.ListJobs(ctx, client.ListOptions{Limit: 2})
	if err != nil || len(page.Jobs) != 2 || page.Next == "" {
		t.Fatalf("first page: %d jobs, next %q, %v", len(page.Jobs), page.Next, err)
	}
	all, err := c.AllJobs(ctx, client.ListOptions{Prefix: "a-", Labels: map[string]string{"team": "x"}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range all {
		names = append(names, j.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("all jobs a-* with team=x, one per page: %v, want %v", names, want)
	}
}

func TestValidate(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	c := newClient(t, srv.URL, "")
	ctx := context.Background()
	v, err := c.ValidateJob(ctx, "nightly", spec("0 30 2 * * *", nil))
	if err != nil || !v.Valid || v.Spec.Target.HTTP.Timeout.D() != job.DefaultTimeout || len(v.NextRuns) == 0 {
		t.Fatalf("valid job: %+v, %v", v, err)
	}
	_, err = c.ValidateDocument(ctx, []byte(`{"name":"nightly","schedule":"61 * * * *","colour":"red","target":{"http":{"url":"http://x"}}}`))
	p := problemOf(t, err)
	if p.Status != http.StatusBadRequest || len(p.Errors) == 0 {
		t.Fatalf("invalid document: %+v", p)
	}
	if !strings.Contains(p.Error(), "#/colour") {
		t.Errorf("error %q does not name the unknown field", p.Error())
	}
	if _, err := c.GetJob(ctx, "nightly"); !client.IsKind(err, "job-not-found") {
		t.Errorf("validate stored the job: %v", err)
	}
}

func TestRunsAndCancel(t *testing.T) {
	// A callback target accepts each run and never reports: the run stays running.
	srv := apitest.Start(t, apitest.Options{Lead: true})
	target := apitest.Target(t, http.StatusAccepted)
	c := newClient(t, srv.URL, "")
	ctx := context.Background()
	s := spec("@every 1h", nil)
	s.Target.HTTP.URL = target
	s.Target.HTTP.Completion = job.CompletionCallback
	if _, _, err := c.PutJob(ctx, "sync", s, client.Precondition{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.TriggerJob(ctx, "sync", client.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, 30*time.Second, "the manual run running", func() bool {
		r, err := c.GetRun(ctx, "sync", tr.Run)
		return err == nil && r.State == "running"
	})
	runs, err := c.ListRuns(ctx, "sync", 10)
	if err != nil || len(runs) != 1 || runs[0].ID != tr.Run {
		t.Fatalf("runs: %+v, %v", runs, err)
	}
	r, err := c.CancelRun(ctx, "sync", tr.Run, client.CancelRequest{By: "alice"})
	if err != nil || r.State != "cancelled" {
		t.Fatalf("cancel: %+v, %v", r, err)
	}
	if _, err := c.CancelRun(ctx, "sync", tr.Run, client.CancelRequest{}); !client.IsKind(err, "run-finished") {
		t.Errorf("second cancel: %v, want run-finished", err)
	}
	if _, err := c.GetRun(ctx, "sync", "sync@2020-01-01T00:00:00Z"); !client.IsKind(err, "run-not-found") {
		t.Errorf("unknown run: %v", err)
	}
	cl, err := c.Cluster(ctx)
	if err != nil || cl.Leader == nil || cl.Leader.Token == 0 || len(cl.Members) != 1 {
		t.Errorf("cluster: %+v, %v", cl, err)
	}
}

const secret = "s3cret-token-value"

func TestBearerToken(t *testing.T) {
	tokens, err := auth.Parse(strings.NewReader(auth.Hash(secret) + " viewer ci\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Start(t, apitest.Options{Configure: func(cfg *api.Config, _ *scheduler.Scheduler) { cfg.Tokens = tokens }})
	ctx := context.Background()

	_, err = newClient(t, srv.URL, "").AllJobs(ctx, client.ListOptions{})
	if p := problemOf(t, err); p.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %v", err)
	}
	wrong := newClient(t, srv.URL, secret+"x")
	_, err = wrong.AllJobs(ctx, client.ListOptions{})
	if !client.IsKind(err, "unauthorized") || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong token: %v", err)
	}
	c := newClient(t, srv.URL, secret)
	if _, err := c.AllJobs(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	_, _, err = c.PutJob(ctx, "report", spec("@hourly", nil), client.Precondition{})
	if p := problemOf(t, err); p.Status != http.StatusForbidden || strings.Contains(p.Error(), secret) {
		t.Errorf("a viewer's write: %v", err)
	}
}

func TestTransportErrorsNameTheServer(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", "tok")
	_, err := c.GetJob(context.Background(), "report")
	var p *client.Problem
	if err == nil || errors.As(err, &p) || !strings.Contains(err.Error(), "http://127.0.0.1:1") || strings.Contains(err.Error(), "tok") {
		t.Errorf("unreachable server: %v", err)
	}

	srv := apitest.Start(t, apitest.Options{})
	c = newClient(t, srv.URL, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetJob(ctx, "report"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// A name that is not a job name stays one path segment: it cannot reach another route.
	if _, err := c.GetJob(context.Background(), "x/runs"); !client.IsKind(err, "invalid-job") {
		t.Errorf("name with a slash: %v, want an invalid job name", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct{ server, token string }{
		{"127.0.0.1:8080", ""},
		{"ftp://x", ""},
		{"http://admin:hunter2@x", ""},
		{"http://x", "has space"},
		{"http://x", "line\nbreak"},
	} {
		_, err := client.New(tc.server, tc.token, nil)
		if err == nil {
			t.Errorf("New(%q, %q) accepted", tc.server, tc.token)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || (tc.token != "" && strings.Contains(err.Error(), tc.token)) {
			t.Errorf("error repeats a secret: %v", err)
		}
	}
}
