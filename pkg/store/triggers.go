package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/fence"
)

// Trigger is a manual run asked for and not claimed yet, the value of triggers/<job>/<run id>.
// The leader claims it (ClaimTrigger), which deletes it.
type Trigger struct {
	Job string `json:"job"`
	// Run is the id the run will have.
	Run       string    `json:"run"`
	Requested time.Time `json:"requested"`
	By        string    `json:"by,omitempty"`
	// WhilePaused lets the run go even if the job is paused.
	WhilePaused bool `json:"whilePaused,omitempty"`

	// Revision is the trigger key's mod revision, which ClaimTrigger requires unchanged.
	Revision int64 `json:"-"`
}

// IdempotencyTTL is how long a trigger's Idempotency-Key is remembered, at least.
const IdempotencyTTL = 24 * time.Hour

type idempotencyRecord struct {
	Run     string    `json:"run"`
	Created time.Time `json:"created"`
}

func idempotencyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16])
}

// AddTrigger stores a pending trigger for a job that is at version jobVersion. With a
// non-empty idempotency key that this job has been given before (within IdempotencyTTL) it
// stores nothing and returns the run id given then, with created false. Errors: ErrNotFound
// (no such job), ErrVersionMismatch (the job changed since it was read: read it and decide
// again).
func (s *Store) AddTrigger(ctx context.Context, t Trigger, jobVersion int64, idempotencyKey string) (string, bool, error) {
	defer s.observe(opTrigger)()
	val, err := json.Marshal(t)
	if err != nil {
		return "", false, fmt.Errorf("store: encode trigger %s: %w", t.Run, err)
	}
	jobKey := s.keys.Job(t.Job)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(jobKey), "=", jobVersion)}
	ops := []clientv3.Op{clientv3.OpPut(s.keys.Trigger(t.Job, t.Run), string(val))}
	idemKey := s.keys.IdempotencyOf(t.Job) + idempotencyHash(idempotencyKey)
	if idempotencyKey != "" {
		rec, _ := json.Marshal(idempotencyRecord{Run: t.Run, Created: t.Requested})
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(idemKey), "=", 0))
		ops = append(ops, clientv3.OpPut(idemKey, string(rec)))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).
		Else(clientv3.OpGet(jobKey, clientv3.WithKeysOnly()), clientv3.OpGet(idemKey)).Commit()
	if err != nil {
		return "", false, s.fail(opTrigger, err)
	}
	if resp.Succeeded {
		return t.Run, true, nil
	}
	if idempotencyKey != "" {
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
			var rec idempotencyRecord
			if err := json.Unmarshal(kvs[0].Value, &rec); err != nil {
				return "", false, fmt.Errorf("store: idempotency record %s does not decode: %w", kvs[0].Key, err)
			}
			return rec.Run, false, nil
		}
	}
	if len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
		return "", false, fmt.Errorf("%w: job %q", ErrNotFound, t.Job)
	}
	return "", false, fmt.Errorf("%w: job %q", ErrVersionMismatch, t.Job)
}

// IdempotentRun returns the run an idempotency key of a job was given, if it was.
func (s *Store) IdempotentRun(ctx context.Context, jobName, idempotencyKey string) (string, bool, error) {
	defer s.observe(opTrigger)()
	resp, err := s.client.Get(ctx, s.keys.IdempotencyOf(jobName)+idempotencyHash(idempotencyKey))
	if err != nil {
		return "", false, s.fail(opTrigger, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	var rec idempotencyRecord
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		return "", false, fmt.Errorf("store: idempotency record %s does not decode: %w", resp.Kvs[0].Key, err)
	}
	return rec.Run, true, nil
}

// GetRunOrTrigger reads a run's record, or, when it has none yet, its pending trigger (at
// one revision, so a claim in between cannot hide both). ErrNotFound when neither exists.
func (s *Store) GetRunOrTrigger(ctx context.Context, jobName, id string) (Run, *Trigger, error) {
	defer s.observe(opListRuns)()
	resp, err := s.client.Txn(ctx).Then(clientv3.OpGet(s.keys.Run(jobName, id)), clientv3.OpGet(s.keys.Trigger(jobName, id))).Commit()
	if err != nil {
		return Run{}, nil, s.fail(opListRuns, err)
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		r, err := decodeRun(kvs[0])
		return r, nil, err
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		var t Trigger
		if err := json.Unmarshal(kvs[0].Value, &t); err != nil {
			return Run{}, nil, fmt.Errorf("store: trigger %s does not decode: %w", kvs[0].Key, err)
		}
		t.Revision = kvs[0].ModRevision
		return Run{}, &t, nil
	}
	return Run{}, nil, fmt.Errorf("%w: run %s", ErrNotFound, id)
}

// PendingTriggers reads every trigger not claimed yet, across all jobs.
func (s *Store) PendingTriggers(ctx context.Context) ([]Trigger, error) {
	defer s.observe(opTrigger)()
	var out []Trigger
	_, err := s.rangeAll(ctx, s.keys.Triggers(), 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			var t Trigger
			if err := json.Unmarshal(kv.Value, &t); err != nil {
				return fmt.Errorf("trigger %s does not decode: %w", kv.Key, err)
			}
			t.Revision = kv.ModRevision
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(opTrigger, err)
	}
	return out, nil
}

// WatchTriggers reports changes of the pending triggers until ctx ends; the channel closes
// when the watch fails (compaction, etcd down), after which PendingTriggers tells the state.
func (s *Store) WatchTriggers(ctx context.Context) clientv3.WatchChan {
	return s.client.Watch(clientv3.WithRequireLeader(ctx), s.keys.Triggers(), clientv3.WithPrefix())
}

// DeleteTrigger drops a pending trigger that cannot be claimed (its record does not decode
// into a run of its job), fenced like a claim.
func (s *Store) DeleteTrigger(ctx context.Context, f Fence, t Trigger) error {
	defer s.observe(opTrigger)()
	resp, err := s.client.Txn(ctx).If(fence.Guard(f.LeaderKey, f.Token)).Then(clientv3.OpDelete(s.keys.Trigger(t.Job, t.Run))).Commit()
	if err != nil {
		return s.fail(opTrigger, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("delete trigger %s with token %d: %w", t.Run, f.Token, fence.ErrFenced)
	}
	return nil
}

// PruneIdempotency deletes the idempotency keys created before olderThan, at most
// MaxPruneBatch per call, fenced like a claim. It returns how many it deleted.
func (s *Store) PruneIdempotency(ctx context.Context, f Fence, olderThan time.Time) (int, error) {
	defer s.observe(opTrigger)()
	var old []clientv3.Op
	_, err := s.rangeAll(ctx, s.keys.Idempotency(), 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			var rec idempotencyRecord
			if json.Unmarshal(kv.Value, &rec) != nil || rec.Created.Before(olderThan) {
				old = append(old, clientv3.OpDelete(string(kv.Key)))
			}
		}
		return nil
	})
	if err != nil {
		return 0, s.fail(opTrigger, err)
	}
	deleted := 0
	for len(old) > 0 && deleted < MaxPruneBatch {
		n := min(len(old), MaxClaimBatch)
		resp, err := s.client.Txn(ctx).If(fence.Guard(f.LeaderKey, f.Token)).Then(old[:n]...).Commit()
		if err != nil {
			return deleted, s.fail(opTrigger, err)
		}
		if !resp.Succeeded {
			return deleted, fmt.Errorf("prune idempotency keys with token %d: %w", f.Token, fence.ErrFenced)
		}
		deleted += n
		old = old[n:]
	}
	return deleted, nil
}
