package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// prefix is the replicas' --prefix.
const prefix = "/bench/"

// cluster is one scenario's etcd members, replicas and recording target; stop ends them all.
type cluster struct {
	b        *bench
	dir      string
	ttl      time.Duration
	members  []*localcluster.Member
	replicas []*replica
	etcd     *clientv3.Client
	store    *store.Store
	target   *target
	// pprof: replicas serve pprof (--pprof, or a scenario that needs /debug/pprof/heap?gc=1).
	pprof bool
}

// replica is one schedulerd process.
type replica struct {
	*localcluster.Proc
	id    string
	api   string // base URL
	pprof string // base URL of its pprof server, with --pprof
}

// startCluster starts etcd (--etcd members) and the target in a fresh directory; replicas
// come with startReplicas. On error, what was started is stopped.
func (b *bench) startCluster(ctx context.Context, name string) (c *cluster, err error) {
	c = &cluster{b: b, dir: filepath.Join(b.workdir, name)}
	defer func() {
		if err != nil {
			c.stop()
			c = nil
		}
	}()
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return c, err
	}
	if c.target, err = startTarget(); err != nil {
		return c, err
	}
	if c.members, err = localcluster.NewEtcdMembers(c.dir, b.o.etcd); err != nil {
		return c, err
	}
	var endpoints []string
	for _, m := range c.members {
		if err := m.Start(); err != nil {
			return c, err
		}
		endpoints = append(endpoints, m.ClientURL)
	}
	c.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return c, err
	}
	c.store = store.New(c.etcd, prefix, nil)
	if err := localcluster.Until(ctx, time.Minute, "etcd serving", func(ctx context.Context) bool {
		_, err := c.etcd.Put(ctx, "/bench-health", "")
		return err == nil
	}); err != nil {
		return c, err
	}
	b.say("%s: etcd %d member(s) at %s", name, len(c.members), strings.Join(endpoints, ", "))
	return c, nil
}

// startReplicas starts --replicas replicas with session TTL ttl and waits until each is ready.
func (c *cluster) startReplicas(ctx context.Context, ttl time.Duration) error {
	c.ttl = ttl
	n := c.b.o.replicas
	ports, err := localcluster.FreePorts(2 * n)
	if err != nil {
		return err
	}
	var endpoints []string
	for _, m := range c.members {
		endpoints = append(endpoints, m.ClientURL)
	}
	for i := range n {
		id := fmt.Sprintf("r%d", i+1)
		r := &replica{id: id, api: fmt.Sprintf("http://127.0.0.1:%d", ports[i])}
		args := []string{"serve", "--etcd-endpoints", strings.Join(endpoints, ","),
			"--listen", strings.TrimPrefix(r.api, "http://"), "--prefix", prefix, "--replica-id", id,
			"--session-ttl", ttl.String(), "--log-format", "json"}
		if c.b.o.pprof || c.pprof {
			r.pprof = fmt.Sprintf("http://127.0.0.1:%d", ports[n+i])
			args = append(args, "--pprof-listen", strings.TrimPrefix(r.pprof, "http://"))
		}
		r.Proc = localcluster.NewProc(c.dir, id, args)
		if err := r.Start(); err != nil {
			return err
		}
		c.replicas = append(c.replicas, r)
	}
	for _, r := range c.replicas {
		if err := localcluster.AwaitReady(ctx, c.b.http, r.id, r.api); err != nil {
			return err
		}
		if r.pprof != "" && c.b.o.pprof {
			c.b.say("%s: pprof at %s/debug/pprof/", r.id, r.pprof)
		}
	}
	c.b.say("replicas: %d, session TTL %s", n, ttl)
	return nil
}

// stop ends every process of the cluster and waits for each: replicas with SIGTERM (SIGKILL
// after 10 s), then the etcd members with SIGKILL (their data is thrown away); then it stops
// the target.
func (c *cluster) stop() {
	c.stopReplicas()
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Go(m.Kill)
	}
	wg.Wait()
	if c.etcd != nil {
		c.etcd.Close()
	}
	if c.target != nil {
		c.target.close()
	}
}

// stopReplicas stops every replica (SIGTERM, SIGKILL after 10 s) and waits.
func (c *cluster) stopReplicas() {
	var wg sync.WaitGroup
	for _, r := range c.replicas {
		wg.Go(func() { stopProc(r.Proc, 10*time.Second) })
	}
	wg.Wait()
}

// restartReplicas starts every replica again and waits until each is ready (its job cache
// has its first full list).
func (c *cluster) restartReplicas(ctx context.Context) error {
	for _, r := range c.replicas {
		if err := r.Start(); err != nil {
			return err
		}
	}
	for _, r := range c.replicas {
		if err := localcluster.AwaitReady(ctx, c.b.http, r.id, r.api); err != nil {
			return err
		}
	}
	return nil
}

func stopProc(p *localcluster.Proc, grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.Signal(syscall.SIGTERM)
	if p.Wait(grace) != nil {
		p.Kill()
	}
}

// leader is the replica that leads and its election key; nil when none leads.
func (c *cluster) leader(ctx context.Context) (*replica, localcluster.LeaderKey, error) {
	l, ok, err := localcluster.Leader(ctx, c.etcd, prefix+"election/")
	if err != nil || !ok {
		return nil, l, err
	}
	for _, r := range c.replicas {
		if r.id == l.ID {
			return r, l, nil
		}
	}
	return nil, l, fmt.Errorf("unknown leader %q", l.ID)
}

// waitLeader waits for a leader other than not (any when not is "").
func (c *cluster) waitLeader(ctx context.Context, not string, timeout time.Duration) (*replica, localcluster.LeaderKey, error) {
	var (
		r *replica
		l localcluster.LeaderKey
	)
	err := localcluster.Until(ctx, timeout, "a leader", func(ctx context.Context) bool {
		var err error
		r, l, err = c.leader(ctx)
		return err == nil && r != nil && r.id != not
	})
	return r, l, err
}

// follower is a replica that does not lead.
func (c *cluster) follower(leader *replica) *replica {
	for _, r := range c.replicas {
		if r != leader {
			return r
		}
	}
	return nil
}

// httpJob is a job spec that calls the target.
func (c *cluster) httpJob(schedule string) job.Spec {
	return job.Spec{Schedule: schedule, Target: job.Target{HTTP: &job.HTTPTarget{URL: c.target.url}}}
}

// putJobs creates jobs first…first+n-1 (names from name, specs from spec) through the store,
// as the API does, 32 at a time. It reports how long that took.
func (c *cluster) putJobs(ctx context.Context, first, n int, name func(int) string, spec func(int) job.Spec) (time.Duration, error) {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := first; i < first+n; i++ {
		g.Go(func() error {
			s := spec(i)
			if err := s.Validate(); err != nil {
				return fmt.Errorf("job %s: %w", name(i), err)
			}
			_, _, err := c.store.PutJob(gctx, name(i), s, time.Now().UTC(), store.CreateOnly)
			return err
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

// leaderAndFollower waits up to a minute for a leader and returns it with a follower.
func (c *cluster) leaderAndFollower(ctx context.Context) (leader, follower *replica, err error) {
	if leader, _, err = c.waitLeader(ctx, "", time.Minute); err != nil {
		return nil, nil, err
	}
	return leader, c.follower(leader), nil
}

// deleteJobs deletes the jobs name(0) … name(n-1) through the store, as the API does.
func (c *cluster) deleteJobs(ctx context.Context, n int, name func(int) string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			if err := c.store.DeleteJob(gctx, name(i), 0); err != nil {
				return fmt.Errorf("delete job %s: %w", name(i), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// etcdMetrics scrapes the first member's /metrics.
func (c *cluster) etcdMetrics(ctx context.Context) (metrics, error) {
	return scrape(ctx, c.b.http, c.members[0].ClientURL+"/metrics")
}

// metrics scrapes a replica's /metrics.
func (r *replica) metrics(ctx context.Context, client *http.Client) (metrics, error) {
	return scrape(ctx, client, r.api+"/metrics")
}

// awaitJobs waits until every replica's cache holds n jobs.
func (c *cluster) awaitJobs(ctx context.Context, n int) error {
	for _, r := range c.replicas {
		if !r.Running() {
			continue
		}
		err := localcluster.Until(ctx, 5*time.Minute, fmt.Sprintf("%s caching %d jobs", r.id, n), func(ctx context.Context) bool {
			m, err := r.metrics(ctx, c.b.http)
			return err == nil && int(m.sum("schedulerd_jobs")) == n
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// untilSecond sleeps until before the next whole second (at least 200 ms from now).
func untilSecond(ctx context.Context, before time.Duration) (time.Time, error) {
	at := time.Now().Add(200 * time.Millisecond).Truncate(time.Second).Add(time.Second - before)
	return at, localcluster.Sleep(ctx, time.Until(at))
}
