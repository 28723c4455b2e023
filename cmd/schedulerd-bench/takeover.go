package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/schedulerd/schedulerd/internal/localcluster"
)

// takeover is how long a new leader takes after SIGTERM of the old, with many jobs.
type takeover struct {
	Jobs      int    `json:"jobs"`
	OldLeader string `json:"oldLeader"`
	NewLeader string `json:"newLeader"`
	// ReadyMs: from SIGTERM of the leader to the new leader's "scheduling loop started"
	// (its cursors read, every job planned), from its log.
	ReadyMs float64 `json:"readyMs"`
	// FirstDispatchMs: to the new leader's first dispatch of the probe job (@every 1s; the
	// signal goes 50 ms before its slot).
	FirstDispatchMs float64 `json:"firstDispatchMs"`
}

// takeover SIGTERMs the leader just before a slot of the probe job (@every 1s) and measures how
// long the next leader takes to be ready and to dispatch; then restarts the old leader.
func (c *cluster) takeover(ctx context.Context, jobs int) (takeover, error) {
	t := takeover{Jobs: jobs}
	leader, key, err := c.waitLeader(ctx, "", time.Minute)
	if err != nil {
		return t, err
	}
	mark := c.target.count()
	if err := localcluster.Until(ctx, time.Minute, "the probe job dispatched", func(context.Context) bool {
		_, ok := c.target.first(mark, func(d delivery) bool { return d.Verdict == verdictAccepted && int64(d.Token) == key.Token })
		return ok
	}); err != nil {
		return t, err
	}
	if _, err := untilSecond(ctx, signalBeforeSlot); err != nil {
		return t, err
	}
	mark = c.target.count()
	signalled := time.Now()
	if err := leader.Signal(syscall.SIGTERM); err != nil {
		return t, err
	}
	var first delivery
	if err := localcluster.Until(ctx, 2*time.Minute, "the probe dispatched by the next leader", func(context.Context) bool {
		var ok bool
		first, ok = c.target.first(mark, func(d delivery) bool { return d.Verdict == verdictAccepted && int64(d.Token) > key.Token })
		return ok
	}); err != nil {
		return t, err
	}
	t.FirstDispatchMs = ms(first.Arrived.Sub(signalled))
	next, _, err := c.waitLeader(ctx, leader.id, time.Minute)
	if err != nil {
		return t, err
	}
	t.OldLeader, t.NewLeader = leader.id, next.id
	ready, err := loopStarted(next.Proc, signalled)
	if err != nil {
		return t, err
	}
	t.ReadyMs = ms(ready.Sub(signalled))
	if err := leader.Wait(15 * time.Second); err != nil {
		return t, err
	}
	if err := leader.Start(); err != nil {
		return t, err
	}
	return t, localcluster.AwaitReady(ctx, c.b.http, leader.id, leader.api)
}

// loopStarted finds when a replica's log says its scheduling loop started, after since.
func loopStarted(p *localcluster.Proc, since time.Time) (time.Time, error) {
	var at time.Time
	err := p.ScanLog(func(line string) bool {
		if !strings.Contains(line, `"scheduling loop started"`) {
			return true
		}
		var l struct {
			TS string `json:"ts"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			return true
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000Z0700", l.TS)
		if err == nil && ts.After(since.Add(-time.Millisecond)) && at.IsZero() {
			at = ts
		}
		return true
	})
	if err == nil && at.IsZero() {
		err = fmt.Errorf("%s: no \"scheduling loop started\" in its log after %s", p.Name, since.Format(time.StampMilli))
	}
	return at, err
}
