package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildSchedulerd builds cmd/schedulerd of the main module, two directories up, with its own
// go.mod.
func buildSchedulerd(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "schedulerd")
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/schedulerd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/schedulerd in %s: %v\n%s", root, err, out)
	}
	return bin
}

// replica is a schedulerd process; its log is read to the end and the process reaped by one
// goroutine, which closes done.
type replica struct {
	cmd  *exec.Cmd
	api  string
	done chan struct{}
	err  error // Wait's, once done is closed
	// quiet: the test has what it needs from the process; its log is shown only when it
	// does not stop as it should.
	quiet bool

	mu   sync.Mutex
	logs []string
}

// startSchedulerd starts `schedulerd serve` on free loopback ports with its own embedded etcd
// and waits until it is ready. When the test ends it stops it with SIGTERM (a graceful stop
// must exit 0 within 15 s) and waits for it.
func startSchedulerd(t *testing.T, bin string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0",
		"--embedded-etcd-listen", "http://127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--replica-id", "chart-test", "--log-format", "json")
	// Flags come from SCHEDULERD_* variables too: none of the caller's.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCHEDULERD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replica{cmd: cmd, done: make(chan struct{})}
	serving := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			var entry struct{ Msg, API string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "schedulerd serving" {
				select {
				case serving <- entry.API:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })

	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case p.api = <-serving:
	case <-p.done:
		t.Fatalf("schedulerd exited before serving: %v", p.err)
	case <-timer.C:
		t.Fatal("schedulerd not serving after 60s")
	}
	waitFor(t, 30*time.Second, "schedulerd /readyz", func() bool {
		code, _ := p.call(t, http.MethodGet, "/readyz", "")
		return code == http.StatusOK
	})
	return p
}

func (p *replica) stop(t *testing.T) {
	select {
	case <-p.done:
		t.Errorf("schedulerd exited before the test ended: %v", p.err)
		p.quiet = false
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		timer := time.NewTimer(15 * time.Second)
		defer timer.Stop()
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("schedulerd after SIGTERM: %v, want exit 0", p.err)
				p.quiet = false
			}
		case <-timer.C:
			t.Error("schedulerd still running 15s after SIGTERM; killing it")
			p.quiet = false
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if t.Failed() && !p.quiet {
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Logf("schedulerd's log:\n%s", strings.Join(p.logs, "\n"))
	}
}

// call makes one API request and returns the status and body; 0 when it failed.
func (p *replica) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, p.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no %s within %s", what, timeout)
		}
	}
}
