package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
)

// History: what a million runs leave in etcd with the default history retention. The run
// records must stay bounded by history.keep, and etcd's database by what is live plus the
// writes its compaction retains.
type historyReport struct {
	scenarioInfo
	Parameters historyParams  `json:"parameters"`
	Results    historyResults `json:"results"`
}

type historyParams struct {
	Jobs        int `json:"jobs"` // @every 1s
	Runs        int `json:"runs"` // dispatched before the scenario ends
	HistoryKeep int `json:"historyKeep"`
	// The benchmark compacts etcd every CompactEverySeconds to the revision it read
	// CompactRetentionSeconds before, as etcd's periodic compaction does with that retention
	// (schedulerd's embedded etcd and the chart's keep an hour; a million runs take minutes here).
	CompactEverySeconds     float64 `json:"compactEverySeconds"`
	CompactRetentionSeconds float64 `json:"compactRetentionSeconds"`
}

type historyResults struct {
	Seconds          float64 `json:"seconds"`
	Dispatched       int     `json:"dispatched"`
	DispatchesPerSec float64 `json:"dispatchesPerSec"`
	// RunKeysBound is what history.keep allows: jobs × (keep + the records the leader lets
	// gather between prunes + one run in flight). It is tight: a pruner that falls behind
	// shows as not bounded, which is what the verdict is for.
	RunKeysBound int64 `json:"runKeysBound"`
	RunKeysMax   int64 `json:"runKeysMax"`
	// Judged: enough runs per job that the second quarter of the runs ends after every job
	// has reached its keep and a retention of compaction has passed. Fewer (--quick) and the
	// records are still growing, and nothing is judged.
	Judged bool `json:"judged"`
	// InUse*Max are the largest in-use sizes of the first member's database in the second
	// and the last quarter of the runs: bounded means the last is not larger than the second
	// by more than a quarter.
	InUseSecondQuarterMax int64 `json:"inUseSecondQuarterMax"`
	InUseLastQuarterMax   int64 `json:"inUseLastQuarterMax"`
	// DefragSizeBytes is the first member's file after a defragmentation at the end.
	DefragSizeBytes int64      `json:"defragSizeBytes"`
	Samples         []dbSample `json:"samples"`
}

// bounded is the verdict: run records within history.keep, and a database that stopped growing.
func (r historyResults) bounded() bool {
	return r.Judged && r.RunKeysMax > 0 && r.RunKeysMax <= r.RunKeysBound && r.InUseLastQuarterMax <= r.InUseSecondQuarterMax*5/4
}

func (b *bench) history(ctx context.Context) (*historyReport, error) {
	counts := b.o.jobCounts([]int{2000}, []int{20})
	p := historyParams{
		Jobs:                    counts[len(counts)-1],
		Runs:                    pick(b.o, "runs", b.o.runs, b.o.runs, 400),
		HistoryKeep:             job.DefaultHistoryKeep,
		CompactEverySeconds:     quickOr(b.o, 10.0, 1.0),
		CompactRetentionSeconds: quickOr(b.o, 60.0, 2.0),
	}
	r := &historyReport{Parameters: p}
	res := &r.Results
	slack := scheduler.PruneSlack(job.History{Keep: p.HistoryKeep})
	res.RunKeysBound = int64(p.Jobs) * int64(p.HistoryKeep+slack+1)
	// Each job runs once a second: the second quarter ends Runs/2/Jobs seconds in.
	res.Judged = float64(p.Runs)/2/float64(p.Jobs) >= float64(p.HistoryKeep+slack)+p.CompactRetentionSeconds+p.CompactEverySeconds
	c, err := b.startCluster(ctx, "history")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if err := c.startReplicas(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	if _, _, err := c.waitLeader(ctx, "", time.Minute); err != nil {
		return nil, err
	}
	name := func(i int) string { return fmt.Sprintf("hist-%05d", i) }
	mark := c.target.count()
	if _, err := c.putJobs(ctx, 0, p.Jobs, name, func(int) job.Spec { return c.httpJob("@every 1s") }); err != nil {
		return nil, err
	}

	// Every compaction step: sample, remember the revision, compact to the one read a
	// retention ago.
	type seen struct {
		at  time.Time
		rev int64
	}
	var revs []seen
	start := time.Now()
	every := time.Duration(p.CompactEverySeconds * float64(time.Second))
	retention := time.Duration(p.CompactRetentionSeconds * float64(time.Second))
	// Twice the time the runs take at one a second per job, and a minute for the start: past
	// it, dispatching has stalled or fallen far behind.
	deadline := start.Add(2*time.Duration(p.Runs/p.Jobs)*time.Second + time.Minute)
	for next := start; ; next = next.Add(every) {
		if err := localcluster.Sleep(ctx, time.Until(next)); err != nil {
			return nil, err
		}
		d, err := c.dbSample(ctx)
		if err != nil {
			return nil, fmt.Errorf("sample etcd: %w", err)
		}
		d.AfterSeconds, d.Dispatched = round(time.Since(start).Seconds(), 1), c.target.count()-mark
		res.Samples = append(res.Samples, d)
		res.RunKeysMax = max(res.RunKeysMax, d.RunKeys)
		if d.Dispatched >= p.Runs {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d runs dispatched after %s: dispatching stalled or fell behind", d.Dispatched, p.Runs, time.Since(start).Round(time.Second))
		}
		resp, err := c.etcd.Get(ctx, "/bench-health")
		if err != nil {
			return nil, fmt.Errorf("read etcd's revision: %w", err)
		}
		now := time.Now()
		revs = append(revs, seen{now, resp.Header.Revision})
		keep := 0
		for keep < len(revs) && now.Sub(revs[keep].at) >= retention {
			keep++
		}
		if keep > 0 {
			if _, err := c.etcd.Compact(ctx, revs[keep-1].rev); err != nil {
				return nil, fmt.Errorf("compact to %d: %w", revs[keep-1].rev, err)
			}
			revs = revs[keep:]
		}
	}
	res.Seconds = round(time.Since(start).Seconds(), 1)
	res.Dispatched = c.target.count() - mark
	res.DispatchesPerSec = perSecond(res.Dispatched, time.Since(start))
	for _, d := range res.Samples {
		switch q := 4 * d.Dispatched / max(1, res.Dispatched); {
		case q == 1:
			res.InUseSecondQuarterMax = max(res.InUseSecondQuarterMax, d.DBInUseBytes)
		case q >= 3:
			res.InUseLastQuarterMax = max(res.InUseLastQuarterMax, d.DBInUseBytes)
		}
	}
	// The file keeps its largest size until it is defragmented.
	if _, err := c.etcd.Defragment(ctx, c.members[0].ClientURL); err != nil {
		return nil, fmt.Errorf("defragment: %w", err)
	}
	m, err := c.etcdMetrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd metrics: %w", err)
	}
	res.DefragSizeBytes = int64(m.sum("etcd_mvcc_db_total_size_in_bytes"))
	b.say("history: %d runs in %.0f s, run keys at most %d (bound %d), in use %s → %s MiB", res.Dispatched, res.Seconds,
		res.RunKeysMax, res.RunKeysBound, mib(res.InUseSecondQuarterMax), mib(res.InUseLastQuarterMax))
	return r, nil
}
