package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/fence"
)

// JobClaim is one job's part of ClaimMany: what Claim takes for that job.
type JobClaim struct {
	JobVersion int64
	Runs       []Run
}

// ClaimResult is the outcome of one JobClaim: what Claim would have returned for it.
type ClaimResult struct {
	Runs []Run
	Err  error
}

// MaxTxnOps is the most compares, and the most operations, one transaction may carry: etcd's
// default --max-txn-ops. ClaimMany packs jobs' claims under it.
const MaxTxnOps = 128

// ClaimPipeline is how many claim transactions ClaimMany keeps in flight at once. Each costs
// the leader one round trip and etcd one raft proposal, which etcd batches with the others
// in flight: beyond a handful, more in flight add latency, not throughput.
const ClaimPipeline = 8

// ClaimMany claims for many jobs at once, each as Claim would — the same compares, the same
// records, the same errors — packing several jobs into each transaction (as many as fit
// under MaxTxnOps, one fence compare for all) and keeping up to ClaimPipeline transactions in
// flight. A transaction commits all of its jobs or none: when one of its compares fails, its
// jobs are claimed one by one, so each gets its own outcome (once one of them is fenced, the
// rest are too, without asking). results[i] belongs to claims[i].
//
// Batching is what lets a leader keep up with thousands of jobs due at once: a claim of its
// own costs a round trip and a raft proposal per run, a batch of 42 costs one.
func (s *Store) ClaimMany(ctx context.Context, f Fence, claims []JobClaim) []ClaimResult {
	results := make([]ClaimResult, len(claims))
	type batch struct {
		claims []int
		cmps   []clientv3.Cmp
		puts   []clientv3.Op
	}
	var batches []*batch
	var cur *batch
	for i, c := range claims {
		if len(c.Runs) == 0 || len(c.Runs) > MaxClaimBatch {
			results[i].Err = fmt.Errorf("store: claim of %d runs (want 1 to %d)", len(c.Runs), MaxClaimBatch)
			continue
		}
		nc, np := jobClaimSize(c.Runs)
		if cur == nil || len(cur.cmps)+nc > MaxTxnOps || len(cur.puts)+np > MaxTxnOps {
			bc, bp := batchSize(claims[i:])
			cur = &batch{cmps: make([]clientv3.Cmp, 1, bc), puts: make([]clientv3.Op, 0, bp)}
			cur.cmps[0] = fence.Guard(f.LeaderKey, f.Token)
			batches = append(batches, cur)
		}
		cmps, puts, err := s.jobClaimOps(cur.cmps, cur.puts, c.JobVersion, c.Runs, nil)
		if err != nil {
			results[i].Err = err // and what it appended is left out of the batch
			continue
		}
		cur.claims = append(cur.claims, i)
		cur.cmps, cur.puts = cmps, puts
	}

	batches = slices.DeleteFunc(batches, func(b *batch) bool { return len(b.claims) == 0 }) // all malformed
	commit := func(b *batch) {
		done := s.observe(opClaim)
		resp, err := s.client.Txn(ctx).If(b.cmps...).Then(b.puts...).Commit()
		done()
		switch {
		case err != nil:
			err = s.fail(opClaim, err)
			for _, i := range b.claims {
				results[i].Err = err // ambiguous for every job of the batch: Claim says what to do
			}
		case resp.Succeeded:
			for _, i := range b.claims {
				results[i].Runs = committed(claims[i].Runs, resp.Header.Revision)
			}
		case len(b.claims) == 1:
			i := b.claims[0]
			results[i].Err = s.refused(ctx, f, claims[i].JobVersion, claims[i].Runs, nil)
		default:
			var fenced error
			for _, i := range b.claims {
				if fenced != nil {
					results[i].Err = fenced
					continue
				}
				results[i].Runs, results[i].Err = s.Claim(ctx, f, claims[i].JobVersion, claims[i].Runs)
				if errors.Is(results[i].Err, fence.ErrFenced) {
					fenced = results[i].Err
				}
			}
		}
	}
	if len(batches) <= 1 {
		for _, b := range batches {
			commit(b) // most rounds: no goroutine needed
		}
		return results
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, ClaimPipeline)
	for _, b := range batches {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			commit(b)
		})
	}
	wg.Wait()
	return results
}

// batchSize is the room the ClaimMany batch that starts with claims[0] needs: the compares
// (the fence's among them) and operations of the claims that fit under MaxTxnOps. Sized
// exactly, not at MaxTxnOps: a round's last batch is often small, and each slot of an
// operation slice is a quarter of a kilobyte.
func batchSize(claims []JobClaim) (cmps, puts int) {
	cmps = 1
	for _, c := range claims {
		if len(c.Runs) == 0 || len(c.Runs) > MaxClaimBatch {
			continue // refused; not in any batch
		}
		nc, np := jobClaimSize(c.Runs)
		if cmps+nc > MaxTxnOps || puts+np > MaxTxnOps {
			break
		}
		cmps, puts = cmps+nc, puts+np
	}
	return cmps, puts
}

// MaxUpdateBatch is the most runs one UpdateRuns writes: each is a compare and two operations.
const MaxUpdateBatch = MaxTxnOps / 2

// UpdateRuns writes several runs' records as UpdateRun would each, in one transaction when
// none of them changed since read (at most MaxUpdateBatch); when one did, each is written on
// its own, so each gets its own outcome. Errors are per run: errs[i] belongs to runs[i].
func (s *Store) UpdateRuns(ctx context.Context, runs []Run) ([]Run, []error) {
	out, errs := make([]Run, len(runs)), make([]error, len(runs))
	if len(runs) > MaxUpdateBatch {
		err := fmt.Errorf("store: update of %d runs (want at most %d)", len(runs), MaxUpdateBatch)
		for i := range errs {
			errs[i] = err
		}
		return out, errs
	}
	alone := func() {
		for i, r := range runs {
			out[i], errs[i] = s.UpdateRun(ctx, r)
		}
	}
	if len(runs) < 2 {
		alone()
		return out, errs
	}
	cmps, ops := make([]clientv3.Cmp, 0, len(runs)), make([]clientv3.Op, 0, 2*len(runs))
	for _, r := range runs {
		c, o, err := s.updateOps(ops, r)
		if err != nil {
			alone() // the same error, for that run only
			return out, errs
		}
		cmps, ops = append(cmps, c), o
	}
	done := s.observe(opUpdateRun)
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	done()
	switch {
	case err != nil:
		err = s.fail(opUpdateRun, err)
		for i := range errs {
			errs[i] = err
		}
	case resp.Succeeded:
		for i, r := range runs {
			r.Revision = resp.Header.Revision
			out[i] = r
		}
	default:
		alone()
	}
	return out, errs
}
