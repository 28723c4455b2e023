package scheduler

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	jobs     *jobSeries
	claims   *prometheus.CounterVec // result
	lateness prometheus.Histogram
	duration prometheus.Histogram
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		jobs: newJobSeries(),
		claims: f.NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_claims_total",
			Help: "Fenced claims of a job's runs by result (ok, fenced: not leader, exists: already recorded, job_changed, error: etcd failed or ambiguous); many go in one transaction.",
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
	if reg != nil { // as promauto: no registerer, no registration
		reg.MustRegister(m.jobs)
	}
	for _, r := range []string{claimOK, claimFenced, claimExists, claimJobChanged, claimError} {
		m.claims.WithLabelValues(r)
	}
	return m
}

// addJob creates a job's series at zero, so rates start from zero rather than from absence.
// A job already there keeps its counts: Run calls this for every change of a job in the cache.
func (m *metrics) addJob(name string) { m.jobs.add(name) }

// deleteJob drops a deleted job's series.
func (m *metrics) deleteJob(name string) { m.jobs.delete(name) }

// counted records a run's outcome: schedulerd_runs_total, and the job's failures in a row.
func (m *metrics) counted(run store.Run, n int) {
	c := m.jobs.count(run.Job, famRuns, string(run.State), run.Reason, n)
	if c == nil {
		return
	}
	switch run.State {
	case store.StateSucceeded:
		c.failing.Store(0)
	case store.StateFailed:
		c.failing.Add(1)
	}
}

// skip counts n runs of a job recorded as skipped for reason (schedulerd_runs_skipped_total).
func (m *metrics) skip(job, reason string, n int) { m.jobs.count(job, famSkipped, reason, "", n) }

// refuse counts a dispatch that a job's fenced target refused, by kind
// (schedulerd_fence_rejections_total).
func (m *metrics) refuse(job, kind string) { m.jobs.count(job, famRefusals, kind, "", 1) }

// The label values each job's series start with. A job's counts are arrays indexed like these
// tables; a value outside them (a reason added to the store but not here) is counted in the
// job's overflow map instead, so it is exported all the same.
var (
	// outcomes are the (outcome, reason) pairs of schedulerd_runs_total.
	outcomes = [...][2]string{
		{string(store.StateSucceeded), ""}, {string(store.StateFailed), ""}, {string(store.StateFailed), store.ReasonTimeout},
		{string(store.StateSkipped), store.ReasonMissed}, {string(store.StateSkipped), store.ReasonCatchupLimit},
		{string(store.StateSkipped), store.ReasonOverlap}, {string(store.StateSkipped), store.ReasonPaused},
		{string(store.StateCancelled), ""}, {string(store.StateUnknown), ""},
	}
	// skipReasons are the reasons of schedulerd_runs_skipped_total.
	skipReasons = [...]string{store.ReasonMissed, store.ReasonCatchupLimit, store.ReasonOverlap, store.ReasonPaused}
	// fenceKinds are the kinds of schedulerd_fence_rejections_total.
	fenceKinds = [...]string{FenceStaleToken, FenceDuplicateRun}
)

// Per-job series carry the job's name as job_name, not job: Prometheus gives every scraped
// series its own job label (the scrape job), which would shadow ours.
var (
	runsDesc = prometheus.NewDesc("schedulerd_runs_total",
		"Runs that reached an outcome on this replica, by job, outcome (succeeded, failed, skipped, cancelled, unknown: its leader died before recording a result) and reason (skipped: missed, catchup-limit, overlap, paused; failed: timeout; else empty).",
		[]string{"job_name", "outcome", "reason"}, nil)
	skippedDesc = prometheus.NewDesc("schedulerd_runs_skipped_total",
		"Runs recorded as skipped instead of dispatched, by job and reason (missed: later than the misfire grace; catchup-limit; overlap; paused).",
		[]string{"job_name", "reason"}, nil)
	failingDesc = prometheus.NewDesc("schedulerd_job_consecutive_failures",
		"Runs of the job that failed in a row, as this replica saw them finish (reset by a success; starts at 0 on each replica).",
		[]string{"job_name"}, nil)
	refusalsDesc = prometheus.NewDesc("schedulerd_fence_rejections_total",
		"Dispatches a target guarded by package fence refused, by job and kind (stale-token: a newer leader reached it first; duplicate-run: it had the run already).",
		[]string{"job_name", "kind"}, nil)
)

// family names one of the per-job counter families, for count and the overflow map.
type family uint8

const (
	famRuns family = iota
	famSkipped
	famRefusals
)

// jobSeries is the collector of every per-job series. It exists because client_golang's
// vectors keep a full metric (label pairs, created timestamp, about 600 B) per series, and a
// job has 16 of them on every replica: at 10 000 jobs that was 89 % of the heap. Here a job
// is a map entry and, from its first count, one fixed array of counts; the series are built
// only while a scrape reads them.
type jobSeries struct {
	now func() time.Time // created timestamps; wall time, as client_golang's own

	// mu guards the map and every overflow map; the counts in the arrays are atomic, so
	// counting a known value takes the read lock only.
	mu   sync.RWMutex
	jobs map[string]jobEntry
}

// jobEntry is one job's series: its counts, nil while all are zero. Most jobs have none on
// most replicas (only the leader counts, and only the runs it saw finish), and idle, 10 000
// jobs' counts were 1.4 MB of the heap.
type jobEntry struct {
	created int64 // unix ns: the created timestamp of the job's counters
	c       *jobCounts
}

// noCounts are the counts of a jobEntry without any. Never written.
var noCounts jobCounts

// jobCounts are one job's counts, indexed like outcomes, skipReasons and fenceKinds.
type jobCounts struct {
	runs     [len(outcomes)]atomic.Uint64
	skipped  [len(skipReasons)]atomic.Uint64
	refusals [len(fenceKinds)]atomic.Uint64
	failing  atomic.Uint64             // runs failed in a row
	other    map[overflowKey]*overflow // values outside the tables; nil until one is counted
}

// overflowKey is a series outside the tables: b is the reason of a runs_total pair, else "".
type overflowKey struct {
	fam  family
	a, b string
}

type overflow struct {
	created int64 // unix ns of its first count, when the vector would have created it
	n       uint64
}

func newJobSeries() *jobSeries {
	return &jobSeries{now: time.Now, jobs: map[string]jobEntry{}}
}

func (s *jobSeries) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[name]; !ok {
		s.jobs[name] = jobEntry{created: s.now().UnixNano()}
	}
}

func (s *jobSeries) delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, name)
}

// count adds n to the series (fam, a, b) of job and returns the job's counts; for a job not
// in the map it counts nothing and returns nil. Such a job was deleted (its last run finished
// after) or Run has not taken the cache's news of it yet, which takes less than the claim or
// the dispatch a count follows. Counting would create its series, and for a deleted job for
// good, as the vectors did: a consecutive-failures gauge left at 3 kept an alert firing for a
// job that no longer existed.
func (s *jobSeries) count(job string, fam family, a, b string, n int) *jobCounts {
	if n < 0 {
		n = 0 // a counter cannot go down; the vector's Add would have panicked
	}
	i := -1
	switch fam {
	case famRuns:
		i = slices.Index(outcomes[:], [2]string{a, b})
	case famSkipped:
		i = slices.Index(skipReasons[:], a)
	case famRefusals:
		i = slices.Index(fenceKinds[:], a)
	}
	if i < 0 {
		return s.countOverflow(job, overflowKey{fam, a, b}, n)
	}
	c := s.counts(job)
	if c == nil {
		return nil
	}
	switch fam {
	case famRuns:
		c.runs[i].Add(uint64(n))
	case famSkipped:
		c.skipped[i].Add(uint64(n))
	case famRefusals:
		c.refusals[i].Add(uint64(n))
	}
	return c
}

// counts returns job's counts, made at its first count; nil for a job not in the map.
func (s *jobSeries) counts(job string) *jobCounts {
	s.mu.RLock()
	e, ok := s.jobs[job]
	s.mu.RUnlock()
	switch {
	case !ok:
		return nil
	case e.c != nil:
		return e.c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countsLocked(job)
}

// countsLocked is counts with the write lock held.
func (s *jobSeries) countsLocked(job string) *jobCounts {
	e, ok := s.jobs[job]
	if !ok {
		return nil
	}
	if e.c == nil {
		e.c = new(jobCounts)
		s.jobs[job] = e
	}
	return e.c
}

// countOverflow counts a value outside the tables. It takes the write lock, which is fine for
// what should not happen at all.
func (s *jobSeries) countOverflow(job string, k overflowKey, n int) *jobCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.countsLocked(job)
	if c == nil {
		return nil // as in count
	}
	if c.other == nil {
		c.other = map[overflowKey]*overflow{}
	}
	o := c.other[k]
	if o == nil {
		o = &overflow{created: s.now().UnixNano()}
		c.other[k] = o
	}
	o.n += uint64(n)
	return c
}

// Describe sends the four descs, so the registry checks what Collect sends against them.
func (s *jobSeries) Describe(ch chan<- *prometheus.Desc) {
	ch <- runsDesc
	ch <- skippedDesc
	ch <- failingDesc
	ch <- refusalsDesc
}

// Collect sends every job's 16 series and its overflow ones. It copies the map under the read
// lock and builds the series after releasing it: building them takes a while at 10 000 jobs,
// and a waiting addJob would otherwise hold up every count behind it for that long.
func (s *jobSeries) Collect(ch chan<- prometheus.Metric) {
	type snap struct {
		name    string
		created int64
		c       *jobCounts
		other   map[overflowKey]overflow
	}
	s.mu.RLock()
	jobs := make([]snap, 0, len(s.jobs))
	for name, e := range s.jobs {
		c := e.c
		if c == nil {
			c = &noCounts
		}
		j := snap{name: name, created: e.created, c: c}
		if c.other != nil {
			j.other = make(map[overflowKey]overflow, len(c.other))
			for k, o := range c.other {
				j.other[k] = *o
			}
		}
		jobs = append(jobs, j)
	}
	s.mu.RUnlock()

	for x := range jobs {
		j := &jobs[x]
		job := &dto.LabelPair{Name: &jobNameLabel, Value: &j.name}
		created := timestamppb.New(time.Unix(0, j.created))
		ms := make([]jobMetric, 0, seriesPerJob+len(j.other))
		// One backing array for the label slices of the job's 16 series (3 labels at most).
		lps := make([]*dto.LabelPair, 0, 3*seriesPerJob)
		send := func(d *prometheus.Desc, v uint64, created *timestamppb.Timestamp, pairs ...*dto.LabelPair) {
			n := len(lps)
			lps = append(append(lps, job), pairs...)
			ms = append(ms, jobMetric{desc: d, labels: lps[n:len(lps):len(lps)], value: float64(v), created: created})
			ch <- &ms[len(ms)-1]
		}
		for i, p := range runsLabels {
			send(runsDesc, j.c.runs[i].Load(), created, p[0], p[1])
		}
		for i, p := range skipLabels {
			send(skippedDesc, j.c.skipped[i].Load(), created, p)
		}
		for i, p := range kindLabels {
			send(refusalsDesc, j.c.refusals[i].Load(), created, p)
		}
		send(failingDesc, j.c.failing.Load(), nil)
		for k, o := range j.other {
			created := timestamppb.New(time.Unix(0, o.created))
			switch k.fam {
			case famRuns:
				send(runsDesc, o.n, created, labelPair("outcome", k.a), labelPair("reason", k.b))
			case famSkipped:
				send(skippedDesc, o.n, created, labelPair("reason", k.a))
			case famRefusals:
				send(refusalsDesc, o.n, created, labelPair("kind", k.a))
			}
		}
	}
}

// seriesPerJob is the number of series a job starts with.
const seriesPerJob = len(outcomes) + len(skipReasons) + len(fenceKinds) + 1

// jobMetric is a series as Collect sends it. It is not a const metric because each of those
// builds label pairs of its own (16 allocations a series): a scrape of 10 000 jobs held 82 MB
// of them until encoded, more than the vectors' whole Gather. A jobMetric shares its pairs
// instead, as the registry takes a metric's labels as immutable: the job_name pair with the
// job's other series, the rest with every job (the tables below). Labels are sorted by name,
// as Gather wants them.
type jobMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	value   float64
	created *timestamppb.Timestamp // a counter's; nil for the gauge
}

func (m *jobMetric) Desc() *prometheus.Desc { return m.desc }

func (m *jobMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.created == nil {
		out.Gauge = &dto.Gauge{Value: &m.value}
		return nil
	}
	out.Counter = &dto.Counter{Value: &m.value, CreatedTimestamp: m.created}
	return nil
}

// The label pairs of the tables, shared by every scrape; like them, never written after init.
var (
	jobNameLabel = "job_name" // a variable for its address: LabelPair.Name is a *string
	runsLabels   = func() (lps [len(outcomes)][2]*dto.LabelPair) {
		for i, o := range outcomes {
			lps[i] = [2]*dto.LabelPair{labelPair("outcome", o[0]), labelPair("reason", o[1])}
		}
		return lps
	}()
	skipLabels = func() (lps [len(skipReasons)]*dto.LabelPair) {
		for i, r := range skipReasons {
			lps[i] = labelPair("reason", r)
		}
		return lps
	}()
	kindLabels = func() (lps [len(fenceKinds)]*dto.LabelPair) {
		for i, k := range fenceKinds {
			lps[i] = labelPair("kind", k)
		}
		return lps
	}()
)

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}
