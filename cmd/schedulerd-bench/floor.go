package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/pkg/fence"
)

// burstFloor is what this machine gives the spread run's bursts without schedulerd: a bare Go
// HTTP client, in a process of its own, sends as many requests as the spread has jobs per second, each from its own
// goroutine woken by its own timer at the whole second (as the scheduler sends runs claimed
// ahead), on kept-alive connections (a pool like the executor's), to the same recording
// target, while etcd and the replicas run with no jobs. No claims, no etcd, no records: the
// spread's lateness is read against it, as the ceiling is read against etcd's own limit.
type burstFloor struct {
	PerSecond int `json:"perSecond"`
	// Seconds are the bursts measured, after one that opens the connections.
	Seconds  int  `json:"seconds"`
	Lateness dist `json:"lateness"`
}

// floorPrefix starts the job name of every floor request.
const floorPrefix = "floor-"

// floorJob names the floor's i-th request of each second, as a job for the target's fence.
func floorJob(i int) string { return fmt.Sprintf("%s%06d", floorPrefix, i) }

// burstFloor has a child process (this binary, burst-client) send perSecond requests at each
// of seconds+1 whole seconds to c's target, and returns the lateness of those after the first
// second. A child, not a goroutine of the benchmark: the target runs in the benchmark's
// process, and a client sharing its runtime would not be what a leader is to a target.
func (c *cluster) burstFloor(ctx context.Context, perSecond, seconds int) (burstFloor, error) {
	f := burstFloor{PerSecond: perSecond, Seconds: seconds}
	first := time.Now().Truncate(time.Second).Add(2 * time.Second) // the child starts in ms
	mark := c.target.count()
	p := localcluster.NewProc(c.dir, "burst-client", []string{"burst-client", "--url", c.target.url,
		"--per-second", strconv.Itoa(perSecond), "--seconds", strconv.Itoa(seconds + 1), "--first", strconv.FormatInt(first.Unix(), 10)})
	if err := p.Start(); err != nil {
		return f, err
	}
	defer p.Kill()
	select {
	case <-p.Exited():
	case <-time.After(time.Until(first) + time.Duration(seconds+30)*time.Second):
		return f, fmt.Errorf("burst floor: the client did not finish (see %s)", p.LogPath())
	case <-ctx.Done():
		return f, ctx.Err()
	}
	var late []time.Duration
	for _, d := range c.target.since(mark) {
		if d.Verdict == verdictAccepted && strings.HasPrefix(d.Job, floorPrefix) && d.Scheduled.After(first) {
			late = append(late, d.lateness())
		}
	}
	if want := perSecond * seconds; len(late) != want {
		return f, fmt.Errorf("burst floor: the target accepted %d of the %d requests (see %s)", len(late), want, p.LogPath())
	}
	f.Lateness = summarize(late)
	return f, nil
}

// burstClientCommand is the child burstFloor starts.
func burstClientCommand() *cobra.Command {
	var url string
	var perSecond, seconds int
	var first int64
	cmd := &cobra.Command{
		Use:    "burst-client",
		Short:  "Send --per-second requests at each of --seconds whole seconds from --first (the lateness floor)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sendBursts(cmd.Context(), url, perSecond, seconds, time.Unix(first, 0))
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the target")
	cmd.Flags().IntVar(&perSecond, "per-second", 1, "requests at each second")
	cmd.Flags().IntVar(&seconds, "seconds", 1, "seconds with a burst")
	cmd.Flags().Int64Var(&first, "first", 0, "the first second, Unix time")
	return cmd
}

// sendBursts sends perSecond requests at each of seconds whole seconds from first, each from
// its own goroutine woken by its own timer at its second, and returns the first failure.
func sendBursts(ctx context.Context, url string, perSecond, seconds int, first time.Time) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 256 // as scheduler.NewHTTPExecutor
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, 1)
	for s := range seconds {
		slot := first.Add(time.Duration(s) * time.Second)
		// Woken a little ahead, as a claim-ahead leaves its runs waiting for the slot.
		if err := localcluster.Sleep(ctx, time.Until(slot.Add(-100*time.Millisecond))); err != nil {
			return err
		}
		for i := range perSecond {
			wg.Go(func() {
				t := time.NewTimer(time.Until(slot))
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
				d := fence.Dispatch{Job: floorJob(i), RunID: fmt.Sprintf("%s@%d", floorJob(i), slot.Unix()), Scheduled: slot, Token: 1, Attempt: 1}
				if err := floorRequest(ctx, client, url, d); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			})
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func floorRequest(ctx context.Context, client *http.Client, url string, d fence.Dispatch) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	d.Set(req.Header)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the target answered %s", resp.Status)
	}
	return nil
}
