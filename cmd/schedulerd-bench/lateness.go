package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Lateness: how long after its slot a run reaches the target, with jobs spread over the
// minute and with every job due at one instant.
type latenessReport struct {
	scenarioInfo
	Parameters latenessParams  `json:"parameters"`
	Results    latenessResults `json:"results"`
}

type latenessParams struct {
	Jobs          []int   `json:"jobs"`
	AlignedJobs   int     `json:"alignedJobs"`
	WindowSeconds float64 `json:"windowSeconds"`
	// Spread: job i runs at second i mod 60 of every minute (6-field cron "<s> * * * * *").
	SpreadSchedule string `json:"spreadSchedule"`
	// Aligned: every job has the same "<s> * * * * *", s chosen to fall after they exist.
	AlignedSchedule   string  `json:"alignedSchedule"`
	SessionTTLSeconds float64 `json:"sessionTTLSeconds"`
}

type latenessResults struct {
	Spread  []spreadResult  `json:"spread"`
	Aligned []alignedResult `json:"aligned"`
}

type spreadResult struct {
	Jobs int `json:"jobs"`
	// CreateSeconds is how long writing the jobs took (32 at a time, through the store).
	CreateSeconds float64   `json:"createSeconds"`
	From          time.Time `json:"from"`
	// SlotsOwed are the slots in [from, from + window); Delivered those the target accepted.
	SlotsOwed int  `json:"slotsOwed"`
	Delivered int  `json:"delivered"`
	Lateness  dist `json:"lateness"`
	// Floor is the same bursts from a bare HTTP client, measured first in the same cluster.
	Floor burstFloor `json:"floor"`
}

type alignedResult struct {
	Jobs          int              `json:"jobs"`
	Schedule      string           `json:"schedule"`
	CreateSeconds float64          `json:"createSeconds"`
	Instants      []alignedInstant `json:"instants"`
}

type alignedInstant struct {
	At        time.Time `json:"at"`
	Delivered int       `json:"delivered"`
	// AllDispatchedMs is when the last of the jobs arrived, after the instant (every job
	// arrived only if Delivered equals the job count).
	AllDispatchedMs float64 `json:"allDispatchedMs"`
	Lateness        dist    `json:"lateness"`
}

func (b *bench) lateness(ctx context.Context) (*latenessReport, error) {
	counts := b.o.jobCounts([]int{1000, 10000}, []int{60})
	window := b.o.window(2*time.Minute, 2*time.Second)
	p := latenessParams{Jobs: counts, AlignedJobs: counts[len(counts)-1], WindowSeconds: window.Seconds(),
		SpreadSchedule: "<i mod 60> * * * * *", AlignedSchedule: "<s> * * * * *", SessionTTLSeconds: 10}
	r := &latenessReport{Parameters: p}
	createRate := 0.0 // jobs/s, from the spread runs: how far ahead the aligned instant must be
	for _, n := range counts {
		s, err := b.spread(ctx, n, window)
		if err != nil {
			return nil, err
		}
		createRate = float64(n) / max(s.CreateSeconds, 0.001)
		b.say("lateness: %d spread: %d/%d delivered, p50 %.1f ms, p99 %.1f ms, max %.1f ms", n, s.Delivered, s.SlotsOwed, s.Lateness.P50, s.Lateness.P99, s.Lateness.Max)
		r.Results.Spread = append(r.Results.Spread, s)
	}
	a, err := b.aligned(ctx, p.AlignedJobs, window, createRate)
	if err != nil {
		return nil, err
	}
	r.Results.Aligned = append(r.Results.Aligned, a)
	return r, nil
}

func (b *bench) spread(ctx context.Context, n int, window time.Duration) (spreadResult, error) {
	s := spreadResult{Jobs: n}
	c, err := b.startCluster(ctx, fmt.Sprintf("lateness-spread-%d", n))
	if err != nil {
		return s, err
	}
	defer c.stop()
	if err := c.startReplicas(ctx, 10*time.Second); err != nil {
		return s, err
	}
	if s.Floor, err = c.burstFloor(ctx, (n+59)/60, int(min(window, 20*time.Second).Seconds())); err != nil {
		return s, err
	}
	b.say("lateness: %d spread: this machine's floor for %d requests at once: p50 %.1f ms, p99 %.1f ms", n, s.Floor.PerSecond, s.Floor.Lateness.P50, s.Floor.Lateness.P99)
	name := func(i int) string { return fmt.Sprintf("spread-%06d", i) }
	took, err := c.putJobs(ctx, 0, n, name, func(i int) job.Spec { return c.httpJob(fmt.Sprintf("%d * * * * *", i%60)) })
	if err != nil {
		return s, err
	}
	s.CreateSeconds = round(took.Seconds(), 2)
	if err := c.awaitJobs(ctx, n); err != nil {
		return s, err
	}
	// Slots from the next whole second after a short settle, for the window.
	s.From = time.Now().Add(quickOr(b.o, 2*time.Second, 0)).Truncate(time.Second).Add(time.Second).UTC()
	to := s.From.Add(window)
	owed := make(map[string]bool)
	for t := s.From; t.Before(to); t = t.Add(time.Second) {
		for i := t.Second(); i < n; i += 60 {
			owed[store.RunID(name(i), t)] = true
		}
	}
	s.SlotsOwed = len(owed)
	mark := c.target.count()
	late := func() []time.Duration {
		var out []time.Duration
		seen := make(map[string]bool)
		for _, d := range c.target.since(mark) {
			if d.Verdict == verdictAccepted && owed[d.Run] && !seen[d.Run] {
				seen[d.Run] = true
				out = append(out, d.lateness())
			}
		}
		return out
	}
	// Every owed slot arrives, or the misfire grace (1 minute) has passed for the last one.
	_ = localcluster.Until(ctx, time.Until(to)+time.Minute+5*time.Second, "every slot delivered", func(context.Context) bool {
		// Counting first is cheap; collecting copies every request so far, and the benchmark
		// shares the cores with what it measures.
		return c.target.count()-mark >= s.SlotsOwed && len(late()) == s.SlotsOwed
	})
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	l := late()
	s.Delivered, s.Lateness = len(l), summarize(l)
	return s, nil
}

// aligned measures n jobs all due at the same instants. createRate (jobs/s) says how long
// creating them takes, so the first instant falls after the last one exists.
func (b *bench) aligned(ctx context.Context, n int, window time.Duration, createRate float64) (alignedResult, error) {
	a := alignedResult{Jobs: n}
	c, err := b.startCluster(ctx, fmt.Sprintf("lateness-aligned-%d", n))
	if err != nil {
		return a, err
	}
	defer c.stop()
	if err := c.startReplicas(ctx, 10*time.Second); err != nil {
		return a, err
	}
	margin := quickOr(b.o, 5*time.Second, 2*time.Second) + time.Duration(1.5*float64(n)/max(createRate, 1)*float64(time.Second))
	at := time.Now().Add(margin).Truncate(time.Second).UTC()
	a.Schedule = fmt.Sprintf("%d * * * * *", at.Second())
	name := func(i int) string { return fmt.Sprintf("aligned-%06d", i) }
	took, err := c.putJobs(ctx, 0, n, name, func(int) job.Spec { return c.httpJob(a.Schedule) })
	if err != nil {
		return a, err
	}
	a.CreateSeconds = round(took.Seconds(), 2)
	if err := c.awaitJobs(ctx, n); err != nil {
		return a, err
	}
	if time.Until(at) < time.Second {
		return a, fmt.Errorf("creating %d jobs took %s, past the instant they were meant for (%s)", n, took.Round(time.Millisecond), at.Format(time.TimeOnly))
	}
	mark := c.target.count()
	instants := max(1, int(window/time.Minute))
	for k := range instants {
		slot := at.Add(time.Duration(k) * time.Minute)
		of := func() []delivery {
			var out []delivery
			seen := make(map[string]bool)
			for _, d := range c.target.since(mark) {
				if d.Verdict == verdictAccepted && d.Scheduled.Equal(slot) && !seen[d.Run] {
					seen[d.Run] = true
					out = append(out, d)
				}
			}
			return out
		}
		// All of them, or until just before the next instant.
		_ = localcluster.Until(ctx, time.Until(slot)+55*time.Second, "every job dispatched", func(context.Context) bool {
			return c.target.count()-mark >= n && len(of()) == n
		})
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		ds := of()
		in := alignedInstant{At: slot, Delivered: len(ds)}
		var late []time.Duration
		for _, d := range ds {
			late = append(late, d.lateness())
		}
		in.Lateness = summarize(late)
		in.AllDispatchedMs = in.Lateness.Max
		b.say("lateness: %d aligned at %s: %d delivered, all after %.0f ms", n, slot.Format(time.TimeOnly), in.Delivered, in.AllDispatchedMs)
		a.Instants = append(a.Instants, in)
	}
	return a, nil
}
