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

type metrics struct {
	runs     *prometheus.CounterVec // job, outcome
	skipped  *prometheus.CounterVec // job, reason
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
			Help: "Runs that reached an outcome on this replica, by job and outcome (succeeded, failed, skipped, unknown: its leader died before recording a result).",
		}, []string{"job", "outcome"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_runs_skipped_total",
			Help: "Runs recorded as skipped instead of dispatched, by job and reason (missed: later than the misfire grace).",
		}, []string{"job", "reason"}),
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

// addJob pre-creates a job's series, so rates start from zero rather than from absence.
func (m *metrics) addJob(name string) {
	for _, o := range []store.State{store.StateSucceeded, store.StateFailed, store.StateSkipped, store.StateUnknown, store.StateCancelled} {
		m.runs.WithLabelValues(name, string(o))
	}
	m.skipped.WithLabelValues(name, store.ReasonMissed)
	m.skipped.WithLabelValues(name, store.ReasonCatchupLimit)
	m.skipped.WithLabelValues(name, store.ReasonOverlap)
	m.skipped.WithLabelValues(name, store.ReasonPaused)
}

// deleteJob drops a deleted job's series.
func (m *metrics) deleteJob(name string) {
	m.runs.DeletePartialMatch(prometheus.Labels{"job": name})
	m.skipped.DeletePartialMatch(prometheus.Labels{"job": name})
}
