package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/version"
)

// machine says where the numbers were measured.
type machine struct {
	CPUModel      string `json:"cpuModel"`
	Cores         int    `json:"cores"`
	MemTotalBytes int64  `json:"memTotalBytes"`
	Kernel        string `json:"kernel"`
	GoVersion     string `json:"goVersion"`
	// EtcdVersion is the etcd server the members run (this binary's go.etcd.io/etcd/server).
	EtcdVersion string `json:"etcdVersion"`
	GitRevision string `json:"gitRevision"`
	// GitDirty: the working tree had changes against GitRevision.
	GitDirty bool `json:"gitDirty"`
}

func machineInfo(ctx context.Context) machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), EtcdVersion: version.Version}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) == 2 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemTotalBytes = kb << 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GitRevision, m.GitDirty = gitRevision(ctx)
	return m
}

// gitRevision asks git (`go run` does not stamp the build), else the build's VCS stamp.
func gitRevision(ctx context.Context) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if rev, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output(); err == nil {
		status, _ := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output()
		return strings.TrimSpace(string(rev)), len(strings.TrimSpace(string(status))) > 0
	}
	var rev string
	var dirty bool
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	return rev, dirty
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := range min(3, len(f)) {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}
