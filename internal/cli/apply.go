package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/schedulerd/schedulerd/pkg/client"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// Actions of apply, per job.
const (
	actionCreated   = "created"
	actionChanged   = "changed"
	actionUnchanged = "unchanged"
	actionPruned    = "pruned"
)

// result is what apply does (or, with --dry-run, would do) to one job.
type result struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	// Source is the document the job comes from; empty for a pruned job.
	Source  string   `json:"source,omitempty"`
	Changes []change `json:"changes,omitempty"`
	DryRun  bool     `json:"dryRun,omitempty"`
	// Error says why the write failed.
	Error string `json:"error,omitempty"`

	spec    job.Spec // what to PUT
	version int64    // the version read: the write's precondition (0: create)
}

func (g *globals) applyCommand() *cobra.Command {
	var files []string
	var prune, dryRun bool
	var selector string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR ...",
		Short: "Make the server's jobs match job files (YAML or JSON)",
		Long: `Make the server's jobs match job files: create the jobs that are missing, update the ones
that differ, leave the others alone; with --prune, also delete the jobs that match --selector
but are in none of the files.

Each document is one job: name: and the spec fields (docs/api.md). A YAML file may hold
several documents separated by "---"; a JSON file holds an object or an array of them. A
directory contributes its .yaml, .yml and .json files (not its subdirectories); "-" is stdin.

Every document is validated by the server before anything is written: if one is invalid,
all problems are printed and nothing is written. Each write is conditional on what apply
read, so a job someone changed meanwhile is reported (exit 1), not overwritten.

A document without "paused" keeps the job's pause as it is on the server, so a pause made
with "schedulerd jobs pause" survives the next apply; "paused: false" resumes it.`,
		Example: "  schedulerd jobs apply -f jobs/ --dry-run\n" +
			"  schedulerd jobs apply -f jobs/ --prune --selector team=payments\n" +
			"  schedulerd jobs get nightly-export -o yaml | schedulerd jobs apply -f -",
		Args: usage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageErrorf("-f is required: the job files or directories to apply")
			}
			sel, err := parseSelector(selector)
			if err != nil {
				return err
			}
			switch {
			case prune && sel == nil:
				return usageErrorf("--prune needs --selector: it deletes only the jobs with those labels that are in none of the files")
			case !prune && sel != nil:
				return usageErrorf("--selector selects the jobs --prune may delete; give --prune too")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			a := applier{c: c, p: g.printer(cmd), stderr: cmd.ErrOrStderr(), dryRun: dryRun}
			return a.run(ctx(cmd), files, cmd.InOrStdin(), prune, sel)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&files, "filename", "f", nil, "job file, directory of job files, or - for stdin (repeatable)")
	f.BoolVar(&prune, "prune", false, "delete the jobs matching --selector that are in none of the files")
	f.StringVarP(&selector, "selector", "l", "", "with --prune: the labels of the jobs these files own, key=value,key2=value2")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be created, changed, left alone and pruned; write nothing")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// applier carries out one apply.
type applier struct {
	c      *client.Client
	p      printer
	stderr io.Writer
	dryRun bool
}

// planConcurrency bounds the validations and reads apply makes at once.
const planConcurrency = 8

func (a applier) run(ctx context.Context, files []string, stdin io.Reader, prune bool, sel map[string]string) error {
	docs, problems := readDocuments(files, stdin)
	seen := map[string]string{}
	for _, d := range docs {
		if first, dup := seen[d.name]; dup {
			problems = append(problems, fmt.Sprintf("%s: job %q is defined twice (first at %s)", d.source, d.name, first))
			continue
		}
		seen[d.name] = d.source
	}
	if len(docs) == 0 && len(problems) == 0 {
		return fmt.Errorf("no job documents in %s: nothing to apply", strings.Join(files, ", "))
	}

	results := make([]result, len(docs))
	invalid := make([]string, len(docs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(planConcurrency)
	for i, d := range docs {
		g.Go(func() (err error) {
			results[i], invalid[i], err = a.plan(gctx, d)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	for _, msg := range invalid {
		if msg != "" {
			problems = append(problems, msg)
		}
	}
	if len(problems) > 0 {
		for _, msg := range problems {
			fmt.Fprintln(a.stderr, msg)
		}
		return fmt.Errorf("%d problem(s) in the job files; nothing was written", len(problems))
	}

	if prune {
		for i, d := range docs {
			if !hasLabels(results[i].spec.Labels, sel) {
				fmt.Fprintf(a.stderr, "warning: %s: job %s lacks the labels %s: removed from the files, it will not be pruned\n",
					d.source, d.name, labels(sel))
			}
		}
		live, err := a.c.AllJobs(ctx, client.ListOptions{Labels: sel})
		if err != nil {
			return fail(err)
		}
		for _, j := range live {
			if _, inFiles := seen[j.Name]; !inFiles && selected(j, "", sel) {
				results = append(results, result{Name: j.Name, Action: actionPruned, version: j.Status.Version})
			}
		}
	}

	failures := 0
	for i := range results {
		r := &results[i]
		r.DryRun = a.dryRun
		if !a.dryRun {
			if err := a.write(ctx, r); err != nil {
				failures++
				r.Error = err.Error()
				fmt.Fprintf(a.stderr, "job %s: %v\n", r.Name, err)
				continue
			}
		}
		if a.p.table() {
			if err := a.show(*r); err != nil {
				return err
			}
		}
	}
	if !a.p.table() {
		if err := list(a.p, results); err != nil {
			return err
		}
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d job(s) not applied", failures, len(results))
	}
	return nil
}

// plan validates a document with the server and compares it with the job there. A document
// the server finds invalid gives a message, not an error; an error ends the apply.
func (a applier) plan(ctx context.Context, d document) (r result, invalid string, err error) {
	r = result{Name: d.name, Source: d.source}
	v, err := a.c.ValidateDocument(ctx, d.body)
	if p := (*client.Problem)(nil); errors.As(err, &p) && isInputProblem(p) {
		return r, describeInvalid(d, p), nil
	}
	if err != nil {
		return r, "", err
	}
	var ns client.NamedSpec
	if err := json.Unmarshal(d.body, &ns); err != nil {
		return r, fmt.Sprintf("%s: %v", d.source, err), nil // the server took it; decode as it did
	}
	r.spec = ns.Spec
	want := v.Spec
	live, err := a.c.GetJob(ctx, d.name)
	switch {
	case client.IsKind(err, "job-not-found"):
		r.Action = actionCreated
		return r, "", nil
	case err != nil:
		return r, "", err
	}
	if !d.setsPaused {
		// The server's pause stays: a pause made by hand survives the files.
		r.spec.Paused, r.spec.Pause = live.Paused, comparable(live.Spec).Pause // since: the store's to set
		want.Paused, want.Pause = live.Paused, live.Pause
	}
	r.version = live.Status.Version
	r.Changes = diffSpecs(live.Spec, want)
	r.Action = actionChanged
	if len(r.Changes) == 0 {
		r.Action = actionUnchanged
	}
	return r, "", nil
}

// isInputProblem tells a problem with the document (reported with the others) from one with
// the server or the request (which ends the apply).
func isInputProblem(p *client.Problem) bool {
	switch p.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return p.Kind() != "invalid-parameter"
	}
	return false
}

// describeInvalid says what is wrong with a document, each field with its line when known.
func describeInvalid(d document, p *client.Problem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: job %s: %s (%d)", d.source, d.name, p.Title, p.Status)
	if len(p.Errors) == 0 && p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for _, fe := range p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s: %s", d.where(fe.Pointer), field(fe.Pointer), fe.Detail)
	}
	return b.String()
}

// write carries out a planned result under its precondition.
func (a applier) write(ctx context.Context, r *result) error {
	var err error
	switch r.Action {
	case actionCreated:
		_, _, err = a.c.PutJob(ctx, r.Name, r.spec, client.Precondition{IfAbsent: true})
	case actionChanged:
		_, _, err = a.c.PutJob(ctx, r.Name, r.spec, client.Precondition{IfVersion: r.version})
	case actionPruned:
		err = a.c.DeleteJob(ctx, r.Name, client.Precondition{IfVersion: r.version})
		if client.IsKind(err, "job-not-found") {
			err = nil // gone already: what prune wanted
		}
	}
	switch {
	case client.IsKind(err, "job-exists"):
		return errors.New("someone created it since apply looked (412); nothing written for it: run apply again to compare")
	case client.IsKind(err, "version-mismatch"):
		return errors.New("someone changed it since apply read it (412); nothing written for it: run apply again to compare")
	}
	return fail(err)
}

// show prints one result for people.
func (a applier) show(r result) error {
	suffix := ""
	if r.DryRun {
		suffix = " (dry run)"
	}
	if _, err := fmt.Fprintf(a.p.w, "job %s %s%s\n", r.Name, r.Action, suffix); err != nil {
		return err
	}
	for _, c := range r.Changes {
		if _, err := fmt.Fprintf(a.p.w, "  %s: %s -> %s\n", c.Field, orNone(c.From), orNone(c.To)); err != nil {
			return err
		}
	}
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// hasLabels reports whether have holds every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}
