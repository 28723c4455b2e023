package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/httpx"
	"github.com/schedulerd/schedulerd/internal/serve"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
)

// The process tests run replicas as real processes: this test binary re-executes itself as
// `schedulerd` when this variable is set.
const execEnv = "SCHEDULERD_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// proc is one schedulerd process.
type proc struct {
	t       *testing.T
	id      string
	cmd     *exec.Cmd
	api     string // base URL, once serving
	serving chan string
	done    chan struct{}
	err     error // of Wait, after done

	mu   sync.Mutex
	logs []string
}

func startProc(t *testing.T, etcd, id string, extra ...string) *proc {
	t.Helper()
	p := launch(t, etcd, id, extra...)
	p.awaitReady()
	return p
}

// launch starts a replica without waiting for it, so several can start at once.
func launch(t *testing.T, etcd, id string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--etcd-endpoints", etcd, "--listen", "127.0.0.1:0", "--prefix", "/test/",
		"--replica-id", id, "--log-format", "json"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), execEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, id: id, cmd: cmd, done: make(chan struct{}), serving: make(chan string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Read the log to its end (the process exiting closes it), then reap the process.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			var entry struct{ Msg, API string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "schedulerd serving" {
				p.serving <- entry.API
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("logs of %s:\n%s", id, strings.Join(p.logs, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

// awaitReady waits until the replica serves and its job cache is synced.
func (p *proc) awaitReady() {
	p.t.Helper()
	select {
	case p.api = <-p.serving:
	case <-p.done:
		p.t.Fatalf("%s exited before serving: %v", p.id, p.err)
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s not serving after 30s", p.id)
	}
	etcdtest.WaitFor(p.t, 30*time.Second, p.id+" ready", func() bool {
		resp, err := http.Get(p.api + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s: %v", p.id, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s still running %s after the signal", p.id, timeout)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("%s: %v", p.id, p.err)
	}
	return 0
}

func (p *proc) cluster() (leader *election.Leader) {
	p.t.Helper()
	resp, err := http.Get(p.api + "/v1/cluster")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var c struct{ Leader *election.Leader }
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		p.t.Fatalf("cluster: %v", err)
	}
	return c.Leader
}

func (p *proc) putJob(name, body string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.api+"/v1/jobs/"+name, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		p.t.Fatalf("put job: %d %s", resp.StatusCode, b)
	}
}

// recorder is a target guarded by the fence middleware that remembers what it admitted.
type recorder struct {
	srv *httptest.Server

	mu       sync.Mutex
	accepted []fence.Dispatch
	rejected int
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	guarded := fence.Middleware(fence.NewVerifier(0), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := fence.FromContext(r.Context())
		rec.mu.Lock()
		rec.accepted = append(rec.accepted, d)
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := httpx.NewStatusWriter(w)
		guarded.ServeHTTP(sw, r)
		if sw.Status == http.StatusConflict {
			rec.mu.Lock()
			rec.rejected++
			rec.mu.Unlock()
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) snapshot() ([]fence.Dispatch, int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]fence.Dispatch(nil), rec.accepted...), rec.rejected
}

// countWith counts admitted dispatches whose token is above min.
func (rec *recorder) countWith(min fence.Token) int {
	ds, _ := rec.snapshot()
	n := 0
	for _, d := range ds {
		if d.Token > min {
			n++
		}
	}
	return n
}

// checkHistory fails the test if a run was delivered twice or the fence had to reject anything.
func (rec *recorder) checkHistory(t *testing.T) {
	t.Helper()
	ds, rejected := rec.snapshot()
	seen := make(map[string]fence.Token)
	for _, d := range ds {
		if tok, dup := seen[d.RunID]; dup {
			t.Errorf("run %s delivered twice (tokens %d and %d)", d.RunID, tok, d.Token)
		}
		seen[d.RunID] = d.Token
	}
	if rejected > 0 {
		t.Errorf("the target's fence rejected %d requests: a stale or duplicate dispatch was sent", rejected)
	}
}

func leaderOf(t *testing.T, p *proc, not string) election.Leader {
	t.Helper()
	var l *election.Leader
	etcdtest.WaitFor(t, 30*time.Second, "a leader other than "+not, func() bool {
		l = p.cluster()
		return l != nil && l.ID != not
	})
	return *l
}

func byID(ps []*proc, id string) *proc {
	for _, p := range ps {
		if p.id == id {
			return p
		}
	}
	panic("no replica " + id)
}

func jobBody(url string) string {
	return fmt.Sprintf(`{"schedule":"@every 1s","target":{"http":{"url":%q}}}`, url)
}

// Three replicas started at once; one leads and dispatches. SIGKILL it: another takes over
// once the dead leader's session expires, and no run is delivered twice.
func TestProcessesFailOverOnSIGKILL(t *testing.T) {
	e := etcdtest.Start(t)
	rec := newRecorder(t)
	var ps []*proc
	for i := 1; i <= 3; i++ {
		ps = append(ps, launch(t, e.URL, fmt.Sprintf("r%d", i), "--session-ttl", "2s"))
	}
	for _, p := range ps {
		p.awaitReady()
	}
	ps[1].putJob("tick", jobBody(rec.srv.URL))
	first := leaderOf(t, ps[2], "")
	etcdtest.WaitFor(t, 30*time.Second, "3 dispatches by the first leader", func() bool { return rec.countWith(0) >= 3 })

	byID(ps, first.ID).signal(syscall.SIGKILL)
	var survivor *proc
	for _, p := range ps {
		if p.id != first.ID {
			survivor = p
		}
	}
	second := leaderOf(t, survivor, first.ID)
	if second.Token <= first.Token {
		t.Errorf("new leader's token %d is not above the old %d", second.Token, first.Token)
	}
	etcdtest.WaitFor(t, 30*time.Second, "dispatches by the new leader", func() bool { return rec.countWith(first.Token) >= 2 })
	rec.checkHistory(t)

	for _, p := range ps {
		if p.id == first.ID {
			continue
		}
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM, want 0", p.id, code)
		}
	}
}

// With a session TTL far longer than the test's deadline, a follower can only take over in
// time if the leader resigns on SIGTERM instead of letting its session expire.
func TestProcessesHandOverAtOnceOnSIGTERM(t *testing.T) {
	e := etcdtest.Start(t)
	rec := newRecorder(t)
	a := startProc(t, e.URL, "a", "--session-ttl", "120s")
	b := startProc(t, e.URL, "b", "--session-ttl", "120s")
	a.putJob("tick", jobBody(rec.srv.URL))
	first := leaderOf(t, b, "")
	etcdtest.WaitFor(t, 30*time.Second, "2 dispatches", func() bool { return rec.countWith(0) >= 2 })

	leader, follower := a, b
	if first.ID == "b" {
		leader, follower = b, a
	}
	leader.signal(syscall.SIGTERM)
	if code := leader.wait(30 * time.Second); code != 0 {
		t.Errorf("leader exited with %d after SIGTERM, want 0", code)
	}
	second := leaderOf(t, follower, first.ID)
	if second.ID != follower.id {
		t.Errorf("leader after handover is %q, want %q", second.ID, follower.id)
	}
	etcdtest.WaitFor(t, 30*time.Second, "dispatches by the new leader", func() bool { return rec.countWith(first.Token) >= 2 })
	rec.checkHistory(t)
	follower.signal(syscall.SIGTERM)
	if code := follower.wait(30 * time.Second); code != 0 {
		t.Errorf("follower exited with %d, want 0", code)
	}
}

// A tokens file that cannot be used stops serve before it starts anything, without echoing
// the file's lines (a token pasted by mistake must not reach a log).
func TestServeRefusesABadTokensFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("my-plain-secret admin ci\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand()
	root.SetArgs([]string{"serve", "--auth-tokens-file", path, "--data-dir", t.TempDir(), "--log-level", "error"})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || strings.Contains(err.Error(), "my-plain-secret") {
		t.Fatalf("error %v, want one about the SHA-256 that does not repeat the line", err)
	}
	if code := serve.ExitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"fractional TTL", []string{"serve", "--session-ttl", "1500ms"}, nil, "--session-ttl"},
		{"claim ahead too far", []string{"serve", "--claim-ahead", "6s"}, nil, "--claim-ahead"},
		{"claim ahead negative", []string{"serve", "--claim-ahead", "-1s"}, nil, "--claim-ahead"},
		{"bad endpoint", []string{"serve", "--etcd-endpoints", "127.0.0.1:2379"}, nil, "--etcd-endpoints"},
		{"password in endpoint", []string{"serve", "--etcd-endpoints", "http://root:hunter2@127.0.0.1:2379"}, nil, "SCHEDULERD_ETCD_PASSWORD"},
		{"bad listen", []string{"serve", "--listen", "8080"}, nil, "--listen"},
		{"open listen without auth", []string{"serve", "--listen", "0.0.0.0:8080"}, nil, "--auth-tokens-file"},
		{"all interfaces without auth", []string{"serve", "--listen", ":8080"}, nil, "--insecure-no-auth"},
		{"auth both ways", []string{"serve", "--auth-tokens-file", "t", "--insecure-no-auth"}, nil, "contradict"},
		{"bad prefix", []string{"serve", "--prefix", "schedulerd"}, nil, "--prefix"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, nil, "--log-format"},
		{"cert without key", []string{"serve", "--etcd-cert", "c.pem"}, nil, "--etcd-key"},
		{"unknown flag", []string{"serve", "--nope"}, nil, "unknown flag"},
		{"unknown command", []string{"frob"}, nil, `unknown command "frob"`},
		{"bad value from env", []string{"serve"}, map[string]string{"SCHEDULERD_SESSION_TTL": "soon"}, "SCHEDULERD_SESSION_TTL"},
		{"env value validated", []string{"serve"}, map[string]string{"SCHEDULERD_LOG_LEVEL": "loud"}, "--log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			root := newRootCommand()
			root.SetArgs(tc.args)
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the password: %v", err)
			}
			if code := serve.ExitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2 for a usage error", code)
			}
		})
	}
}

// A replica with authentication runs a job whose header is a secret: the target gets the
// secret, and neither it nor the bearer token appears in any log line of the process, at debug
// level, from start to shutdown.
func TestSecretsStayOutOfLogs(t *testing.T) {
	const secret, token = "s3cr3t-header-value-4471", "bearer-token-9931-admin"
	t.Setenv("SCHEDULERD_SECRET_TARGET", secret)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(auth.Hash(token)+" admin ci\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Api-Token")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	e := etcdtest.Start(t)
	p := startProc(t, e.URL, "r1", "--auth-tokens-file", tokens, "--log-level", "debug")

	body := `{"schedule":"@every 1s","target":{"http":{"url":"` + target.URL + `","headers":{"X-Api-Token":{"fromEnv":"SCHEDULERD_SECRET_TARGET"}}}}}`
	req, _ := http.NewRequest(http.MethodPut, p.api+"/v1/jobs/secretive", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || strings.Contains(string(b), secret) {
		t.Fatalf("put job: %d %s", resp.StatusCode, b)
	}
	// A wrong token too: refusals must not echo what was sent either.
	req, _ = http.NewRequest(http.MethodGet, p.api+"/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+token+"-wrong")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	for range 2 {
		select {
		case v := <-got:
			if v != secret {
				t.Fatalf("the target got %q, want the secret", v)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the job did not run")
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logs) < 10 {
		t.Fatalf("only %d log lines: the check would prove nothing", len(p.logs))
	}
	for _, line := range p.logs {
		if strings.Contains(line, secret) || strings.Contains(line, token) {
			t.Errorf("a log line holds a secret: %s", line)
		}
	}
}
