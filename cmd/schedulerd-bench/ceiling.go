package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// The ceiling: how many @every 1s jobs one leader keeps up with.
type ceilingReport struct {
	scenarioInfo
	Parameters ceilingParams  `json:"parameters"`
	Results    ceilingResults `json:"results"`
}

type ceilingParams struct {
	Steps             []int   `json:"steps"`
	StepWindowSeconds float64 `json:"stepWindowSeconds"`
	WarmupSeconds     float64 `json:"warmupSeconds"`
	SessionTTLSeconds float64 `json:"sessionTTLSeconds"`
	// A step breaks when lateness p99 exceeds MaxP99Ms or dispatches/s fall below
	// MinDispatchRatio × slots/s (a backlog).
	MaxP99Ms         float64 `json:"maxP99Ms"`
	MinDispatchRatio float64 `json:"minDispatchRatio"`
}

type ceilingResults struct {
	// BaselineTxnsPerSec is the limit scenario's 16-concurrent transaction, measured on this
	// scenario's etcd before any replica started.
	BaselineTxnsPerSec        float64       `json:"baselineTxnsPerSec"`
	Steps                     []ceilingStep `json:"steps"`
	SustainedJobs             int           `json:"sustainedJobs"`
	SustainedDispatchesPerSec float64       `json:"sustainedDispatchesPerSec"`
	SustainedRatio            float64       `json:"sustainedRatio"`
	PeakDispatchesPerSec      float64       `json:"peakDispatchesPerSec"`
	PeakRatio                 float64       `json:"peakRatio"`
	// Broke is false when the largest step still kept up.
	Broke bool `json:"broke"`
}

type ceilingStep struct {
	Jobs             int     `json:"jobs"`
	SlotsPerSec      float64 `json:"slotsPerSec"`
	Dispatches       int     `json:"dispatches"`
	DispatchesPerSec float64 `json:"dispatchesPerSec"`
	Lateness         dist    `json:"lateness"`
	// Skipped is the leader's schedulerd_runs_skipped_total over the window (missed slots).
	Skipped float64 `json:"skipped"`
	// From etcd's own metrics (first member) over the window, per dispatched run.
	EtcdPuts        float64 `json:"etcdPuts"`
	EtcdDeletes     float64 `json:"etcdDeletes"`
	EtcdProposals   float64 `json:"etcdProposals"`
	PutsPerRun      float64 `json:"putsPerRun"`
	DeletesPerRun   float64 `json:"deletesPerRun"`
	ProposalsPerRun float64 `json:"proposalsPerRun"`
	Verdict         string  `json:"verdict"`
}

func (b *bench) ceiling(ctx context.Context) (*ceilingReport, error) {
	// One count: a ramp that doubles from 100 up to it; several: those are the steps.
	steps := b.o.jobCounts([]int{12800}, []int{20})
	if len(steps) == 1 {
		maxJobs := steps[0]
		steps = nil
		for n := min(quickOr(b.o, 100, 10), maxJobs); n < maxJobs; n *= 2 {
			steps = append(steps, n)
		}
		steps = append(steps, maxJobs)
	}
	window := b.o.window(15*time.Second, time.Second)
	p := ceilingParams{Steps: steps, StepWindowSeconds: window.Seconds(), WarmupSeconds: quickOr(b.o, 3.0, 0.5),
		SessionTTLSeconds: 10, MaxP99Ms: 1000, MinDispatchRatio: 0.95}
	c, err := b.startCluster(ctx, "ceiling")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	base, err := measureTxns(ctx, c.etcd, "/bench-limit/16/", 16, b.o.window(5*time.Second, 500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	r := &ceilingReport{Parameters: p, Results: ceilingResults{BaselineTxnsPerSec: base.TxnsPerSec}}
	b.say("ceiling: baseline %.0f txn/s (16 concurrent)", base.TxnsPerSec)
	if err := c.startReplicas(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	name := func(i int) string { return fmt.Sprintf("ceil-%05d", i) }
	spec := func(int) job.Spec { return c.httpJob("@every 1s") }
	have := 0
	for _, n := range steps {
		if _, err := c.putJobs(ctx, have, n-have, name, spec); err != nil {
			return nil, err
		}
		have = n
		if err := c.awaitJobs(ctx, n); err != nil {
			return nil, err
		}
		if err := localcluster.Sleep(ctx, time.Duration(p.WarmupSeconds*float64(time.Second))); err != nil {
			return nil, err
		}
		s, err := c.ceilingStep(ctx, n, window)
		if err != nil {
			return nil, err
		}
		s.Verdict = "keeps up"
		switch {
		case s.Lateness.P99 > p.MaxP99Ms:
			s.Verdict = "p99 > 1 s"
		case s.DispatchesPerSec < p.MinDispatchRatio*s.SlotsPerSec:
			s.Verdict = "backlog"
		}
		b.say("ceiling: %d jobs: %.1f dispatches/s, lateness p99 %.1f ms: %s", n, s.DispatchesPerSec, s.Lateness.P99, s.Verdict)
		r.Results.Steps = append(r.Results.Steps, s)
		r.Results.PeakDispatchesPerSec = max(r.Results.PeakDispatchesPerSec, s.DispatchesPerSec)
		if s.Verdict != "keeps up" {
			r.Results.Broke = true
			break
		}
		r.Results.SustainedJobs, r.Results.SustainedDispatchesPerSec = n, s.DispatchesPerSec
	}
	if base.TxnsPerSec > 0 {
		r.Results.SustainedRatio = round(r.Results.SustainedDispatchesPerSec/base.TxnsPerSec, 3)
		r.Results.PeakRatio = round(r.Results.PeakDispatchesPerSec/base.TxnsPerSec, 3)
	}
	return r, nil
}

// ceilingStep measures one window with n @every 1s jobs.
func (c *cluster) ceilingStep(ctx context.Context, n int, window time.Duration) (ceilingStep, error) {
	s := ceilingStep{Jobs: n, SlotsPerSec: float64(n)}
	leader, _, err := c.waitLeader(ctx, "", time.Minute)
	if err != nil {
		return s, err
	}
	e0, err := c.etcdMetrics(ctx)
	if err != nil {
		return s, err
	}
	l0, err := leader.metrics(ctx, c.b.http)
	if err != nil {
		return s, err
	}
	from, mark := time.Now(), c.target.count()
	if err := localcluster.Sleep(ctx, window); err != nil {
		return s, err
	}
	to := time.Now()
	e1, err := c.etcdMetrics(ctx)
	if err != nil {
		return s, err
	}
	l1, err := leader.metrics(ctx, c.b.http)
	if err != nil {
		return s, err
	}
	var late []time.Duration
	for _, d := range c.target.since(mark) {
		if d.Verdict == verdictAccepted && d.Arrived.Before(to) {
			late = append(late, d.lateness())
		}
	}
	s.Dispatches = len(late)
	s.DispatchesPerSec = perSecond(len(late), to.Sub(from))
	s.Lateness = summarize(late)
	s.Skipped = l1.sum("schedulerd_runs_skipped_total") - l0.sum("schedulerd_runs_skipped_total")
	w := writesBetween(e0, e1, s.Dispatches)
	s.EtcdPuts, s.EtcdDeletes, s.EtcdProposals = w.Puts, w.Deletes, w.Proposals
	s.PutsPerRun, s.DeletesPerRun, s.ProposalsPerRun = w.PutsPerRun, w.DeletesPerRun, w.ProposalsPerRun
	return s, nil
}
