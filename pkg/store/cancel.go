package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// Cancel ends a run from outside the leader (an operator's request, on any replica). A run in
// flight is recorded cancelled, with a compare-and-swap on its record, so it cannot overwrite
// a result that landed first; its leader, which watches the in-flight index, aborts the request
// (or the wait for a retry) when the record leaves it, and finds the record changed when it
// comes to write its result. A manual run not claimed yet is withdrawn: its trigger is deleted
// (if the leader claims it first, the run is cancelled instead), and withdrawn reports that;
// no record is left. ErrRunFinished when the run has its result already; ErrNotFound when
// there is no such run.
func (s *Store) Cancel(ctx context.Context, jobName, id, by string, now time.Time) (run Run, withdrawn bool, err error) {
	for {
		run, trig, err := s.GetRunOrTrigger(ctx, jobName, id)
		if err != nil {
			return Run{}, false, err
		}
		if trig != nil {
			key := s.keys.Trigger(jobName, id)
			resp, err := s.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", trig.Revision)).
				Then(clientv3.OpDelete(key)).Commit()
			if err != nil {
				return Run{}, false, s.fail(opTrigger, err)
			}
			if !resp.Succeeded {
				continue // claimed meanwhile: cancel the run
			}
			return Run{ID: id, Job: jobName, Scheduled: trig.Requested, State: StateCancelled,
				Trigger: TriggerManual, By: trig.By, Finished: now, Error: cancelledBy(by)}, true, nil
		}
		if !run.State.InFlight() {
			return run, false, fmt.Errorf("%w: %s is %s", ErrRunFinished, id, run.State)
		}
		run.State, run.Finished, run.Error = StateCancelled, now, cancelledBy(by)
		if !run.Started.IsZero() {
			run.Duration = job.Duration(now.Sub(run.Started))
		}
		updated, err := s.UpdateRun(ctx, run)
		if errors.Is(err, ErrRunChanged) {
			continue // started, accepted or finished meanwhile: look again
		}
		return updated, false, err
	}
}

func cancelledBy(by string) string {
	if by == "" {
		return "cancelled through the API"
	}
	return "cancelled by " + by
}

// WatchInFlight watches the in-flight index: a deleted key is a run that got its result (or
// was cancelled).
func (s *Store) WatchInFlight(ctx context.Context) clientv3.WatchChan {
	return s.client.Watch(clientv3.WithRequireLeader(ctx), s.keys.InFlight(), clientv3.WithPrefix(), clientv3.WithFilterPut())
}

// RunOfInFlightKey reads the job and run id out of an in-flight index key.
func (s *Store) RunOfInFlightKey(key string) (jobName, id string, ok bool) {
	rest, found := strings.CutPrefix(key, s.keys.InFlight())
	if !found {
		return "", "", false
	}
	jobName, id, ok = strings.Cut(rest, "/")
	return jobName, id, ok && jobName != "" && id != ""
}
