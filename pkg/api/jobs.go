package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/schedule"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// jobBody is what PUT /v1/jobs/{name} accepts: a spec, optionally with the name (which must
// match the path) and a status (ignored), so the body of a GET can be sent back as it is.
type jobBody struct {
	Name string `json:"name,omitempty"`
	job.Spec
	Status json.RawMessage `json:"status,omitempty"`
}

// jobMeta is the part of jobBody outside the spec. The spec is decoded on its own so that type
// errors name fields by their path in the body ("target.http.timeout"), not through the
// embedded struct.
type jobMeta struct {
	Name string `json:"name"`
}

// JobView is how a job is shown: its spec, with defaults applied, and its status. Clients
// decode it too (package client).
type JobView struct {
	Name string `json:"name"`
	job.Spec
	Status JobStatus `json:"status"`
}

// JobStatus is the read-only part of a job view.
type JobStatus struct {
	// State is active, paused, completed (a one-shot that has had its run) or invalid (a
	// stored spec this replica cannot schedule).
	State   string    `json:"state"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// ScheduledFrom: slots at or before it are not owed (it moves when the schedule changes).
	ScheduledFrom time.Time `json:"scheduledFrom"`
	// LastScheduled is the scheduled time of the last run claimed or skipped.
	LastScheduled time.Time `json:"lastScheduled,omitzero"`
	// NextRun is the next slot owed; absent when paused or invalid.
	NextRun time.Time `json:"nextRun,omitzero"`
	// NextRuns are the next fire times from NextRun on, in the job's time zone.
	NextRuns []string `json:"nextRuns,omitempty"`
	// LastRun is the newest run record, and Runs counts the retained records by state (GET
	// of one job only).
	LastRun *store.Run          `json:"lastRun,omitempty"`
	Runs    map[store.State]int `json:"runs,omitempty"`
	Error   string              `json:"error,omitempty"`
}

func view(j job.Job, cursor, now time.Time) JobView {
	v := JobView{Name: j.Name, Spec: j.Spec, Status: JobStatus{
		State: "active", Version: j.Version, Created: j.Created, Updated: j.Updated,
		ScheduledFrom: j.ScheduledFrom, LastScheduled: cursor,
	}}
	switch {
	case j.Invalid != nil:
		v.Status.State, v.Status.Error = "invalid", j.Invalid.Error()
	case j.PausedAt(now):
		v.Status.State = "paused"
		v.Status.NextRun = j.Next(cursor) // the first slot after an automatic resume, if any
	case j.Next(cursor).IsZero():
		v.Status.State = "completed" // a one-shot that fired (or was skipped): never again
	default:
		v.Status.NextRun = j.Next(cursor)
		loc, err := job.LoadLocation(j.Spec.Timezone)
		if err != nil {
			loc = time.UTC
		}
		for next := v.Status.NextRun; !next.IsZero() && len(v.Status.NextRuns) < nextRunsShown; next = j.Next(next) {
			v.Status.NextRuns = append(v.Status.NextRuns, next.In(loc).Format(time.RFC3339))
		}
	}
	return v
}

// nextRunsShown is how many upcoming fire times a job's status lists.
const nextRunsShown = 5

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads an If-Match header holding one ETag of this API; 0 when absent.
func ifMatch(r *http.Request) (int64, *problem.Details) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v <= 0 {
		p := problem.New(http.StatusBadRequest, "invalid-precondition", "Invalid If-Match",
			fmt.Sprintf("If-Match must be one ETag returned by this API, such as %s; got %q", etag(42), h))
		return 0, &p
	}
	return v, nil
}

// pathName reads and validates the {name} path segment.
func pathName(r *http.Request) (string, *problem.Details) {
	name := r.PathValue("name")
	if err := job.ValidateName(name); err != nil {
		p := invalid("Invalid job name", []problem.FieldError{{Pointer: "#/name", Detail: err.Error()}})
		return "", &p
	}
	return name, nil
}

// writeTarget reads what a request that changes a job names: the job, and the version it
// must be at (If-Match; 0 for any). It answers the problem itself when either is invalid.
func writeTarget(w http.ResponseWriter, r *http.Request) (name string, ifVersion int64, ok bool) {
	name, p := pathName(r)
	if p == nil {
		ifVersion, p = ifMatch(r)
	}
	if p != nil {
		problem.Write(w, r, *p)
		return "", 0, false
	}
	return name, ifVersion, true
}

// readSpec decodes and validates a job body, answering the problem itself when it is not a
// valid job. name is the job the URL names; empty when the URL names none (validate), and
// then the body's name, if any, is checked and returned.
func (a *API) readSpec(w http.ResponseWriter, r *http.Request, name string) (job.Spec, string, bool) {
	var meta jobMeta
	var spec job.Spec
	if p := decodeStrict(w, r, reflect.TypeFor[jobBody](), &meta, &spec); p != nil {
		problem.Write(w, r, *p)
		return spec, "", false
	}
	switch {
	case name == "" && meta.Name != "":
		if err := job.ValidateName(meta.Name); err != nil {
			problem.Write(w, r, invalid("Invalid job name", []problem.FieldError{{Pointer: "#/name", Detail: err.Error()}}))
			return spec, "", false
		}
		name = meta.Name
	case meta.Name != "" && meta.Name != name:
		problem.Write(w, r, invalid("Job name mismatch", []problem.FieldError{{
			Pointer: "#/name", Detail: fmt.Sprintf("the body names job %q but the URL names %q; a job cannot be renamed", meta.Name, name),
		}}))
		return spec, "", false
	}
	if err := a.cfg.Targets.Validate(spec); err != nil {
		problem.Write(w, r, validationProblem(err))
		return spec, "", false
	}
	if at, ok := oneShotInThePast(spec, a.cfg.Clock.Now()); ok {
		problem.Write(w, r, invalid("Invalid job", []problem.FieldError{{Pointer: "#/schedule",
			Detail: fmt.Sprintf("@at %s is in the past: a one-shot must be in the future", at.Format(time.RFC3339))}}))
		return spec, "", false
	}
	return spec, name, true
}

// validationView is the answer to POST /v1/jobs:validate for a valid job.
type validationView struct {
	Valid bool `json:"valid"`
	// Spec is the job as it would be stored: with defaults.
	Spec job.Spec `json:"spec"`
	// NextRuns are the first fire times if it were written now, in its time zone.
	NextRuns []string `json:"nextRuns"`
}

// validatePreview is how many fire times a validation shows.
const validatePreview = 10

// validateJob is a dry run of PUT: the same checks, nothing written. The fire times of H
// fields depend on the job's name: without one in the body they are those of a job named
// "job".
func (a *API) validateJob(w http.ResponseWriter, r *http.Request) {
	spec, name, ok := a.readSpec(w, r, "")
	if !ok {
		return
	}
	if name == "" {
		name = "job"
	}
	now := a.cfg.Clock.Now()
	j := job.Job{Name: name, Spec: spec.Normalize().WithDefaults(), ScheduledFrom: now}
	j.Compile()
	out := validationView{Valid: true, Spec: j.Spec, NextRuns: []string{}}
	loc, err := job.LoadLocation(j.Spec.Timezone)
	if err != nil {
		loc = time.UTC
	}
	for next := j.Next(time.Time{}); !next.IsZero() && len(out.NextRuns) < validatePreview; next = j.Next(next) {
		out.NextRuns = append(out.NextRuns, next.In(loc).Format(time.RFC3339))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) putJob(w http.ResponseWriter, r *http.Request) {
	name, ifVersion, ok := writeTarget(w, r)
	if !ok {
		return
	}
	switch inm := strings.TrimSpace(r.Header.Get("If-None-Match")); {
	case inm == "":
	case inm == "*" && ifVersion == 0:
		ifVersion = store.CreateOnly
	default:
		problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-precondition", "Invalid If-None-Match",
			fmt.Sprintf(`PUT takes If-None-Match: * (create only, without If-Match); got %q`, inm)))
		return
	}
	spec, _, ok := a.readSpec(w, r, name)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	j, created, err := a.cfg.Store.PutJob(ctx, name, spec, a.cfg.Clock.Now(), ifVersion)
	if errors.Is(err, store.ErrVersionMismatch) {
		problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "version-mismatch", "Job changed",
			fmt.Sprintf("job %q is not at version %s (If-Match); read it again and reapply your change", name, etag(ifVersion))))
		return
	}
	if errors.Is(err, store.ErrJobExists) {
		problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "job-exists", "Job exists",
			fmt.Sprintf("job %q exists already (If-None-Match: *); read it and send If-Match to replace it", name)))
		return
	}
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	// The response shows the cursor too; if that read fails the write still happened.
	cursor, _ := a.cfg.Store.Cursor(ctx, name)
	status, what := http.StatusOK, "job updated"
	if created {
		status, what = http.StatusCreated, "job created"
		w.Header().Set("Location", "/v1/jobs/"+name)
	}
	a.audit(r, what, zap.String("job", name), zap.Int64("version", j.Version))
	w.Header().Set("ETag", etag(j.Version))
	writeJSON(w, status, view(j, cursor, a.cfg.Clock.Now()))
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	name, p := pathName(r)
	if p != nil {
		problem.Write(w, r, *p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	j, cursor, err := a.cfg.Store.GetJob(ctx, name)
	if err != nil {
		a.jobError(w, r, name, err)
		return
	}
	v := view(j, cursor, a.cfg.Clock.Now())
	if last, err := a.cfg.Store.ListRuns(ctx, name, 1); err == nil && len(last) == 1 {
		lr := runView(last[0])
		v.Status.LastRun = &lr
	}
	if counts, err := a.cfg.Store.RunCounts(ctx, name); err == nil {
		v.Status.Runs = counts
	}
	w.Header().Set("ETag", etag(j.Version))
	writeJSON(w, http.StatusOK, v)
}

// Job list page sizes.
const (
	defaultJobsLimit = 500
	maxJobsLimit     = 1000
)

// jobQuery is what GET /v1/jobs selects: a name prefix, labels that must match, and a page.
type jobQuery struct {
	prefix string
	labels map[string]*string // nil value: the key must be there, with any value
	limit  int
	after  string // the last name of the previous page
}

func (q jobQuery) matches(j job.Job) bool {
	if !strings.HasPrefix(j.Name, q.prefix) || j.Name <= q.after {
		return false
	}
	for k, want := range q.labels {
		v, ok := j.Spec.Labels[k]
		if !ok || (want != nil && v != *want) {
			return false
		}
	}
	return true
}

func badParameter(format string, args ...any) *problem.Details {
	p := problem.New(http.StatusBadRequest, "invalid-parameter", "Invalid query parameter", fmt.Sprintf(format, args...))
	return &p
}

func parseJobQuery(r *http.Request) (jobQuery, *problem.Details) {
	v := r.URL.Query()
	q := jobQuery{prefix: v.Get("q"), labels: map[string]*string{}, limit: defaultJobsLimit}
	if len(q.prefix) > job.MaxNameLength {
		return q, badParameter("q (a name prefix) must be at most %d characters", job.MaxNameLength)
	}
	for _, sel := range v["label"] {
		k, val, hasValue := strings.Cut(sel, "=")
		if err := job.ValidateLabel(k, false); err != nil {
			return q, badParameter("label %q: want key=value or key; the key %v", sel, err)
		}
		if hasValue {
			if err := job.ValidateLabel(val, true); err != nil {
				return q, badParameter("label %q: the value %v", sel, err)
			}
			q.labels[k] = &val
		} else {
			q.labels[k] = nil
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxJobsLimit {
			return q, badParameter("limit must be an integer from 1 to %d, got %q", maxJobsLimit, s)
		}
		q.limit = n
	}
	if c := v.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || job.ValidateName(string(b)) != nil {
			return q, badParameter("cursor must be the next value of a previous page, as it was given")
		}
		q.after = string(b)
	}
	return q, nil
}

// listJobs answers a page of jobs in name order. The cursor is the page's last name, so a
// job created or deleted between two pages does not shift the others; a page reads about a
// page of etcd keys, not the whole list.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	q, p := parseJobQuery(r)
	if p != nil {
		problem.Write(w, r, *p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	jobs, more, err := a.cfg.Store.ListJobsPage(ctx, q.prefix, q.after, q.limit, q.matches)
	var cursors map[string]time.Time
	if err == nil && len(jobs) > 0 {
		cursors, err = a.cfg.Store.CursorsBetween(ctx, jobs[0].Name, jobs[len(jobs)-1].Name)
	}
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := struct {
		Jobs []JobView `json:"jobs"`
		// Next is the cursor of the next page; absent on the last.
		Next string `json:"next,omitempty"`
	}{Jobs: make([]JobView, 0, len(jobs))}
	now := a.cfg.Clock.Now()
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, view(j, cursors[j.Name], now))
	}
	if more {
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(jobs[len(jobs)-1].Name))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteJob(w http.ResponseWriter, r *http.Request) {
	name, ifVersion, ok := writeTarget(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	if err := a.cfg.Store.DeleteJob(ctx, name, ifVersion); err != nil {
		a.jobError(w, r, name, err)
		return
	}
	a.audit(r, "job deleted", zap.String("job", name), zap.Int64("ifVersion", ifVersion))
	w.WriteHeader(http.StatusNoContent)
}

// Run history page sizes.
const (
	defaultRunsLimit = 50
	maxRunsLimit     = 1000
)

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	name, p := pathName(r)
	if p != nil {
		problem.Write(w, r, *p)
		return
	}
	limit := defaultRunsLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRunsLimit {
			problem.Write(w, r, *badParameter("limit must be an integer from 1 to %d, got %q", maxRunsLimit, s))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	if _, _, err := a.cfg.Store.GetJob(ctx, name); err != nil {
		a.jobError(w, r, name, err)
		return
	}
	runs, err := a.cfg.Store.ListRuns(ctx, name, limit)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	for i := range runs {
		runs[i] = runView(runs[i])
	}
	writeJSON(w, http.StatusOK, struct {
		Runs []store.Run `json:"runs"`
	}{runs})
}

// validationProblem is the answer for a spec that job.Spec.Validate rejected.
func validationProblem(err error) problem.Details {
	var ve *job.ValidationError
	if !errors.As(err, &ve) {
		return problem.New(http.StatusBadRequest, "invalid-job", "Invalid job", err.Error())
	}
	fields := make([]problem.FieldError, len(ve.Errors))
	for i, f := range ve.Errors {
		fields[i] = problem.FieldError{Pointer: f.Pointer, Detail: f.Detail}
	}
	return invalid("Invalid job", fields)
}

// jobError answers for a store error about one job.
func (a *API) jobError(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "job-not-found", "Job not found", fmt.Sprintf("there is no job %q", name)))
	case errors.Is(err, store.ErrVersionMismatch):
		problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "version-mismatch", "Job changed",
			fmt.Sprintf("job %q is not at the version named by If-Match; read it again", name)))
	default:
		a.storeFailed(w, r, err)
	}
}

// storeFailed answers 503 for an etcd error: the request may succeed when retried.
func (a *API) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away; nobody to answer
	}
	a.cfg.Logger.Warn("request failed: store unavailable", zap.String("route", r.Pattern), zap.Error(err))
	w.Header().Set("Retry-After", "1")
	problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "store-unavailable", "Store unavailable",
		"etcd did not answer in time; the request may be retried"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a broken connection has no one to tell
}

// oneShotInThePast reports an @at schedule whose instant has passed: stored, it would never fire.
func oneShotInThePast(spec job.Spec, now time.Time) (time.Time, bool) {
	sched, err := schedule.Parse(spec.Schedule, nil)
	if err != nil {
		return time.Time{}, false
	}
	at, ok := sched.(schedule.At)
	return time.Time(at), ok && !time.Time(at).After(now)
}
