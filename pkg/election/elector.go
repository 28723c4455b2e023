package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/retry"
)

// Why a term ended, as context.Cause(term).
var (
	// ErrSessionLost: the lease expired or was revoked; another replica may lead already.
	ErrSessionLost = errors.New("election: session lost")
	// ErrLeaseUnconfirmed: no keepalive answer for longer than the TTL minus the safety margin.
	ErrLeaseUnconfirmed = errors.New("election: lease not confirmed in time")
	// ErrLeadReturned: the leader work returned on its own.
	ErrLeadReturned = errors.New("election: leader work returned")
)

// Config of an Elector. Client, Prefix, ReplicaID and Lead are required.
type Config struct {
	Client *clientv3.Client
	// Prefix of the election keys (store.Keys.Election()); keys are Prefix + "/<lease id>".
	Prefix string
	// MembersPrefix, when set, gets a lease-bound key per replica (store.Keys.Members()).
	MembersPrefix string
	// TTL of the session lease, whole seconds; default 10s. A crashed leader is replaced
	// within about this long.
	TTL time.Duration
	// ReplicaID names this replica in the leader value, members and logs.
	ReplicaID string
	// AdvertiseURL is where this replica's API is reachable; published with the leadership.
	AdvertiseURL string
	// Lead runs the leader work of one term. It must return once the term's context ends; the
	// term is over (and the next can start) only when it has returned.
	Lead func(Term) error
	// Clock times the lease watchdog and backoff; default: the real clock. It measures etcd's
	// lease time, so it is separate from the scheduler's clock.
	Clock clockwork.Clock
	// Started is when the replica started, published with its membership; default: now.
	Started    time.Time
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// Term is one leadership term. It is the context leader work runs under.
type Term struct {
	context.Context
	// Token is the fencing token: the create revision of LeaderKey.
	Token     fence.Token
	LeaderKey string
}

// Elector campaigns for leadership and runs Lead during each term. Run owns all its goroutines.
type Elector struct {
	cfg    Config
	ttlSec int64
	margin time.Duration
	value  string
	log    *zap.Logger

	isLeader  prometheus.Gauge
	termToken prometheus.Gauge
	errors    *prometheus.CounterVec
	leading   atomic.Bool
	acks      atomic.Pointer[leaseAcks] // of the current term, while leading
}

// New validates cfg and returns an Elector.
func New(cfg Config) (*Elector, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("election: Client is required")
	case cfg.Prefix == "" || strings.HasSuffix(cfg.Prefix, "/"):
		return nil, fmt.Errorf("election: Prefix must be set and not end in '/' (got %q)", cfg.Prefix)
	case cfg.ReplicaID == "":
		return nil, errors.New("election: ReplicaID is required")
	case cfg.Lead == nil:
		return nil, errors.New("election: Lead is required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.TTL < time.Second || cfg.TTL%time.Second != 0 {
		return nil, fmt.Errorf("election: TTL must be whole seconds, at least 1s (got %s)", cfg.TTL)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Clock.Now()
	}
	value, err := json.Marshal(Leader{ID: cfg.ReplicaID, URL: cfg.AdvertiseURL, Started: cfg.Started.UTC()})
	if err != nil {
		return nil, err
	}
	f := promauto.With(cfg.Registerer)
	e := &Elector{
		cfg:    cfg,
		ttlSec: int64(cfg.TTL / time.Second),
		// Stop believing in the lease a fifth of the TTL (at least 500ms) before a server that
		// renewed it at our last answer would expire it.
		margin: max(cfg.TTL/5, 500*time.Millisecond),
		value:  string(value),
		log:    cfg.Logger.Named("election"),
		isLeader: f.NewGauge(prometheus.GaugeOpts{
			Name: "schedulerd_is_leader", Help: "1 while this replica holds a leadership term, else 0.",
		}),
		termToken: f.NewGauge(prometheus.GaugeOpts{
			Name: "schedulerd_term_token", Help: "Fencing token of this replica's current term; 0 when not leading.",
		}),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_election_errors_total", Help: "etcd operations of the election that failed, by operation.",
		}, []string{"op"}),
	}
	for _, op := range []string{"session", "member", "campaign", "revoke"} {
		e.errors.WithLabelValues(op)
	}
	return e, nil
}

// ErrStuckTerm: this replica still runs a term whose lease may have expired (see Healthy).
var ErrStuckTerm = errors.New("election: leading on a lease etcd has not confirmed in time")

// Healthy reports ErrStuckTerm when this replica still runs a leadership term past the time
// its lease may have expired: the watchdog ends a term before that, so a term still running
// means its leader work does not return — a replica to restart, since another may lead now.
func (e *Elector) Healthy() error {
	acks := e.acks.Load()
	if !e.leading.Load() || acks == nil {
		return nil
	}
	if expiry := acks.deadline(0); e.cfg.Clock.Now().After(expiry) {
		return fmt.Errorf("%w: the lease was last confirmed to last until %s", ErrStuckTerm, expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

// IsLeader reports whether a term is running on this replica now.
func (e *Elector) IsLeader() bool { return e.leading.Load() }

// Run campaigns and leads until ctx ends, then revokes its lease (handing over at once) and
// returns nil. etcd faults are retried with backoff; they are logged once per outage.
func (e *Elector) Run(ctx context.Context) error {
	bo := retry.NewBackoff(200*time.Millisecond, 2*time.Second)
	tr := retry.NewTracker(e.log, "election")
	for ctx.Err() == nil {
		led, err := e.session(ctx, tr)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			tr.Failed(err)
		}
		if led {
			bo.Reset()
		}
		if bo.Wait(ctx, e.cfg.Clock) != nil {
			break
		}
	}
	return nil
}

// session runs one lease: register, campaign, lead one term, revoke. It reports whether it led.
func (e *Elector) session(ctx context.Context, tr *retry.Tracker) (led bool, err error) {
	gctx, cancel := context.WithTimeout(ctx, e.cfg.TTL)
	grant, err := e.cfg.Client.Grant(gctx, e.ttlSec)
	cancel()
	if err != nil {
		e.errors.WithLabelValues("session").Inc()
		return false, fmt.Errorf("grant lease: %w", err)
	}
	acks := &leaseAcks{}
	acks.record(e.cfg.Clock.Now(), grant.TTL)
	// The session must outlive ctx long enough to be revoked, so it does not inherit ctx's
	// cancellation; close() ends it.
	sess, err := concurrency.NewSession(e.cfg.Client, concurrency.WithLease(grant.ID),
		concurrency.WithTTL(int(e.ttlSec)), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		e.errors.WithLabelValues("session").Inc()
		e.revoke(ctx, grant.ID)
		return false, fmt.Errorf("session: %w", err)
	}
	// A second keepalive listener on the same lease (the client multiplexes them) tells when
	// etcd last answered, which the session does not expose.
	ka, err := e.cfg.Client.KeepAlive(sess.Ctx(), grant.ID)
	if err != nil {
		sess.Orphan()
		e.revoke(ctx, grant.ID)
		return false, fmt.Errorf("keepalive: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for resp := range ka {
			acks.record(e.cfg.Clock.Now(), resp.TTL)
		}
	}()
	defer func() {
		sess.Orphan()
		e.revoke(ctx, grant.ID)
		wg.Wait()
	}()

	if e.cfg.MembersPrefix != "" {
		if _, err := e.cfg.Client.Put(sess.Ctx(), e.cfg.MembersPrefix+e.cfg.ReplicaID, e.value, clientv3.WithLease(grant.ID)); err != nil {
			e.errors.WithLabelValues("member").Inc()
			return false, fmt.Errorf("register member: %w", err)
		}
	}
	key, rev, err := e.campaign(ctx, sess)
	if err != nil {
		if ctx.Err() == nil && sess.Ctx().Err() == nil {
			e.errors.WithLabelValues("campaign").Inc()
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	tr.Succeeded()
	e.lead(ctx, sess, acks, Term{Token: fence.Token(rev), LeaderKey: key})
	return true, nil
}

// lead runs one term and returns when the leader work has returned.
func (e *Elector) lead(ctx context.Context, sess *concurrency.Session, acks *leaseAcks, t Term) {
	termCtx, end := context.WithCancelCause(ctx)
	defer end(nil)
	stop := context.AfterFunc(sess.Ctx(), func() { end(ErrSessionLost) })
	defer stop()
	t.Context = termCtx
	log := e.log.With(zap.Stringer("token", t.Token))

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.watchdog(termCtx, end, acks) }()

	e.acks.Store(acks)
	e.leading.Store(true)
	e.isLeader.Set(1)
	e.termToken.Set(float64(t.Token))
	log.Info("leadership term started", zap.String("key", t.LeaderKey))
	err := e.cfg.Lead(t)
	end(ErrLeadReturned)
	wg.Wait()
	e.leading.Store(false)
	e.isLeader.Set(0)
	e.termToken.Set(0)
	cause := context.Cause(termCtx)
	if ctx.Err() != nil {
		cause = context.Cause(ctx)
	}
	log.Info("leadership term ended; handing over", zap.NamedError("cause", cause), zap.NamedError("leadError", err))
}

// watchdog ends the term when the lease is no longer confirmed.
func (e *Elector) watchdog(ctx context.Context, end context.CancelCauseFunc, acks *leaseAcks) {
	for {
		wait := acks.deadline(e.margin).Sub(e.cfg.Clock.Now())
		if wait <= 0 {
			end(ErrLeaseUnconfirmed)
			return
		}
		t := e.cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// revoke ends a lease now (deleting its election and member keys), bounded in time so that a
// shutdown during an etcd outage still finishes; the lease then expires on its own.
func (e *Elector) revoke(ctx context.Context, id clientv3.LeaseID) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if _, err := e.cfg.Client.Revoke(rctx, id); err != nil {
		e.errors.WithLabelValues("revoke").Inc()
		e.log.Debug("lease not revoked; it will expire", zap.Error(err))
	}
}

// leaseAcks is the time of the last keepalive answer and the TTL it granted.
type leaseAcks struct {
	mu  sync.Mutex
	at  time.Time
	ttl time.Duration
}

func (a *leaseAcks) record(at time.Time, ttlSec int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at, a.ttl = at, time.Duration(ttlSec)*time.Second
}

// deadline is when the lease must be considered possibly expired.
func (a *leaseAcks) deadline(margin time.Duration) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at.Add(a.ttl - margin)
}
