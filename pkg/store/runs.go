package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// State is where a run is in its life.
type State string

// Run states.
const (
	// Claimed: the claim transaction committed and the run waits out its jitter delay before
	// its request (or its leader ended during that wait).
	StateClaimed State = "claimed"
	// Running: the leader is sending the run (a run without jitter is recorded running by its
	// claim), or its target accepted it and will report the result (completion callback).
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	// Skipped: not dispatched, for Reason.
	StateSkipped State = "skipped"
	// Unknown: claimed by a leader that ended before recording a result. The run may or may
	// not have reached its target; at most once means it is not sent again.
	StateUnknown State = "unknown"
	// Cancelled: stopped in flight, replaced by a newer run (concurrency replace).
	StateCancelled State = "cancelled"
)

// Skip reasons.
const (
	// ReasonMissed: the run was due longer ago than the job's misfire grace (leader down, store
	// outage, loop stalled), or a newer slot was also due and misfire.catchUp is "latest".
	ReasonMissed = "missed"
	// ReasonCatchupLimit: with misfire.catchUp "all", more late slots were due than
	// misfire.maxCatchUp; the oldest were not dispatched.
	ReasonCatchupLimit = "catchup-limit"
	// ReasonOverlap: concurrency "forbid" (or maxConcurrent runs) and an earlier run of the job
	// was still in flight.
	ReasonOverlap = "overlap"
	// ReasonPaused: the slot came while the job was paused (pause.record).
	ReasonPaused = "paused"
	// ReasonTimeout (state failed): a callback run reported no result or heartbeat in time.
	ReasonTimeout = "timeout"
)

// InFlight reports whether a run in this state has no result yet.
func (s State) InFlight() bool { return s == StateClaimed || s == StateRunning }

// Run triggers.
const (
	// TriggerManual: started by POST /v1/jobs/{name}/trigger, not by the schedule.
	TriggerManual = "manual"
)

// MaxResponse bounds the start of the target's answer kept in a run record, in bytes.
const MaxResponse = 1024

// Run is a run record, the value of runs/<job>/<id>.
type Run struct {
	ID        string      `json:"id"`
	Job       string      `json:"job"`
	Scheduled time.Time   `json:"scheduled"`
	State     State       `json:"state"`
	Reason    string      `json:"reason,omitempty"`
	Token     fence.Token `json:"token"`
	// Term identifies the leadership term that claimed the run (replica id and a nonce), so a
	// retried claim can tell its own earlier commit from someone else's.
	Term       string    `json:"term"`
	Replica    string    `json:"replica"`
	JobVersion int64     `json:"jobVersion"`
	Claimed    time.Time `json:"claimed"`
	// Trigger is "manual" for a run started through the API (with By, who asked); empty for
	// a slot of the schedule. A manual run's Scheduled is when it was asked for.
	Trigger string `json:"trigger,omitempty"`
	By      string `json:"by,omitempty"`
	// Jitter is the delay the job's jitter gave this run before its request.
	Jitter   job.Duration `json:"jitter,omitzero"`
	Attempts int          `json:"attempts,omitempty"`
	// AttemptLog has one entry per attempt, oldest first; the fields below are the last one's.
	AttemptLog []Attempt    `json:"attemptLog,omitempty"`
	Started    time.Time    `json:"started,omitzero"`
	Finished   time.Time    `json:"finished,omitzero"`
	Duration   job.Duration `json:"duration,omitzero"`
	Status     int          `json:"status,omitempty"`
	Error      string       `json:"error,omitempty"`
	// Response is the start of the target's last answer (at most MaxResponse bytes of valid
	// UTF-8), or the output a callback reported.
	Response string `json:"response,omitempty"`
	// CallbackToken is set at the claim of a run whose job has completion "callback": the
	// secret its target reports with. Every dispatch of the run (a re-send after failover
	// too) carries the same one, so a report is never orphaned. The API never shows it.
	CallbackToken string `json:"callbackToken,omitempty"`
	// Callback is set once a target with completion "callback" has accepted the run.
	Callback *Callback `json:"callback,omitempty"`

	// Revision is the record's etcd mod revision, for conditional updates.
	Revision int64 `json:"-"`
	// ClaimRevision is the etcd revision of the claim that created the record (as read back;
	// zero on a record not read from etcd). Claims of later terms have later revisions.
	ClaimRevision int64 `json:"-"`
}

// Attempt is one request of a run.
type Attempt struct {
	Started  time.Time    `json:"started"`
	Duration job.Duration `json:"duration"`
	Status   int          `json:"status,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// RunID is the deterministic id of a scheduled run: "<job>@<scheduled time, RFC 3339 UTC>".
func RunID(jobName string, scheduled time.Time) string {
	return jobName + "@" + scheduled.UTC().Format(time.RFC3339)
}

// ManualRunID is the id of a manual run asked for at requested:
// "<job>@<requested, RFC 3339 UTC>-manual-<nonce>". It sorts among the job's scheduled runs
// by time, so listing and pruning treat both alike.
func ManualRunID(jobName string, requested time.Time, nonce string) string {
	return RunID(jobName, requested) + "-manual-" + nonce
}

// JobOfRun returns the job name a run id starts with.
func JobOfRun(id string) (string, bool) {
	name, _, ok := strings.Cut(id, "@")
	return name, ok && job.ValidateName(name) == nil
}

func decodeRun(kv *mvccpb.KeyValue) (Run, error) {
	var r Run
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		return Run{}, fmt.Errorf("store: run %s does not decode: %w", kv.Key, err)
	}
	r.Revision, r.ClaimRevision = kv.ModRevision, kv.CreateRevision
	return r, nil
}

type cursor struct {
	Scheduled time.Time `json:"scheduled"`
	Run       string    `json:"run"`
}

func decodeCursor(b []byte) (time.Time, error) {
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return time.Time{}, err
	}
	return c.Scheduled, nil
}

// Fence is what a leader's write must prove: the leader key it holds and its token.
type Fence struct {
	LeaderKey string
	Token     fence.Token
}

// MaxClaimBatch is the most runs one Claim may record (etcd limits operations per transaction).
const MaxClaimBatch = 100

// ExistsError reports runs of a claim that are already recorded; Runs holds their records.
type ExistsError struct{ Runs []Run }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("store: run %s already recorded (state %s, term %s)", e.Runs[0].ID, e.Runs[0].State, e.Runs[0].Term)
}

// Claim records runs of one job — claimed runs to dispatch, skipped runs with their reason —
// and moves the job's cursor to the last of them, in one transaction that commits only if
//
//	the leader key's create revision equals f.Token  (else fence.ErrFenced),
//	the job's version is still jobVersion             (else ErrJobChanged),
//	none of the runs is recorded yet                  (else *ExistsError).
//
// runs must be of one job, in scheduled order, at most MaxClaimBatch. On success each returned
// run carries its Revision. An error that is none of these is ambiguous: the transaction may
// have committed, and retrying it is safe (it then reports *ExistsError with the committed
// records, whose Term tells that they are the caller's own).
func (s *Store) Claim(ctx context.Context, f Fence, jobVersion int64, runs []Run) ([]Run, error) {
	return s.claim(ctx, f, jobVersion, runs, nil)
}

// ClaimTrigger records the run of a pending manual trigger (claimed to dispatch, or skipped)
// and deletes the trigger, in one transaction fenced like Claim that also requires the trigger
// to be still pending (else ErrNotFound). The job's cursor does not move: a manual run is not
// a slot of the schedule.
func (s *Store) ClaimTrigger(ctx context.Context, f Fence, jobVersion int64, run Run, t Trigger) (Run, error) {
	runs, err := s.claim(ctx, f, jobVersion, []Run{run}, &t)
	if err != nil {
		return Run{}, err
	}
	return runs[0], nil
}

func (s *Store) claim(ctx context.Context, f Fence, jobVersion int64, runs []Run, trig *Trigger) ([]Run, error) {
	defer s.observe(opClaim)()
	if len(runs) == 0 || len(runs) > MaxClaimBatch {
		return nil, fmt.Errorf("store: claim of %d runs (want 1 to %d)", len(runs), MaxClaimBatch)
	}
	cmps, puts, err := s.claimOps(f, jobVersion, runs, trig)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(puts...).Commit()
	if err != nil {
		return nil, s.fail(opClaim, err)
	}
	if resp.Succeeded {
		return committed(runs, resp.Header.Revision), nil
	}
	return nil, s.refused(ctx, f, jobVersion, runs, trig)
}

// committed returns runs as recorded at revision rev.
func committed(runs []Run, rev int64) []Run {
	out := make([]Run, len(runs))
	for i, r := range runs {
		r.Revision = rev
		out[i] = r
	}
	return out
}

// refused tells why a claim's transaction did not commit.
//
// Why is read afterwards rather than in an Else branch, which would ride along in every
// claim's raft entry (measured: about 15% of claim throughput, docs/benchmarks.md). Reading
// later gives the same answer: each compare can only go from true to false — a leader key's
// create revision never comes back, a job's version never goes back, a recorded run stays
// recorded until its job is deleted (which changes the version), a claimed trigger is gone
// for good.
func (s *Store) refused(ctx context.Context, f Fence, jobVersion int64, runs []Run, trig *Trigger) error {
	name, jobKey := runs[0].Job, s.keys.Job(runs[0].Job)
	gets := []clientv3.Op{clientv3.OpGet(f.LeaderKey), clientv3.OpGet(jobKey, clientv3.WithKeysOnly())}
	for _, r := range runs {
		gets = append(gets, clientv3.OpGet(s.keys.Run(name, r.ID)))
	}
	if trig != nil {
		gets = append(gets, clientv3.OpGet(s.keys.Trigger(name, trig.Run), clientv3.WithKeysOnly()))
	}
	resp, err := s.client.Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return s.fail(opClaim, fmt.Errorf("claim refused; reading why: %w", err))
	}
	if !fence.Held((*clientv3.GetResponse)(resp.Responses[0].GetResponseRange()), f.Token) {
		return fmt.Errorf("claim %s with token %d: %w", runs[0].ID, f.Token, fence.ErrFenced)
	}
	if jk := resp.Responses[1].GetResponseRange().Kvs; len(jk) == 0 || jk[0].ModRevision != jobVersion {
		return fmt.Errorf("%w: job %q is no longer at version %d", ErrJobChanged, name, jobVersion)
	}
	var exists ExistsError
	for _, r := range resp.Responses[2 : 2+len(runs)] {
		for _, kv := range r.GetResponseRange().Kvs {
			run, err := decodeRun(kv)
			if err != nil {
				return err
			}
			exists.Runs = append(exists.Runs, run)
		}
	}
	if len(exists.Runs) > 0 {
		return &exists
	}
	if trig != nil {
		if tk := resp.Responses[2+len(runs)].GetResponseRange().Kvs; len(tk) == 0 || tk[0].ModRevision != trig.Revision {
			return fmt.Errorf("%w: trigger %s is no longer pending", ErrNotFound, trig.Run)
		}
	}
	// Every compare we can see holds, so one changed between our compare and our reads.
	return fmt.Errorf("%w: job %q changed during the claim", ErrJobChanged, name)
}

// claimOps builds a claim's transaction: the fence, then its job's part (jobClaimOps). Kept
// apart from the round trip so its cost can be measured.
func (s *Store) claimOps(f Fence, jobVersion int64, runs []Run, trig *Trigger) ([]clientv3.Cmp, []clientv3.Op, error) {
	cmps := make([]clientv3.Cmp, 1, len(runs)+3)
	cmps[0] = fence.Guard(f.LeaderKey, f.Token)
	return s.jobClaimOps(cmps, make([]clientv3.Op, 0, 2*len(runs)+1), jobVersion, runs, trig)
}

// jobClaimOps appends one job's part of a claim to cmps and puts: compares of the job's
// version, each run's absence (and the trigger's revision); then the run records, their
// in-flight index entries, and the cursor (or the trigger's deletion). It appends
// jobClaimSize's counts.
func (s *Store) jobClaimOps(cmps []clientv3.Cmp, puts []clientv3.Op, jobVersion int64, runs []Run, trig *Trigger) ([]clientv3.Cmp, []clientv3.Op, error) {
	name := runs[0].Job
	jobKey := s.keys.Job(name)
	cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(jobKey), "=", jobVersion))
	for _, r := range runs {
		if r.Job != name {
			return nil, nil, fmt.Errorf("store: claim mixes jobs %q and %q", name, r.Job)
		}
		key := s.keys.Run(name, r.ID)
		val, err := json.Marshal(r)
		if err != nil {
			return nil, nil, fmt.Errorf("store: encode run %s: %w", r.ID, err)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		puts = append(puts, clientv3.OpPut(key, string(val)))
		if r.State.InFlight() {
			puts = append(puts, clientv3.OpPut(s.keys.InFlightRun(name, r.ID), ""))
		}
	}
	if trig != nil {
		trigKey := s.keys.Trigger(name, trig.Run)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(trigKey), "=", trig.Revision))
		puts = append(puts, clientv3.OpDelete(trigKey))
	} else {
		last := runs[len(runs)-1]
		cur, _ := json.Marshal(cursor{Scheduled: last.Scheduled.UTC(), Run: last.ID})
		puts = append(puts, clientv3.OpPut(s.keys.Cursor(name), string(cur)))
	}
	return cmps, puts, nil
}

// jobClaimSize is how many compares and operations jobClaimOps appends for runs (no trigger).
func jobClaimSize(runs []Run) (cmps, puts int) {
	cmps, puts = 1+len(runs), 1+len(runs)
	for _, r := range runs {
		if r.State.InFlight() {
			puts++
		}
	}
	return cmps, puts
}

// UpdateRun writes a run's record: its start, its acceptance by a callback target, or its
// result (a final state also drops it from the in-flight index). It succeeds only if the
// record is unchanged since run was read or written (run.Revision): the claimer owns its run
// until then, whoever leads now.
func (s *Store) UpdateRun(ctx context.Context, run Run) (Run, error) {
	defer s.observe(opUpdateRun)()
	cmp, ops, err := s.updateOps(make([]clientv3.Op, 0, 2), run)
	if err != nil {
		return Run{}, err
	}
	resp, err := s.client.Txn(ctx).If(cmp).Then(ops...).Commit()
	if err != nil {
		return Run{}, s.fail(opUpdateRun, err)
	}
	if !resp.Succeeded {
		return Run{}, fmt.Errorf("%w: %s", ErrRunChanged, run.ID)
	}
	run.Revision = resp.Header.Revision
	return run, nil
}

// updateOps builds UpdateRun's transaction: the compare of the record's revision, and
// appended to ops the put and the in-flight entry's deletion when the run is done.
func (s *Store) updateOps(ops []clientv3.Op, run Run) (clientv3.Cmp, []clientv3.Op, error) {
	key := s.keys.Run(run.Job, run.ID)
	val, err := json.Marshal(run)
	if err != nil {
		return clientv3.Cmp{}, ops, fmt.Errorf("store: encode run %s: %w", run.ID, err)
	}
	ops = append(ops, clientv3.OpPut(key, string(val)))
	if !run.State.InFlight() {
		ops = append(ops, clientv3.OpDelete(s.keys.InFlightRun(run.Job, run.ID)))
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", run.Revision), ops, nil
}

// ListRuns returns up to limit runs of a job, newest scheduled time first.
func (s *Store) ListRuns(ctx context.Context, jobName string, limit int) ([]Run, error) {
	defer s.observe(opListRuns)()
	resp, err := s.client.Get(ctx, s.keys.Runs(jobName), clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, s.fail(opListRuns, err)
	}
	runs := make([]Run, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		r, err := decodeRun(kv)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// GetRun reads one run record.
func (s *Store) GetRun(ctx context.Context, jobName, id string) (Run, error) {
	defer s.observe(opListRuns)()
	resp, err := s.client.Get(ctx, s.keys.Run(jobName, id))
	if err != nil {
		return Run{}, s.fail(opListRuns, err)
	}
	if len(resp.Kvs) == 0 {
		return Run{}, fmt.Errorf("%w: run %s", ErrNotFound, id)
	}
	return decodeRun(resp.Kvs[0])
}

// Cursors reads every job's cursor: the scheduled time of its last claimed or skipped run.
func (s *Store) Cursors(ctx context.Context) (map[string]time.Time, error) {
	prefix := s.keys.Cursors()
	return s.cursorsIn(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix))
}

// CursorsBetween reads the cursors of the jobs named first to last (in name order), in one
// range read: the cursors of one page of jobs.
func (s *Store) CursorsBetween(ctx context.Context, first, last string) (map[string]time.Time, error) {
	return s.cursorsIn(ctx, s.keys.Cursor(first), s.keys.Cursor(last)+"\x00")
}

// cursorsIn reads the cursors whose keys are in [start, end), by job name.
func (s *Store) cursorsIn(ctx context.Context, start, end string) (map[string]time.Time, error) {
	defer s.observe(opCursors)()
	out := make(map[string]time.Time)
	prefix := s.keys.Cursors()
	_, err := s.rangeKeys(ctx, start, end, 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			t, err := decodeCursor(kv.Value)
			if err != nil {
				return fmt.Errorf("cursor %s does not decode: %w", kv.Key, err)
			}
			out[string(kv.Key[len(prefix):])] = t
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(opCursors, err)
	}
	return out, nil
}

// IsExists returns the existing records when err is an *ExistsError.
func IsExists(err error) ([]Run, bool) {
	var e *ExistsError
	if errors.As(err, &e) {
		return e.Runs, true
	}
	return nil, false
}

// Cursor reads one job's cursor; zero when nothing was claimed or skipped yet.
func (s *Store) Cursor(ctx context.Context, jobName string) (time.Time, error) {
	defer s.observe(opCursors)()
	resp, err := s.client.Get(ctx, s.keys.Cursor(jobName))
	if err != nil {
		return time.Time{}, s.fail(opCursors, err)
	}
	if len(resp.Kvs) == 0 {
		return time.Time{}, nil
	}
	return decodeCursor(resp.Kvs[0].Value)
}

// MaxPruneBatch bounds the run records one PruneRuns call deletes.
const MaxPruneBatch = 500

// PruneRuns deletes a job's oldest run records beyond the newest keep and those scheduled
// before olderThan, at most MaxPruneBatch of them, in one transaction fenced like a claim (a
// deposed leader must not delete history). It returns how many it deleted.
func (s *Store) PruneRuns(ctx context.Context, f Fence, jobName string, keep int, olderThan time.Time) (int, error) {
	defer s.observe(opPruneRuns)()
	prefix := s.keys.Runs(jobName)
	count, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, s.fail(opPruneRuns, err)
	}
	// The oldest records, keys only, as many as could go in this batch.
	n := min(MaxPruneBatch, int(count.Count))
	if n == 0 {
		return 0, nil
	}
	oldest, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend), clientv3.WithLimit(int64(n)),
		clientv3.WithRev(count.Header.Revision))
	if err != nil {
		return 0, s.fail(opPruneRuns, err)
	}
	// Run ids sort by scheduled time, so the records to go are a prefix of the range.
	byCount := max(0, int(count.Count)-keep)
	ageLimit := s.keys.Run(jobName, RunID(jobName, olderThan))
	drop := 0
	for i, kv := range oldest.Kvs {
		if i >= byCount && string(kv.Key) >= ageLimit {
			break
		}
		drop = i + 1
	}
	if drop == 0 {
		return 0, nil
	}
	end := string(oldest.Kvs[drop-1].Key) + "\x00"
	resp, err := s.client.Txn(ctx).If(fence.Guard(f.LeaderKey, f.Token)).
		Then(clientv3.OpDelete(prefix, clientv3.WithRange(end))).Commit()
	if err != nil {
		return 0, s.fail(opPruneRuns, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("prune runs of %q with token %d: %w", jobName, f.Token, fence.ErrFenced)
	}
	return int(resp.Responses[0].GetResponseDeleteRange().Deleted), nil
}

// InFlight reads the records of every run without a result (claimed or running), across all
// jobs.
func (s *Store) InFlight(ctx context.Context) ([]Run, error) {
	defer s.observe(opInFlight)()
	var keys []string
	prefix := s.keys.InFlight()
	_, err := s.rangeAll(ctx, prefix, 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			keys = append(keys, string(kv.Key[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(opInFlight, err)
	}
	// The records, MaxTxnOps to a read: the leader reads them every 10 s, in its loop, and
	// one round trip per run in flight would hold up the claims of a busy second.
	var out []Run
	for chunk := range slices.Chunk(keys, MaxTxnOps) {
		gets := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			job, id, _ := strings.Cut(k, "/")
			gets[i] = clientv3.OpGet(s.keys.Run(job, id))
		}
		resp, err := s.client.Txn(ctx).Then(gets...).Commit()
		if err != nil {
			return nil, s.fail(opInFlight, err)
		}
		for i, k := range chunk {
			kvs := resp.Responses[i].GetResponseRange().Kvs
			if len(kvs) == 0 {
				// The record was pruned or deleted with its job: drop the stale index entry.
				job, id, _ := strings.Cut(k, "/")
				if _, err := s.client.Delete(ctx, s.keys.InFlightRun(job, id)); err != nil {
					return nil, s.fail(opInFlight, err)
				}
				continue
			}
			r, err := decodeRun(kvs[0])
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// MarkUnknown records that a claimed run's leader ended before recording a result, fenced like
// a claim and only if the record is unchanged since read (run.Revision).
func (s *Store) MarkUnknown(ctx context.Context, f Fence, run Run, detail string, now time.Time) (Run, error) {
	run.State, run.Error, run.Finished = StateUnknown, detail, now
	return s.rewriteRun(ctx, f, run, true)
}

// Reclaim takes over an in-flight run of an earlier term for f's term, to send it again
// (delivery at least once): fenced, and only if the record is unchanged since read. run carries
// the new term's token, term id and replica.
func (s *Store) Reclaim(ctx context.Context, f Fence, run Run) (Run, error) {
	run.State, run.Token = StateRunning, f.Token
	return s.rewriteRun(ctx, f, run, false)
}

// TimeOut records that a callback run reported neither a result nor a heartbeat before its
// deadline: failed, reason timeout. Fenced like a claim, only if unchanged since read.
func (s *Store) TimeOut(ctx context.Context, f Fence, run Run, now time.Time) (Run, error) {
	run.State, run.Reason, run.Finished = StateFailed, ReasonTimeout, now
	run.Duration = job.Duration(now.Sub(run.Started))
	run.Error = fmt.Sprintf("timeout: no result or heartbeat from the target by %s", run.Callback.Deadline.UTC().Format(time.RFC3339))
	return s.rewriteRun(ctx, f, run, true)
}

// rewriteRun replaces a run record under the fence and a CAS on its revision, dropping it from
// the in-flight index when done.
func (s *Store) rewriteRun(ctx context.Context, f Fence, run Run, done bool) (Run, error) {
	defer s.observe(opInFlight)()
	key := s.keys.Run(run.Job, run.ID)
	val, err := json.Marshal(run)
	if err != nil {
		return Run{}, fmt.Errorf("store: encode run %s: %w", run.ID, err)
	}
	ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
	if done {
		ops = append(ops, clientv3.OpDelete(s.keys.InFlightRun(run.Job, run.ID)))
	}
	resp, err := s.client.Txn(ctx).
		If(fence.Guard(f.LeaderKey, f.Token), clientv3.Compare(clientv3.ModRevision(key), "=", run.Revision)).
		Then(ops...).
		Else(clientv3.OpGet(f.LeaderKey)).
		Commit()
	if err != nil {
		return Run{}, s.fail(opInFlight, err)
	}
	if !resp.Succeeded {
		if !fence.Held((*clientv3.GetResponse)(resp.Responses[0].GetResponseRange()), f.Token) {
			return Run{}, fmt.Errorf("rewrite run %s with token %d: %w", run.ID, f.Token, fence.ErrFenced)
		}
		return Run{}, fmt.Errorf("%w: %s", ErrRunChanged, run.ID)
	}
	run.Revision = resp.Header.Revision
	return run, nil
}

// InFlightCount counts a job's runs without a result, whichever leader claimed them.
func (s *Store) InFlightCount(ctx context.Context, jobName string) (int64, error) {
	defer s.observe(opInFlight)()
	resp, err := s.client.Get(ctx, s.keys.InFlightJob(jobName), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, s.fail(opInFlight, err)
	}
	return resp.Count, nil
}

// RunCounts counts a job's retained run records by state.
func (s *Store) RunCounts(ctx context.Context, jobName string) (map[State]int, error) {
	defer s.observe(opListRuns)()
	counts := make(map[State]int)
	_, err := s.rangeAll(ctx, s.keys.Runs(jobName), 0, func(resp *clientv3.GetResponse) error {
		for _, kv := range resp.Kvs {
			// Only the state is needed; a record that does not decode is counted under "".
			var r struct {
				State State `json:"state"`
			}
			_ = json.Unmarshal(kv.Value, &r)
			counts[r.State]++
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(opListRuns, err)
	}
	return counts, nil
}
