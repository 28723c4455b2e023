package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/retry"
)

// Cache is a watch-backed copy of every job, kept by every replica so that a follower that
// becomes leader starts with a warm job set. It is safe for concurrent use; Run owns the
// goroutine that fills it.
type Cache struct {
	store *Store
	log   *zap.Logger
	clock clockwork.Clock

	restarts *prometheus.CounterVec

	mu     sync.RWMutex
	jobs   map[string]job.Job
	rev    int64
	subs   map[*Subscription]struct{}
	synced chan struct{}
}

// NewCache returns an empty cache; Run fills it. Metrics go to reg (nil: not registered).
// A nil clock is the real clock; it times the retries after watch errors.
func NewCache(s *Store, log *zap.Logger, clock clockwork.Clock, reg prometheus.Registerer) *Cache {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	c := &Cache{
		store:  s,
		log:    log.Named("cache"),
		clock:  clock,
		jobs:   make(map[string]job.Job),
		subs:   make(map[*Subscription]struct{}),
		synced: make(chan struct{}),
		restarts: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_cache_watch_restarts_total",
			Help: "Times the job cache re-listed and re-watched, by reason (compacted: its revision was compacted away; error: the watch failed).",
		}, []string{"reason"}),
	}
	c.restarts.WithLabelValues("compacted")
	c.restarts.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(jobsCollector{c})
	}
	return c
}

// Run lists and watches jobs until ctx ends; it returns nil then. It never gives up on a
// store fault: a failed list or watch is retried with backoff, and a watch whose revision was
// compacted away is replaced by a fresh list (diffed against the cache, so subscribers see
// only real changes) and a watch from the new revision.
func (c *Cache) Run(ctx context.Context) error {
	bo := retry.NewBackoff(100*time.Millisecond, 2*time.Second)
	tr := retry.NewTracker(c.log, "job list/watch")
	for {
		rev, err := c.relist(ctx)
		if err == nil {
			tr.Succeeded()
			bo.Reset()
			err = c.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			c.restarts.WithLabelValues("compacted").Inc()
			c.log.Info("job watch fell behind compaction; re-listing", zap.Error(err))
			continue
		}
		c.restarts.WithLabelValues("error").Inc()
		tr.Failed(err)
		if bo.Wait(ctx, c.clock) != nil {
			return nil
		}
	}
}

// relist reads all jobs at one revision and makes the cache equal to them. The map read
// becomes the cache, so a replica's first list holds one copy of every job, not two (that
// was the peak of a replica's start, and the runtime keeps the pages of its peak).
func (c *Cache) relist(ctx context.Context) (int64, error) {
	var fresh map[string]job.Job
	rev, err := c.store.rangeAll(ctx, c.store.keys.Jobs(), 0, func(resp *clientv3.GetResponse) error {
		if fresh == nil {
			fresh = make(map[string]job.Job, resp.Count) // Count: every key in the range
		}
		for _, kv := range resp.Kvs {
			j := c.store.decodeJob(kv)
			fresh[j.Name] = j
		}
		return nil
	})
	if err != nil {
		return 0, c.store.fail(opListJobs, err)
	}
	if fresh == nil {
		fresh = make(map[string]job.Job)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, j := range fresh {
		if old, ok := c.jobs[name]; !ok || old.Version != j.Version {
			c.changedLocked(j)
		}
	}
	for name := range c.jobs {
		if _, ok := fresh[name]; !ok {
			c.markLocked(name)
		}
	}
	c.jobs, c.rev = fresh, rev
	select {
	case <-c.synced:
	default:
		close(c.synced)
		c.log.Info("job cache synced", zap.Int("jobs", len(c.jobs)), zap.Int64("revision", rev))
	}
	return rev, nil
}

// watch applies changes after rev until the watch breaks; it returns why.
func (c *Cache) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := c.store.client.Watch(wctx, c.store.keys.Jobs(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return c.store.fail(opWatch, err)
		}
		c.apply(resp)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.store.fail(opWatch, errors.New("watch channel closed"))
}

func (c *Cache) apply(resp clientv3.WatchResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range resp.Events {
		name := c.store.keys.jobName(string(ev.Kv.Key))
		switch ev.Type {
		case mvccpb.PUT:
			c.setLocked(c.store.decodeJob(ev.Kv))
		case mvccpb.DELETE:
			c.deleteLocked(name)
		}
	}
	if resp.Header.Revision > c.rev {
		c.rev = resp.Header.Revision
	}
}

func (c *Cache) setLocked(j job.Job) {
	c.jobs[j.Name] = j
	c.changedLocked(j)
}

// changedLocked tells the subscribers that j is new or changed, and the log when it is invalid.
func (c *Cache) changedLocked(j job.Job) {
	if j.Invalid != nil {
		c.log.Warn("stored job cannot be scheduled", zap.String("job", j.Name), zap.Int64("version", j.Version), zap.Error(j.Invalid))
	}
	c.markLocked(j.Name)
}

func (c *Cache) deleteLocked(name string) {
	delete(c.jobs, name)
	c.markLocked(name)
}

func (c *Cache) markLocked(name string) {
	for s := range c.subs {
		s.dirty[name] = struct{}{}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Synced is closed once the first list has been applied.
func (c *Cache) Synced() <-chan struct{} { return c.synced }

// Revision is the etcd revision the cache reflects.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Get returns a job by name. Jobs are shared: treat their fields as read-only.
func (c *Cache) Get(name string) (job.Job, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	j, ok := c.jobs[name]
	return j, ok
}

// Names returns the name of every job, sorted. A caller that walks every job Gets each in
// turn: a copy of all of them at once was half a KB of garbage per job (50 MB at 100 000),
// made as a replica starts, when its heap is at its peak.
func (c *Cache) Names() []string {
	c.mu.RLock()
	out := make([]string, 0, len(c.jobs))
	for name := range c.jobs {
		out = append(out, name)
	}
	c.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Subscription tells one consumer which jobs changed since it last asked. Changes coalesce per
// job name, so a slow consumer never blocks the watch and never misses that a job changed.
type Subscription struct {
	c     *Cache
	wake  chan struct{}
	dirty map[string]struct{}
}

// Subscribe starts tracking changes for a new consumer. Read the current jobs (Names) after
// subscribing so that no change falls between the two.
func (c *Cache) Subscribe() *Subscription {
	s := &Subscription{c: c, wake: make(chan struct{}, 1), dirty: make(map[string]struct{})}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s
}

// C receives a value when Take has something new.
func (s *Subscription) C() <-chan struct{} { return s.wake }

// Take returns the names of jobs created, changed or deleted since the last Take, and clears them.
func (s *Subscription) Take() []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	names := make([]string, 0, len(s.dirty))
	for n := range s.dirty {
		names = append(names, n)
	}
	if len(names) > takeReuse {
		// A map keeps the room it grew to, cleared or not, and a replica's first list marks
		// every job in every subscription: 43 B per job for as long as the replica ran.
		s.dirty = make(map[string]struct{})
	} else {
		clear(s.dirty)
	}
	return names
}

// takeReuse is the most names after which Take clears the map for the next changes rather
// than making a new one: a few changes at a time, the common case, allocate nothing.
const takeReuse = 64

// Close stops tracking.
func (s *Subscription) Close() {
	s.c.mu.Lock()
	delete(s.c.subs, s)
	s.c.mu.Unlock()
}

// jobsCollector exports schedulerd_jobs{state} from the cache at scrape time.
type jobsCollector struct{ c *Cache }

var jobsDesc = prometheus.NewDesc("schedulerd_jobs", "Jobs in this replica's cache, by state (active, paused, completed: no slot after now, invalid).", []string{"state"}, nil)

func (jc jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (jc jobsCollector) Collect(ch chan<- prometheus.Metric) {
	var active, paused, completed, invalid float64
	now := jc.c.clock.Now()
	jc.c.mu.RLock()
	for _, j := range jc.c.jobs {
		switch {
		case j.Invalid != nil:
			invalid++
		case j.PausedAt(now):
			paused++
		case j.Next(now).IsZero():
			completed++ // a one-shot past its time, or a job past its endAt
		default:
			active++
		}
	}
	jc.c.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, active, "active")
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, paused, "paused")
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, completed, "completed")
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, invalid, "invalid")
}
