// Package etcdtest starts real etcd servers for tests: an embedded single node in a temporary
// directory that can be stopped and restarted on the same port, clients bound to the test's
// lifetime, and a TCP proxy that can cut a client off from etcd.
package etcdtest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/internal/netproxy"
	"github.com/schedulerd/schedulerd/pkg/embedetcd"
)

// Etcd is an embedded single-node etcd owned by one test.
type Etcd struct {
	t   testing.TB
	cfg embedetcd.Config
	srv *embedetcd.Server
	// URL is the client URL; it stays the same across Restart.
	URL string
}

// Start starts etcd in t.TempDir() on a free loopback port; it is stopped when the test ends.
func Start(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{t: t, cfg: embedetcd.Config{
		Dir:                     t.TempDir(),
		ClientURL:               "http://127.0.0.1:0",
		AutoCompactionRetention: "0", // tests compact explicitly
		UnsafeNoFsync:           true,
	}}
	e.start()
	u, err := url.Parse(e.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	e.URL = u.String()
	e.cfg.ClientURL = e.URL // restarts reuse the port, so clients reconnect by themselves
	t.Cleanup(e.Stop)
	return e
}

func (e *Etcd) start() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedetcd.Start(ctx, e.cfg)
	if err != nil {
		e.t.Fatalf("etcdtest: %v", err)
	}
	e.srv = srv
}

// Stop stops etcd (a store outage); Restart brings it back with the same data.
func (e *Etcd) Stop() {
	if e.srv != nil {
		// Tests wait for a full stop: the next Restart reuses the port and data directory.
		if !e.srv.Close(time.Minute) {
			e.t.Error("etcdtest: etcd did not stop within 1m")
		}
		e.srv = nil
	}
}

// Restart starts a stopped etcd again on the same port and data directory.
func (e *Etcd) Restart() {
	e.t.Helper()
	if e.srv != nil {
		e.t.Fatal("etcdtest: Restart of a running etcd")
	}
	e.start()
}

// Client returns a new client of endpoint (default: this etcd), closed when the test ends.
func (e *Etcd) Client(endpoint ...string) *clientv3.Client {
	e.t.Helper()
	return NewClient(e.t, append(endpoint, e.URL)[0])
}

// NewClient returns a client of endpoint, closed when the test ends.
func NewClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// WaitFor polls cond until it holds or the deadline passes, then fails the test with what.
// It is how tests wait: on a condition, with a deadline, never on a fixed sleep.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// String describes the server for test logs.
func (e *Etcd) String() string { return fmt.Sprintf("etcd at %s", e.URL) }

// Revision is the store's current revision: equal before and after an operation means the
// operation wrote nothing.
func Revision(t testing.TB, c *clientv3.Client) int64 {
	t.Helper()
	resp, err := c.Get(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// NewProxy forwards a new loopback port to target (host:port) until the test ends.
func NewProxy(t testing.TB, target string) *netproxy.Proxy {
	t.Helper()
	p, err := netproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
