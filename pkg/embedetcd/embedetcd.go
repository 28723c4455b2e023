// Package embedetcd runs a single-node etcd inside the schedulerd process, for the one-command
// development setup and for tests. It is a real etcd (go.etcd.io/etcd/server/v3/embed) with its
// data on disk, not a fake: everything schedulerd promises holds against it, except surviving
// the loss of the machine it runs on. Production deployments point --etcd-endpoints at a cluster.
package embedetcd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config of an embedded etcd.
type Config struct {
	// Dir holds the data; it is created if missing and reused across restarts.
	Dir string
	// ClientURL is where clients connect, e.g. http://127.0.0.1:2379 (port 0: pick a free port).
	ClientURL string
	// PeerURL is the raft peer listener; a single node has no peers, so the default
	// http://127.0.0.1:0 only avoids clashing with anything else.
	PeerURL string
	// AutoCompactionRetention keeps this much history (etcd's periodic mode); default 1h.
	// Zero-length ("0") disables automatic compaction.
	AutoCompactionRetention string
	// Logger receives etcd's own logs at warn level and above; default: discard.
	Logger *zap.Logger
	// UnsafeNoFsync skips fsync: for tests only, data is lost on a machine crash.
	UnsafeNoFsync bool

	// Name and InitialCluster make this server one member of a cluster ("a=http://127.0.0.1:2380,
	// b=…", every member's name and peer URL); PeerURL must then be this member's entry. Empty:
	// a single-node cluster named "schedulerd". A member restarted on its data directory rejoins.
	Name           string
	InitialCluster string
}

// Server is a running embedded etcd.
type Server struct {
	etcd  *embed.Etcd
	level zap.AtomicLevel // of etcd's own log
}

// Start starts etcd and waits until it serves clients or ctx ends.
func Start(ctx context.Context, c Config) (*Server, error) {
	cfg := embed.NewConfig()
	cfg.Name = c.Name
	if cfg.Name == "" {
		cfg.Name = "schedulerd"
	}
	cfg.Dir = c.Dir
	clientURL, err := url.Parse(c.ClientURL)
	if err != nil || clientURL.Host == "" {
		return nil, fmt.Errorf("embedded etcd: client URL %q is not a URL with a host", c.ClientURL)
	}
	if c.PeerURL == "" {
		c.PeerURL = "http://127.0.0.1:0"
	}
	peerURL, err := url.Parse(c.PeerURL)
	if err != nil || peerURL.Host == "" {
		return nil, fmt.Errorf("embedded etcd: peer URL %q is not a URL with a host", c.PeerURL)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.InitialCluster = c.InitialCluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	} else {
		cfg.InitialClusterToken = "schedulerd"
	}
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = c.AutoCompactionRetention
	if cfg.AutoCompactionRetention == "" {
		cfg.AutoCompactionRetention = "1h"
	}
	cfg.UnsafeNoFsync = c.UnsafeNoFsync
	lg := c.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.Named("etcd").WithOptions(zap.IncreaseLevel(level)))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Server{etcd: e, level: level}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: not ready: %w", ctx.Err())
	case <-time.After(time.Minute):
		e.Close()
		return nil, errors.New("embedded etcd: not ready after 1m")
	}
}

// ClientURL is the URL clients connect to, with the port actually bound.
func (s *Server) ClientURL() string {
	return "http://" + s.etcd.Clients[0].Addr().String()
}

// Err reports a fatal server error.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops etcd, waiting at most timeout. etcd's own Close waits up to its request timeout
// (7s) for other clients' watch streams to end, which would hold up a replica's shutdown when
// other replicas use its embedded etcd; whatever it has committed is already in its WAL, so
// stopping the process before Close returns is as safe as a crash. It reports whether etcd
// stopped in time.
func (s *Server) Close(timeout time.Duration) bool {
	// etcd logs every listener it closes as an error with a stack trace; on a requested stop
	// that is noise, so its log goes quiet first.
	s.level.SetLevel(zap.FatalLevel)
	done := make(chan struct{})
	go func() { defer close(done); s.etcd.Close() }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
