package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrVersionMismatch: a conditional write named a version the object no longer has.
	ErrVersionMismatch = errors.New("store: version mismatch")
	// ErrJobExists: a create-only write found the job there.
	ErrJobExists = errors.New("store: job exists")
	// ErrJobChanged: a claim was planned against a job version that is no longer current
	// (edited, paused or deleted since); re-plan from the cache.
	ErrJobChanged = errors.New("store: job changed since the run was planned")
	// ErrRunChanged: a run record was modified by someone else since it was read.
	ErrRunChanged = errors.New("store: run record changed")
)

// pageSize bounds one range read, so listing 100k jobs never builds one huge response.
const pageSize = 1000

// Store reads and writes schedulerd's data in etcd. It is safe for concurrent use.
type Store struct {
	client  *clientv3.Client
	keys    Keys
	errors  *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New returns a store for the keys under prefix. Its metrics are registered with reg (nil: not
// registered, for tests).
func New(client *clientv3.Client, prefix string, reg prometheus.Registerer) *Store {
	s := &Store{
		client: client,
		keys:   NewKeys(prefix),
		errors: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_store_errors_total",
			Help: "etcd operations of the store that failed, by operation.",
		}, []string{"op"}),
		latency: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "schedulerd_store_request_duration_seconds",
			Help:                        "Time of the store's operations on etcd (all their round trips, failed ones too), by operation.",
			Buckets:                     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
			NativeHistogramBucketFactor: 1.1,
		}, []string{"op"}),
	}
	for _, op := range []string{opPutJob, opGetJob, opListJobs, opDeleteJob, opClaim, opUpdateRun, opListRuns, opCursors, opWatch, opMembers, opPruneRuns, opInFlight, opTrigger} {
		s.errors.WithLabelValues(op)
	}
	for _, op := range []string{opPutJob, opGetJob, opListJobs, opDeleteJob, opClaim, opUpdateRun, opListRuns, opCursors, opPruneRuns, opInFlight, opTrigger} {
		s.latency.WithLabelValues(op)
	}
	return s
}

// Operation names, the op label of schedulerd_store_errors_total.
const (
	opPutJob    = "put_job"
	opGetJob    = "get_job"
	opListJobs  = "list_jobs"
	opDeleteJob = "delete_job"
	opClaim     = "claim"
	opUpdateRun = "update_run"
	opListRuns  = "list_runs"
	opCursors   = "cursors"
	opWatch     = "watch"
	opMembers   = "members"
	opPruneRuns = "prune_runs"
	opInFlight  = "in_flight"
	opTrigger   = "trigger"
)

// Keys is the store's key layout.
func (s *Store) Keys() Keys { return s.keys }

// Client is the etcd client the store uses.
func (s *Store) Client() *clientv3.Client { return s.client }

// observe times one operation: `defer s.observe(op)()` first thing in the method. It measures
// the wall clock, whatever clock the caller's logic runs on: it is a metric, not a decision.
func (s *Store) observe(op string) func() {
	start := time.Now()
	return func() { s.latency.WithLabelValues(op).Observe(time.Since(start).Seconds()) }
}

// fail counts an etcd error of op and wraps it.
func (s *Store) fail(op string, err error) error {
	s.errors.WithLabelValues(op).Inc()
	return fmt.Errorf("store: %s: %w", op, err)
}

// rangeAll reads every key under prefix at one revision, page by page, calling fn for each
// page. It returns the revision read (the current one when rev is 0).
func (s *Store) rangeAll(ctx context.Context, prefix string, rev int64, fn func(*clientv3.GetResponse) error) (int64, error) {
	return s.rangeKeys(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), rev, fn)
}

// errStopRange, returned by a rangeKeys callback, ends the range early without an error.
var errStopRange = errors.New("store: stop range")

// rangeKeys reads the keys in [start, end) at one revision, page by page, calling fn for each
// page until fn returns errStopRange or the keys run out. It returns the revision read.
func (s *Store) rangeKeys(ctx context.Context, start, end string, rev int64, fn func(*clientv3.GetResponse) error) (int64, error) {
	key := start
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		if err := fn(resp); errors.Is(err, errStopRange) {
			return rev, nil
		} else if err != nil {
			return 0, err
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
