package localcluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process: this binary re-executed with args. Its output goes to a log file
// in the work directory, appended across restarts. It is safe for concurrent use.
type Proc struct {
	Name string
	args []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current incarnation has exited
	stopped bool          // SIGSTOPped
}

// NewProc describes a child named name whose log is <workdir>/<name>.log; Start starts it.
func NewProc(workdir, name string, args []string) *Proc {
	return &Proc{Name: name, args: args, log: filepath.Join(workdir, name+".log")}
}

// LogPath is the file the child's stdout and stderr go to.
func (p *Proc) LogPath() string { return p.log }

// Start starts a new incarnation; the previous one must have exited.
func (p *Proc) Start() error {
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
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.stopped = cmd, done, false
	p.mu.Unlock()
	go func() { _ = cmd.Wait(); f.Close(); close(done) }() // ends when the child exits; Kill waits for it
	return nil
}

// Pid is the process id of the current incarnation; 0 before the first Start.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Signal sends sig to the current incarnation.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s was never started", p.Name)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.stopped = true
	case syscall.SIGCONT:
		p.stopped = false
	}
	return p.cmd.Process.Signal(sig)
}

// Running reports whether the current incarnation has not exited yet.
func (p *Proc) Running() bool {
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

// Exited is closed when the current incarnation has exited (nil before the first Start).
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Wait waits up to timeout for the current incarnation to exit.
func (p *Proc) Wait(timeout time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s still running after %s", p.Name, timeout)
	}
}

// Kill ends the process now (SIGCONT first, so a stopped one does not linger) and waits.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = p.Signal(syscall.SIGKILL)
	_ = p.Signal(syscall.SIGCONT)
	_ = p.Wait(10 * time.Second)
}

// CountLog counts log lines of all incarnations that contain s.
func (p *Proc) CountLog(s string) int {
	n := 0
	_ = p.ScanLog(func(line string) bool {
		if strings.Contains(line, s) {
			n++
		}
		return true
	})
	return n
}

// ScanLog calls fn with each log line of all incarnations, oldest first, until fn returns false.
func (p *Proc) ScanLog(fn func(line string) bool) error {
	f, err := os.Open(p.log)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !fn(sc.Text()) {
			return nil
		}
	}
	return sc.Err()
}

// FreePorts finds n free loopback ports by binding them and letting go; children bind them next.
func FreePorts(n int) ([]int, error) {
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
