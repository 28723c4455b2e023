package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/retry"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// loop is the leader loop of one term. Its goroutine owns every field.
type loop struct {
	s      *Scheduler
	term   election.Term
	termID string
	fence  store.Fence
	log    *zap.Logger

	plans   *plans
	cursors map[string]time.Time
	sub     *store.Subscription
	// recorded counts run records written per job since its history was last pruned.
	recorded map[string]int
	pruner   *pruner
	// nextReap is when in-flight runs of earlier terms are looked at next.
	nextReap time.Time
	// triggers reports changes of pending manual triggers (nil after the watch failed, until
	// the next reap starts it again); triggersDue asks the loop to look at them.
	triggers    clientv3.WatchChan
	triggersDue bool
	// waiting holds the jobs with a pending trigger this replica's cache could not serve yet
	// (not there, or invalid): a change of one of them makes triggers due again.
	waiting map[string]bool
	// nextIdempotencyPrune is when expired trigger idempotency keys are deleted next.
	nextIdempotencyPrune time.Time

	bo      *retry.Backoff
	tracker *retry.Tracker

	// round and roundClaims are fireDue's, kept from round to round: a round of hundreds
	// of jobs would otherwise allocate its slices again each second (half a kilobyte a job).
	round       []job.Job
	roundClaims []store.JobClaim
}

func newLoop(s *Scheduler, term election.Term) *loop {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return &loop{
		s:        s,
		term:     term,
		termID:   s.cfg.ReplicaID + "/" + hex.EncodeToString(nonce),
		fence:    store.Fence{LeaderKey: term.LeaderKey, Token: term.Token},
		log:      s.log.With(zap.Stringer("token", term.Token)),
		plans:    newPlans(),
		recorded: make(map[string]int),
		waiting:  make(map[string]bool),
		bo:       retry.NewBackoff(100*time.Millisecond, 2*time.Second),
		tracker:  retry.NewTracker(s.log.With(zap.Stringer("token", term.Token)), "scheduling loop store access"),
	}
}

// errTermEnded stops the loop quietly.
var errTermEnded = errors.New("term ended")

func (l *loop) run() error {
	l.sub = l.s.cfg.Cache.Subscribe()
	defer l.sub.Close()
	var pruning sync.WaitGroup
	defer pruning.Wait()
	ctx, stop := context.WithCancel(l.term)
	defer stop()
	defer l.s.ahead.Wait() // runs claimed ahead leave before the term is handed over
	l.pruner = newPruner(l)
	pruning.Go(func() { l.pruner.run(ctx) })
	if err := l.establish(); err != nil {
		return nil // the term ended while establishing
	}
	l.log.Info("scheduling loop started", zap.Int("jobs", l.plans.len()))
	defer l.log.Info("scheduling loop stopped")

	var wait time.Duration // backoff after a store fault, before trying again
	for {
		l.refresh()
		now := l.s.clock.Now()
		if !now.Before(l.nextReap) {
			if err := l.reap(now); err != nil {
				l.log.Warn("fenced: another replica leads now; ending term", zap.Error(err))
				return err
			}
			l.nextReap = now.Add(reapEvery)
		}
		if l.triggersDue {
			if err := l.handleTriggers(now); err != nil {
				l.log.Warn("fenced: another replica leads now; ending term", zap.Error(err))
				return err
			}
		}
		if wait == 0 {
			if p := l.plans.peek(); p != nil && !p.due().After(now) {
				err := l.fireDue(now)
				switch {
				case err == nil:
					continue
				case errors.Is(err, fence.ErrFenced):
					l.log.Warn("fenced: another replica leads now; ending term", zap.Error(err))
					return err
				case l.term.Err() != nil:
					return nil
				}
				wait = l.bo.Next()
			}
		}
		if !l.sleep(wait) {
			return nil
		}
		wait = 0
	}
}

// sleep waits for the next due slot (or for d after a fault), a job change, or the term's end;
// it returns false when the term ended.
func (l *loop) sleep(d time.Duration) bool {
	var timer <-chan time.Time
	if d == 0 {
		wake := l.nextReap
		if p := l.plans.peek(); p != nil && p.due().Before(wake) {
			wake = p.due()
		}
		t := l.s.clock.NewTimer(wake.Sub(l.s.clock.Now()))
		defer t.Stop()
		// The clock may have moved between reading it and arming the timer; a slot that is
		// due now must not wait for the next tick.
		if !wake.After(l.s.clock.Now()) {
			return true
		}
		timer = t.Chan()
	} else {
		t := l.s.clock.NewTimer(d)
		defer t.Stop()
		timer = t.Chan()
	}
	select {
	case <-l.term.Done():
		return false
	case <-l.sub.C():
	case <-timer:
	case resp, ok := <-l.triggers:
		l.triggersDue = true
		if !ok || resp.Err() != nil {
			l.triggers = nil // watched again at the next reap
		}
	}
	return true
}

// establish waits for the job cache, reads every cursor and plans every job.
func (l *loop) establish() error {
	select {
	case <-l.s.cfg.Cache.Synced():
	case <-l.term.Done():
		return errTermEnded
	}
	for {
		ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
		cursors, err := l.s.cfg.Store.Cursors(ctx)
		cancel()
		if err == nil {
			l.tracker.Succeeded()
			l.bo.Reset()
			l.cursors = cursors
			break
		}
		if l.term.Err() != nil {
			return errTermEnded
		}
		l.tracker.Failed(err)
		if l.bo.Wait(l.term, l.s.clock) != nil {
			return errTermEnded
		}
	}
	l.sub.Take() // everything is planned from the cache as of now
	for _, name := range l.s.cfg.Cache.Names() {
		if j, ok := l.s.cfg.Cache.Get(name); ok {
			l.replan(j)
		}
	}
	l.triggers, l.triggersDue = l.s.cfg.Store.WatchTriggers(l.term), true
	return nil
}

// refresh re-plans the jobs that changed since the last look.
func (l *loop) refresh() {
	for _, name := range l.sub.Take() {
		if l.waiting[name] {
			l.triggersDue = true
		}
		if j, ok := l.s.cfg.Cache.Get(name); ok {
			l.replan(j)
		} else {
			l.plans.remove(name)
			delete(l.cursors, name)
		}
	}
}

// replan computes a job's next slot from its cursor, or unplans a job that cannot fire.
func (l *loop) replan(j job.Job) {
	if j.Invalid != nil || j.Schedule == nil {
		l.plans.remove(j.Name)
		return
	}
	next, paused := j.NextSlot(l.cursors[j.Name])
	if next.IsZero() {
		l.plans.remove(j.Name)
		return
	}
	due := next
	if !paused && l.claimsAhead(j) {
		// A slot of a pause is recorded once it has come, never ahead: prepare records only
		// those, and a plan due with nothing to record would be looked at again and again.
		due = next.Add(-l.s.cfg.ClaimAhead)
	}
	l.plans.set(j.Name, next, due, j.Version)
}

// claimsAhead reports whether the job's slots are claimed ClaimAhead before they come, so that
// the claim's round trip to etcd is over by the slot and the request leaves on time. Not the
// jobs whose concurrency policy bounds the runs in flight: whether such a run may go depends on
// the runs still in flight at its slot, not before.
func (l *loop) claimsAhead(j job.Job) bool {
	return l.s.cfg.ClaimAhead > 0 && j.Spec.Concurrency != job.ConcurrencyForbid && j.Spec.MaxConcurrent == 0
}

// roundJobs bounds the jobs one round of fireDue claims: enough to fill ClaimPipeline
// transactions a few times over, few enough that the first of them is not kept waiting long
// for the last.
const roundJobs = 512

// fireDue claims the due slots of up to roundJobs jobs, oldest first, in one ClaimMany, and
// acts on each outcome: dispatches or counts the runs and plans each job's next slot. A job
// stays out of the plans while its claim is out; each outcome puts it back (or, for a job
// that changed, the cache will). It returns the first error: ErrFenced, or a store fault to
// back off from (the jobs it hit are planned again at the same slot).
func (l *loop) fireDue(now time.Time) error {
	jobs, claims := l.round[:0], l.roundClaims[:0]
	defer func() {
		// Kept for the next round, without holding on to this one's jobs and runs.
		l.round, l.roundClaims = jobs[:0], claims[:0]
		clear(jobs)
		clear(claims)
	}()
	var err error
	for len(claims) < roundJobs {
		p := l.plans.peek()
		if p == nil || p.due().After(now) {
			break
		}
		j, runs, perr := l.prepare(p, now)
		if perr != nil {
			err = perr
			break
		}
		if runs == nil {
			continue // prepare moved or dropped the plan
		}
		l.plans.remove(j.Name)
		jobs = append(jobs, j)
		claims = append(claims, store.JobClaim{JobVersion: j.Version, Runs: runs})
	}
	if len(claims) == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	results := l.s.cfg.Store.ClaimMany(ctx, l.fence, claims)
	cancel()
	for i, r := range results {
		cerr := l.claimed(jobs[i], claims[i].Runs, r.Runs, r.Err)
		if errors.Is(cerr, fence.ErrFenced) {
			return cerr
		}
		if err == nil {
			err = cerr
		}
	}
	return err
}

// prepare works out what to claim for the due slot of p: the run to dispatch, or the runs to
// record as skipped (the slot and the missed ones after it, when later than the job's misfire
// grace; the slots of a pause). No runs means nothing to claim: the plan was updated instead.
func (l *loop) prepare(p *plan, now time.Time) (job.Job, []store.Run, error) {
	j, ok := l.s.cfg.Cache.Get(p.name)
	if !ok {
		l.plans.remove(p.name)
		return j, nil, nil
	}
	if j.Version != p.version {
		l.replan(j) // the cache moved on since the plan was made
		return j, nil, nil
	}
	grace := j.Spec.Misfire.Grace.D()
	if j.Spec.Misfire.CatchUp == job.CatchUpNone {
		grace = min(grace, onTime) // no catching up: late is missed
	}
	run := func(slot time.Time, reason string) store.Run {
		return l.newRun(j, store.RunID(j.Name, slot), slot, reason, now)
	}
	var runs []store.Run
	if next, paused := j.NextSlot(l.cursors[j.Name]); !next.Equal(p.next) {
		l.replan(j)
		return j, nil, nil
	} else if paused {
		// Slots of a pause are recorded, never dispatched, however late: a batch of them.
		for slot := next; paused && !slot.IsZero() && !slot.After(now) && len(runs) < store.MaxClaimBatch; slot, paused = j.NextSlot(slot) {
			runs = append(runs, run(slot, store.ReasonPaused))
		}
		if len(runs) == 0 { // not come yet (replan never plans one ahead): look again at it
			l.plans.set(j.Name, next, next, j.Version)
		}
		return j, runs, nil
	}
	// Slots later than the grace are missed, whatever the catch-up policy: record a batch.
	slot := p.next
	for ; !slot.IsZero() && !slot.After(now) && now.Sub(slot) > grace && len(runs) < store.MaxClaimBatch; slot = j.Next(slot) {
		runs = append(runs, run(slot, store.ReasonMissed))
	}
	if len(runs) > 0 {
		return j, runs, nil
	}
	// The slots due within the grace, oldest first: usually just one. Looking a batch past
	// the bound is enough to skip a full batch of the excess.
	limit := 1
	if j.Spec.Misfire.CatchUp == job.CatchUpAll {
		limit = j.Spec.Misfire.MaxCatchUp
	}
	var due []time.Time
	for ; !slot.IsZero() && !slot.After(now) && len(due) < limit+store.MaxClaimBatch; slot = j.Next(slot) {
		due = append(due, slot)
	}
	if len(due) == 0 && !slot.IsZero() && l.claimsAhead(j) && !slot.After(now.Add(l.s.cfg.ClaimAhead)) {
		// Not due yet: claimed ahead of its slot. Only a slot that has come counts as late
		// for the catch-up policy, so this is never one of several.
		due = []time.Time{slot}
	}
	switch {
	case len(due) == 0:
		l.replan(j)
		return j, nil, nil
	case len(due) == 1:
		runs = []store.Run{run(due[0], "")} // dispatch: each its own claim
	case len(due) > limit: // more than the policy dispatches: skip the oldest
		reason := store.ReasonMissed // latest: every due slot but the newest is missed
		if j.Spec.Misfire.CatchUp == job.CatchUpAll {
			reason = store.ReasonCatchupLimit
		}
		for _, s := range due[:min(len(due)-limit, store.MaxClaimBatch)] {
			runs = append(runs, run(s, reason))
		}
	default: // all, within its bound: the oldest, each in turn
		runs = []store.Run{run(due[0], "")}
	}
	if len(runs) == 1 && runs[0].State.InFlight() {
		overlap, err := l.overlaps(j)
		if err != nil {
			return j, nil, err
		}
		if overlap {
			runs[0] = run(runs[0].Scheduled, store.ReasonOverlap)
		}
	}
	return j, runs, nil
}

// newRun is the record of a run to claim: to dispatch (reason empty) or skipped for reason.
func (l *loop) newRun(j job.Job, id string, scheduled time.Time, reason string, now time.Time) store.Run {
	r := store.Run{
		ID: id, Job: j.Name, Scheduled: scheduled, State: store.StateRunning,
		Token: l.term.Token, Term: l.termID, Replica: l.s.cfg.ReplicaID, JobVersion: j.Version, Claimed: now,
	}
	switch {
	case reason != "":
		r.State, r.Reason = store.StateSkipped, reason
	case j.Spec.JitterFor(id) > 0:
		// Claimed now, sent after the jitter: it shows running once its request starts.
		r.State, r.Jitter = store.StateClaimed, job.Duration(j.Spec.JitterFor(id))
	case scheduled.After(now):
		// Claimed ahead of its slot, sent at the slot: claimed until its result is recorded
		// (one write less than showing it running).
		r.State = store.StateClaimed
	default:
		r.Started = now // sent right after the claim
	}
	if reason == "" && j.Spec.Target.HTTP.Completion == job.CompletionCallback {
		r.CallbackToken = store.NewCallbackToken()
	}
	return r
}

// overlaps reports whether the job's concurrency policy holds a new run back because of the
// runs in flight: forbid allows none, maxConcurrent its number. In flight means without a
// result, claimed by this term or an earlier one: the index in etcd knows both, so the policy
// holds across failover.
func (l *loop) overlaps(j job.Job) (bool, error) {
	bound := j.Spec.MaxConcurrent
	if j.Spec.Concurrency == job.ConcurrencyForbid {
		bound = 1
	}
	if bound == 0 {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	n, err := l.s.cfg.Store.InFlightCount(ctx, j.Name)
	cancel()
	if err != nil {
		l.tracker.Failed(err, zap.String("job", j.Name))
		return false, err
	}
	return n >= int64(bound), nil
}

// claimOne claims runs of one job on their own (one to dispatch, or a batch of skipped
// ones) and acts on the outcome.
func (l *loop) claimOne(j job.Job, runs []store.Run) error {
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	claimed, err := l.s.cfg.Store.Claim(ctx, l.fence, j.Version, runs)
	cancel()
	return l.claimed(j, runs, claimed, err)
}

// claimed acts on the outcome of claiming runs of j (claimed and err as Store.Claim returned
// them): dispatches the run or counts the skipped ones, moves the job's cursor and plans its
// next slot. Store faults are returned (the job is planned again at the same slot), and
// ErrFenced.
func (l *loop) claimed(j job.Job, runs, claimed []store.Run, err error) error {
	if _, exists := store.IsExists(err); exists && len(runs) > 1 {
		// Part of a batch is recorded already: settle the first slot alone, then go on.
		return l.claimOne(j, runs[:1])
	}
	claimed, existing, err := l.settle(claimed, err)
	switch {
	case errors.Is(err, fence.ErrFenced):
		return err
	case errors.Is(err, store.ErrJobChanged):
		l.plans.remove(j.Name) // the cache will deliver the new version (or the deletion)
		return nil
	case err != nil:
		l.tracker.Failed(err, zap.String("job", j.Name))
		l.replan(j)
		return err
	case existing != nil:
		l.log.Info("run already recorded; not dispatching", zap.String("job", existing.Job), zap.String("run", existing.ID),
			zap.String("state", string(existing.State)), zap.String("claimedBy", existing.Term))
		l.advance(j, existing.Scheduled)
		return nil
	}
	l.tracker.Succeeded()
	l.bo.Reset()
	last := claimed[len(claimed)-1]
	if last.State.InFlight() {
		l.send(j, last)
	} else {
		l.skipped(j, claimed)
	}
	l.advance(j, last.Scheduled)
	l.prune(j, len(claimed))
	return nil
}

// settle counts a claim's outcome in schedulerd_claims_total and sorts it: the runs claimed —
// an attempt of this term that seemed to fail but committed counts, as the store reports it
// recorded with our term —, or the record someone else's claim left, or the error.
func (l *loop) settle(claimed []store.Run, err error) ([]store.Run, *store.Run, error) {
	existing, exists := store.IsExists(err)
	switch {
	case err == nil:
		l.s.metrics.claims.WithLabelValues(claimOK).Inc()
		return claimed, nil, nil
	case exists:
		l.s.metrics.claims.WithLabelValues(claimExists).Inc()
		if e := existing[0]; e.Term == l.termID && e.State.InFlight() {
			return existing, nil, nil
		}
		return nil, &existing[0], nil
	case errors.Is(err, fence.ErrFenced):
		l.s.metrics.claims.WithLabelValues(claimFenced).Inc()
	case errors.Is(err, store.ErrJobChanged):
		l.s.metrics.claims.WithLabelValues(claimJobChanged).Inc()
	case errors.Is(err, store.ErrNotFound):
		// A manual trigger claimed already (an ambiguous commit of ours) or gone with its job.
	default:
		l.s.metrics.claims.WithLabelValues(claimError).Inc()
	}
	return nil, nil, err
}

// send dispatches a claimed run; when the job's concurrency is replace, the run cancels the
// job's runs in flight on this replica as it is sent.
func (l *loop) send(j job.Job, run store.Run) {
	l.s.dispatch(j, run, j.Spec.Concurrency == job.ConcurrencyReplace)
}

// skipped counts and logs runs recorded as skipped (all of one reason).
func (l *loop) skipped(j job.Job, runs []store.Run) {
	last := runs[len(runs)-1]
	l.s.metrics.counted(last, len(runs))
	l.s.metrics.skip(j.Name, last.Reason, len(runs))
	log := l.log.Warn
	if last.Reason == store.ReasonPaused {
		log = l.log.Info // asked for
	}
	log("runs not dispatched; recorded as skipped", zap.String("job", j.Name), zap.String("reason", last.Reason),
		zap.Int("count", len(runs)), zap.Time("first", runs[0].Scheduled), zap.Time("last", last.Scheduled),
		zap.Duration("grace", j.Spec.Misfire.Grace.D()), zap.String("catchUp", string(j.Spec.Misfire.CatchUp)))
}

// handleTriggers claims and dispatches the pending manual triggers. Only ErrFenced is
// returned; a trigger that could not be handled stays pending for the next look.
func (l *loop) handleTriggers(now time.Time) error {
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	pending, err := l.s.cfg.Store.PendingTriggers(ctx)
	cancel()
	if err != nil {
		l.log.Warn("reading manual triggers failed; will retry", zap.Error(err))
		return nil
	}
	l.triggersDue = false
	clear(l.waiting)
	for _, t := range pending {
		if err := l.trigger(t, now); err != nil {
			return err
		}
	}
	return nil
}

// trigger claims the run of one manual trigger: to dispatch at once (no jitter), or skipped
// when the job is paused (unless the trigger says whilePaused) or its concurrency policy
// holds the run back.
func (l *loop) trigger(t store.Trigger, now time.Time) error {
	j, ok := l.s.cfg.Cache.Get(t.Job)
	if !ok || j.Invalid != nil {
		l.waiting[t.Job] = true // not in the cache yet (or unreadable): again when it changes
		return nil
	}
	reason := ""
	if j.PausedAt(now) && !t.WhilePaused {
		reason = store.ReasonPaused
	} else if overlap, err := l.overlaps(j); err != nil {
		return nil
	} else if overlap {
		reason = store.ReasonOverlap
	}
	run := l.newRun(j, t.Run, t.Requested, reason, now)
	run.Trigger, run.By = store.TriggerManual, t.By
	if run.State.InFlight() {
		run.State, run.Jitter, run.Started = store.StateRunning, 0, now // asked for now: no jitter
	}
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	one, err := l.s.cfg.Store.ClaimTrigger(ctx, l.fence, j.Version, run, t)
	cancel()
	runs, existing, err := l.settle([]store.Run{one}, err)
	switch {
	case errors.Is(err, fence.ErrFenced):
		return err
	case errors.Is(err, store.ErrJobChanged):
		l.triggersDue = true // again once the cache has the new version
		return nil
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		l.log.Warn("claiming a manual run failed; will retry", zap.String("job", t.Job), zap.String("run", t.Run), zap.Error(err))
		return nil
	case existing != nil:
		l.log.Warn("manual run already recorded; not dispatching", zap.String("job", t.Job), zap.String("run", t.Run),
			zap.String("state", string(existing.State)))
		return nil
	}
	claimed := runs[0]
	if claimed.State.InFlight() {
		l.log.Info("manual run", zap.String("job", j.Name), zap.String("run", claimed.ID), zap.String("by", claimed.By))
		l.send(j, claimed)
	} else {
		l.skipped(j, runs)
	}
	l.prune(j, 1)
	return nil
}

// PruneSlack is how many run records beyond h.Keep a job may gather before the leader has
// them pruned: a tenth of keep, at least 10, so pruning costs a few etcd requests per many
// claims and the job's key count stays near keep.
func PruneSlack(h job.History) int { return max(10, h.Keep/10) }

// prune has a job's run records beyond its history bounds deleted once every PruneSlack new
// records. The pruner does it, off the claim path.
func (l *loop) prune(j job.Job, added int) {
	l.recorded[j.Name] += added
	if l.recorded[j.Name] < PruneSlack(j.Spec.History) {
		return
	}
	l.recorded[j.Name] = 0
	l.pruner.add(j.Name, j.Spec.History)
}

// pruner deletes jobs' run history beyond their bounds for a leader loop. A prune is three
// round trips; done by the loop, every tenth claim of every job would wait for them.
type pruner struct {
	s     *Scheduler
	fence store.Fence
	log   *zap.Logger
	wake  chan struct{} // one buffered: due has jobs

	mu  sync.Mutex
	due map[string]job.History // jobs to prune, with their bounds
}

func newPruner(l *loop) *pruner {
	return &pruner{s: l.s, fence: l.fence, log: l.log, wake: make(chan struct{}, 1), due: make(map[string]job.History)}
}

func (p *pruner) add(name string, h job.History) {
	p.mu.Lock()
	p.due[name] = h
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run prunes the jobs added until ctx ends or the term turns out fenced (the loop finds that
// out by itself at its next claim). A failed prune is left for the job's next turn: history
// kept a little longer does no harm.
func (p *pruner) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		due := p.due
		p.due = make(map[string]job.History)
		p.mu.Unlock()
		for name, h := range due {
			pctx, cancel := context.WithTimeout(ctx, p.s.cfg.StoreTimeout)
			n, err := p.s.cfg.Store.PruneRuns(pctx, p.fence, name, h.Keep, p.s.clock.Now().Add(-h.MaxAge.D()))
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, fence.ErrFenced):
				p.log.Warn("pruning run history: fenced; stopping", zap.Error(err))
				return
			case err != nil:
				p.log.Warn("pruning run history failed; will retry", zap.String("job", name), zap.Error(err))
			case n == store.MaxPruneBatch:
				p.add(name, h) // more to go
			}
		}
	}
}

// advance moves a job's cursor past slot and plans its next slot.
func (l *loop) advance(j job.Job, slot time.Time) {
	if slot.After(l.cursors[j.Name]) {
		l.cursors[j.Name] = slot
	}
	l.replan(j)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// onTime is how late a slot may be and still count as on time for misfire.catchUp "none".
const onTime = time.Second

// Reaping of runs whose leader died: how often the leader looks, and how long after a run's
// claim plus its job's timeout the claimer is given to record a result itself.
const (
	reapEvery  = 10 * time.Second
	reapMargin = 30 * time.Second
)

// reap marks unknown the runs claimed by earlier terms that never recorded a result (their
// leader crashed, or was cut off, between claim and result). At most once: they are not sent
// again. Only ErrFenced is returned; other faults are retried at the next look.
func (l *loop) reap(now time.Time) error {
	ctx, cancel := context.WithTimeout(l.term, l.s.cfg.StoreTimeout)
	defer cancel()
	runs, err := l.s.cfg.Store.InFlight(ctx)
	if err != nil {
		l.log.Warn("reading in-flight runs failed; will retry", zap.Error(err))
		return nil
	}
	if l.triggers == nil {
		l.triggers = l.s.cfg.Store.WatchTriggers(l.term)
	}
	l.triggersDue = true // a watch event may have been lost with a failed watch
	if !now.Before(l.nextIdempotencyPrune) {
		if _, err := l.s.cfg.Store.PruneIdempotency(ctx, l.fence, now.Add(-store.IdempotencyTTL)); errors.Is(err, fence.ErrFenced) {
			return err
		} else if err != nil {
			l.log.Warn("pruning idempotency keys failed; will retry", zap.Error(err))
		} else {
			l.nextIdempotencyPrune = now.Add(time.Hour)
		}
	}
	for _, r := range runs {
		if r.Callback != nil {
			// Its target has it and reports to any replica, whichever leader sent it; only
			// silence past the deadline ends it.
			if err := l.timeOut(ctx, r, now); err != nil {
				return err
			}
			continue
		}
		if !r.State.InFlight() || r.Term == l.termID {
			continue
		}
		j, ok := l.s.cfg.Cache.Get(r.Job)
		if !ok || j.Invalid != nil {
			continue // not in this replica's cache yet (or unreadable): its policy is unknown
		}
		// The longest its claimer could still be at it: every attempt and the waits between.
		rt := j.Spec.Retry
		budget := time.Duration(rt.Attempts)*j.Spec.Target.HTTP.Timeout.D() + time.Duration(rt.Attempts-1)*rt.MaxBackoff.D()
		// Its request left at its slot (when claimed ahead) or its claim, plus its jitter.
		if now.Sub(later(r.Claimed, r.Scheduled)) < r.Jitter.D()+budget+reapMargin {
			continue // its claimer may still be delivering it
		}
		if j.Spec.Delivery == job.AtLeastOnce {
			was := r.Term
			r.Term, r.Replica, r.Claimed = l.termID, l.s.cfg.ReplicaID, now
			taken, err := l.s.cfg.Store.Reclaim(ctx, l.fence, r)
			switch {
			case errors.Is(err, fence.ErrFenced):
				return err
			case errors.Is(err, store.ErrRunChanged):
				continue
			case err != nil:
				l.log.Warn("taking over a run failed; will retry", zap.String("run", r.ID), zap.Error(err))
				return nil
			}
			l.log.Warn("sending again a run whose leader ended before recording a result (at least once)",
				zap.String("job", r.Job), zap.String("run", r.ID), zap.String("claimedBy", was))
			l.s.dispatch(j, taken, false)
			continue
		}
		detail := fmt.Sprintf("claimed by %s (term %s), which ended before recording a result; not sent again (at most once)", r.Replica, r.Term)
		marked, err := l.s.cfg.Store.MarkUnknown(ctx, l.fence, r, detail, now)
		switch {
		case errors.Is(err, fence.ErrFenced):
			return err
		case errors.Is(err, store.ErrRunChanged):
			continue // its claimer recorded it after all
		case err != nil:
			l.log.Warn("marking a run unknown failed; will retry", zap.String("run", r.ID), zap.Error(err))
			return nil
		}
		l.s.metrics.counted(marked, 1)
		l.log.Warn("run outcome unknown: its leader ended before recording a result", zap.String("job", r.Job),
			zap.String("run", r.ID), zap.String("claimedBy", r.Term))
	}
	return nil
}

// timeOut records a callback run failed/timeout once its deadline has passed without a
// report. Only ErrFenced is returned.
func (l *loop) timeOut(ctx context.Context, r store.Run, now time.Time) error {
	if r.State != store.StateRunning || !now.After(r.Callback.Deadline) {
		return nil
	}
	done, err := l.s.cfg.Store.TimeOut(ctx, l.fence, r, now)
	switch {
	case errors.Is(err, fence.ErrFenced):
		return err
	case errors.Is(err, store.ErrRunChanged):
		return nil // a report or heartbeat arrived meanwhile
	case err != nil:
		l.log.Warn("recording a callback timeout failed; will retry", zap.String("run", r.ID), zap.Error(err))
		return nil
	}
	l.s.Completed(done)
	l.log.Warn("run failed: no result or heartbeat from its target before the deadline", zap.String("job", r.Job),
		zap.String("run", r.ID), zap.Time("deadline", r.Callback.Deadline))
	return nil
}
