package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/job"
)

func (g *globals) jobsCommand() *cobra.Command {
	return group("jobs", "Create, inspect, pause, trigger and delete jobs",
		`Manage jobs through the API of any replica. "jobs apply" makes the server's jobs match
job files (YAML or JSON), for GitOps; the other commands act on one job by name.`,
		g.applyCommand(), g.getCommand(), g.listCommand(), g.deleteCommand(),
		g.pauseCommand(), g.resumeCommand(), g.triggerCommand())
}

func (g *globals) getCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "get NAME",
		Short:             "Show a job: its spec with defaults, and its status",
		Example:           "  schedulerd jobs get nightly-export\n  schedulerd jobs get nightly-export -o yaml > nightly-export.yaml",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (client.Job, error) { return c.GetJob(ctx, args[0]) }, describeJob)
		},
	}
}

func (g *globals) listCommand() *cobra.Command {
	var selector, prefix string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, by name",
		Example: "  schedulerd jobs list\n  schedulerd jobs list --selector team=payments,tier=batch --prefix report-\n" +
			"  schedulerd jobs list -o yaml > all-jobs.yaml",
		Args: usage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sel, err := parseSelector(selector)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			jobs, err := c.AllJobs(ctx(cmd), client.ListOptions{Prefix: prefix, Labels: sel})
			if err != nil {
				return fail(err)
			}
			jobs = slices.DeleteFunc(jobs, func(j client.Job) bool { return !selected(j, prefix, sel) })
			p := g.printer(cmd)
			if !p.table() {
				return list(p, jobs)
			}
			t := newColumns(p.w, "NAME", "STATE", "SCHEDULE", "TIMEZONE", "NEXT RUN", "LABELS")
			for _, j := range jobs {
				t.row(j.Name, j.Status.State, j.Schedule, j.Timezone, when(j.Status.NextRun), orDash(labels(j.Labels)))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only jobs with these labels: key=value,key2=value2")
	cmd.Flags().StringVar(&prefix, "prefix", "", "only jobs whose name starts with this")
	return cmd
}

// selected reports whether j has the prefix and every label of sel. The server filters too;
// this holds when it is an older one that ignores the query (and prune must never act on a
// job the selector does not match).
func selected(j client.Job, prefix string, sel map[string]string) bool {
	return strings.HasPrefix(j.Name, prefix) && hasLabels(j.Labels, sel)
}

// parseSelector reads "k=v,k2=v2" (empty: no selector).
func parseSelector(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	sel := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, usageErrorf("--selector %q: want key=value pairs separated by commas", s)
		}
		if err := job.ValidateLabel(k, false); err != nil {
			return nil, usageErrorf("--selector: label key %v", err)
		}
		if err := job.ValidateLabel(v, true); err != nil {
			return nil, usageErrorf("--selector: label value %v", err)
		}
		if old, dup := sel[k]; dup && old != v {
			return nil, usageErrorf("--selector: key %q given twice with different values", k)
		}
		sel[k] = v
	}
	return sel, nil
}

func (g *globals) deleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME",
		Short:             "Delete a job with its run history",
		Example:           "  schedulerd jobs delete old-report",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			type deleted struct {
				Name    string `json:"name"`
				Deleted bool   `json:"deleted"`
			}
			return call(g, cmd, func(ctx context.Context, c *client.Client) (deleted, error) {
				return deleted{args[0], true}, c.DeleteJob(ctx, args[0], client.Precondition{})
			}, func(p printer, d deleted) error { return line(p, "job %s deleted", d.Name) })
		},
	}
}

func (g *globals) pauseCommand() *cobra.Command {
	var req client.PauseRequest
	var until string
	var record bool
	cmd := &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a job: its slots are not run (nor owed) until it is resumed",
		Example: "  schedulerd jobs pause nightly-export --note 'disk swap' --until 2h\n" +
			"  schedulerd jobs pause nightly-export --until 2030-03-01T12:00:00Z --record=false",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if until != "" {
				t, err := parseUntil(until, time.Now())
				if err != nil {
					return err
				}
				req.Until = t
			}
			if cmd.Flags().Changed("record") {
				req.Record = &record
			}
			return call(g, cmd, func(ctx context.Context, c *client.Client) (client.Job, error) {
				return c.PauseJob(ctx, args[0], req, client.Precondition{})
			}, func(p printer, j client.Job) error {
				if j.Pause.End().IsZero() {
					return line(p, "job %s paused", j.Name)
				}
				return line(p, "job %s paused until %s", j.Name, when(j.Pause.End()))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Note, "note", "", "why it is paused (at most 1 KiB)")
	f.StringVar(&req.By, "by", "", "who pauses it (a server with authentication records the token's name)")
	f.StringVar(&until, "until", "", "resume by itself at this time: RFC 3339 (2030-03-01T12:00:00Z) or a duration from now (90m)")
	f.BoolVar(&record, "record", true, "record each slot of the pause as skipped")
	return cmd
}

// parseUntil reads an RFC 3339 time or a duration from now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, usageErrorf("--until %q: want an RFC 3339 time (2030-03-01T12:00:00Z) or a positive duration (90m)", s)
	}
	return now.Add(d).Truncate(time.Second), nil
}

func (g *globals) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "resume NAME",
		Short:             "Resume a paused job; its schedule starts afresh",
		Example:           "  schedulerd jobs resume nightly-export",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (client.Job, error) {
				return c.ResumeJob(ctx, args[0], client.Precondition{})
			}, func(p printer, j client.Job) error {
				return line(p, "job %s resumed; next run %s", j.Name, when(j.Status.NextRun))
			})
		},
	}
}

func (g *globals) triggerCommand() *cobra.Command {
	var req client.TriggerRequest
	cmd := &cobra.Command{
		Use:   "trigger NAME",
		Short: "Run a job now, by hand",
		Example: "  schedulerd jobs trigger nightly-export\n" +
			"  schedulerd jobs trigger nightly-export --idempotency-key deploy-42 --while-paused",
		Args:              usage(cobra.ExactArgs(1)),
		ValidArgsFunction: g.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (client.Trigger, error) {
				return c.TriggerJob(ctx, args[0], req)
			}, func(p printer, tr client.Trigger) error {
				what := "asked for"
				if tr.Replayed {
					what = "was asked for before with this idempotency key; no new run"
				}
				return line(p, "run %s %s (see: schedulerd runs get %s %s)", tr.Run, what, tr.Job, tr.Run)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.IdempotencyKey, "idempotency-key", "", "a retry with the same key starts no second run (at most 255 printable ASCII characters)")
	f.BoolVar(&req.WhilePaused, "while-paused", false, "run it even though the job is paused")
	f.StringVar(&req.By, "by", "", "who asks, for the run record (a server with authentication records the token's name)")
	return cmd
}

// describeJob shows one job for people, a field per line.
func describeJob(p printer, j client.Job) error {
	t := newColumns(p.w)
	kv := func(k, v string) {
		if v != "" {
			t.row(k+":", v)
		}
	}
	kv("Name", j.Name)
	kv("State", j.Status.State)
	kv("Error", j.Status.Error)
	kv("Version", fmt.Sprint(j.Status.Version))
	kv("Description", j.Description)
	kv("Labels", labels(j.Labels))
	kv("Schedule", j.Schedule)
	kv("Timezone", j.Timezone)
	if h := j.Target.HTTP; h != nil {
		kv("Target", h.Method+" "+h.URL)
	}
	if j.Paused {
		var p job.Pause // the server fills it in for a paused job; an empty one prints as such
		if j.Pause != nil {
			p = *j.Pause
		}
		pause := "since " + when(p.Since)
		if p.By != "" {
			pause += " by " + p.By
		}
		if !p.Until.IsZero() {
			pause += ", until " + when(p.Until)
		}
		kv("Paused", pause)
		kv("Pause note", p.Note)
	}
	for i, next := range j.Status.NextRuns {
		if i == 0 {
			kv("Next runs", next)
		} else {
			t.row("", next)
		}
	}
	if r := j.Status.LastRun; r != nil {
		last := r.ID + " " + string(r.State)
		if r.Status != 0 {
			last += fmt.Sprintf(" (%d, %s)", r.Status, r.Duration.D())
		}
		kv("Last run", last)
	}
	if len(j.Status.Runs) > 0 {
		var counts []string
		for _, s := range slices.Sorted(maps.Keys(j.Status.Runs)) {
			counts = append(counts, fmt.Sprintf("%s=%d", s, j.Status.Runs[s]))
		}
		kv("Runs", strings.Join(counts, " "))
	}
	kv("Created", when(j.Status.Created))
	kv("Updated", when(j.Status.Updated))
	return t.flush()
}

// completeJobs completes a job name argument (the first one) from the server.
func (g *globals) completeJobs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return g.jobNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// jobNames lists the job names starting with prefix, for completion; none when the server
// cannot say within a few seconds.
func (g *globals) jobNames(cmd *cobra.Command, prefix string) []string {
	if g.check(cmd) != nil {
		return nil
	}
	c, err := g.client()
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx(cmd), 5*time.Second)
	defer cancel()
	page, err := c.ListJobs(cctx, client.ListOptions{Prefix: prefix, Limit: 1000})
	if err != nil {
		return nil
	}
	var names []string
	for _, j := range page.Jobs {
		if strings.HasPrefix(j.Name, prefix) {
			names = append(names, j.Name)
		}
	}
	return names
}
