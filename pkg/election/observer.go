package election

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/retry"
)

// Leader is a replica as published in its election (and member) key.
type Leader struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
	// Token is the leader key's create revision; zero in member entries.
	Token fence.Token `json:"token,omitempty"`
	// Started is when the replica started, for its uptime.
	Started time.Time `json:"started,omitzero"`
}

// Observer follows who leads, from any replica. Run owns its goroutine.
type Observer struct {
	client *clientv3.Client
	prefix string
	clock  clockwork.Clock
	log    *zap.Logger

	changes prometheus.Counter

	mu     sync.RWMutex
	leader Leader
	known  bool
}

// NewObserver returns an observer of the election under prefix; metrics go to reg.
// A nil clock is the real clock.
func NewObserver(client *clientv3.Client, prefix string, clock clockwork.Clock, log *zap.Logger, reg prometheus.Registerer) *Observer {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Observer{
		client: client, prefix: prefix, clock: clock, log: log.Named("observer"),
		changes: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Name: "schedulerd_leader_changes_total",
			Help: "Leader changes this replica observed (a new term started).",
		}),
	}
}

// Leader returns the current leader; ok is false when there is none (or none known yet).
func (o *Observer) Leader() (l Leader, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.leader, o.known && o.leader.Token != 0
}

// Run follows the election until ctx ends.
func (o *Observer) Run(ctx context.Context) error {
	bo := retry.NewBackoff(200*time.Millisecond, 2*time.Second)
	tr := retry.NewTracker(o.log, "leader observation")
	for {
		rev, err := o.refresh(ctx)
		if err == nil {
			tr.Succeeded()
			bo.Reset()
			err = o.follow(ctx, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		tr.Failed(err)
		if bo.Wait(ctx, o.clock) != nil {
			return nil
		}
	}
}

// refresh reads the first-created election key, which is the leader's.
func (o *Observer) refresh(ctx context.Context) (int64, error) {
	resp, err := o.client.Get(ctx, o.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return 0, err
	}
	var l Leader
	if len(resp.Kvs) == 1 {
		if err := json.Unmarshal(resp.Kvs[0].Value, &l); err != nil {
			l = Leader{ID: "(undecodable)"}
		}
		l.Token = fence.Token(resp.Kvs[0].CreateRevision)
	}
	o.mu.Lock()
	if o.known && l.Token != 0 && l.Token != o.leader.Token {
		o.changes.Inc()
	}
	changed := !o.known || l != o.leader
	o.leader, o.known = l, true
	o.mu.Unlock()
	switch {
	case changed && l.Token == 0:
		o.log.Info("no leader now")
	case changed:
		o.log.Info("leader observed", zap.String("leader", l.ID), zap.Stringer("token", l.Token))
	}
	return resp.Header.Revision, nil
}

// follow re-reads the leader after every change to the election keys.
func (o *Observer) follow(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range o.client.Watch(wctx, o.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) > 0 {
			if _, err := o.refresh(ctx); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("election: leader watch ended")
}

// Members lists the replicas registered under prefix (store.Keys.Members()), sorted by id.
func Members(ctx context.Context, client *clientv3.Client, prefix string) ([]Leader, error) {
	resp, err := client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]Leader, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Leader
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			m = Leader{ID: string(kv.Key[len(prefix):])}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
