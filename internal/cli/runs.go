package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func (g *globals) runsCommand() *cobra.Command {
	return group("runs", "Inspect and cancel the runs of a job",
		`Runs are a job's history: each slot of its schedule and each manual run, newest first.`,
		g.runsListCommand(), g.runsGetCommand(), g.runsCancelCommand())
}

// maxRunsLimit is the API's largest page of runs.
const maxRunsLimit = 1000

func (g *globals) runsListCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:               "list JOB",
		Short:             "List a job's runs, newest first",
		Example:           "  schedulerd runs list nightly-export --limit 10",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || limit > maxRunsLimit {
				return usageErrorf("--limit %d: want 1 to %d (0: the server's default, 50)", limit, maxRunsLimit)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			runs, err := c.ListRuns(ctx(cmd), args[0], limit)
			if err != nil {
				return fail(err)
			}
			p := g.printer(cmd)
			if !p.table() {
				return list(p, runs)
			}
			t := newColumns(p.w, "RUN", "STATE", "REASON", "STATUS", "DURATION", "ERROR")
			for _, r := range runs {
				t.row(r.ID, string(r.State), orDash(r.Reason), status(r), duration(r), orDash(truncate(r.Error, 60)))
			}
			return t.flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many runs (1 to 1000; default: the server's, 50)")
	return cmd
}

func (g *globals) runsGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "get JOB RUN",
		Short:             "Show one run: its state, timings and every attempt",
		Example:           "  schedulerd runs get nightly-export 'nightly-export@2026-03-01T02:30:00Z'",
		Args:              usage(cobra.ExactArgs(2)),
		ValidArgsFunction: g.completeRuns,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (store.Run, error) { return c.GetRun(ctx, args[0], args[1]) }, describeRun)
		},
	}
}

func (g *globals) runsCancelCommand() *cobra.Command {
	var req client.CancelRequest
	cmd := &cobra.Command{
		Use:               "cancel JOB RUN",
		Short:             "Cancel a run in flight, or a manual run not started yet",
		Example:           "  schedulerd runs cancel nightly-export 'nightly-export@2026-03-01T02:30:00Z'",
		Args:              usage(cobra.ExactArgs(2)),
		ValidArgsFunction: g.completeRuns,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (store.Run, error) {
				return c.CancelRun(ctx, args[0], args[1], req)
			}, func(p printer, _ store.Run) error { return line(p, "run %s cancelled", args[1]) })
		},
	}
	cmd.Flags().StringVar(&req.By, "by", "", "who cancels, for the run record (a server with authentication records the token's name)")
	return cmd
}

func describeRun(p printer, r store.Run) error {
	t := newColumns(p.w)
	kv := func(k, v string) {
		if v != "" && v != "-" {
			t.row(k+":", v)
		}
	}
	kv("Run", r.ID)
	kv("Job", r.Job)
	kv("State", string(r.State))
	kv("Reason", r.Reason)
	kv("Scheduled", when(r.Scheduled))
	if r.Trigger != "" {
		kv("Trigger", strings.TrimSpace(r.Trigger+" "+r.By))
	}
	if r.Token != 0 {
		kv("Token", fmt.Sprintf("%d (replica %s)", r.Token, r.Replica))
	}
	kv("Claimed", when(r.Claimed))
	kv("Started", when(r.Started))
	kv("Finished", when(r.Finished))
	kv("Duration", duration(r))
	kv("Status", status(r))
	kv("Error", r.Error)
	for i, a := range r.AttemptLog {
		line := fmt.Sprintf("#%d %s %s", i+1, when(a.Started), a.Duration.D())
		if a.Status != 0 {
			line += fmt.Sprintf(" %d", a.Status)
		}
		if a.Error != "" {
			line += " " + a.Error
		}
		if i == 0 {
			kv("Attempts", line)
		} else {
			t.row("", line)
		}
	}
	kv("Response", truncate(r.Response, 200))
	return t.flush()
}

func status(r store.Run) string {
	if r.Status == 0 {
		return "-"
	}
	return fmt.Sprint(r.Status)
}

func duration(r store.Run) string {
	if r.Duration == 0 {
		return "-"
	}
	return r.Duration.D().String()
}

// completeRuns completes JOB, then RUN from the job's newest runs.
func (g *globals) completeRuns(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return g.jobNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		if g.check(cmd) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := g.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cctx, cancel := context.WithTimeout(ctx(cmd), 5*time.Second)
		defer cancel()
		runs, err := c.ListRuns(cctx, args[0], 100)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []string
		for _, r := range runs {
			if strings.HasPrefix(r.ID, toComplete) {
				ids = append(ids, r.ID)
			}
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}
