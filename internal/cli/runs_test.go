package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/schedulerd/schedulerd/internal/apitest"
	"github.com/schedulerd/schedulerd/internal/cli"
	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
)

func TestRunsAndCluster(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{Lead: true})
	// The target accepts each run and reports nothing: the run stays running.
	f := writeFile(t, t.TempDir(), "sync.yaml", `name: sync
schedule: "@every 1h"
target:
  http: {url: "`+apitest.Target(t, http.StatusAccepted)+`", completion: callback}
`)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", f))
	r := cliCmd(t, srv, "jobs", "trigger", "sync", "-o", "json")
	mustSucceed(t, r)
	var tr client.Trigger
	if err := json.Unmarshal([]byte(r.stdout), &tr); err != nil || tr.Run == "" {
		t.Fatalf("trigger -o json: %v\n%s", err, r.stdout)
	}
	c := apiClient(t, srv)
	etcdtest.WaitFor(t, 30*time.Second, "the manual run running", func() bool {
		run, err := c.GetRun(context.Background(), "sync", tr.Run)
		return err == nil && run.State == "running"
	})

	r = cliCmd(t, srv, "runs", "list", "sync")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "RUN") || !strings.HasPrefix(lines[1], tr.Run+"  running") {
		t.Errorf("runs list:\n%s", r.stdout)
	}
	r = cliCmd(t, srv, "runs", "list", "sync", "--limit", "1", "-o", "yaml")
	mustSucceed(t, r)
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &doc); err != nil || doc["id"] != tr.Run || doc["state"] != "running" {
		t.Errorf("runs list -o yaml: %v, %v\n%s", doc, err, r.stdout)
	}
	r = cliCmd(t, srv, "runs", "get", "sync", tr.Run)
	mustSucceed(t, r)
	for _, want := range []string{"Run:", tr.Run, "State:", "running", "Trigger:", "manual"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("runs get lacks %q:\n%s", want, r.stdout)
		}
	}

	r = cliCmd(t, srv, "runs", "cancel", "sync", tr.Run, "--by", "alice")
	if r.code != 0 || r.stdout != "run "+tr.Run+" cancelled\n" {
		t.Errorf("runs cancel: %s", r)
	}
	r = cliCmd(t, srv, "runs", "cancel", "sync", tr.Run)
	if r.code != 1 || !strings.Contains(r.stderr, "schedulerd: Run has its result (409): ") {
		t.Errorf("second cancel: %s", r)
	}
	r = cliCmd(t, srv, "runs", "get", "sync", "sync@2020-01-01T00:00:00Z")
	if r.code != 1 || !strings.Contains(r.stderr, "Run not found (404)") {
		t.Errorf("unknown run: %s", r)
	}

	r = cliCmd(t, srv, "cluster", "status")
	mustSucceed(t, r)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REPLICA") || !strings.HasPrefix(lines[1], "apitest-1  "+srv.URL+"  leader  ") {
		t.Errorf("cluster status:\n%s", r.stdout)
	}
	r = cliCmd(t, srv, "cluster", "status", "-o", "json")
	mustSucceed(t, r)
	var cl client.Cluster
	if err := json.Unmarshal([]byte(r.stdout), &cl); err != nil || cl.Leader == nil || cl.Leader.ID != "apitest-1" || cl.Leader.Token == 0 {
		t.Errorf("cluster status -o json: %+v, %v", cl, err)
	}

	// Completion of job names and run ids, from the server.
	r = run(t, "", nil, "__complete", "jobs", "get", "--server", srv.URL, "sy")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sync\n:4\n") {
		t.Errorf("completion of a job name: %s", r)
	}
	r = run(t, "", nil, "__complete", "runs", "get", "--server", srv.URL, "sync", "")
	if r.code != 0 || !strings.HasPrefix(r.stdout, tr.Run+"\n") {
		t.Errorf("completion of a run id: %s", r)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r = run(t, "", nil, "completion", shell)
		if r.code != 0 || len(r.stdout) < 100 {
			t.Errorf("completion %s: %s", shell, r)
		}
	}
}

const (
	adminToken  = "adm-Secret-7f3a9c"
	viewerToken = "view-Secret-2b8e1d"
)

func TestTokenIsNeverPrinted(t *testing.T) {
	tokens, err := auth.Parse(strings.NewReader(auth.Hash(adminToken) + " admin deploy\n" + auth.Hash(viewerToken) + " viewer dashboard\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Start(t, apitest.Options{Configure: func(cfg *api.Config, _ *scheduler.Scheduler) { cfg.Tokens = tokens }})
	f := writeFile(t, t.TempDir(), "sync.yaml", syncYAML)
	check := func(name string, r result) {
		t.Helper()
		for _, tok := range []string{adminToken, viewerToken, "Secret-"} {
			if strings.Contains(r.stdout+r.stderr, tok) {
				t.Errorf("%s printed a token:\n%s", name, r)
			}
		}
	}

	r := cliCmd(t, srv, "jobs", "list", "-v")
	check("no token", r)
	if r.code != 1 || !strings.Contains(r.stderr, "Unauthorized (401)") || !strings.Contains(r.stderr, "--token or "+cli.EnvToken) {
		t.Errorf("without a token: %s", r)
	}
	r = cliCmd(t, srv, "jobs", "list", "-v", "--token", adminToken+"-wrong")
	check("a wrong token", r)
	if r.code != 1 || !strings.Contains(r.stderr, "Unauthorized (401)") || !strings.Contains(r.stderr, "> GET "+srv.URL+"/v1/jobs (with a bearer token)") {
		t.Errorf("a wrong token: %s", r)
	}
	r = cliCmd(t, srv, "jobs", "apply", "-f", f, "-v", "--token", viewerToken)
	check("a viewer's apply", r)
	if r.code != 1 || !strings.Contains(r.stderr, "job sync: Forbidden (403)") || !strings.Contains(r.stderr, "< 403 Forbidden") {
		t.Errorf("a viewer's apply: %s", r)
	}
	r = cliCmd(t, srv, "jobs", "list", "--token", "has space "+adminToken)
	check("a malformed token", r)
	if r.code != 2 {
		t.Errorf("a malformed token: %s", r)
	}

	t.Setenv(cli.EnvToken, adminToken)
	r = cliCmd(t, srv, "jobs", "apply", "-f", f, "-v")
	check("an admin's apply", r)
	if r.code != 0 || r.stdout != "job sync created\n" {
		t.Errorf("apply with the token from the environment: %s", r)
	}
	r = cliCmd(t, srv, "jobs", "get", "sync", "-o", "yaml", "-v")
	check("get", r)
	mustSucceed(t, r)
	r = run(t, "", nil, "jobs", "list", "--help")
	check("help", r)
	r = run(t, "", nil, "__complete", "jobs", "get", "--server", srv.URL, "")
	check("completion", r)
	if !strings.HasPrefix(r.stdout, "sync\n") {
		t.Errorf("completion with the token from the environment: %s", r)
	}
	r = run(t, "", nil, "jobs", "list", "--server", "http://127.0.0.1:1", "-v")
	check("an unreachable server", r)
	if r.code != 1 {
		t.Errorf("unreachable: %s", r)
	}
}
