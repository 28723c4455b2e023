package main

import (
	"fmt"
	"time"
)

// goal is one target of the benchmark issue next to what this run measured.
type goal struct {
	Goal     string `json:"goal"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// goals judges what was measured against the targets; a goal whose scenario did not
// run is left out.
func (r *report) goals() []goal {
	var out []goal
	add := func(name, target, measured string, met bool) {
		out = append(out, goal{Goal: name, Target: target, Measured: measured, Met: met})
	}
	if c := r.Scenarios.Ceiling; c != nil {
		cr := c.Results
		m := fmt.Sprintf("%.2f× (%.1f of %.0f/s at %d jobs)", cr.SustainedRatio, cr.SustainedDispatchesPerSec, cr.BaselineTxnsPerSec, cr.SustainedJobs)
		if !cr.Broke {
			m += "; the ramp ended (--jobs) before the ceiling"
		}
		add("sustained dispatches/s vs raw 16-concurrent txn/s", "≥ 1.0×", m, cr.SustainedRatio >= 1.0)
		if s, ok := sustainedStep(cr); ok {
			add("etcd writes per dispatched run (raft proposals)", "≤ 2",
				fmt.Sprintf("%.2f proposals (%.2f puts, %.2f deletes) at %d jobs", s.ProposalsPerRun, s.PutsPerRun, s.DeletesPerRun, s.Jobs),
				s.ProposalsPerRun > 0 && s.ProposalsPerRun <= 2)
		}
	}
	if l := r.Scenarios.Lateness; l != nil {
		if n := len(l.Results.Spread); n > 0 {
			s := l.Results.Spread[n-1] // the largest
			add(fmt.Sprintf("spread lateness p99 (%d jobs; goal at 10k)", s.Jobs), "≤ 10 ms",
				fmt.Sprintf("%.1f ms (%d/%d delivered; the same bursts from a bare client: %.1f ms)", s.Lateness.P99, s.Delivered, s.SlotsOwed, s.Floor.Lateness.P99),
				s.Delivered == s.SlotsOwed && s.Lateness.P99 <= 10)
		}
		for _, a := range l.Results.Aligned {
			worst, all := 0.0, true
			for _, in := range a.Instants {
				worst = max(worst, in.AllDispatchedMs)
				all = all && in.Delivered == a.Jobs
			}
			m := fmt.Sprintf("%.0f ms (worst of %d instants)", worst, len(a.Instants))
			if !all {
				m = "not all dispatched"
			}
			add(fmt.Sprintf("aligned: all %d dispatched (goal at 10k)", a.Jobs), "≤ 2 s", m, all && worst <= 2000)
		}
	}
	if f := r.Scenarios.Failover; f != nil {
		for _, s := range f.Results.Summaries {
			ttl, _ := time.ParseDuration(s.TTL)
			switch s.Signal {
			case signalTerm:
				add(fmt.Sprintf("SIGTERM: signal → next dispatch p99 (TTL %s)", s.TTL), "≤ 300 ms",
					fmt.Sprintf("%.0f ms (max %.0f, %d trials; new leader's first: p99 %.0f)", s.NextDispatch.P99, s.NextDispatch.Max, s.NextDispatch.Count, s.Failover.P99),
					s.NextDispatch.P99 <= 300)
			case signalKill:
				limit := ttl + time.Second
				add(fmt.Sprintf("SIGKILL: signal → next dispatch max (TTL %s)", s.TTL), fmt.Sprintf("≤ TTL + 1 s = %s", limit),
					fmt.Sprintf("%.0f ms (p99 %.0f, %d trials)", s.NextDispatch.Max, s.NextDispatch.P99, s.NextDispatch.Count), s.NextDispatch.Max <= ms(limit))
			}
		}
		dups := 0
		for _, h := range f.Results.Checks {
			dups += h.Duplicates + h.StaleClaims + h.SilentLosses
		}
		add("failover: duplicates, stale claims, silent losses", "0", fmt.Sprint(dups), dups == 0)
	}
	if f := r.Scenarios.Footprint; f != nil {
		fr := f.Results
		// The goal is for what a job costs beyond its spec, which any replica has to hold.
		beyond := max(fr.PerJob.LeaderRSS, fr.PerJob.FollowerRSS) - float64(fr.SpecBytes)
		add(fmt.Sprintf("memory per job beyond its spec (RSS, %d jobs)", f.Parameters.Jobs), "≤ 2 KiB",
			fmt.Sprintf("%.0f B (RSS leader %.0f, follower %.0f; heap %.0f / %.0f; minus the spec's %d B)", beyond, fr.PerJob.LeaderRSS, fr.PerJob.FollowerRSS,
				fr.PerJob.LeaderHeap, fr.PerJob.FollowerHeap, fr.SpecBytes), beyond <= 2048)
		if fr.RunsAlone.Leader.RSSBytes > 0 { // measured
			// Per job: the busy leader's RSS less the same runs' without the idle jobs. The
			// runs' own cost, which does not grow with the jobs, is shown beside it.
			busy, whole := fr.PerJob.BusyLeaderRSSPerJob-float64(fr.SpecBytes), fr.PerJob.BusyLeaderRSS-float64(fr.SpecBytes)
			add(fmt.Sprintf("memory per job beyond its spec, busy (leader RSS with %d jobs @every 1s, less theirs alone, ÷ %d jobs)", f.Parameters.BusyJobs+1, f.Parameters.Jobs), "≤ 2 KiB",
				fmt.Sprintf("%.0f B (%.0f B minus the spec's %d B); the runs' %.1f MiB charged to the jobs too: %.0f B", busy, fr.PerJob.BusyLeaderRSSPerJob, fr.SpecBytes,
					float64(fr.RunsAlone.Leader.RSSBytes-fr.Empty.Leader.RSSBytes)/(1<<20), whole), busy <= 2048)
		}
		if bw := fr.BusyWrites; bw.Runs > 0 {
			add(fmt.Sprintf("etcd writes per dispatched run (raft proposals; %.0f s, %d jobs @every 1s, pruning included)", f.Parameters.BusyWindowSeconds, f.Parameters.BusyJobs+1),
				"≤ 2", fmt.Sprintf("%.2f proposals (%.2f puts, %.2f deletes)", bw.ProposalsPerRun, bw.PutsPerRun, bw.DeletesPerRun),
				bw.ProposalsPerRun > 0 && bw.ProposalsPerRun <= 2)
		}
		add(fmt.Sprintf("new leader ready after SIGTERM (%d jobs; goal at 100k)", fr.Takeover.Jobs), "≤ 1 s",
			fmt.Sprintf("%.0f ms (first dispatch %.0f ms)", fr.Takeover.ReadyMs, fr.Takeover.FirstDispatchMs), fr.Takeover.ReadyMs <= 1000)
	}
	if h := r.Scenarios.History; h != nil {
		hr := h.Results
		m := fmt.Sprintf("run keys ≤ %d (history.keep allows %d); in use %s MiB (second quarter) → %s MiB (last quarter); %s MiB after defragmentation",
			hr.RunKeysMax, hr.RunKeysBound, mib(hr.InUseSecondQuarterMax), mib(hr.InUseLastQuarterMax), mib(hr.DefragSizeBytes))
		if !hr.Judged {
			m = fmt.Sprintf("not judged: %d runs per job is too few for the records to reach history.keep (--runs)", h.Parameters.Runs/h.Parameters.Jobs)
		}
		add(fmt.Sprintf("etcd after %d runs, default history retention (%d jobs @every 1s)", hr.Dispatched, h.Parameters.Jobs), "bounded", m, hr.bounded())
	}
	return out
}

// sustainedStep is the largest ramp step that kept up.
func sustainedStep(c ceilingResults) (ceilingStep, bool) {
	for i := len(c.Steps) - 1; i >= 0; i-- {
		if c.Steps[i].Jobs == c.SustainedJobs {
			return c.Steps[i], true
		}
	}
	return ceilingStep{}, false
}
