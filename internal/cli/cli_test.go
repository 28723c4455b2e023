package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/schedulerd/schedulerd/internal/apitest"
	"github.com/schedulerd/schedulerd/internal/cli"
	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/serve"
	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/job"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one invocation printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// newRoot builds the command tree as cmd/schedulerd does (flag errors are usage errors).
func newRoot(opts ...cli.Option) *cobra.Command {
	root := &cobra.Command{Use: "schedulerd", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return serve.UsageError{Err: err} })
	root.AddCommand(cli.Commands(opts...)...)
	return root
}

// run runs the CLI with args and prints its error as serve.Main does.
func run(t *testing.T, stdin string, opts []cli.Option, args ...string) result {
	t.Helper()
	root := newRoot(opts...)
	var out, errw bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	r := result{stdout: out.String()}
	if err != nil {
		errw.WriteString("schedulerd: " + err.Error() + "\n")
		r.code = serve.ExitCode(err)
	}
	r.stderr = errw.String()
	return r
}

func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("failed: %s", r)
	}
}

// cliCmd runs the CLI against srv.
func cliCmd(t *testing.T, srv *apitest.Server, args ...string) result {
	t.Helper()
	return run(t, "", nil, append(args, "--server", srv.URL)...)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func apiClient(t *testing.T, srv *apitest.Server) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getJob(t *testing.T, srv *apitest.Server, name string) client.Job {
	t.Helper()
	j, err := apiClient(t, srv).GetJob(context.Background(), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return j
}

const (
	reportYAML = `name: report
labels: {team: payments}
schedule: "0 30 2 * * *"
timezone: Europe/Berlin
target:
  http:
    url: http://127.0.0.1:9000/report
    headers:
      X-Api-Version: v1-literal
      Authorization: {fromEnv: SCHEDULERD_SECRET_REPORT}
retry:
  attempts: 3
  on: [5xx, timeout]
`
	syncYAML = `---
# the hourly sync
name: sync
labels:
  team: payments
schedule: "@hourly"
target:
  http: {url: "http://127.0.0.1:9000/sync"}
---
`
)

func TestApplyCreatesChangesAndLeavesAlone(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	writeFile(t, dir, "report.yaml", reportYAML)
	writeFile(t, dir, "sync.yml", syncYAML)
	writeFile(t, dir, "README.md", "not a job")

	r := cliCmd(t, srv, "jobs", "apply", "-f", dir)
	mustSucceed(t, r)
	if r.stdout != "job report created\njob sync created\n" {
		t.Errorf("first apply printed:\n%s", r.stdout)
	}
	rep := getJob(t, srv, "report")
	if rep.Timezone != "Europe/Berlin" || rep.Retry.Attempts != 3 || len(rep.Retry.On) != 2 || rep.Retry.On[0] != job.Retry5xx {
		t.Errorf("stored report: %+v (retry %+v): `on:` must be the retry kinds, not a boolean", rep.Spec, rep.Retry)
	}

	r = cliCmd(t, srv, "jobs", "apply", "-f", dir)
	mustSucceed(t, r)
	if r.stdout != "job report unchanged\njob sync unchanged\n" {
		t.Errorf("second apply printed:\n%s", r.stdout)
	}
	if after := getJob(t, srv, "report"); after.Status.Version != rep.Status.Version {
		t.Errorf("an unchanged apply wrote the job: version %d → %d", rep.Status.Version, after.Status.Version)
	}

	changed := strings.Replace(reportYAML, "0 30 2 * * *", "0 45 2 * * *", 1)
	changed = strings.Replace(changed, "v1-literal", "v2-literal", 1)
	changed = strings.Replace(changed, "SECRET_REPORT}", "SECRET_REPORT_V2}", 1)
	writeFile(t, dir, "report.yaml", changed)
	r = cliCmd(t, srv, "jobs", "apply", "-f", dir)
	mustSucceed(t, r)
	want := "job report changed\n" +
		"  schedule: \"0 30 2 * * *\" -> \"0 45 2 * * *\"\n" +
		"  target.http.headers.Authorization.fromEnv: \"SCHEDULERD_SECRET_REPORT\" -> \"SCHEDULERD_SECRET_REPORT_V2\"\n" +
		"  target.http.headers.X-Api-Version: \"(hidden)\" -> \"(hidden)\"\n" +
		"job sync unchanged\n"
	if r.stdout != want {
		t.Errorf("apply of a change printed:\n%s\nwant:\n%s", r.stdout, want)
	}
	if strings.Contains(r.stdout+r.stderr, "-literal") {
		t.Errorf("the diff shows a literal header value:\n%s", r)
	}
	if got := getJob(t, srv, "report"); got.Schedule != "0 45 2 * * *" {
		t.Errorf("schedule after apply: %q", got.Schedule)
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	c := apiClient(t, srv)
	ctx := context.Background()
	put := func(name, schedule string, labels map[string]string) {
		s := job.Spec{Schedule: schedule, Labels: labels, Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9000/" + name}}}
		if _, _, err := c.PutJob(ctx, name, s, client.Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	put("sync", "@daily", map[string]string{"team": "payments"})
	put("old", "@daily", map[string]string{"team": "payments"})
	put("theirs", "@daily", map[string]string{"team": "search"})
	dir := t.TempDir()
	writeFile(t, dir, "jobs.yaml", reportYAML+"---\n"+syncYAML)

	before := etcdtest.Revision(t, srv.Etcdc)
	r := cliCmd(t, srv, "jobs", "apply", "-f", dir, "--prune", "--selector", "team=payments", "--dry-run")
	mustSucceed(t, r)
	for _, line := range []string{
		"job report created (dry run)\n",
		"job sync changed (dry run)\n  schedule: \"@daily\" -> \"@hourly\"\n",
		"job old pruned (dry run)\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("dry run output lacks %q:\n%s", line, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "theirs") {
		t.Errorf("dry run would prune a job of another team:\n%s", r.stdout)
	}
	if after := etcdtest.Revision(t, srv.Etcdc); after != before {
		t.Errorf("a dry run wrote to etcd: revision %d → %d", before, after)
	}

	// The same as JSON: one result per job.
	r = cliCmd(t, srv, "jobs", "apply", "-f", dir, "--prune", "--selector", "team=payments", "--dry-run", "-o", "json")
	mustSucceed(t, r)
	var results []struct {
		Name, Action string
		DryRun       bool
		Changes      []struct{ Field, From, To string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if len(results) != 3 || results[1].Action != "changed" || results[1].Changes[0].Field != "schedule" || !results[2].DryRun || results[2].Name != "old" {
		t.Errorf("-o json results: %+v", results)
	}
}

func TestApplyPrune(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	writeFile(t, dir, "report.yaml", reportYAML)
	writeFile(t, dir, "sync.yaml", syncYAML)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", dir))
	other := writeFile(t, t.TempDir(), "search.json",
		`[{"name":"indexer","labels":{"team":"search"},"schedule":"@hourly","target":{"http":{"url":"http://127.0.0.1:9000/i"}}}]`)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", other))

	if err := os.Remove(filepath.Join(dir, "sync.yaml")); err != nil {
		t.Fatal(err)
	}
	r := cliCmd(t, srv, "jobs", "apply", "-f", dir, "--prune", "--selector", "team=payments")
	mustSucceed(t, r)
	if r.stdout != "job report unchanged\njob sync pruned\n" {
		t.Errorf("prune printed:\n%s", r.stdout)
	}
	if _, err := apiClient(t, srv).GetJob(context.Background(), "sync"); !client.IsKind(err, "job-not-found") {
		t.Errorf("sync after prune: %v", err)
	}
	getJob(t, srv, "indexer") // another team's job stays
}

func TestApplyInvalidFilesWriteNothing(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	writeFile(t, dir, "a-good.yaml", reportYAML)
	writeFile(t, dir, "b-bad.yaml", `name: broken
schedule: "61 * * * *"
colour: red
target:
  http:
    url: ftp://example.com
`)
	writeFile(t, dir, "c-noname.yaml", "schedule: \"@hourly\"\n")
	writeFile(t, dir, "d-syntax.yaml", "name: [unclosed\n")
	before := etcdtest.Revision(t, srv.Etcdc)
	r := cliCmd(t, srv, "jobs", "apply", "-f", dir)
	if r.code != 1 {
		t.Fatalf("apply of invalid files: %s", r)
	}
	for _, want := range []string{
		filepath.Join(dir, "b-bad.yaml") + ":1: job broken:",
		filepath.Join(dir, "b-bad.yaml") + ":3: colour:",
		filepath.Join(dir, "c-noname.yaml") + ":1: the document has no name",
		filepath.Join(dir, "d-syntax.yaml") + ":",
		"nothing was written",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout of a refused apply: %q", r.stdout)
	}
	if after := etcdtest.Revision(t, srv.Etcdc); after != before {
		t.Errorf("a refused apply wrote to etcd: revision %d → %d", before, after)
	}

	// The schedule and the URL are named, with their lines, once the unknown field is gone.
	writeFile(t, dir, "b-bad.yaml", "name: broken\nschedule: \"61 * * * *\"\ntarget:\n  http:\n    url: ftp://example.com\n")
	r = cliCmd(t, srv, "jobs", "apply", "-f", filepath.Join(dir, "b-bad.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, "b-bad.yaml:2: schedule: ") || !strings.Contains(r.stderr, "b-bad.yaml:5: target.http.url: ") {
		t.Errorf("field problems with lines: %s", r)
	}

	// Two documents for one job.
	writeFile(t, dir, "b-bad.yaml", reportYAML)
	r = cliCmd(t, srv, "jobs", "apply", "-f", filepath.Join(dir, "a-good.yaml"), "-f", filepath.Join(dir, "b-bad.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, `job "report" is defined twice`) {
		t.Errorf("duplicate job: %s", r)
	}
}

// conflictTransport changes a job behind apply's back, just before apply's first PUT of it.
type conflictTransport struct {
	t    *testing.T
	srv  *apitest.Server
	name string
	once sync.Once
}

func (c *conflictTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/v1/jobs/"+c.name) {
		c.once.Do(func() {
			cl := apiClient(c.t, c.srv)
			j, err := cl.GetJob(r.Context(), c.name)
			if err != nil {
				c.t.Error(err)
				return
			}
			j.Description = "edited by someone else"
			if _, _, err := cl.PutJob(r.Context(), c.name, j.Spec, client.Precondition{}); err != nil {
				c.t.Error(err)
			}
		})
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestApplyConflictIsReportedNotOverwritten(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	f := writeFile(t, dir, "report.yaml", reportYAML)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", f))
	writeFile(t, dir, "report.yaml", strings.Replace(reportYAML, "0 30 2", "0 45 2", 1))

	opts := []cli.Option{cli.WithTransport(&conflictTransport{t: t, srv: srv, name: "report"})}
	r := run(t, "", opts, "jobs", "apply", "-f", f, "--server", srv.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "job report: someone changed it since apply read it (412)") {
		t.Errorf("apply over a concurrent change: %s", r)
	}
	if got := getJob(t, srv, "report"); got.Description != "edited by someone else" || got.Schedule != "0 30 2 * * *" {
		t.Errorf("the concurrent change was overwritten: %+v", got.Spec)
	}
	// Run again, it applies on top of the change it has now seen.
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", f))
	if got := getJob(t, srv, "report"); got.Schedule != "0 45 2 * * *" || got.Description != "" {
		t.Errorf("after the second apply: %+v", got.Spec)
	}

	// A job created by someone else between apply's read and its create.
	g := writeFile(t, dir, "sync.yaml", syncYAML)
	opts = []cli.Option{cli.WithTransport(&createFirst{conflictTransport{t: t, srv: srv, name: "sync"}})}
	r = run(t, "", opts, "jobs", "apply", "-f", g, "--server", srv.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "job sync: someone created it since apply looked (412)") {
		t.Errorf("apply of a job created meanwhile: %s", r)
	}
}

// createFirst creates the job just before apply's create-only PUT of it.
type createFirst struct{ conflictTransport }

func (c *createFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/v1/jobs/"+c.name) {
		c.once.Do(func() {
			s := job.Spec{Schedule: "@daily", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9000/theirs"}}}
			if _, _, err := apiClient(c.t, c.srv).PutJob(r.Context(), c.name, s, client.Precondition{}); err != nil {
				c.t.Error(err)
			}
		})
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestApplyKeepsAPauseMadeByHand(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	f := writeFile(t, t.TempDir(), "sync.yaml", syncYAML)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", f))
	r := cliCmd(t, srv, "jobs", "pause", "sync", "--note", "incident 7", "--until", "2h")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "job sync paused until ") {
		t.Errorf("pause printed %q", r.stdout)
	}

	r = cliCmd(t, srv, "jobs", "apply", "-f", f)
	mustSucceed(t, r)
	if r.stdout != "job sync unchanged\n" || !getJob(t, srv, "sync").Paused {
		t.Errorf("apply of a file without `paused` over a paused job: %s", r)
	}
	// A change to the file is applied, and the job stays paused.
	writeFile(t, filepath.Dir(f), "sync.yaml", strings.Replace(syncYAML, "@hourly", "@daily", 1))
	r = cliCmd(t, srv, "jobs", "apply", "-f", f)
	mustSucceed(t, r)
	if got := getJob(t, srv, "sync"); r.stdout != "job sync changed\n  schedule: \"@hourly\" -> \"@daily\"\n" || !got.Paused || got.Pause == nil || got.Pause.Note != "incident 7" {
		t.Errorf("apply of a change over a paused job: %s\njob: %+v", r, got.Spec)
	}
	// A file that says paused: false resumes it.
	writeFile(t, filepath.Dir(f), "sync.yaml", strings.Replace(syncYAML, "schedule: \"@hourly\"", "paused: false\nschedule: \"@daily\"", 1))
	r = cliCmd(t, srv, "jobs", "apply", "-f", f)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "  paused: true -> (none)\n") || getJob(t, srv, "sync").Paused {
		t.Errorf("apply with paused: false: %s", r)
	}
}

func TestOutputFormats(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	writeFile(t, dir, "jobs.yaml", reportYAML+"---\n"+syncYAML)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", dir))

	r := cliCmd(t, srv, "jobs", "list")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME    STATE   SCHEDULE      TIMEZONE       NEXT RUN") ||
		!strings.HasPrefix(lines[1], "report  active  0 30 2 * * *  Europe/Berlin  ") || !strings.HasSuffix(lines[1], "team=payments") {
		t.Errorf("table:\n%s", r.stdout)
	}

	r = cliCmd(t, srv, "jobs", "get", "report", "-o", "json")
	mustSucceed(t, r)
	var j client.Job
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || j.Name != "report" || j.Status.Version == 0 || j.Target.HTTP.Method != "POST" {
		t.Errorf("-o json: %+v, %v\n%s", j, err, r.stdout)
	}
	r = cliCmd(t, srv, "jobs", "get", "report", "-o", "yaml")
	mustSucceed(t, r)
	var y map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &y); err != nil || y["name"] != "report" || y["schedule"] != "0 30 2 * * *" {
		t.Errorf("-o yaml: %v, %v\n%s", y, err, r.stdout)
	}
	r = cliCmd(t, srv, "jobs", "get", "report")
	mustSucceed(t, r)
	for _, want := range []string{"Name:", "report", "Schedule:", "0 30 2 * * *", "Target:", "POST http://127.0.0.1:9000/report", "Next runs:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("jobs get lacks %q:\n%s", want, r.stdout)
		}
	}

	// `jobs list -o yaml` is a file apply takes back, unchanged.
	r = cliCmd(t, srv, "jobs", "list", "-o", "yaml", "--selector", "team=payments")
	mustSucceed(t, r)
	if strings.Count(r.stdout, "\n---\n") != 1 {
		t.Errorf("-o yaml list is not two documents:\n%s", r.stdout)
	}
	back := run(t, r.stdout, nil, "jobs", "apply", "-f", "-", "--server", srv.URL)
	mustSucceed(t, back)
	if back.stdout != "job report unchanged\njob sync unchanged\n" {
		t.Errorf("apply of `jobs list -o yaml`: %s", back)
	}
	r = cliCmd(t, srv, "jobs", "list", "-o", "json", "--prefix", "sy")
	mustSucceed(t, r)
	var jobs []client.Job
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || len(jobs) != 1 || jobs[0].Name != "sync" {
		t.Errorf("-o json list with --prefix: %v\n%s", err, r.stdout)
	}
	r = cliCmd(t, srv, "jobs", "list", "-o", "json", "--selector", "team=nobody")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list as json: %s", r)
	}
}

func TestExitCodes(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	f := writeFile(t, t.TempDir(), "sync.yaml", syncYAML)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"success", []string{"jobs", "apply", "-f", f}, 0, ""},
		{"unknown flag", []string{"jobs", "list", "--nope"}, 2, "unknown flag: --nope"},
		{"missing argument", []string{"jobs", "get"}, 2, "accepts 1 arg(s)"},
		{"extra argument", []string{"jobs", "delete", "a", "b"}, 2, "accepts 1 arg(s)"},
		{"unknown subcommand", []string{"jobs", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"bad output format", []string{"jobs", "list", "-o", "xml"}, 2, `--output "xml"`},
		{"bad server URL", []string{"jobs", "list", "--server", "localhost:8080"}, 2, `server "localhost:8080" is not an http(s) URL`},
		{"prune without selector", []string{"jobs", "apply", "-f", f, "--prune"}, 2, "--prune needs --selector"},
		{"selector without prune", []string{"jobs", "apply", "-f", f, "--selector", "a=b"}, 2, "give --prune too"},
		{"bad selector", []string{"jobs", "list", "--selector", "team"}, 2, "want key=value"},
		{"no -f", []string{"jobs", "apply"}, 2, "-f is required"},
		{"bad --until", []string{"jobs", "pause", "sync", "--until", "tomorrow"}, 2, "--until"},
		{"bad --limit", []string{"runs", "list", "sync", "--limit", "5000"}, 2, "--limit"},
		{"job not found", []string{"jobs", "get", "nope"}, 1, "schedulerd: Job not found (404): there is no job \"nope\"\n"},
		{"missing file", []string{"jobs", "apply", "-f", "/nonexistent/jobs"}, 1, "/nonexistent/jobs"},
		{"refused by the server", []string{"jobs", "trigger", "sync", "--idempotency-key", strings.Repeat("k", 300)}, 1,
			"schedulerd: Invalid Idempotency-Key (400): the Idempotency-Key header must be at most 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", nil, append(tc.args, "--server", srv.URL)...)
			if tc.name == "bad server URL" {
				r = run(t, "", nil, tc.args...)
			}
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want %d; stderr should hold %q: %s", r.code, tc.code, tc.want, r)
			}
		})
	}

	// An unreachable server: exit 1, and the message names the server it tried.
	r := run(t, "", nil, "cluster", "status", "--server", "http://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.stderr, "schedulerd at http://127.0.0.1:1") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("unreachable server: %s", r)
	}
	// The environment gives the server when the flag does not.
	t.Setenv(cli.EnvServer, srv.URL)
	mustSucceed(t, run(t, "", nil, "jobs", "get", "sync"))
}

func TestProblemsArePrintedReadably(t *testing.T) {
	srv := apitest.Start(t, apitest.Options{})
	f := writeFile(t, t.TempDir(), "sync.yaml", syncYAML)
	mustSucceed(t, cliCmd(t, srv, "jobs", "apply", "-f", f))
	mustSucceed(t, cliCmd(t, srv, "jobs", "pause", "sync"))
	r := cliCmd(t, srv, "jobs", "trigger", "sync")
	want := "schedulerd: Job is paused (409): job \"sync\" is paused; send {\"whilePaused\": true} to run it anyway, or resume it\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("trigger of a paused job: %s\nwant stderr %q", r, want)
	}
	r = cliCmd(t, srv, "jobs", "trigger", "sync", "--while-paused", "--idempotency-key", "k1")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "run sync@") || !strings.Contains(r.stdout, "asked for") {
		t.Errorf("trigger printed %q", r.stdout)
	}
	r2 := cliCmd(t, srv, "jobs", "trigger", "sync", "--while-paused", "--idempotency-key", "k1")
	mustSucceed(t, r2)
	if !strings.Contains(r2.stdout, "no new run") {
		t.Errorf("replayed trigger printed %q", r2.stdout)
	}
	mustSucceed(t, cliCmd(t, srv, "jobs", "resume", "sync"))
	r = cliCmd(t, srv, "jobs", "delete", "sync")
	if r.code != 0 || r.stdout != "job sync deleted\n" {
		t.Errorf("delete: %s", r)
	}
	r = cliCmd(t, srv, "jobs", "pause", "sync", "--until", "2h")
	if r.code != 1 || !strings.Contains(r.stderr, "Job not found (404)") {
		t.Errorf("pause of a deleted job: %s", r)
	}
}
