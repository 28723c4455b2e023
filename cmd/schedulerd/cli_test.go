package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/auth"
)

// cliRun runs `schedulerd args…` as a process (this test binary re-executed as main) with the
// extra environment and stdin, and returns what it printed and its exit code.
func cliRun(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	// The test's own environment could name a server or hold a token: leave those out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCHEDULERD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, execEnv+"=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("schedulerd %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

const cliToken = "cli-Test-Token-0c9f4e"

// The CLI as a user runs it, against a replica run as a process with authentication on:
// exit codes 0, 1 and 2, problems printed readably, and the token never printed.
func TestCLIAgainstAReplica(t *testing.T) {
	e := etcdtest.Start(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(auth.Hash(cliToken)+" admin ci\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, e.URL, "r1", "--auth-tokens-file", tokens)
	jobs := filepath.Join(dir, "jobs")
	if err := os.Mkdir(jobs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jobs, "payments.yaml"), []byte(`name: settle
labels: {team: payments}
schedule: "0 2 * * *"
target:
  http: {url: "http://127.0.0.1:9/settle"}
---
name: reconcile
labels: {team: payments}
schedule: "@every 10m"
target:
  http: {url: "http://127.0.0.1:9/reconcile"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SCHEDULERD_SERVER=" + p.api, "SCHEDULERD_TOKEN=" + cliToken}
	noToken := func(what, out string) {
		t.Helper()
		if strings.Contains(out, cliToken) || strings.Contains(out, "Test-Token") {
			t.Errorf("%s printed the token:\n%s", what, out)
		}
	}

	const badJob = "name: bad\nschedule: \"61 * * * *\"\ntarget: {http: {url: \"http://x\"}}\n"
	for _, tc := range []struct {
		name   string
		env    []string
		stdin  string
		args   []string
		code   int
		stdout string // a prefix of it
		stderr string // part of it
	}{
		{"apply", env, "", []string{"jobs", "apply", "-f", jobs, "--prune", "--selector", "team=payments"}, 0,
			"job settle created\njob reconcile created\n", ""},
		{"apply again", env, "", []string{"jobs", "apply", "-f", jobs, "-v"}, 0,
			"job settle unchanged\njob reconcile unchanged\n", "> POST " + p.api + "/v1/jobs:validate (with a bearer token)"},
		{"list", env, "", []string{"jobs", "list", "--selector", "team=payments"}, 0, "NAME       STATE   SCHEDULE", ""},
		{"cluster", env, "", []string{"cluster", "status"}, 0, "REPLICA  URL", ""},
		{"not found", env, "", []string{"jobs", "get", "nope"}, 1, "", "schedulerd: Job not found (404): there is no job \"nope\"\n"},
		{"invalid job", env, badJob, []string{"jobs", "apply", "-f", "-"}, 1, "", "stdin:1: job bad: Invalid job (400)\n  stdin:2: schedule: "},
		{"no token", nil, "", []string{"jobs", "list", "--server", p.api}, 1, "", "schedulerd: Unauthorized (401)"},
		{"usage", env, "", []string{"jobs", "get"}, 2, "", "accepts 1 arg(s), received 0"},
		{"bad flag", env, "", []string{"jobs", "list", "--output=xml"}, 2, "", `--output "xml"`},
		{"unreachable", []string{"SCHEDULERD_SERVER=http://127.0.0.1:1"}, "", []string{"cluster", "status"}, 1, "", "schedulerd at http://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := cliRun(t, tc.env, tc.stdin, tc.args...)
			if code != tc.code || !strings.HasPrefix(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			noToken(tc.name, stdout+stderr)
		})
	}
}
