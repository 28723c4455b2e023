package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/schedulerd/schedulerd/pkg/store"
)

// Claim results, the result label of schedulerd_claims_total.
const (
	claimOK         = "ok"
	claimFenced     = "fenced"
	claimExists     = "exists"
	claimJobChanged = "job_changed"
	claimError      = "error"
)

// Per-job series carry the job's name as job_name, not job: Prometheus gives every scraped
// series its own job label (the scrape job), which would shadow ours.
type metrics struct {
	runs     *prometheus.CounterVec // job, outcome, reason
	skipped  *prometheus.CounterVec // job, reason
	failing  *prometheus.GaugeVec   // job
	refusals *prometheus.CounterVec // job, kind
	claims   *prometheus.CounterVec // result
	lateness prometheus.Histogram
	duration prometheus.Histogram
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_runs_total",
			Help: "Runs that reached an outcome on this replica, by job, outcome (succeeded, failed, skipped, cancelled, unknown: its leader died before recording a result) and reason (skipped: missed, catchup-limit, overlap, paused; failed: timeout; else empty).",
		}, []string{"job_name", "outcome", "reason"}),
		failing: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "schedulerd_job_consecutive_failures",
			Help: "Runs of the job that failed in a row, as this replica saw them finish (reset by a success; starts at 0 on each replica).",
		}, []string{"job_name"}),
		refusals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_fence_rejections_total",
			Help: "Dispatches a target guarded by package fence refused, by job and kind (stale-token: a newer leader reached it first; duplicate-run: it had the run already).",
		}, []string{"job_name", "kind"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_runs_skipped_total",
			Help: "Runs recorded as skipped instead of dispatched, by job and reason (missed: later than the misfire grace; catchup-limit; overlap; paused).",
		}, []string{"job_name", "reason"}),
		claims: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_claims_total",
			Help: "Fenced claim transactions by result (ok, fenced: not leader, exists: already recorded, job_changed, error: etcd failed or ambiguous).",
		}, []string{"result"}),
		lateness: f.NewHistogram(prometheus.HistogramOpts{
			Name:                        "schedulerd_dispatch_lateness_seconds",
			Help:                        "Time from a run's scheduled instant to its dispatch.",
			Buckets:                     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
			NativeHistogramBucketFactor: 1.1,
		}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:                        "schedulerd_run_duration_seconds",
			Help:                        "Time from dispatch to the target's answer (or the error).",
			Buckets:                     []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
			NativeHistogramBucketFactor: 1.1,
		}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "schedulerd_runs_in_flight",
			Help: "Dispatched runs of this replica still waiting for their target.",
		}),
	}
	for _, r := range []string{claimOK, claimFenced, claimExists, claimJobChanged, claimError} {
		m.claims.WithLabelValues(r)
	}
	return m
}

// outcomes are the (outcome, reason) pairs of schedulerd_runs_total a job's series start with.
var outcomes = [][2]string{
	{string(store.StateSucceeded), ""}, {string(store.StateFailed), ""}, {string(store.StateFailed), store.ReasonTimeout},
	{string(store.StateSkipped), store.ReasonMissed}, {string(store.StateSkipped), store.ReasonCatchupLimit},
	{string(store.StateSkipped), store.ReasonOverlap}, {string(store.StateSkipped), store.ReasonPaused},
	{string(store.StateCancelled), ""}, {string(store.StateUnknown), ""},
}

// addJob pre-creates a job's series, so rates start from zero rather than from absence.
func (m *metrics) addJob(name string) {
	for _, o := range outcomes {
		m.runs.WithLabelValues(name, o[0], o[1])
	}
	for _, r := range []string{store.ReasonMissed, store.ReasonCatchupLimit, store.ReasonOverlap, store.ReasonPaused} {
		m.skipped.WithLabelValues(name, r)
	}
	m.failing.WithLabelValues(name)
	m.refusals.WithLabelValues(name, FenceStaleToken)
	m.refusals.WithLabelValues(name, FenceDuplicateRun)
}

// counted records a run's outcome: schedulerd_runs_total, and the job's failures in a row.
func (m *metrics) counted(run store.Run, n int) {
	m.runs.WithLabelValues(run.Job, string(run.State), run.Reason).Add(float64(n))
	switch run.State {
	case store.StateSucceeded:
		m.failing.WithLabelValues(run.Job).Set(0)
	case store.StateFailed:
		m.failing.WithLabelValues(run.Job).Inc()
	}
}

// deleteJob drops a deleted job's series.
func (m *metrics) deleteJob(name string) {
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.runs, m.skipped, m.failing, m.refusals} {
		v.DeletePartialMatch(prometheus.Labels{"job_name": name})
	}
}
