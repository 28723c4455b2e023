package store_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// runCache starts cache.Run and stops it (and waits for it) when the test ends.
func runCache(t *testing.T, c *store.Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-c.Synced():
	case <-time.After(30 * time.Second):
		t.Fatal("cache did not sync")
	}
}

func versions(jobs []job.Job) map[string]int64 {
	m := make(map[string]int64, len(jobs))
	for _, j := range jobs {
		m[j.Name] = j.Version
	}
	return m
}

// cached is the version of every job in c, by name.
func cached(c *store.Cache) map[string]int64 {
	m := make(map[string]int64)
	for _, name := range c.Names() {
		if j, ok := c.Get(name); ok {
			m[name] = j.Version
		}
	}
	return m
}

func equalMaps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCacheSurvivesCompaction cuts the cache off from etcd, changes jobs and compacts past the
// cache's revision, then heals: the cache must re-list, end equal to etcd, and report exactly
// the jobs that changed.
func TestCacheSurvivesCompaction(t *testing.T) {
	e := etcdtest.Start(t)
	direct := e.Client()
	writer := store.New(direct, "/test/", nil)
	u, _ := url.Parse(e.URL)
	proxy := etcdtest.NewProxy(t, u.Host)
	reg := prometheus.NewRegistry()
	s := store.New(etcdtest.NewClient(t, proxy.URL()), "/test/", reg)
	cache := store.NewCache(s, zaptest.NewLogger(t), nil, reg)
	ctx := context.Background()

	for _, name := range []string{"keep", "edit", "drop"} {
		if _, _, err := writer.PutJob(ctx, name, spec("@every 1s"), t0, 0); err != nil {
			t.Fatal(err)
		}
	}
	runCache(t, cache)
	sub := cache.Subscribe()
	defer sub.Close()
	if got := cached(cache); len(got) != 3 {
		t.Fatalf("initial cache %v", got)
	}

	proxy.Cut()
	edited := spec("@every 1s")
	edited.Description = "edited while the cache was cut off"
	if _, _, err := writer.PutJob(ctx, "edit", edited, t0, 0); err != nil {
		t.Fatal(err)
	}
	if err := writer.DeleteJob(ctx, "drop", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := writer.PutJob(ctx, "new", spec("@hourly"), t0, 0); err != nil {
		t.Fatal(err)
	}
	_, rev, err := writer.ListJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	proxy.Heal()

	etcdtest.WaitFor(t, 30*time.Second, "cache to equal etcd after compaction", func() bool {
		want, _, err := writer.ListJobs(ctx)
		return err == nil && equalMaps(cached(cache), versions(want))
	})
	if n := promtest.Value(t, reg, "schedulerd_cache_watch_restarts_total", "reason", "compacted"); n < 1 {
		t.Errorf("expected a compaction restart to be counted, got %v", n)
	}
	changed := sub.Take()
	slices.Sort(changed)
	if want := []string{"drop", "edit", "new"}; !slices.Equal(changed, want) {
		t.Errorf("changes reported %v, want exactly %v", changed, want)
	}

	// The cache keeps following after recovery.
	if _, _, err := writer.PutJob(ctx, "after", spec("@daily"), t0, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, 30*time.Second, "cache to see a job created after recovery", func() bool {
		_, ok := cache.Get("after")
		return ok
	})
}

// A cache whose store fails keeps retrying (with the default clock) until it is stopped.
func TestCacheRetriesStoreErrors(t *testing.T) {
	e := etcdtest.Start(t)
	client := etcdtest.NewClient(t, e.URL)
	reg := prometheus.NewRegistry()
	cache := store.NewCache(store.New(client, "/test/", reg), zaptest.NewLogger(t), nil, reg)
	runCache(t, cache)
	if err := client.Close(); err != nil { // every list and watch now fails at once
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, 30*time.Second, "three retries", func() bool {
		return promtest.Value(t, reg, "schedulerd_cache_watch_restarts_total", "reason", "error") >= 3
	})
}

// schedulerd_jobs counts the cache's jobs by state at scrape time, on the cache's clock.
func TestJobsByState(t *testing.T) {
	c := etcdtest.Start(t).Client()
	reg := prometheus.NewRegistry()
	s := store.New(c, "/test/", reg)
	clock := clockwork.NewFakeClockAt(t0)
	cache := store.NewCache(s, zaptest.NewLogger(t), clock, reg)
	ctx := context.Background()
	put := func(name string, sp job.Spec) {
		t.Helper()
		if _, _, err := s.PutJob(ctx, name, sp, t0, 0); err != nil {
			t.Fatal(err)
		}
	}
	put("hourly", spec("@hourly"))
	paused := spec("@hourly")
	paused.Paused = true
	put("paused", paused)
	until := spec("@hourly")
	until.Paused, until.Pause = true, &job.Pause{Until: t0.Add(time.Hour)}
	put("paused-until", until)
	put("once", spec("@at "+t0.Add(30*time.Minute).Format(time.RFC3339)))
	runCache(t, cache)

	want := func(active, paused, completed float64) {
		t.Helper()
		for state, n := range map[string]float64{"active": active, "paused": paused, "completed": completed, "invalid": 0} {
			if got := promtest.Value(t, reg, "schedulerd_jobs", "state", state); got != n {
				t.Errorf("at %s: schedulerd_jobs{state=%q} = %v, want %v", clock.Now().Format(time.TimeOnly), state, got, n)
			}
		}
	}
	want(2, 2, 0)
	clock.Advance(45 * time.Minute) // the one-shot's time has passed
	want(1, 2, 1)
	clock.Advance(30 * time.Minute) // the timed pause is over
	want(2, 1, 1)
}
