package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// storedJob is the value of jobs/<name>.
type storedJob struct {
	Spec          job.Spec  `json:"spec"`
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
	ScheduledFrom time.Time `json:"scheduledFrom"`
}

// decodeJob turns a jobs/<name> key-value into a compiled job. A value that does not decode is
// returned as a job with Invalid set, never as an error: one bad key must not stop the cache.
func (s *Store) decodeJob(kv *mvccpb.KeyValue) job.Job {
	j := job.Job{Name: s.keys.jobName(string(kv.Key)), Version: kv.ModRevision}
	var sj storedJob
	if err := json.Unmarshal(kv.Value, &sj); err != nil {
		j.Invalid = fmt.Errorf("job %q: stored value does not decode: %w", j.Name, err)
		return j
	}
	j.Spec, j.Created, j.Updated, j.ScheduledFrom = sj.Spec.WithDefaults().Compact(), sj.Created, sj.Updated, sj.ScheduledFrom
	// PutJob only stores valid specs, but a key written around the API (etcdctl, a restore, an
	// older or newer schedulerd) must never reach the scheduler unchecked.
	if err := job.ValidateName(j.Name); err != nil {
		j.Invalid = err
		return j
	}
	if err := sj.Spec.Validate(); err != nil {
		j.Invalid = fmt.Errorf("job %q: stored spec is invalid (written around the API?): %w", j.Name, err)
		return j
	}
	if j.ScheduledFrom.IsZero() {
		j.Invalid = fmt.Errorf("job %q: stored without scheduledFrom (written around the API?); PUT it through the API", j.Name)
		return j
	}
	j.Compile()
	return j
}

// CreateOnly is PutJob's ifVersion for a write that must create the job.
const CreateOnly int64 = -1

// PutJob creates or replaces a job. spec must be valid (job.Spec.Validate); it is stored with
// defaults applied. ifVersion > 0 makes the write conditional on the job's current version
// (ErrVersionMismatch otherwise, also when the job does not exist); CreateOnly makes it
// conditional on the job not existing (ErrJobExists otherwise). now stamps created/updated
// and, when the schedule changes, the schedule's anchor. A spec equal to the stored one writes
// nothing. It reports whether the job was created.
func (s *Store) PutJob(ctx context.Context, name string, spec job.Spec, now time.Time, ifVersion int64) (job.Job, bool, error) {
	defer s.observe(opPutJob)()
	spec = spec.Normalize().WithDefaults()
	key := s.keys.Job(name)
	for {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return job.Job{}, false, s.fail(opPutJob, err)
		}
		sj := storedJob{Spec: spec, Created: now, Updated: now, ScheduledFrom: now}
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		exists := len(resp.Kvs) == 1
		if ifVersion > 0 && (!exists || resp.Kvs[0].ModRevision != ifVersion) {
			return job.Job{}, false, fmt.Errorf("%w: job %q", ErrVersionMismatch, name)
		}
		if ifVersion == CreateOnly && exists {
			return job.Job{}, false, fmt.Errorf("%w: job %q", ErrJobExists, name)
		}
		// When the pause began is the store's to say: kept while the job stays paused. A pause
		// whose until has passed is over, so pausing again starts a new one.
		pausing := (&job.Job{Spec: spec}).PausedAt(now)
		var since time.Time
		if spec.Paused {
			since = now
		}
		var old job.Job
		if exists {
			old = s.decodeJob(resp.Kvs[0])
		}
		wasPaused := exists && old.Invalid == nil && old.PausedAt(now)
		if exists && old.Invalid == nil && old.Spec.Paused && spec.Paused && (wasPaused || !pausing) {
			since = old.Spec.Pause.Since // paused by WithDefaults: not nil
		}
		if spec.Pause != nil {
			p := *spec.Pause // a copy: the caller's stays as it was
			p.Since = since
			if spec.Pause = &p; p.IsZero() {
				spec.Pause = nil // it said only since, which is the store's to say
			}
		}
		if exists {
			kv := resp.Kvs[0]
			if old.Invalid == nil && reflect.DeepEqual(old.Spec, spec) {
				return old, false, nil
			}
			if old.Invalid == nil {
				sj.Created = old.Created
				if !spec.Reanchors(old.Spec) && pausing == wasPaused {
					sj.ScheduledFrom = old.ScheduledFrom
				}
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)
		}
		sj.Spec = spec
		val, err := json.Marshal(sj)
		if err != nil {
			return job.Job{}, false, fmt.Errorf("store: encode job %q: %w", name, err)
		}
		tresp, err := s.client.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return job.Job{}, false, s.fail(opPutJob, err)
		}
		if !tresp.Succeeded {
			if ifVersion > 0 {
				return job.Job{}, false, fmt.Errorf("%w: job %q", ErrVersionMismatch, name)
			}
			if ifVersion == CreateOnly {
				return job.Job{}, false, fmt.Errorf("%w: job %q", ErrJobExists, name)
			}
			continue // a concurrent writer won; read again and apply ours on top
		}
		j := s.decodeJob(&mvccpb.KeyValue{Key: []byte(key), Value: val, ModRevision: tresp.Header.Revision})
		return j, !exists, nil
	}
}

// GetJob reads a job and its cursor (zero when nothing was claimed yet) in one round trip.
func (s *Store) GetJob(ctx context.Context, name string) (job.Job, time.Time, error) {
	defer s.observe(opGetJob)()
	resp, err := s.client.Txn(ctx).Then(clientv3.OpGet(s.keys.Job(name)), clientv3.OpGet(s.keys.Cursor(name))).Commit()
	if err != nil {
		return job.Job{}, time.Time{}, s.fail(opGetJob, err)
	}
	jobs := resp.Responses[0].GetResponseRange().Kvs
	if len(jobs) == 0 {
		return job.Job{}, time.Time{}, fmt.Errorf("%w: job %q", ErrNotFound, name)
	}
	var cursor time.Time
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		cursor, _ = decodeCursor(kvs[0].Value)
	}
	return s.decodeJob(jobs[0]), cursor, nil
}

// ListJobs reads every job at one revision, sorted by name, and returns that revision.
func (s *Store) ListJobs(ctx context.Context) ([]job.Job, int64, error) {
	defer s.observe(opListJobs)()
	var jobs []job.Job
	rev, err := s.rangeAll(ctx, s.keys.Jobs(), 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			jobs = append(jobs, s.decodeJob(kv))
		}
		return nil
	})
	if err != nil {
		return nil, 0, s.fail(opListJobs, err)
	}
	return jobs, rev, nil
}

// ListJobsPage reads, in name order, the jobs whose names start with prefix and sort after
// `after` (none when empty), keeping those keep accepts (all when nil), up to limit; more
// reports whether another kept job follows. It reads only as far as the page needs, so a
// page of a large list costs about a page of etcd keys, not the list.
func (s *Store) ListJobsPage(ctx context.Context, prefix, after string, limit int, keep func(job.Job) bool) (jobs []job.Job, more bool, err error) {
	defer s.observe(opListJobs)()
	start, end := s.keys.Job(prefix), clientv3.GetPrefixRangeEnd(s.keys.Job(prefix))
	if from := s.keys.Job(after) + "\x00"; after != "" && from > start {
		start = from
	}
	_, err = s.rangeKeys(ctx, start, end, 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			j := s.decodeJob(kv)
			if keep != nil && !keep(j) {
				continue
			}
			if len(jobs) == limit {
				more = true
				return errStopRange
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, false, s.fail(opListJobs, err)
	}
	return jobs, more, nil
}

// DeleteJob deletes a job with its cursor, run history, pending triggers and idempotency keys,
// in one transaction. ifVersion > 0 makes it conditional on the job's version.
func (s *Store) DeleteJob(ctx context.Context, name string, ifVersion int64) error {
	defer s.observe(opDeleteJob)()
	key := s.keys.Job(name)
	cmp := clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
	if ifVersion > 0 {
		cmp = clientv3.Compare(clientv3.ModRevision(key), "=", ifVersion)
	}
	resp, err := s.client.Txn(ctx).If(cmp).
		Then(clientv3.OpDelete(key), clientv3.OpDelete(s.keys.Cursor(name)), clientv3.OpDelete(s.keys.Runs(name), clientv3.WithPrefix()),
			clientv3.OpDelete(s.keys.InFlightJob(name), clientv3.WithPrefix()), clientv3.OpDelete(s.keys.TriggersOf(name), clientv3.WithPrefix()),
			clientv3.OpDelete(s.keys.IdempotencyOf(name), clientv3.WithPrefix())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return s.fail(opDeleteJob, err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return fmt.Errorf("%w: job %q", ErrNotFound, name)
		}
		return fmt.Errorf("%w: job %q", ErrVersionMismatch, name)
	}
	return nil
}
