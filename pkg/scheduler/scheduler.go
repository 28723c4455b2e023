package scheduler

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/retry"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Executor performs one attempt of a run against its target.
type Executor interface {
	Execute(ctx context.Context, j job.Job, d fence.Dispatch) Result
}

// Result of one attempt. Err is nil exactly when the attempt succeeded.
type Result struct {
	// Status is the target's HTTP status; 0 when no answer arrived.
	Status int
	Err    error
	// RetryAfter is how long the target asked to wait before the next attempt (Retry-After).
	RetryAfter time.Duration
	// AlreadyDelivered: the target's fence reports it accepted this run before (a run sent
	// again after failover, delivery at least once). It counts as success.
	AlreadyDelivered bool
	// FenceRefusal is the kind of a fence refusal by the target (FenceStaleToken: a newer
	// leader's run reached it first, so this replica's token is stale; FenceDuplicateRun), or "".
	FenceRefusal string
	// Response is the start of the answer's body (at most store.MaxResponse bytes).
	Response string
}

// Fence refusals a target guarded by package fence answers with (the kind label of
// schedulerd_fence_rejections_total).
const (
	FenceStaleToken   = "stale-token"
	FenceDuplicateRun = "duplicate-run"
)

// Config of a Scheduler. Store, Cache and ReplicaID are required.
type Config struct {
	Store *store.Store
	Cache *store.Cache
	// Executor sends runs; default: an HTTP executor.
	Executor  Executor
	ReplicaID string
	// CallbackURL is the base URL (scheme://host:port) of an API replica that targets of
	// completion "callback" report to; such runs fail while it is empty.
	CallbackURL string
	// Clock drives the schedule; default: the real clock.
	Clock clockwork.Clock
	// DrainTimeout is how long shutdown waits for in-flight runs before cancelling them; default 1s.
	DrainTimeout time.Duration
	// StoreTimeout bounds each etcd operation of the loop; default 5s.
	StoreTimeout time.Duration
	// ClaimAhead is how long before its slot a run is claimed, so that the claim's round trip
	// to etcd is done when the slot comes and the request leaves on time; 0 claims at the
	// slot. The price: runs claimed by a leader that dies before their slot are handled like
	// any run whose leader died after its claim (unknown, or sent again with atLeastOnce)
	// instead of being sent late by the next leader. Not applied to jobs whose concurrency
	// bounds their runs in flight (forbid, maxConcurrent).
	ClaimAhead time.Duration
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// Scheduler plans and dispatches runs. Run must be running for Lead to be called; Run owns
// the dispatches that Lead starts and drains them when its context ends.
type Scheduler struct {
	cfg     Config
	clock   clockwork.Clock
	log     *zap.Logger
	runLogs *zap.Logger // log for runLog (runLogger)
	metrics *metrics
	results *resultWriter
	sends   sendGate // requests being sent, which results yield to

	// dispatchCtx is the parent of every dispatch; cancelled when the drain times out.
	dispatchCtx    context.Context
	cancelDispatch context.CancelFunc
	// finishCtx bounds the result writes of cancelled dispatches at shutdown.
	finishCtx    context.Context
	cancelFinish context.CancelFunc

	mu      sync.Mutex
	closed  bool
	loops   sync.WaitGroup // leader loops running (at most one at a time in practice)
	flights sync.WaitGroup // dispatches in flight
	// ahead counts runs claimed ahead of their slot and not sent yet: a loop that ends waits
	// for them before its term is handed over, so the next leader's requests (with a newer
	// token) cannot reach a fenced target before them.
	ahead sync.WaitGroup
	// running holds a cancel per dispatch in flight, by job then run id (concurrency replace).
	running map[string]map[string]context.CancelCauseFunc
}

// New validates cfg and returns a Scheduler.
func New(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("scheduler: Store is required")
	case cfg.Cache == nil:
		return nil, errors.New("scheduler: Cache is required")
	case cfg.ReplicaID == "":
		return nil, errors.New("scheduler: ReplicaID is required")
	case cfg.DrainTimeout < 0 || cfg.StoreTimeout < 0 || cfg.ClaimAhead < 0:
		return nil, errors.New("scheduler: timeouts must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Executor == nil {
		cfg.Executor = NewHTTPExecutor()
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = time.Second
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = 5 * time.Second
	}
	s := &Scheduler{
		cfg:     cfg,
		clock:   cfg.Clock,
		log:     cfg.Logger.Named("scheduler"),
		metrics: newMetrics(cfg.Registerer),
	}
	s.runLogs = runLogger(s.log)
	s.results = newResultWriter(cfg.Store, cfg.StoreTimeout, &s.sends, resultLinger)
	s.dispatchCtx, s.cancelDispatch = context.WithCancel(context.Background())
	s.running = make(map[string]map[string]context.CancelCauseFunc)
	s.finishCtx, s.cancelFinish = context.WithCancel(context.Background())
	return s, nil
}

// errClosed is returned by Lead after Run has begun shutting down.
var errClosed = errors.New("scheduler: shutting down")

// Run keeps per-job metric series in step with the job cache until ctx ends; then it waits
// for the leader loop to return, gives in-flight runs DrainTimeout to finish, cancels the rest
// and waits until their results are recorded (or could not be). It returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	sub := s.cfg.Cache.Subscribe()
	defer sub.Close()
	// Results are written until the dispatches have drained, or shutdown gives up on them.
	var writer sync.WaitGroup
	writer.Go(func() { s.results.run(s.finishCtx) })
	defer writer.Wait()
	var watcher sync.WaitGroup
	watcher.Go(func() { s.watchCancels(ctx) })
	defer watcher.Wait()
	for _, name := range s.cfg.Cache.Names() {
		s.metrics.addJob(name)
	}
	for {
		select {
		case <-sub.C():
			for _, name := range sub.Take() {
				if _, ok := s.cfg.Cache.Get(name); ok {
					s.metrics.addJob(name)
				} else {
					s.metrics.deleteJob(name)
				}
			}
			continue
		case <-ctx.Done():
		}
		break
	}

	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.loops.Wait() // no dispatch can start after this

	drained := make(chan struct{})
	go func() { s.flights.Wait(); close(drained) }()
	t := s.clock.NewTimer(s.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.Chan():
		s.log.Warn("drain timeout: cancelling runs still in flight", zap.Duration("drainTimeout", s.cfg.DrainTimeout))
		s.cancelDispatch()
		// Give the cancelled runs a moment to record their result, then stop trying.
		t2 := s.clock.NewTimer(500 * time.Millisecond)
		defer t2.Stop()
		select {
		case <-drained:
		case <-t2.Chan():
			s.cancelFinish()
			<-drained
		}
	}
	s.cancelDispatch()
	s.cancelFinish()
	return nil
}

// Lead runs the leader loop for one term and returns when the term ends (nil) or when the
// term is fenced (fence.ErrFenced). Use it as election.Config.Lead.
func (s *Scheduler) Lead(term election.Term) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.loops.Add(1)
	s.mu.Unlock()
	defer s.loops.Done()
	return newLoop(s, term).run()
}

// dispatch sends a claimed run at its time (its slot plus its jitter) and records its result;
// replace: first cancel the job's other runs in flight on this replica (concurrency replace).
// It is called by the leader loop only, so Run's loops barrier orders every flights.Add before
// flights.Wait.
func (s *Scheduler) dispatch(j job.Job, run store.Run, replace bool) {
	wake := run.Scheduled.Add(run.Jitter.D())
	if run.Trigger == store.TriggerManual {
		wake = time.Time{} // asked for now; its time is the asking replica's clock
	}
	ahead := run.Jitter == 0 && wake.After(s.clock.Now())
	if ahead {
		s.ahead.Add(1)
	}
	s.flights.Add(1)
	s.metrics.inFlight.Inc()
	ctx, cancelRun := context.WithCancelCause(s.dispatchCtx)
	s.mu.Lock()
	if s.running[run.Job] == nil {
		s.running[run.Job] = make(map[string]context.CancelCauseFunc)
	}
	s.running[run.Job][run.ID] = cancelRun
	s.mu.Unlock()
	go func() {
		defer s.flights.Done()
		defer s.metrics.inFlight.Dec()
		defer func() {
			s.mu.Lock()
			delete(s.running[run.Job], run.ID)
			if len(s.running[run.Job]) == 0 {
				delete(s.running, run.Job)
			}
			s.mu.Unlock()
			cancelRun(nil)
		}()
		log := newRunLog(s.runLogs, run)

		if d := wake.Sub(s.clock.Now()); d > 0 {
			t := s.clock.NewTimer(d)
			select {
			case <-t.Chan():
			case <-ctx.Done(): // cancelled, or shutdown: Execute below fails at once, and is recorded
				t.Stop()
			}
		}
		if ahead {
			s.ahead.Done()
			if s.withdrawnMeanwhile(log, run) {
				return
			}
		}
		if run.Jitter > 0 && !s.start(ctx, log, &run) {
			return
		}
		if replace {
			if n := s.replace(run.Job, run.ID); n > 0 {
				log.Info("cancelling runs in flight for a newer one", zap.Int("cancelled", n))
			}
		}
		var callback fence.Dispatch
		if run.CallbackToken != "" {
			callback = fence.Dispatch{
				CallbackURL:   strings.TrimSuffix(s.cfg.CallbackURL, "/") + "/v1/runs/" + url.PathEscape(run.ID) + "/complete",
				CallbackToken: run.CallbackToken,
			}
		}
		retry := j.Spec.Retry
		bo := retry.Backoff.D()
		for attempt := 1; ; attempt++ {
			res, a := s.attempt(ctx, j, run, attempt, callback)
			run.Attempts = attempt
			run.AttemptLog = append(run.AttemptLog, a)
			if res.FenceRefusal != "" {
				s.metrics.refuse(run.Job, res.FenceRefusal)
			}
			if attempt == 1 {
				run.Started = a.Started
				// Lateness is the scheduler's, not the jitter the job asked for.
				s.metrics.lateness.Observe(run.Started.Sub(run.Scheduled.Add(run.Jitter.D())).Seconds())
			}
			run.Finished = a.Started.Add(a.Duration.D())
			run.Duration = job.Duration(run.Finished.Sub(run.Started))
			run.Status, run.Error, run.Response = res.Status, a.Error, res.Response
			if res.Err == nil && callback.CallbackToken != "" {
				// Accepted (or had it already, from an earlier dispatch): the target reports
				// the result later, to any replica; nothing here holds the run any more.
				timeout := j.Spec.Target.HTTP.Timeout
				run.State, run.Finished, run.Duration = store.StateRunning, time.Time{}, 0
				run.Callback = &store.Callback{Accepted: run.Started.Add(a.Duration.D()), Timeout: timeout}
				run.Callback.Deadline = run.Callback.Accepted.Add(timeout.D())
				log.Info("run accepted; its target will report the result", zap.Int("status", res.Status), zap.Int("attempt", attempt),
					zap.Time("deadline", run.Callback.Deadline))
				s.record(log, run)
				return
			}
			if res.Err == nil {
				run.State = store.StateSucceeded
				if res.AlreadyDelivered {
					run.Error = "the target had accepted this run before (fence-duplicate-run)"
				}
				log.Info("run succeeded", zap.Int("status", res.Status), zap.Int("attempt", attempt), zap.Duration("duration", run.Duration.D()))
				break
			}
			run.State = store.StateFailed
			if cause := context.Cause(ctx); errors.Is(cause, errReplaced) || errors.Is(cause, errCancelled) {
				run.State, run.Error = store.StateCancelled, cause.Error()
				log.Warn("run cancelled", zap.Error(cause))
				break
			}
			if attempt < retry.Attempts && retryable(res, retry.On) && res.RetryAfter > retry.MaxBackoff.D() {
				// Waiting longer than maxBackoff would outlast the budget the next leader
				// grants this replica before it takes the run over.
				run.Error += fmt.Sprintf("; not retried: the target asked to wait %s (Retry-After), more than retry.maxBackoff %s",
					res.RetryAfter, retry.MaxBackoff.D())
				log.Warn("run failed", zap.Int("status", res.Status), zap.Int("attempt", attempt), zap.Duration("retryAfter", res.RetryAfter), zap.Error(res.Err))
				break
			}
			if attempt >= retry.Attempts || !retryable(res, retry.On) || ctx.Err() != nil {
				log.Warn("run failed", zap.Int("status", res.Status), zap.Int("attempt", attempt), zap.Duration("duration", run.Duration.D()), zap.Error(res.Err))
				break
			}
			// Exponential, jittered over its upper half, or the target's Retry-After if longer.
			wait := bo/2 + time.Duration(mathrand.Int64N(int64(bo/2)+1))
			wait = max(wait, res.RetryAfter)
			bo = min(2*bo, retry.MaxBackoff.D())
			log.Info("attempt failed; retrying", zap.Int("status", res.Status), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(res.Err))
			t := s.clock.NewTimer(wait)
			select {
			case <-t.Chan():
			case <-ctx.Done(): // shutdown: the last attempt's failure stands
				t.Stop()
			}
			if ctx.Err() != nil {
				break
			}
		}
		s.Completed(run)
		s.record(log, run)
	}()
}

// withdrawnMeanwhile reports whether a run claimed ahead of its slot must not be sent after
// all, because its job was paused or deleted while the run waited for the slot (at most the
// claim-ahead): the slot had not come, and a pause means the slots from then on are not owed.
// The paused job's run is recorded skipped (paused), as the loop records a paused slot; a
// deleted job's records went with it. Edits of any other kind do not withdraw a claimed run.
func (s *Scheduler) withdrawnMeanwhile(log runLog, run store.Run) bool {
	cur, ok := s.cfg.Cache.Get(run.Job)
	switch {
	case !ok:
		log.Info("job deleted before its run's slot; not sending the run claimed ahead")
		return true
	case cur.Invalid == nil && cur.PausedAt(run.Scheduled):
		run.State, run.Reason = store.StateSkipped, store.ReasonPaused
		s.metrics.counted(run, 1)
		s.metrics.skip(run.Job, run.Reason, 1)
		log.Info("job paused before its run's slot; the run claimed ahead is recorded as skipped")
		s.record(log, run)
		return true
	}
	return false
}

// Completed counts a run that reached its result: by this replica's dispatch, or reported to
// this replica's API by a callback target.
func (s *Scheduler) Completed(run store.Run) {
	s.metrics.duration.Observe(run.Duration.D().Seconds())
	s.metrics.counted(run, 1)
}

// start records that a claimed run's request begins (state running) once its jitter has
// passed. It returns false when the record changed meanwhile — the next leader took the run
// over, or marked it unknown — so the run must not be sent. A store fault does not stop the
// run: its result is recorded over the claimed record all the same.
func (s *Scheduler) start(ctx context.Context, log runLog, run *store.Run) bool {
	r := *run
	r.State, r.Started = store.StateRunning, s.clock.Now()
	wctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	updated, err := s.cfg.Store.UpdateRun(wctx, r)
	cancel()
	switch {
	case err == nil:
		*run = updated
	case errors.Is(err, store.ErrRunChanged):
		log.Warn("run record changed during the jitter delay; not sending it")
		return false
	default:
		log.Warn("recording the run's start failed; sending it anyway", zap.Error(err))
	}
	return true
}

// record writes a run's result, retrying store faults until it lands, the record turns out to
// have been changed by someone else, or shutdown gives up on it.
func (s *Scheduler) record(log runLog, run store.Run) {
	bo := retry.NewBackoff(50*time.Millisecond, 2*time.Second)
	var tr *retry.Tracker // at the first fault: most results land at once
	for {
		ctx, cancel := context.WithTimeout(s.finishCtx, s.cfg.StoreTimeout)
		_, err := s.results.write(ctx, run)
		cancel()
		switch {
		case err == nil:
			if tr != nil {
				tr.Succeeded()
			}
			return
		case errors.Is(err, store.ErrRunChanged) && run.State == store.StateCancelled:
			log.Info("run cancelled; its record says so already")
			return
		case errors.Is(err, store.ErrRunChanged):
			log.Warn("run record changed by someone else; result not recorded", zap.String("state", string(run.State)))
			return
		}
		if tr == nil {
			tr = retry.NewTracker(log.logger(), "recording run result")
		}
		tr.Failed(err)
		if bo.Wait(s.finishCtx, s.clock) != nil {
			log.Error("run result not recorded before shutdown", zap.String("state", string(run.State)), zap.Error(err))
			return
		}
	}
}

// attempt sends one attempt of run and reports it; callback carries the callback fields of
// the dispatch, if any.
func (s *Scheduler) attempt(parent context.Context, j job.Job, run store.Run, n int, callback fence.Dispatch) (Result, store.Attempt) {
	ctx, cancel := clockwork.WithTimeout(parent, s.clock, j.Spec.Target.HTTP.Timeout.D())
	defer cancel()
	a := store.Attempt{Started: s.clock.Now()}
	var res Result
	if callback.CallbackToken != "" && s.cfg.CallbackURL == "" {
		res.Err = errors.New("completion callback: this replica has no callback URL (serve --advertise-url)")
	} else {
		s.sends.begin()
		res = s.cfg.Executor.Execute(ctx, j, fence.Dispatch{
			Job: run.Job, RunID: run.ID, Scheduled: run.Scheduled, Token: run.Token, Attempt: n,
			CallbackURL: callback.CallbackURL, CallbackToken: callback.CallbackToken,
		})
		s.sends.end()
	}
	a.Duration, a.Status = job.Duration(s.clock.Now().Sub(a.Started)), res.Status
	if res.Err != nil {
		a.Error = res.Err.Error()
	}
	return res, a
}

// retryable reports whether a failed attempt is of a kind the job retries.
func retryable(res Result, on []job.RetryOn) bool {
	var kind job.RetryOn
	var op *net.OpError
	switch {
	case res.Status >= 500 && res.Status <= 599:
		kind = job.Retry5xx
	case res.Status == http.StatusTooManyRequests:
		kind = job.Retry429
	case res.Status != 0:
		return false // any other answer is the target's verdict
	case errors.Is(res.Err, context.DeadlineExceeded):
		kind = job.RetryTimeout
	case errors.As(res.Err, &op) && op.Op == "dial":
		kind = job.RetryConnect
	default:
		return false
	}
	return slices.Contains(on, kind)
}

// errReplaced is the cause of a run cancelled by a newer run of its job (concurrency replace).
var errReplaced = errors.New("replaced by a newer run of the job")

// errCancelled is the cause of a run cancelled through the API.
var errCancelled = errors.New("cancelled through the API")

// watchCancels aborts this replica's dispatches whose runs left the in-flight index: an
// operator cancelled them through the API (store.Cancel), on any replica. A run whose own
// result was just recorded leaves it too; cancelling its finished dispatch does nothing. A
// cancel missed while the watch restarts is not lost: the record says cancelled, and the
// dispatch's result, when it comes, does not overwrite it.
func (s *Scheduler) watchCancels(ctx context.Context) {
	bo := retry.NewBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		for resp := range s.cfg.Store.WatchInFlight(ctx) {
			if resp.Err() != nil {
				break
			}
			bo.Reset()
			for _, ev := range resp.Events {
				if jobName, id, ok := s.cfg.Store.RunOfInFlightKey(string(ev.Kv.Key)); ok {
					s.mu.Lock()
					if cancel := s.running[jobName][id]; cancel != nil {
						cancel(errCancelled)
					}
					s.mu.Unlock()
				}
			}
		}
		if bo.Wait(ctx, s.clock) != nil {
			return
		}
	}
}

// replace cancels this replica's runs of a job still in flight, for a newer run (concurrency
// replace); each is recorded as cancelled. It reports how many it cancelled.
func (s *Scheduler) replace(jobName, newer string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, cancel := range s.running[jobName] {
		if id != newer {
			cancel(fmt.Errorf("%w (%s)", errReplaced, newer))
			n++
		}
	}
	return n
}
