//go:build linux

package ui

// The harness of the browser tests: a schedulerd process, a headless Chromium tab, waits with
// deadlines.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

func sha(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildSchedulerd builds ./cmd/schedulerd of this module once per test binary.
func buildSchedulerd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is not in PATH: %w", err)
			return
		}
		out, err := exec.Command(goTool, "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("cannot find the module root (go env GOMOD = %q): %v", gomod, err)
			return
		}
		dir, err := os.MkdirTemp("", "schedulerd-ui-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "schedulerd")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", builtBin, "./cmd/schedulerd")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/schedulerd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestMain checks that the tests left no goroutine behind (browsers, process readers, HTTP
// connections) and removes the binary built for the browser tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// server is one `schedulerd serve` process with its embedded etcd, on free loopback ports.
type server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its log is read

	mu   sync.Mutex
	logs bytes.Buffer
}

func startServe(t *testing.T, bin string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen", "127.0.0.1:0", "--embedded-etcd-listen", "http://127.0.0.1:0",
		"--replica-id", "ui-test", "--log-format", "json"}, extra...)
	s := &server{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.mu.Lock()
			s.logs.Write(line)
			s.logs.WriteByte('\n')
			s.mu.Unlock()
			var entry struct{ Msg, API string }
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "schedulerd serving" {
				select {
				case serving <- entry.API:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // after a line too long for the scanner: keep the pipe flowing
		_ = s.cmd.Wait()
	}()
	t.Cleanup(func() {
		// SIGTERM drains and resigns; a process that does not stop in time is killed.
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("schedulerd log:\n%s", s.logs.String())
			s.mu.Unlock()
		}
	})
	select {
	case s.url = <-serving:
	case <-s.done:
		t.Fatal("schedulerd exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatal("schedulerd not serving after 60s")
	}
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.status(t, "/readyz") != http.StatusOK {
		select {
		case <-tick.C:
		case <-s.done:
			t.Fatal("schedulerd exited before it was ready")
		case <-deadline:
			t.Fatal("schedulerd not ready (GET /readyz) after 30s")
		}
	}
	return s
}

// status is the status code of a GET of path (0 when the server did not answer).
func (s *server) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *server) put(t *testing.T, token, name, spec string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.url+"/v1/jobs/"+name, strings.NewReader(spec))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %d %s", name, resp.StatusCode, b)
	}
}

func (s *server) jobState(t *testing.T, name string, token ...string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/jobs/"+name, nil)
	if len(token) > 0 {
		req.Header.Set("Authorization", "Bearer "+token[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j struct{ Status struct{ State string } }
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		t.Fatalf("GET %s: %d: %v", name, resp.StatusCode, err)
	}
	return j.Status.State
}

// browser is one headless Chromium with one tab, and what its console said.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}
	// Start the browser on the long-lived context: the browser lives as long as the context
	// of its first action, so a step's deadline must not be that context.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", chromium, err)
	}
	messages := chromedp.Console(ctx)
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return // the context ended
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelCtx()   // closes the tab and ends the console reader
		cancelAlloc() // stops Chromium and waits for it
		<-read
	})
	return b
}

// do runs actions, failing the test if they do not finish within d.
func (b *browser) do(t *testing.T, what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, b.pageText())
	}
}

// waitFor waits until the JavaScript expression is true in the page, for at most d.
func (b *browser) waitFor(t *testing.T, what string, d time.Duration, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\npage: %s", what, err, b.pageText())
	}
}

// clearInput empties a text field (SendKeys then types into it afresh).
func clearInput(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + jsString(selector) + `).value = ''`)
}

// pageText is what the page shows, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + '\n' + document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return text
}

// checkDescriber checks the schedule describer in the page against a table.
func (b *browser) checkDescriber(t *testing.T) {
	t.Helper()
	cases := map[string]string{
		"@every 2s":              "every 2 seconds",
		"@every 90s":             "every 1 minute 30 seconds",
		"30 * * * *":             "at minute 30 past every hour",
		"0 30 9 * * 1-5":         "every weekday at 09:30 (Europe/Berlin)",
		"30 9 * * MON-FRI":       "every weekday at 09:30 (Europe/Berlin)",
		"*/15 * * * *":           "every 15 minutes",
		"0 0 1 * *":              "on day 1 of every month at 00:00 (Europe/Berlin)",
		"@hourly":                "every hour, on the hour",
		"@daily":                 "every day at 00:00 (Europe/Berlin)",
		"@at 2030-01-01T09:00Z":  "once, at 2030-01-01T09:00Z",
		"0 9,17 * * *":           "every day at 09:00 and 17:00 (Europe/Berlin)",
		"61 * * * *":             "61 * * * *",
		"0 0 L * *":              "0 0 L * *",
		"*/5 * * * * *":          "every 5 seconds",
		"0 0 12 25 12 *":         "every year on December 25 at 12:00 (Europe/Berlin)",
		"*/15 9-17 * * 1-5":      "every 15 minutes during hours 09 through 17, every weekday (Europe/Berlin)",
		"0 22 * * 0,6":           "every Saturday and Sunday at 22:00 (Europe/Berlin)",
		"not a schedule at all!": "not a schedule at all!",
	}
	in, _ := json.Marshal(cases)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`import('./ui/describe.js').then((m) => {
		const out = {};
		for (const s of Object.keys(`+string(in)+`)) out[s] = m.describeSchedule(s, 'Europe/Berlin');
		return out;
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("describer: %v", err)
	}
	for s, want := range cases {
		if got[s] != want {
			t.Errorf("describeSchedule(%q) = %q, want %q", s, got[s], want)
		}
	}
}

// checkConsole fails the test on an uncaught exception or a security message (such as a
// Content-Security-Policy violation) in the page's console, and on any message or URL in it
// that holds one of the secrets.
func (b *browser) checkConsole(t *testing.T, secrets ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.messages {
		if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s (%s:%d)", m, m.URL, m.Line)
		}
		for _, s := range secrets {
			if strings.Contains(m.Text, s) || strings.Contains(m.URL, s) {
				t.Errorf("console: a secret in %q (%s)", m.Text, m.URL)
			}
		}
	}
}
