// Package apitest serves the real API of one schedulerd replica in-process, for tests of its
// clients (pkg/client, the CLI): a real etcd (internal/etcdtest), the real store, job cache
// and leader observer, and api.New behind an httptest server; optionally the replica also
// campaigns and runs the scheduler, so it leads and dispatches runs.
//
// Every goroutine it starts is stopped, and waited for, when the test ends.
package apitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Prefix is the etcd key prefix of the served cluster.
const Prefix = "/apitest/"

// Options of Start. The zero value serves the API of a replica that does not campaign.
type Options struct {
	// Lead makes the replica campaign and run the scheduler; Start returns once it leads.
	Lead bool
	// Configure, when set, adjusts the API's config before the server is built (auth, a
	// clock…). sched is the replica's scheduler, nil without Lead.
	Configure func(cfg *api.Config, sched *scheduler.Scheduler)
}

// Server is the served replica.
type Server struct {
	// URL is the API's base URL ("http://127.0.0.1:port").
	URL   string
	Etcd  *etcdtest.Etcd
	Etcdc *clientv3.Client
	Store *store.Store
	Cache *store.Cache
}

// Start serves the API until the test ends. It returns once the job cache has synced (and,
// with Lead, once the replica leads).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	e := etcdtest.Start(t)
	etcdc := e.Client()
	log := zaptest.NewLogger(t)
	reg := prometheus.NewRegistry()
	st := store.New(etcdc, Prefix, reg)
	cache := store.NewCache(st, log, nil, reg)
	observer := election.NewObserver(etcdc, st.Keys().Election(), nil, log, reg)

	hs := httptest.NewUnstartedServer(nil)
	url := "http://" + hs.Listener.Addr().String()
	const id = "apitest-1"

	var sched *scheduler.Scheduler
	var elector *election.Elector
	if o.Lead {
		var err error
		sched, err = scheduler.New(scheduler.Config{
			Store: st, Cache: cache, ReplicaID: id, CallbackURL: url, StoreTimeout: 5 * time.Second, Logger: log, Registerer: reg,
		})
		if err != nil {
			t.Fatal(err)
		}
		elector, err = election.New(election.Config{
			Client: etcdc, Prefix: st.Keys().Election(), MembersPrefix: st.Keys().Members(), TTL: 5 * time.Second,
			ReplicaID: id, AdvertiseURL: url, Lead: sched.Lead, Logger: log, Registerer: reg,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := api.Config{
		Store: st, Cache: cache, Leaders: observer, Self: election.Leader{ID: id, URL: url},
		Logger: log, Registerer: reg, Gatherer: reg,
	}
	if sched != nil {
		cfg.Completed = sched.Completed
	}
	if o.Configure != nil {
		o.Configure(&cfg, sched)
	}
	handler, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = handler
	hs.Start()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fn(ctx) }()
	}
	run(cache.Run)
	run(observer.Run)
	if o.Lead {
		run(sched.Run)
		run(elector.Run)
	}
	t.Cleanup(func() {
		hs.Close()
		cancel()
		wg.Wait()
	})

	ready := func() bool {
		select {
		case <-cache.Synced():
		default:
			return false
		}
		if o.Lead {
			_, leads := observer.Leader()
			return leads && elector.IsLeader()
		}
		return true
	}
	etcdtest.WaitFor(t, 30*time.Second, "the API replica ready", ready)
	return &Server{URL: url, Etcd: e, Etcdc: etcdc, Store: st, Cache: cache}
}

// Target serves an HTTP target that answers every request with status (202 to a job with
// completion "callback": the run stays running until reported or cancelled) until the test
// ends, and returns its URL.
func Target(t testing.TB, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}
