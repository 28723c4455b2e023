package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/history"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Failover: the time from a signal to the leader until the next dispatch of a slot after it,
// whichever replica sends it, and until the next leader's first dispatch. They differ when
// the signalled leader had claimed the coming slot ahead (--claim-ahead) and, stopping
// gracefully, sent it on time before handing over: then the next leader has nothing to send
// until the slot after.
type failoverReport struct {
	scenarioInfo
	Parameters failoverParams  `json:"parameters"`
	Results    failoverResults `json:"results"`
}

type failoverParams struct {
	TTLs     []string `json:"ttls"`
	Signals  []string `json:"signals"`
	Trials   int      `json:"trials"`
	Replicas int      `json:"replicas"`
	Jobs     int      `json:"jobs"` // @every 1s, fence-guarded target
	// SignalBeforeSlotMs: each signal is sent this long before a whole second, when every
	// job is due next, so the time measured is the hand-over rather than the wait for a slot.
	SignalBeforeSlotMs float64 `json:"signalBeforeSlotMs"`
}

type failoverResults struct {
	Summaries []failoverSummary `json:"summaries"`
	Trials    []failoverTrial   `json:"trials"`
	// Checks is pkg/history's check of the whole history of each TTL's run.
	Checks []failoverCheck `json:"checks"`
}

type failoverSummary struct {
	TTL    string `json:"ttl"`
	Signal string `json:"signal"`
	// NextDispatch: signal → the first request of a slot after the signal (any replica).
	NextDispatch dist `json:"nextDispatch"`
	// Failover: signal → the first request from the next leader.
	Failover dist `json:"failover"`
	// NotDelivered counts slots between each signal and the new leader's first dispatch that
	// never reached the target (skipped as missed by the catch-up policy, or in doubt).
	NotDelivered int `json:"notDelivered"`
	Duplicates   int `json:"duplicates"`
}

type failoverTrial struct {
	TTL            string    `json:"ttl"`
	Signal         string    `json:"signal"`
	Leader         string    `json:"leader"`
	NewLeader      string    `json:"newLeader"`
	SignalledAt    time.Time `json:"signalledAt"`
	NextDispatchMs float64   `json:"nextDispatchMs"`
	FailoverMs     float64   `json:"failoverMs"`
	NotDelivered   int       `json:"notDelivered"`
}

type failoverCheck struct {
	TTL             string         `json:"ttl"`
	Slots           int            `json:"slots"`
	Dispatches      int            `json:"dispatches"`
	Duplicates      int            `json:"duplicates"`
	StaleClaims     int            `json:"staleClaims"`
	SilentLosses    int            `json:"silentLosses"`
	FenceRejections int            `json:"fenceRejections"`
	Skipped         map[string]int `json:"skipped"`
	InDoubt         int            `json:"inDoubt"`
}

const signalBeforeSlot = 50 * time.Millisecond

func (b *bench) failover(ctx context.Context) (*failoverReport, error) {
	ttls := pick(b.o, "ttl", b.o.ttls, b.o.ttls, []time.Duration{time.Second})
	p := failoverParams{Signals: b.o.signals, Trials: pick(b.o, "trials", b.o.trials, b.o.trials, 1), Replicas: b.o.replicas,
		Jobs: quickOr(b.o, 4, 2), SignalBeforeSlotMs: ms(signalBeforeSlot)}
	r := &failoverReport{Parameters: p}
	for _, ttl := range ttls {
		r.Parameters.TTLs = append(r.Parameters.TTLs, ttl.String())
		if err := b.failoverTTL(ctx, r, ttl); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (b *bench) failoverTTL(ctx context.Context, r *failoverReport, ttl time.Duration) error {
	p := r.Parameters
	c, err := b.startCluster(ctx, "failover-"+ttl.String())
	if err != nil {
		return err
	}
	defer c.stop()
	if err := c.startReplicas(ctx, ttl); err != nil {
		return err
	}
	from := time.Now().UTC()
	name := func(i int) string { return fmt.Sprintf("fo-%d", i+1) }
	if _, err := c.putJobs(ctx, 0, p.Jobs, name, func(int) job.Spec {
		s := c.httpJob("@every 1s")
		s.History.Keep = 100_000 // the check needs every record
		return s
	}); err != nil {
		return err
	}
	var trials []failoverTrial
	for i := range p.Trials * len(p.Signals) {
		sig := p.Signals[i%len(p.Signals)]
		t, err := c.failoverTrial(ctx, sig)
		if err != nil {
			return fmt.Errorf("TTL %s, trial %d (%s): %w", ttl, i+1, sig, err)
		}
		t.TTL = ttl.String()
		b.say("failover: TTL %s, SIG%s %s → %s: %.0f ms", ttl, map[string]string{signalKill: "KILL", signalTerm: "TERM"}[sig], t.Leader, t.NewLeader, t.FailoverMs)
		trials = append(trials, t)
	}
	// Every slot of every job, from their creation to a second before the last trial ended.
	to := time.Now().UTC().Add(-time.Second)
	if err := localcluster.Sleep(ctx, quickOr(b.o, 3*time.Second, time.Second)); err != nil { // the last runs land
		return err
	}
	in, err := localcluster.ReadStore(ctx, c.etcd, prefix)
	if err != nil {
		return err
	}
	delivered := make(map[string]bool)
	dups := make(map[string]int)
	for _, d := range c.target.since(0) {
		in.Entries = append(in.Entries, history.Entry{Arrived: d.Arrived, Job: d.Job, Run: d.Run, Scheduled: d.Scheduled,
			Token: d.Token, Attempt: d.Attempt, Verdict: d.Verdict})
		if d.Verdict == verdictAccepted {
			delivered[d.Run] = true
		}
		if d.Verdict == verdictDuplicate {
			dups[d.Run]++
		}
	}
	in.From, in.To = from, to
	h := history.Check(in)
	r.Results.Checks = append(r.Results.Checks, failoverCheck{TTL: ttl.String(), Slots: h.Slots, Dispatches: h.Dispatches, Duplicates: h.Duplicates,
		StaleClaims: h.StaleClaims, SilentLosses: h.SilentLosses, FenceRejections: h.FenceRejections, Skipped: h.Skipped, InDoubt: h.InDoubt})

	// Per trial: slots due after the signal, up to the new leader's first dispatch, not delivered.
	for i := range trials {
		t := &trials[i]
		end := t.SignalledAt.Add(time.Duration(t.FailoverMs * float64(time.Millisecond)))
		for slot := t.SignalledAt.Truncate(time.Second).Add(time.Second); !slot.After(end); slot = slot.Add(time.Second) {
			for j := range p.Jobs {
				if !delivered[store.RunID(name(j), slot)] {
					t.NotDelivered++
				}
			}
		}
	}
	for _, sig := range p.Signals {
		s := failoverSummary{TTL: ttl.String(), Signal: sig}
		var gaps, next []time.Duration
		for _, t := range trials {
			if t.Signal == sig {
				gaps = append(gaps, time.Duration(t.FailoverMs*float64(time.Millisecond)))
				next = append(next, time.Duration(t.NextDispatchMs*float64(time.Millisecond)))
				s.NotDelivered += t.NotDelivered
			}
		}
		s.Failover, s.NextDispatch = summarize(gaps), summarize(next)
		s.Duplicates = h.Duplicates
		r.Results.Summaries = append(r.Results.Summaries, s)
	}
	r.Results.Trials = append(r.Results.Trials, trials...)
	return nil
}

// failoverTrial signals the leader just before a slot, measures until the first dispatch of
// the next leader, restarts the signalled replica and waits until it is ready again.
func (c *cluster) failoverTrial(ctx context.Context, sig string) (failoverTrial, error) {
	t := failoverTrial{Signal: sig}
	leader, key, err := c.waitLeader(ctx, "", time.Minute)
	if err != nil {
		return t, err
	}
	// The leader dispatches: a run of its term arrives.
	mark := c.target.count()
	if err := localcluster.Until(ctx, time.Minute, leader.id+" dispatching", func(context.Context) bool {
		_, ok := c.target.first(mark, func(d delivery) bool { return d.Verdict == verdictAccepted && int64(d.Token) == key.Token })
		return ok
	}); err != nil {
		return t, err
	}
	if _, err := untilSecond(ctx, signalBeforeSlot); err != nil {
		return t, err
	}
	mark = c.target.count()
	t.Leader, t.SignalledAt = leader.id, time.Now().UTC()
	s := syscall.SIGKILL
	if sig == signalTerm {
		s = syscall.SIGTERM
	}
	if err := leader.Signal(s); err != nil {
		return t, err
	}
	var first delivery
	if err := localcluster.Until(ctx, c.ttl+time.Minute, "a dispatch by the next leader", func(context.Context) bool {
		var ok bool
		first, ok = c.target.first(mark, func(d delivery) bool { return d.Verdict == verdictAccepted && int64(d.Token) > key.Token })
		return ok
	}); err != nil {
		return t, err
	}
	t.FailoverMs = ms(first.Arrived.Sub(t.SignalledAt))
	// The next leader's first request is of a slot after the signal, so there is one.
	next, _ := c.target.first(mark, func(d delivery) bool { return d.Verdict == verdictAccepted && d.Scheduled.After(t.SignalledAt) })
	t.NextDispatchMs = ms(next.Arrived.Sub(t.SignalledAt))
	if err := leader.Wait(15 * time.Second); err != nil {
		return t, err
	}
	if next, _, err := c.waitLeader(ctx, leader.id, time.Minute); err == nil {
		t.NewLeader = next.id
	} else {
		return t, err
	}
	if err := leader.Start(); err != nil {
		return t, err
	}
	return t, localcluster.AwaitReady(ctx, c.b.http, leader.id, leader.api)
}
