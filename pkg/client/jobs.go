package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

// Job is a job as the API shows it: its name, its spec with defaults applied, and its status
// (docs/api.md#the-job-spec). The server's own type, so the two cannot drift apart.
type Job = api.JobView

// JobStatus is the read-only part of a job.
type JobStatus = api.JobStatus

// NamedSpec is a job as PUT and validate take it: a spec with its name.
type NamedSpec struct {
	Name string `json:"name,omitempty"`
	job.Spec
}

// jobPath is the escaped path of a job: a name holding '/' or '?' (invalid anyway) must not
// reach another route.
func jobPath(name string) string { return "/v1/jobs/" + url.PathEscape(name) }

// GetJob returns a job with its status (404 job-not-found when there is none).
func (c *Client) GetJob(ctx context.Context, name string) (Job, error) {
	var j Job
	_, _, err := c.do(ctx, request{method: http.MethodGet, path: jobPath(name)}, &j)
	return j, err
}

// ListOptions select and page jobs. The zero value lists every job, in the server's page size.
type ListOptions struct {
	// Prefix keeps the jobs whose name starts with it (?q=).
	Prefix string
	// Labels keeps the jobs that have every one of these labels (?label=k=v, repeated).
	Labels map[string]string
	// Limit is the page size (?limit=); 0 for the server's default.
	Limit int
	// Cursor continues a listing: the Next of the previous page.
	Cursor string
}

// JobPage is one page of a job listing, by name.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	// Next is the cursor of the next page; empty on the last one.
	Next string `json:"next,omitempty"`
}

// ListJobs returns one page of jobs.
func (c *Client) ListJobs(ctx context.Context, opts ListOptions) (JobPage, error) {
	q := url.Values{}
	if opts.Prefix != "" {
		q.Set("q", opts.Prefix)
	}
	for k, v := range opts.Labels {
		q.Add("label", k+"="+v)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var page JobPage
	_, _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/jobs", query: q}, &page)
	return page, err
}

// AllJobs lists the jobs opts selects, following the pages' cursors to the end (opts.Cursor
// is where it starts).
func (c *Client) AllJobs(ctx context.Context, opts ListOptions) ([]Job, error) {
	var all []Job
	seen := map[string]bool{}
	for {
		page, err := c.ListJobs(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Jobs...)
		if page.Next == "" {
			return all, nil
		}
		if seen[page.Next] {
			return nil, fmt.Errorf("schedulerd at %s: GET /v1/jobs: the server repeated the cursor %q", c.base, page.Next)
		}
		seen[page.Next] = true
		opts.Cursor = page.Next
	}
}

// PutJob creates (created true) or replaces a job, under the precondition, and returns it as
// stored. A spec equal to the stored one changes nothing, not even the version.
func (c *Client) PutJob(ctx context.Context, name string, spec job.Spec, pre Precondition) (j Job, created bool, err error) {
	h := http.Header{}
	pre.header(h)
	_, status, err := c.do(ctx, request{method: http.MethodPut, path: jobPath(name), header: h, body: NamedSpec{Name: name, Spec: spec}}, &j)
	return j, status == http.StatusCreated, err
}

// DeleteJob deletes a job with its run history, under the precondition (IfAbsent is ignored).
func (c *Client) DeleteJob(ctx context.Context, name string, pre Precondition) error {
	h := http.Header{}
	pre.IfAbsent = false
	pre.header(h)
	_, _, err := c.do(ctx, request{method: http.MethodDelete, path: jobPath(name), header: h}, nil)
	return err
}

// Validation is what the server makes of a spec it was asked to check (ValidateJob).
type Validation struct {
	Valid bool `json:"valid"`
	// Spec is the spec with defaults applied, as a GET would show it once stored.
	Spec job.Spec `json:"spec"`
	// NextRuns are the next fire times were it stored now.
	NextRuns []string `json:"nextRuns,omitempty"`
	// Errors lists what is wrong when Valid is false.
	Errors []problem.FieldError `json:"errors,omitempty"`
}

// ValidateJob asks the server to check a job (POST /v1/jobs:validate) without storing it.
// An invalid spec is an error: a *Problem (invalid-job) naming every bad field.
func (c *Client) ValidateJob(ctx context.Context, name string, spec job.Spec) (Validation, error) {
	b, err := json.Marshal(NamedSpec{Name: name, Spec: spec})
	if err != nil {
		return Validation{}, fmt.Errorf("client: encode job %q: %w", name, err)
	}
	return c.ValidateDocument(ctx, b)
}

// ValidateDocument is ValidateJob for a job document as a person wrote it (a JSON object with
// the name and the spec fields): the server names unknown fields and values of the wrong
// type by JSON Pointer, which a job.Spec could not carry.
func (c *Client) ValidateDocument(ctx context.Context, doc json.RawMessage) (Validation, error) {
	var v Validation
	_, status, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/jobs:validate", body: doc}, &v)
	if err == nil && !v.Valid {
		// A server that answers 200 {"valid": false, "errors": [...]} rather than a 400.
		p := &Problem{Details: problem.New(status, "invalid-job", "Invalid job", "")}
		p.Errors = v.Errors
		return v, p
	}
	return v, err
}

// PauseRequest is the body of a pause; every field is optional.
type PauseRequest struct {
	// Note says why (at most 1 KiB); By says who (at most 63 printable ASCII characters).
	Note string `json:"note,omitempty"`
	By   string `json:"by,omitempty"`
	// Until resumes the job by itself at this instant (in the future).
	Until time.Time `json:"until,omitzero"`
	// Record: record each slot of the pause as skipped (default true).
	Record *bool `json:"record,omitempty"`
}

// PauseJob pauses a job and returns it.
func (c *Client) PauseJob(ctx context.Context, name string, req PauseRequest, pre Precondition) (Job, error) {
	return c.edit(ctx, name, "/pause", req, pre)
}

// ResumeJob resumes a job and returns it; resuming an active job changes nothing.
func (c *Client) ResumeJob(ctx context.Context, name string, pre Precondition) (Job, error) {
	return c.edit(ctx, name, "/resume", nil, pre)
}

func (c *Client) edit(ctx context.Context, name, action string, body any, pre Precondition) (Job, error) {
	h := http.Header{}
	pre.IfAbsent = false
	pre.header(h)
	var j Job
	_, _, err := c.do(ctx, request{method: http.MethodPost, path: jobPath(name) + action, header: h, body: body}, &j)
	return j, err
}

// TriggerRequest asks for a manual run; every field is optional.
type TriggerRequest struct {
	// By says who asked, for the run record.
	By string `json:"by,omitempty"`
	// WhilePaused runs the job even though it is paused.
	WhilePaused bool `json:"whilePaused,omitempty"`
	// IdempotencyKey (the Idempotency-Key header): a retry with the same key starts no
	// second run and answers the first one's id.
	IdempotencyKey string `json:"-"`
}

// Trigger is the answer to a trigger.
type Trigger struct {
	Job string `json:"job"`
	// Run is the manual run's id; GetRun shows it (state "triggered" until the leader claims it).
	Run string `json:"run"`
	// Replayed: the idempotency key was used before, and Run is the run it started then.
	Replayed bool `json:"replayed,omitempty"`
}

// TriggerJob asks for a manual run of a job.
func (c *Client) TriggerJob(ctx context.Context, name string, req TriggerRequest) (Trigger, error) {
	h := http.Header{}
	if req.IdempotencyKey != "" {
		h.Set("Idempotency-Key", req.IdempotencyKey)
	}
	var t Trigger
	_, _, err := c.do(ctx, request{method: http.MethodPost, path: jobPath(name) + "/trigger", header: h, body: req}, &t)
	return t, err
}
