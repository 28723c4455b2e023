//go:build linux

package ui

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium, which the browser test drives.
const chromiumPath = "/usr/bin/chromium"

// installLock serializes installs between test binaries that run at once (go test ./...).
var installLock = filepath.Join(os.TempDir(), "schedulerd-chromium-install.lock")

// ensureChromium returns the path of a Chromium to drive. CI machines start with Go only, so when
// it is missing and the test runs as root it installs Debian's package (apt-get, under a file
// lock so that parallel test binaries do not run apt at once); otherwise it fails the test and
// says how to install it. It never skips: a browser test that silently does not run proves
// nothing.
func ensureChromium(t *testing.T) string {
	t.Helper()
	if p, ok := findChromium(); ok {
		return p
	}
	if os.Geteuid() != 0 {
		t.Fatalf("the browser test needs Chromium at %s and cannot install it without root: run `sudo apt-get install -y chromium` (Debian/Ubuntu) and test again", chromiumPath)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatalf("the browser test needs Chromium at %s and cannot install it here (no apt-get): install Chromium and test again", chromiumPath)
	}
	lock, err := os.OpenFile(installLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("installing Chromium: lock file: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("installing Chromium: lock %s: %v", installLock, err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if p, ok := findChromium(); ok { // another test binary installed it while we waited
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Logf("Chromium is missing: installing Debian's package (apt-get update && apt-get install -y chromium)")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = ctx.Err()
			}
			t.Fatalf("the browser test needs Chromium and installing it failed: apt-get %v: %v\n%s", args, err, tail(out, 4000))
		}
	}
	p, ok := findChromium()
	if !ok {
		t.Fatalf("apt-get installed chromium but %s is still missing", chromiumPath)
	}
	return p
}

func findChromium() (string, bool) {
	if fi, err := os.Stat(chromiumPath); err == nil && !fi.IsDir() {
		return chromiumPath, true
	}
	return "", false
}

// tail is the end of b, at most n bytes.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
