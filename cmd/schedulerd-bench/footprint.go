package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// Footprint: what jobs cost a replica (memory, CPU) and etcd (database size), and how long a
// new leader takes to be ready with many jobs.
type footprintReport struct {
	scenarioInfo
	Parameters footprintParams  `json:"parameters"`
	Results    footprintResults `json:"results"`
}

type footprintParams struct {
	Jobs     int `json:"jobs"`
	BusyJobs int `json:"busyJobs"`
	// IdleSchedule fires once a year: the jobs are cached and planned, never due.
	IdleSchedule      string  `json:"idleSchedule"`
	IdleWindowSeconds float64 `json:"idleWindowSeconds"`
	// SettleSeconds pass between the replicas' restart with the idle jobs and the idle window.
	SettleSeconds      float64 `json:"settleSeconds"`
	BusyWindowSeconds  float64 `json:"busyWindowSeconds"`
	SampleEverySeconds float64 `json:"sampleEverySeconds"`
	HistoryKeep        int     `json:"historyKeep"`
	SessionTTLSeconds  float64 `json:"sessionTTLSeconds"`
}

type footprintResults struct {
	// SpecBytes is the average size of a stored job (key and value) in etcd.
	SpecBytes int `json:"specBytes"`
	// Empty: no jobs; Idle: the idle jobs and the probe, in replicas started with them;
	// Busy: those and the busy jobs; RunsAlone: the busy jobs and the probe without the idle
	// jobs, in replicas restarted with them. Heap and RSS are read at the end of each phase.
	Empty     phaseSample `json:"empty"`
	Idle      phaseSample `json:"idle"`
	Busy      phaseSample `json:"busy"`
	RunsAlone phaseSample `json:"runsAlone"`
	PerJob    perJob      `json:"perJob"`
	Takeover  takeover    `json:"takeover"`
	DB        []dbSample  `json:"db"`
	// BusyWrites are etcd's writes (first member's metrics) over the busy window per run
	// dispatched: long enough for jobs to reach their history keep, so pruning is included.
	BusyWrites etcdWrites `json:"busyWrites"`
}

type procSample struct {
	RSSBytes int64 `json:"rssBytes"`
	// RSSAnonBytes and RSSFileBytes split RSSBytes: anonymous memory (heap, stacks) and the
	// binary's pages that have been touched, which grow with the code a replica has run,
	// not with its jobs.
	RSSAnonBytes int64 `json:"rssAnonBytes"`
	RSSFileBytes int64 `json:"rssFileBytes"`
	// HeapInuseBytes is go_memstats_heap_inuse_bytes right after a garbage collection.
	HeapInuseBytes float64 `json:"heapInuseBytes"`
	CPUPercent     float64 `json:"cpuPercent"` // of one core, over the phase's window
}

type phaseSample struct {
	Leader           procSample `json:"leader"`
	Follower         procSample `json:"follower"`
	DispatchesPerSec float64    `json:"dispatchesPerSec"`
}

// perJob is (idle − empty) / jobs, in bytes. For the busy leader, BusyLeaderRSS is
// (busy − empty) / jobs: all of its RSS with the busy jobs running charged to the idle jobs,
// the runs' own cost included; BusyLeaderRSSPerJob is (busy − runs alone) / jobs: what each
// idle job adds to a leader that is busy anyway.
type perJob struct {
	LeaderRSS           float64 `json:"leaderRss"`
	LeaderRSSAnon       float64 `json:"leaderRssAnon"`
	LeaderHeap          float64 `json:"leaderHeap"`
	FollowerRSS         float64 `json:"followerRss"`
	FollowerRSSAnon     float64 `json:"followerRssAnon"`
	FollowerHeap        float64 `json:"followerHeap"`
	BusyLeaderRSS       float64 `json:"busyLeaderRss"`
	BusyLeaderRSSPerJob float64 `json:"busyLeaderRssPerJob"`
}

type dbSample struct {
	AfterSeconds float64 `json:"afterSeconds"`
	Dispatched   int     `json:"dispatched"`
	RunKeys      int64   `json:"runKeys"`
	EtcdKeys     int64   `json:"etcdKeys"`
	DBSizeBytes  int64   `json:"dbSizeBytes"`
	DBInUseBytes int64   `json:"dbInUseBytes"`
}

func (b *bench) footprint(ctx context.Context) (*footprintReport, error) {
	counts := b.o.jobCounts([]int{10000}, []int{50})
	busy := min(pick(b.o, "busy-jobs", b.o.busyJobs, b.o.busyJobs, 5), counts[len(counts)-1])
	window := b.o.window(2*time.Minute, 2*time.Second)
	p := footprintParams{Jobs: counts[len(counts)-1], BusyJobs: busy, IdleSchedule: "0 0 0 1 1 *",
		IdleWindowSeconds: quickOr(b.o, 10.0, 1.0), SettleSeconds: quickOr(b.o, 15.0, 0), BusyWindowSeconds: window.Seconds(),
		SampleEverySeconds: max(1, (window / 8).Round(time.Second).Seconds()), HistoryKeep: job.DefaultHistoryKeep, SessionTTLSeconds: 10}
	r := &footprintReport{Parameters: p}
	res := &r.Results
	c, err := b.startCluster(ctx, "footprint")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	c.pprof = true // to collect garbage before reading the heap
	if err := c.startReplicas(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	idleWindow := time.Duration(p.IdleWindowSeconds * float64(time.Second))
	leader, follower, err := c.leaderAndFollower(ctx)
	if err != nil {
		return nil, err
	}
	if res.Empty, err = c.samplePhase(ctx, leader, follower, idleWindow); err != nil {
		return nil, err
	}

	// The idle jobs (and a probe @every 1s, for the takeover) are written while no replica
	// runs; each replica then starts with all of them in its first list (ready = synced).
	// Replica /metrics pages grow by 16 series per job, too big to poll at 100k jobs.
	c.stopReplicas()
	name := func(i int) string { return fmt.Sprintf("idle-%06d", i) }
	if _, err := c.putJobs(ctx, 0, p.Jobs, name, func(int) job.Spec { return c.httpJob(p.IdleSchedule) }); err != nil {
		return nil, err
	}
	if _, err := c.putJobs(ctx, 0, 1, func(int) string { return "probe" }, func(int) job.Spec { return c.httpJob("@every 1s") }); err != nil {
		return nil, err
	}
	if res.SpecBytes, err = c.specBytes(ctx); err != nil {
		return nil, err
	}
	if err := c.restartReplicas(ctx); err != nil {
		return nil, err
	}
	if leader, follower, err = c.leaderAndFollower(ctx); err != nil {
		return nil, err
	}
	// Starting with many jobs takes a while after ready (per-job metric series, the leader's
	// plan); the idle window starts after that.
	if err := localcluster.Sleep(ctx, time.Duration(p.SettleSeconds*float64(time.Second))); err != nil {
		return nil, err
	}
	if res.Idle, err = c.samplePhase(ctx, leader, follower, idleWindow); err != nil {
		return nil, err
	}
	n := float64(p.Jobs)
	res.PerJob = perJob{
		LeaderRSS:       round(float64(res.Idle.Leader.RSSBytes-res.Empty.Leader.RSSBytes)/n, 0),
		LeaderRSSAnon:   round(float64(res.Idle.Leader.RSSAnonBytes-res.Empty.Leader.RSSAnonBytes)/n, 0),
		LeaderHeap:      round((res.Idle.Leader.HeapInuseBytes-res.Empty.Leader.HeapInuseBytes)/n, 0),
		FollowerRSS:     round(float64(res.Idle.Follower.RSSBytes-res.Empty.Follower.RSSBytes)/n, 0),
		FollowerRSSAnon: round(float64(res.Idle.Follower.RSSAnonBytes-res.Empty.Follower.RSSAnonBytes)/n, 0),
		FollowerHeap:    round((res.Idle.Follower.HeapInuseBytes-res.Empty.Follower.HeapInuseBytes)/n, 0),
	}
	b.say("footprint: %d idle jobs: leader +%.0f B/job RSS (anonymous +%.0f), +%.0f B/job heap", p.Jobs, res.PerJob.LeaderRSS, res.PerJob.LeaderRSSAnon, res.PerJob.LeaderHeap)

	if res.Takeover, err = c.takeover(ctx, p.Jobs); err != nil {
		return nil, err
	}
	b.say("footprint: new leader ready %.0f ms after SIGTERM, first dispatch %.0f ms", res.Takeover.ReadyMs, res.Takeover.FirstDispatchMs)

	// Busy: the busy jobs run every second for the window; etcd's size is sampled meanwhile.
	if leader, follower, err = c.leaderAndFollower(ctx); err != nil {
		return nil, err
	}
	busyName := func(i int) string { return fmt.Sprintf("busy-%04d", i) }
	mark := c.target.count()
	if _, err := c.putJobs(ctx, 0, p.BusyJobs, busyName, func(int) job.Spec { return c.httpJob("@every 1s") }); err != nil {
		return nil, err
	}
	if err := c.awaitDispatched(ctx, mark, "busy-", p.BusyJobs); err != nil {
		return nil, err
	}
	e0, err := c.etcdMetrics(ctx)
	if err != nil {
		return nil, err
	}
	mark, start := c.target.count(), time.Now()
	every := time.Duration(p.SampleEverySeconds * float64(time.Second))
	sample := func() error {
		d, err := c.dbSample(ctx)
		if err != nil {
			return err
		}
		d.AfterSeconds, d.Dispatched = round(time.Since(start).Seconds(), 1), len(c.target.since(mark))
		res.DB = append(res.DB, d)
		return nil
	}
	phase, err := startPhase(leader, follower)
	if err != nil {
		return nil, err
	}
	if err := sample(); err != nil {
		return nil, err
	}
	for next := start.Add(every); next.Before(start.Add(window)); next = next.Add(every) {
		if err := localcluster.Sleep(ctx, time.Until(next)); err != nil {
			return nil, err
		}
		if err := sample(); err != nil {
			return nil, err
		}
	}
	if err := localcluster.Sleep(ctx, time.Until(start.Add(window))); err != nil {
		return nil, err
	}
	if res.Busy, err = c.endPhase(ctx, phase); err != nil {
		return nil, err
	}
	if err := sample(); err != nil {
		return nil, err
	}
	runs := len(c.target.since(mark))
	res.Busy.DispatchesPerSec = perSecond(runs, time.Since(start))
	e1, err := c.etcdMetrics(ctx)
	if err != nil {
		return nil, err
	}
	res.BusyWrites = writesBetween(e0, e1, runs)
	res.PerJob.BusyLeaderRSS = round(float64(res.Busy.Leader.RSSBytes-res.Empty.Leader.RSSBytes)/n, 0)

	// The runs alone: replicas restarted with only the busy jobs and the probe, measured over
	// the same window. A busy leader's RSS less this is what the idle jobs cost it; charged to
	// them, the runs' own cost (connections, buffers, the collector's headroom over them)
	// would count as theirs.
	c.stopReplicas()
	if err := c.deleteJobs(ctx, p.Jobs, name); err != nil {
		return nil, err
	}
	if err := c.restartReplicas(ctx); err != nil {
		return nil, err
	}
	if leader, follower, err = c.leaderAndFollower(ctx); err != nil {
		return nil, err
	}
	if err := c.awaitDispatched(ctx, c.target.count(), "busy-", p.BusyJobs); err != nil {
		return nil, err
	}
	if res.RunsAlone, err = c.samplePhase(ctx, leader, follower, window); err != nil {
		return nil, err
	}
	res.PerJob.BusyLeaderRSSPerJob = round(float64(res.Busy.Leader.RSSBytes-res.RunsAlone.Leader.RSSBytes)/n, 0)
	return r, nil
}

// awaitDispatched waits until the target has had a request from each of n jobs named with
// prefix since its mark-th request.
func (c *cluster) awaitDispatched(ctx context.Context, mark int, prefix string, n int) error {
	return localcluster.Until(ctx, time.Minute, fmt.Sprintf("every %s* job dispatched", prefix), func(context.Context) bool {
		seen := make(map[string]bool)
		for _, d := range c.target.since(mark) {
			if strings.HasPrefix(d.Job, prefix) {
				seen[d.Job] = true
			}
		}
		return len(seen) == n
	})
}

// samplePhase measures the CPU time leader and follower use over window, then their memory.
func (c *cluster) samplePhase(ctx context.Context, leader, follower *replica, window time.Duration) (phaseSample, error) {
	phase, err := startPhase(leader, follower)
	if err != nil {
		return phaseSample{}, err
	}
	if err := localcluster.Sleep(ctx, window); err != nil {
		return phaseSample{}, err
	}
	return c.endPhase(ctx, phase)
}

// phase is the start of a measured phase: when, and the CPU time leader and follower had used.
type phase struct {
	at               time.Time
	leader, follower *replica
	l0, f0           procStats
}

func startPhase(leader, follower *replica) (phase, error) {
	p := phase{at: time.Now(), leader: leader, follower: follower}
	var err error
	if p.l0, err = readProc(leader.Pid()); err != nil {
		return p, err
	}
	p.f0, err = readProc(follower.Pid())
	return p, err
}

// endPhase reads the CPU time used since the phase started, RSS, and the heap after a GC.
func (c *cluster) endPhase(ctx context.Context, p phase) (phaseSample, error) {
	var ph phaseSample
	elapsed := time.Since(p.at).Seconds()
	for _, x := range []struct {
		r      *replica
		before procStats
		out    *procSample
	}{{p.leader, p.l0, &ph.Leader}, {p.follower, p.f0, &ph.Follower}} {
		now, err := readProc(x.r.Pid())
		if err != nil {
			return ph, err
		}
		heap, err := c.liveHeap(ctx, x.r)
		if err != nil {
			return ph, err
		}
		*x.out = procSample{RSSBytes: now.RSS, RSSAnonBytes: now.RSSAnon, RSSFileBytes: now.RSSFile, HeapInuseBytes: float64(heap),
			CPUPercent: round(100*(now.CPUSecs-x.before.CPUSecs)/elapsed, 1)}
	}
	return ph, nil
}

// specBytes is the average size of a stored job, over up to 100 of them.
func (c *cluster) specBytes(ctx context.Context) (int, error) {
	resp, err := c.etcd.Get(ctx, c.store.Keys().Jobs(), clientv3.WithPrefix(), clientv3.WithLimit(100))
	if err != nil || len(resp.Kvs) == 0 {
		return 0, err
	}
	total := 0
	for _, kv := range resp.Kvs {
		total += len(kv.Key) + len(kv.Value)
	}
	return total / len(resp.Kvs), nil
}

// dbSample reads etcd's database size (first member) and counts the run records.
func (c *cluster) dbSample(ctx context.Context) (dbSample, error) {
	var d dbSample
	m, err := c.etcdMetrics(ctx)
	if err != nil {
		return d, err
	}
	d.DBSizeBytes = int64(m.sum("etcd_mvcc_db_total_size_in_bytes"))
	d.DBInUseBytes = int64(m.sum("etcd_mvcc_db_total_size_in_use_in_bytes"))
	d.EtcdKeys = int64(m.sum("etcd_debugging_mvcc_keys_total"))
	resp, err := c.etcd.Get(ctx, prefix+"runs/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return d, err
	}
	d.RunKeys = resp.Count
	return d, nil
}
