package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schedulerd/schedulerd/internal/netproxy"
)

// proc is one child process: this binary re-executed with args. Its output goes to a log file
// in the work directory, appended across restarts.
type proc struct {
	name string
	args []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current incarnation has exited
	stopped bool          // SIGSTOPped
}

func newProc(workdir, name string, args []string) *proc {
	return &proc{name: name, args: args, log: filepath.Join(workdir, name+".log")}
}

// start starts a new incarnation; the previous one must have exited.
func (p *proc) start() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.stopped = cmd, done, false
	p.mu.Unlock()
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	return nil
}

func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s was never started", p.name)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.stopped = true
	case syscall.SIGCONT:
		p.stopped = false
	}
	return p.cmd.Process.Signal(sig)
}

func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// wait waits up to timeout for the current incarnation to exit.
func (p *proc) wait(timeout time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.name, timeout)
	}
}

// kill ends the process now (SIGCONT first, so a stopped one does not linger) and waits.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = p.signal(syscall.SIGKILL)
	_ = p.signal(syscall.SIGCONT)
	_ = p.wait(10 * time.Second)
}

// countLog counts log lines of all incarnations that contain s.
func (p *proc) countLog(s string) int {
	f, err := os.Open(p.log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// freePorts reserves n loopback ports by binding them and letting go; children bind them next.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// member is one etcd member process.
type member struct {
	*proc
	clientURL string
}

// replica is one schedulerd process with its proxies, one per etcd member.
type replica struct {
	*proc
	id      string
	api     string
	proxies []*netproxy.Proxy
}

func (r *replica) cut() {
	for _, p := range r.proxies {
		p.Cut()
	}
}

func (r *replica) heal() {
	for _, p := range r.proxies {
		p.Heal()
	}
}

// leaderValue is the value of an election key (election.Leader).
type leaderValue struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

func decodeLeader(b []byte) (leaderValue, error) {
	var l leaderValue
	err := json.Unmarshal(b, &l)
	return l, err
}
