package scheduler

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/schedulerd/schedulerd/pkg/store"
)

// The per-job families, as docs/metrics.md, the dashboard and the alerts name them.
var perJobFamilies = []string{
	"schedulerd_runs_total", "schedulerd_runs_skipped_total",
	"schedulerd_job_consecutive_failures", "schedulerd_fence_rejections_total",
}

// A new job's series, exactly as the vectors exported them before the collector replaced
// them: names, help, types, label names and values.
func TestJobSeriesExposition(t *testing.T) {
	m := newMetrics(nil)
	m.addJob("a")
	const want = `
# HELP schedulerd_fence_rejections_total Dispatches a target guarded by package fence refused, by job and kind (stale-token: a newer leader reached it first; duplicate-run: it had the run already).
# TYPE schedulerd_fence_rejections_total counter
schedulerd_fence_rejections_total{job_name="a",kind="duplicate-run"} 0
schedulerd_fence_rejections_total{job_name="a",kind="stale-token"} 0
# HELP schedulerd_job_consecutive_failures Runs of the job that failed in a row, as this replica saw them finish (reset by a success; starts at 0 on each replica).
# TYPE schedulerd_job_consecutive_failures gauge
schedulerd_job_consecutive_failures{job_name="a"} 0
# HELP schedulerd_runs_skipped_total Runs recorded as skipped instead of dispatched, by job and reason (missed: later than the misfire grace; catchup-limit; overlap; paused).
# TYPE schedulerd_runs_skipped_total counter
schedulerd_runs_skipped_total{job_name="a",reason="catchup-limit"} 0
schedulerd_runs_skipped_total{job_name="a",reason="missed"} 0
schedulerd_runs_skipped_total{job_name="a",reason="overlap"} 0
schedulerd_runs_skipped_total{job_name="a",reason="paused"} 0
# HELP schedulerd_runs_total Runs that reached an outcome on this replica, by job, outcome (succeeded, failed, skipped, cancelled, unknown: its leader died before recording a result) and reason (skipped: missed, catchup-limit, overlap, paused; failed: timeout; else empty).
# TYPE schedulerd_runs_total counter
schedulerd_runs_total{job_name="a",outcome="cancelled",reason=""} 0
schedulerd_runs_total{job_name="a",outcome="failed",reason=""} 0
schedulerd_runs_total{job_name="a",outcome="failed",reason="timeout"} 0
schedulerd_runs_total{job_name="a",outcome="skipped",reason="catchup-limit"} 0
schedulerd_runs_total{job_name="a",outcome="skipped",reason="missed"} 0
schedulerd_runs_total{job_name="a",outcome="skipped",reason="overlap"} 0
schedulerd_runs_total{job_name="a",outcome="skipped",reason="paused"} 0
schedulerd_runs_total{job_name="a",outcome="succeeded",reason=""} 0
schedulerd_runs_total{job_name="a",outcome="unknown",reason=""} 0
`
	if err := testutil.CollectAndCompare(m.jobs, strings.NewReader(want), perJobFamilies...); err != nil {
		t.Error(err)
	}
}

// Counters carry a created timestamp, as the vectors' did: the job's from when it appeared,
// an overflow series' from its first count.
func TestJobSeriesCreated(t *testing.T) {
	added := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	first := added.Add(time.Hour)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.jobs.now = func() time.Time { return added }
	m.addJob("a")
	m.jobs.now = func() time.Time { return first }
	m.counted(store.Run{Job: "a", State: store.StateFailed, Reason: "oom"}, 1)
	m.addJob("a") // an update of the job: not a new one

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counters := 0
	for _, mf := range mfs {
		if !slices.Contains(perJobFamilies, mf.GetName()) {
			continue
		}
		for _, s := range mf.GetMetric() {
			if s.GetCounter() == nil {
				continue
			}
			counters++
			want := added
			if key(mf.GetName(), s.GetLabel()) == `schedulerd_runs_total{job_name="a",outcome="failed",reason="oom"}` {
				want = first
			}
			if got := s.GetCounter().GetCreatedTimestamp().AsTime(); !got.Equal(want) {
				t.Errorf("%s: created %v, want %v", key(mf.GetName(), s.GetLabel()), got, want)
			}
		}
	}
	if counters != 16 {
		t.Errorf("%d counters, want 16", counters)
	}
}

// A job's counts are made at its first count: until then it is exported at zero from the
// map entry alone (most jobs on most replicas never get counts).
func TestJobCountsAtFirstCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.addJob("a")
	m.addJob("b")
	m.skip("b", store.ReasonOverlap, 2)
	if c := m.jobs.jobs["a"].c; c != nil {
		t.Errorf("job a has counts %p before its first count", c)
	}
	if m.jobs.jobs["b"].c == nil {
		t.Error("job b has no counts after its first")
	}
	got := perJob(t, reg)
	want := with(fresh("a"), fresh("b"))
	want[`schedulerd_runs_skipped_total{job_name="b",reason="overlap"}`] = 2
	if !maps.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}
	if noCounts.runs[0].Load() != 0 || noCounts.skipped[2].Load() != 0 {
		t.Error("the shared zero counts were written")
	}
}

func TestJobSeries(t *testing.T) {
	run := func(job string, state store.State, reason string) store.Run {
		return store.Run{Job: job, State: state, Reason: reason}
	}
	tests := []struct {
		name string
		do   func(m *metrics)
		want map[string]float64
	}{{
		name: "a new job's 16 series start at zero",
		do:   func(m *metrics) { m.addJob("a") },
		want: fresh("a"),
	}, {
		name: "outcomes, skips and refusals count in their own series",
		do: func(m *metrics) {
			m.addJob("a")
			m.counted(run("a", store.StateSucceeded, ""), 1)
			m.counted(run("a", store.StateFailed, store.ReasonTimeout), 1)
			m.counted(run("a", store.StateSkipped, store.ReasonMissed), 3)
			m.skip("a", store.ReasonMissed, 3)
			m.counted(run("a", store.StateSkipped, store.ReasonOverlap), 1)
			m.skip("a", store.ReasonOverlap, 1)
			m.counted(run("a", store.StateCancelled, ""), 1)
			m.counted(run("a", store.StateUnknown, ""), 2)
			m.refuse("a", FenceStaleToken)
			m.refuse("a", FenceStaleToken)
			m.refuse("a", FenceDuplicateRun)
		},
		want: with(fresh("a"), map[string]float64{
			`schedulerd_runs_total{job_name="a",outcome="succeeded",reason=""}`:      1,
			`schedulerd_runs_total{job_name="a",outcome="failed",reason="timeout"}`:  1,
			`schedulerd_runs_total{job_name="a",outcome="skipped",reason="missed"}`:  3,
			`schedulerd_runs_total{job_name="a",outcome="skipped",reason="overlap"}`: 1,
			`schedulerd_runs_total{job_name="a",outcome="cancelled",reason=""}`:      1,
			`schedulerd_runs_total{job_name="a",outcome="unknown",reason=""}`:        2,
			`schedulerd_runs_skipped_total{job_name="a",reason="missed"}`:            3,
			`schedulerd_runs_skipped_total{job_name="a",reason="overlap"}`:           1,
			`schedulerd_fence_rejections_total{job_name="a",kind="stale-token"}`:     2,
			`schedulerd_fence_rejections_total{job_name="a",kind="duplicate-run"}`:   1,
			`schedulerd_job_consecutive_failures{job_name="a"}`:                      1,
		}),
	}, {
		name: "failures in a row: a success resets them, other outcomes do not",
		do: func(m *metrics) {
			m.addJob("a")
			m.counted(run("a", store.StateFailed, ""), 1)
			m.counted(run("a", store.StateSucceeded, ""), 1)
			m.counted(run("a", store.StateFailed, ""), 1)
			m.counted(run("a", store.StateCancelled, ""), 1)
			m.counted(run("a", store.StateSkipped, store.ReasonOverlap), 1)
			m.counted(run("a", store.StateUnknown, ""), 1)
			m.counted(run("a", store.StateFailed, store.ReasonTimeout), 1)
		},
		want: with(fresh("a"), map[string]float64{
			`schedulerd_runs_total{job_name="a",outcome="failed",reason=""}`:         2,
			`schedulerd_runs_total{job_name="a",outcome="failed",reason="timeout"}`:  1,
			`schedulerd_runs_total{job_name="a",outcome="succeeded",reason=""}`:      1,
			`schedulerd_runs_total{job_name="a",outcome="cancelled",reason=""}`:      1,
			`schedulerd_runs_total{job_name="a",outcome="skipped",reason="overlap"}`: 1,
			`schedulerd_runs_total{job_name="a",outcome="unknown",reason=""}`:        1,
			`schedulerd_job_consecutive_failures{job_name="a"}`:                      2,
		}),
	}, {
		name: "values outside the tables are exported too",
		do: func(m *metrics) {
			m.addJob("a")
			m.counted(run("a", store.StateFailed, "oom"), 1)
			m.counted(run("a", store.StateFailed, "oom"), 1)
			m.counted(run("a", store.StateSkipped, "quota"), 2)
			m.skip("a", "quota", 2)
			m.refuse("a", "lease-lost")
		},
		want: with(fresh("a"), map[string]float64{
			`schedulerd_runs_total{job_name="a",outcome="failed",reason="oom"}`:    2,
			`schedulerd_runs_total{job_name="a",outcome="skipped",reason="quota"}`: 2,
			`schedulerd_runs_skipped_total{job_name="a",reason="quota"}`:           2,
			`schedulerd_fence_rejections_total{job_name="a",kind="lease-lost"}`:    1,
			`schedulerd_job_consecutive_failures{job_name="a"}`:                    2,
		}),
	}, {
		name: "an update of a job keeps its counts",
		do: func(m *metrics) {
			m.addJob("a")
			m.counted(run("a", store.StateFailed, ""), 1)
			m.addJob("a")
		},
		want: with(fresh("a"), map[string]float64{
			`schedulerd_runs_total{job_name="a",outcome="failed",reason=""}`: 1,
			`schedulerd_job_consecutive_failures{job_name="a"}`:              1,
		}),
	}, {
		name: "deleteJob drops every series of that job and only those",
		do: func(m *metrics) {
			m.addJob("a")
			m.addJob("b")
			m.addJob("ab") // a prefix match would take it too
			for _, j := range []string{"a", "b"} {
				m.counted(run(j, store.StateFailed, ""), 1)
				m.counted(run(j, store.StateFailed, "oom"), 1)
				m.skip(j, "quota", 1)
				m.refuse(j, FenceStaleToken)
			}
			m.deleteJob("a")
		},
		want: with(with(fresh("b"), fresh("ab")), map[string]float64{
			`schedulerd_runs_total{job_name="b",outcome="failed",reason=""}`:     1,
			`schedulerd_runs_total{job_name="b",outcome="failed",reason="oom"}`:  1,
			`schedulerd_runs_skipped_total{job_name="b",reason="quota"}`:         1,
			`schedulerd_fence_rejections_total{job_name="b",kind="stale-token"}`: 1,
			`schedulerd_job_consecutive_failures{job_name="b"}`:                  2,
		}),
	}, {
		// A run finishing after its job was deleted must not bring the job's series back.
		name: "counting for a job not there is ignored",
		do: func(m *metrics) {
			m.addJob("a")
			m.deleteJob("a")
			for _, j := range []string{"a", "never-added"} {
				m.counted(run(j, store.StateFailed, ""), 1)
				m.counted(run(j, store.StateFailed, "oom"), 1)
				m.skip(j, store.ReasonMissed, 1)
				m.skip(j, "quota", 1)
				m.refuse(j, FenceStaleToken)
				m.refuse(j, "lease-lost")
			}
		},
		want: map[string]float64{},
	}, {
		name: "a job deleted and added again starts from zero",
		do: func(m *metrics) {
			m.addJob("a")
			m.counted(run("a", store.StateFailed, ""), 1)
			m.counted(run("a", store.StateFailed, "oom"), 1)
			m.deleteJob("a")
			m.addJob("a")
		},
		want: fresh("a"),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := newMetrics(reg)
			tc.do(m)
			got := perJob(t, reg)
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if w, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s %v", k, got[k])
				} else if got[k] != w {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(tc.want)) {
				if _, ok := got[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
		})
	}
}

// Counting, adding and deleting jobs and scraping all at once: -race sees no unguarded access
// to the maps (it fails if count or Collect skips the lock), and the churn of other jobs
// costs the steady job none of its counts.
func TestJobSeriesConcurrent(t *testing.T) {
	const workers, each = 4, 500
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.addJob("steady")
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m.addJob("churn")
				m.counted(store.Run{Job: "steady", State: store.StateFailed}, 1)
				m.counted(store.Run{Job: "steady", State: store.StateFailed, Reason: "oom"}, 1)
				m.counted(store.Run{Job: "churn", State: store.StateFailed, Reason: "oom"}, 1)
				m.skip("steady", store.ReasonOverlap, 1)
				m.refuse("steady", FenceDuplicateRun)
				m.deleteJob("churn")
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	got := perJob(t, reg)
	for k, want := range map[string]float64{
		`schedulerd_runs_total{job_name="steady",outcome="failed",reason=""}`:       workers * each,
		`schedulerd_runs_total{job_name="steady",outcome="failed",reason="oom"}`:    workers * each,
		`schedulerd_job_consecutive_failures{job_name="steady"}`:                    2 * workers * each,
		`schedulerd_runs_skipped_total{job_name="steady",reason="overlap"}`:         workers * each,
		`schedulerd_fence_rejections_total{job_name="steady",kind="duplicate-run"}`: workers * each,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// fresh is a new job's 16 series, all at zero.
func fresh(job string) map[string]float64 {
	out := map[string]float64{
		`schedulerd_job_consecutive_failures{job_name="` + job + `"}`: 0,
	}
	for _, o := range []string{`"succeeded",reason=""`, `"failed",reason=""`, `"failed",reason="timeout"`,
		`"skipped",reason="missed"`, `"skipped",reason="catchup-limit"`, `"skipped",reason="overlap"`,
		`"skipped",reason="paused"`, `"cancelled",reason=""`, `"unknown",reason=""`} {
		out[`schedulerd_runs_total{job_name="`+job+`",outcome=`+o+`}`] = 0
	}
	for _, r := range []string{"missed", "catchup-limit", "overlap", "paused"} {
		out[`schedulerd_runs_skipped_total{job_name="`+job+`",reason="`+r+`"}`] = 0
	}
	for _, k := range []string{"stale-token", "duplicate-run"} {
		out[`schedulerd_fence_rejections_total{job_name="`+job+`",kind="`+k+`"}`] = 0
	}
	return out
}

// with is base with over's values set.
func with(base, over map[string]float64) map[string]float64 {
	out := maps.Clone(base)
	maps.Copy(out, over)
	return out
}

// perJob gathers reg's per-job series by key (name{label="value",…}).
func perJob(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !slices.Contains(perJobFamilies, mf.GetName()) {
			continue
		}
		for _, s := range mf.GetMetric() {
			v := s.GetGauge().GetValue()
			if s.GetCounter() != nil {
				v = s.GetCounter().GetValue()
			}
			out[key(mf.GetName(), s.GetLabel())] = v
		}
	}
	return out
}

// key names a series as name{label="value",…}, labels in the order Gather sorts them.
func key[L interface {
	GetName() string
	GetValue() string
}](name string, labels []L) string {
	pairs := make([]string, len(labels))
	for i, l := range labels {
		pairs[i] = l.GetName() + `="` + l.GetValue() + `"`
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}
