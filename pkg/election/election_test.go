package election_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const prefix = "/test/election"

type event struct {
	replica string
	token   fence.Token
	key     string
	started bool  // false: ended
	cause   error // why it ended
}

// replica is an Elector run by a test.
type replica struct {
	id     string
	e      *election.Elector
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
}

func start(t *testing.T, client *clientv3.Client, id string, ttl time.Duration, events chan<- event) *replica {
	t.Helper()
	reg := prometheus.NewRegistry()
	e, err := election.New(election.Config{
		Client: client, Prefix: prefix, MembersPrefix: "/test/members/", TTL: ttl, ReplicaID: id,
		AdvertiseURL: "http://" + id, Logger: zaptest.NewLogger(t).With(zap.String("replica", id)), Registerer: reg,
		Lead: func(term election.Term) error {
			events <- event{replica: id, token: term.Token, key: term.LeaderKey, started: true}
			<-term.Done()
			events <- event{replica: id, token: term.Token, cause: context.Cause(term)}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, e: e, reg: reg, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = e.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func next(t *testing.T, events <-chan event, what string) event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return event{}
	}
}

func leaseOf(t *testing.T, key string) clientv3.LeaseID {
	t.Helper()
	id, err := strconv.ParseInt(key[strings.LastIndex(key, "/")+1:], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return clientv3.LeaseID(id)
}

func TestTermTokenIsLeaderKeyCreateRevision(t *testing.T) {
	client := etcdtest.Start(t).Client()
	events := make(chan event, 10)
	a := start(t, client, "a", 5*time.Second, events)
	ev := next(t, events, "a to lead")
	resp, err := client.Get(context.Background(), ev.key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("leader key %s: %v", ev.key, err)
	}
	if fence.Token(resp.Kvs[0].CreateRevision) != ev.token {
		t.Errorf("token %d, key created at %d", ev.token, resp.Kvs[0].CreateRevision)
	}
	if !a.e.IsLeader() || promtest.Value(t, a.reg, "schedulerd_is_leader") != 1 ||
		promtest.Value(t, a.reg, "schedulerd_term_token") != float64(ev.token) {
		t.Error("leader metrics do not show the term")
	}
	members, err := election.Members(context.Background(), client, "/test/members/")
	if err != nil || len(members) != 1 || members[0].ID != "a" || members[0].URL != "http://a" {
		t.Errorf("members %+v %v", members, err)
	}
}

// TestFailoverWhenSessionClosed: the leader's lease is revoked behind its back; its term ends
// with ErrSessionLost and the follower leads with a greater token.
func TestFailoverWhenSessionClosed(t *testing.T) {
	client := etcdtest.Start(t).Client()
	events := make(chan event, 10)
	start(t, client, "a", 5*time.Second, events)
	first := next(t, events, "first leader")
	other := map[string]string{"a": "b", "b": "a"}[first.replica]
	start(t, client, other, 5*time.Second, events)

	if _, err := client.Revoke(context.Background(), leaseOf(t, first.key)); err != nil {
		t.Fatal(err)
	}
	seen := map[bool]event{}
	for len(seen) < 2 {
		ev := next(t, events, "term end and takeover")
		seen[ev.started] = ev
	}
	if end := seen[false]; end.replica != first.replica || !errors.Is(end.cause, election.ErrSessionLost) {
		t.Errorf("old term ended as %+v, want ErrSessionLost", end)
	}
	if takeover := seen[true]; takeover.replica != other || takeover.token <= first.token {
		t.Errorf("takeover %+v after token %d", takeover, first.token)
	}
}

// TestResignOnShutdown: with a one-hour TTL, only a resign can hand over within the test.
func TestResignOnShutdown(t *testing.T) {
	client := etcdtest.Start(t).Client()
	events := make(chan event, 10)
	a := start(t, client, "a", time.Hour, events)
	if ev := next(t, events, "a to lead"); ev.replica != "a" {
		t.Fatalf("got %+v", ev)
	}
	start(t, client, "b", time.Hour, events)
	a.stop()
	if ev := next(t, events, "a's term to end"); ev.replica != "a" || ev.started {
		t.Fatalf("got %+v", ev)
	}
	if ev := next(t, events, "b to lead after a resigned"); ev.replica != "b" || !ev.started {
		t.Fatalf("got %+v", ev)
	}
	members, err := election.Members(context.Background(), client, "/test/members/")
	if err != nil || len(members) != 1 || members[0].ID != "b" {
		t.Errorf("a's member key must go with its lease: %+v %v", members, err)
	}
}

// TestCrashedLeaderReplacedAfterTTL: the leader's client dies without revoking (SIGKILL); the
// follower leads once the lease expires.
func TestCrashedLeaderReplacedAfterTTL(t *testing.T) {
	e := etcdtest.Start(t)
	events := make(chan event, 10)
	crashing := etcdtest.NewClient(t, e.URL)
	start(t, crashing, "a", 2*time.Second, events)
	if ev := next(t, events, "a to lead"); ev.replica != "a" {
		t.Fatalf("got %+v", ev)
	}
	start(t, e.Client(), "b", 2*time.Second, events)
	_ = crashing.Close()
	var took bool
	for !took {
		ev := next(t, events, "b to take over")
		took = ev.replica == "b" && ev.started
	}
}

// TestPartitionedLeaderStopsBeforeTakeover: a leader cut off from etcd ends its own term
// (lease unconfirmed) before the server expires its lease and the follower starts leading.
func TestPartitionedLeaderStopsBeforeTakeover(t *testing.T) {
	e := etcdtest.Start(t)
	u, _ := url.Parse(e.URL)
	proxy := etcdtest.NewProxy(t, u.Host)
	events := make(chan event, 10)
	start(t, etcdtest.NewClient(t, proxy.URL()), "a", 3*time.Second, events)
	if ev := next(t, events, "a to lead"); ev.replica != "a" {
		t.Fatalf("got %+v", ev)
	}
	start(t, e.Client(), "b", 3*time.Second, events)
	proxy.Cut()
	end := next(t, events, "a's term to end")
	if end.replica != "a" || end.started || !errors.Is(end.cause, election.ErrLeaseUnconfirmed) {
		t.Fatalf("first event %+v, want a's term ended with ErrLeaseUnconfirmed", end)
	}
	if ev := next(t, events, "b to lead"); ev.replica != "b" || !ev.started || ev.token <= end.token {
		t.Fatalf("got %+v", ev)
	}
}

// TestObserverFollowsLeader: the observer reports the leader and counts one change per new
// term it sees after its first observation.
func TestObserverFollowsLeader(t *testing.T) {
	client := etcdtest.Start(t).Client()
	events := make(chan event, 10)
	a := start(t, client, "a", time.Hour, events)
	first := next(t, events, "a to lead")

	reg := prometheus.NewRegistry()
	obs := election.NewObserver(client, prefix, nil, zaptest.NewLogger(t), reg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = obs.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	etcdtest.WaitFor(t, 30*time.Second, "observer to see a", func() bool {
		l, ok := obs.Leader()
		return ok && l.ID == "a" && l.URL == "http://a" && l.Token == first.token
	})
	start(t, client, "b", time.Hour, events)
	a.stop()
	etcdtest.WaitFor(t, 30*time.Second, "observer to see b", func() bool {
		l, ok := obs.Leader()
		return ok && l.ID == "b"
	})
	if n := promtest.Value(t, reg, "schedulerd_leader_changes_total"); n != 1 {
		t.Errorf("leader changes %v, want 1", n)
	}
}

func TestConfigValidation(t *testing.T) {
	lead := func(election.Term) error { return nil }
	client := &clientv3.Client{}
	for name, cfg := range map[string]election.Config{
		"no client":         {Prefix: prefix, ReplicaID: "a", Lead: lead},
		"prefix with slash": {Client: client, Prefix: prefix + "/", ReplicaID: "a", Lead: lead},
		"no replica":        {Client: client, Prefix: prefix, Lead: lead},
		"no lead":           {Client: client, Prefix: prefix, ReplicaID: "a"},
		"sub-second ttl":    {Client: client, Prefix: prefix, ReplicaID: "a", Lead: lead, TTL: 1500 * time.Millisecond},
	} {
		if _, err := election.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A term whose leader work does not return once its lease is lost keeps the replica "leading":
// Healthy reports it (so /healthz fails and the replica is restarted) until the work returns.
func TestStuckTermIsUnhealthy(t *testing.T) {
	e := etcdtest.Start(t)
	u, _ := url.Parse(e.URL)
	proxy := etcdtest.NewProxy(t, u.Host)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	el, err := election.New(election.Config{
		Client: etcdtest.NewClient(t, proxy.URL()), Prefix: prefix, TTL: 2 * time.Second, ReplicaID: "a",
		Logger: zaptest.NewLogger(t),
		Lead: func(term election.Term) error {
			started <- struct{}{}
			<-release // ignores term.Done(): the stuck leader work under test
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = el.Run(ctx) }()
	defer func() { cancel(); <-done }()
	defer close(release) // before the stop above: Run waits for Lead

	next := func(what string) {
		t.Helper()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	next("a to lead")
	if err := el.Healthy(); err != nil {
		t.Fatalf("healthy leader reported %v", err)
	}
	proxy.Cut()
	etcdtest.WaitFor(t, 20*time.Second, "the stuck term to be reported", func() bool {
		return errors.Is(el.Healthy(), election.ErrStuckTerm)
	})
	if !el.IsLeader() {
		t.Error("the term ended although its work did not return")
	}
}
