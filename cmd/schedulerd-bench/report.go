package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// report is what --out writes.
type report struct {
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Machine   machine   `json:"machine"`
	Setup     setup     `json:"setup"`
	Scenarios scenarios `json:"scenarios"`
	Goals     []goal    `json:"goals"`
}

// setup is what every scenario shares.
type setup struct {
	EtcdMembers int  `json:"etcdMembers"`
	Replicas    int  `json:"replicas"`
	Quick       bool `json:"quick"`
}

type scenarios struct {
	Limit     *limitReport     `json:"limit,omitempty"`
	Ceiling   *ceilingReport   `json:"ceiling,omitempty"`
	Lateness  *latenessReport  `json:"lateness,omitempty"`
	Failover  *failoverReport  `json:"failover,omitempty"`
	Footprint *footprintReport `json:"footprint,omitempty"`
	History   *historyReport   `json:"history,omitempty"`
}

// scenarioInfo is when and under what load a scenario ran.
type scenarioInfo struct {
	// LoadAverage* are /proc/loadavg's 1, 5 and 15 minute averages as the scenario started
	// and ended: other work on the machine skews every timing.
	LoadAverageStart [3]float64 `json:"loadAverageStart"`
	LoadAverageEnd   [3]float64 `json:"loadAverageEnd"`
	Seconds          float64    `json:"seconds"`
}

// writeScenario prints scenario s's table.
func (r *report) writeScenario(out io.Writer, s string) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(w, "\t")
			}
			fmt.Fprint(w, c)
		}
		fmt.Fprintln(w)
	}
	// dbRows prints etcd's size as sampled through a phase.
	dbRows := func(samples []dbSample) {
		row("after s", "runs dispatched", "run keys", "db size MiB", "db in use MiB", "keys (etcd)")
		for _, d := range samples {
			row(f0(d.AfterSeconds), d.Dispatched, d.RunKeys, f2(float64(d.DBSizeBytes)/(1<<20)), f2(float64(d.DBInUseBytes)/(1<<20)), d.EtcdKeys)
		}
	}
	fmt.Fprintln(w)
	switch s {
	case scenarioLimit:
		l := r.Scenarios.Limit
		fmt.Fprintf(w, "limit: raw etcd txns, %s, %d member(s), load %.2f\n", l.Parameters.Shape, l.Parameters.EtcdMembers, l.LoadAverageStart[0])
		row("concurrency", "txns", "txn/s", "p50 ms", "p99 ms", "errors")
		for _, t := range l.Results {
			row(t.Concurrency, t.Txns, f0(t.TxnsPerSec), f2(t.Latency.P50), f2(t.Latency.P99), t.Errors)
		}
		for _, t := range l.Results {
			if t.FirstError != "" {
				fmt.Fprintf(w, "%d concurrent: first error: %s\n", t.Concurrency, t.FirstError)
			}
		}
	case scenarioCeiling:
		c := r.Scenarios.Ceiling
		fmt.Fprintf(w, "ceiling: @every 1s jobs, %gs per step, load %.2f; baseline %.0f txn/s (16 concurrent)\n", c.Parameters.StepWindowSeconds, c.LoadAverageStart[0], c.Results.BaselineTxnsPerSec)
		row("jobs", "slots/s", "dispatches/s", "lateness p50 ms", "p99 ms", "max ms", "skipped", "puts/run", "deletes/run", "proposals/run", "verdict")
		for _, s := range c.Results.Steps {
			row(s.Jobs, f0(s.SlotsPerSec), f1(s.DispatchesPerSec), f1(s.Lateness.P50), f1(s.Lateness.P99), f1(s.Lateness.Max), f0(s.Skipped),
				f2(s.PutsPerRun), f2(s.DeletesPerRun), f2(s.ProposalsPerRun), s.Verdict)
		}
		fmt.Fprintf(w, "sustained: %d jobs, %.1f dispatches/s = %.2f × baseline; peak %.1f dispatches/s\n", c.Results.SustainedJobs,
			c.Results.SustainedDispatchesPerSec, c.Results.SustainedRatio, c.Results.PeakDispatchesPerSec)
	case scenarioLateness:
		l := r.Scenarios.Lateness
		fmt.Fprintf(w, "lateness: receive time − Schedulerd-Scheduled-Time, load %.2f\n", l.LoadAverageStart[0])
		row("variant", "jobs", "slots", "delivered", "p50 ms", "p99 ms", "max ms", "all dispatched after ms")
		for _, s := range l.Results.Spread {
			row("spread", s.Jobs, s.SlotsOwed, s.Delivered, f1(s.Lateness.P50), f1(s.Lateness.P99), f1(s.Lateness.Max), "")
			row(fmt.Sprintf("  floor: %d at once", s.Floor.PerSecond), "", s.Floor.Lateness.Count, s.Floor.Lateness.Count,
				f1(s.Floor.Lateness.P50), f1(s.Floor.Lateness.P99), f1(s.Floor.Lateness.Max), "")
		}
		for _, a := range l.Results.Aligned {
			for _, in := range a.Instants {
				all := "not all"
				if in.Delivered == a.Jobs {
					all = f1(in.AllDispatchedMs)
				}
				row("aligned "+in.At.Format("15:04:05"), a.Jobs, a.Jobs, in.Delivered, f1(in.Lateness.P50), f1(in.Lateness.P99), f1(in.Lateness.Max), all)
			}
		}
	case scenarioFailover:
		f := r.Scenarios.Failover
		fmt.Fprintf(w, "failover: signal → next dispatch of a later slot (any replica), and → first dispatch by the new leader; %d replicas, load %.2f\n", r.Setup.Replicas, f.LoadAverageStart[0])
		row("TTL", "signal", "trials", "next p50 ms", "p99 ms", "max ms", "new leader p50 ms", "p99 ms", "max ms", "slots not delivered", "duplicates")
		for _, s := range f.Results.Summaries {
			row(s.TTL, s.Signal, s.Failover.Count, f0(s.NextDispatch.P50), f0(s.NextDispatch.P99), f0(s.NextDispatch.Max),
				f0(s.Failover.P50), f0(s.Failover.P99), f0(s.Failover.Max), s.NotDelivered, s.Duplicates)
		}
		for _, h := range f.Results.Checks {
			fmt.Fprintf(w, "TTL %s, whole history: %d slots owed, %d requests accepted, %d duplicates, %d stale claims, %d silent losses, skipped %v, %d in doubt, %d fence rejections\n",
				h.TTL, h.Slots, h.Dispatches, h.Duplicates, h.StaleClaims, h.SilentLosses, h.Skipped, h.InDoubt, h.FenceRejections)
		}
	case scenarioFootprint:
		f := r.Scenarios.Footprint
		fr := f.Results
		fmt.Fprintf(w, "footprint: %d jobs (%d busy @every 1s), stored spec %d B/job, load %.2f\n", f.Parameters.Jobs, f.Parameters.BusyJobs, fr.SpecBytes, f.LoadAverageStart[0])
		row("phase", "leader RSS MiB", "leader heap MiB", "leader CPU %", "follower RSS MiB", "follower heap MiB", "follower CPU %")
		for _, ph := range []struct {
			name string
			s    phaseSample
		}{{"no jobs", fr.Empty}, {"idle", fr.Idle}, {"busy", fr.Busy}, {"runs alone", fr.RunsAlone}} {
			row(ph.name, mib(ph.s.Leader.RSSBytes), mib(int64(ph.s.Leader.HeapInuseBytes)), f1(ph.s.Leader.CPUPercent),
				mib(ph.s.Follower.RSSBytes), mib(int64(ph.s.Follower.HeapInuseBytes)), f1(ph.s.Follower.CPUPercent))
		}
		fmt.Fprintf(w, "per job (idle − no jobs): leader RSS %.0f B (anonymous %.0f), heap %.0f B; follower RSS %.0f B (anonymous %.0f), heap %.0f B\n",
			fr.PerJob.LeaderRSS, fr.PerJob.LeaderRSSAnon, fr.PerJob.LeaderHeap, fr.PerJob.FollowerRSS, fr.PerJob.FollowerRSSAnon, fr.PerJob.FollowerHeap)
		fmt.Fprintf(w, "busy leader: RSS %.0f B per idle job (busy − runs alone), %.0f B with the runs' cost (busy − no jobs); %.1f MiB more than the idle leader's; the runs alone %.1f MiB more than no jobs\n",
			fr.PerJob.BusyLeaderRSSPerJob, fr.PerJob.BusyLeaderRSS, float64(fr.Busy.Leader.RSSBytes-fr.Idle.Leader.RSSBytes)/(1<<20),
			float64(fr.RunsAlone.Leader.RSSBytes-fr.Empty.Leader.RSSBytes)/(1<<20))
		fmt.Fprintf(w, "new leader after SIGTERM at %d jobs: loop ready %.0f ms, first dispatch (probe job) %.0f ms\n", fr.Takeover.Jobs, fr.Takeover.ReadyMs, fr.Takeover.FirstDispatchMs)
		bw := fr.BusyWrites
		fmt.Fprintf(w, "busy: %.1f dispatches/s; etcd per run: %.2f proposals, %.2f puts, %.2f deletes (%d runs)\n", fr.Busy.DispatchesPerSec,
			bw.ProposalsPerRun, bw.PutsPerRun, bw.DeletesPerRun, bw.Runs)
		dbRows(fr.DB)
	case scenarioHistory:
		h := r.Scenarios.History
		hr := h.Results
		fmt.Fprintf(w, "history: %d jobs @every 1s, history.keep %d, etcd compacted every %.0f s to %.0f s ago, load %.2f\n", h.Parameters.Jobs, h.Parameters.HistoryKeep,
			h.Parameters.CompactEverySeconds, h.Parameters.CompactRetentionSeconds, h.LoadAverageStart[0])
		dbRows(hr.Samples)
		fmt.Fprintf(w, "%d runs in %.0f s (%.0f/s); run keys at most %d (history.keep allows %d); db in use, largest: %s MiB in the second quarter of the runs, %s MiB in the last; file after defragmentation %s MiB\n",
			hr.Dispatched, hr.Seconds, hr.DispatchesPerSec, hr.RunKeysMax, hr.RunKeysBound, mib(hr.InUseSecondQuarterMax), mib(hr.InUseLastQuarterMax), mib(hr.DefragSizeBytes))
	}
	return w.Flush()
}

// writeGoals prints the goals of the issue next to what was measured.
func (r *report) writeGoals(out io.Writer) error {
	if len(r.Goals) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "goal\ttarget\tmeasured\tverdict")
	for _, g := range r.Goals {
		v := "not met"
		if g.Met {
			v = "met"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", g.Goal, g.Target, g.Measured, v)
	}
	return w.Flush()
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func mib(b int64) string  { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
