package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

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

// jobView is how a job is shown: its spec, with defaults applied, and its status.
type jobView struct {
	Name string `json:"name"`
	job.Spec
	Status jobStatus `json:"status"`
}

type jobStatus struct {
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

func view(j job.Job, cursor, now time.Time) jobView {
	v := jobView{Name: j.Name, Spec: j.Spec, Status: jobStatus{
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
		loc, err := time.LoadLocation(j.Spec.Timezone)
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

func (a *API) putJob(w http.ResponseWriter, r *http.Request) {
	name, ifVersion, ok := writeTarget(w, r)
	if !ok {
		return
	}
	var meta jobMeta
	var spec job.Spec
	if p := decodeStrict(w, r, reflect.TypeFor[jobBody](), &meta, &spec); p != nil {
		problem.Write(w, r, *p)
		return
	}
	if meta.Name != "" && meta.Name != name {
		problem.Write(w, r, invalid("Job name mismatch", []problem.FieldError{{
			Pointer: "#/name", Detail: fmt.Sprintf("the body names job %q but the URL names %q; a job cannot be renamed", meta.Name, name),
		}}))
		return
	}
	if err := spec.Validate(); err != nil {
		problem.Write(w, r, validationProblem(err))
		return
	}
	if at, ok := oneShotInThePast(spec, a.cfg.Clock.Now()); ok {
		problem.Write(w, r, invalid("Invalid job", []problem.FieldError{{Pointer: "#/schedule",
			Detail: fmt.Sprintf("@at %s is in the past: a one-shot must be in the future", at.Format(time.RFC3339))}}))
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
	a.cfg.Logger.Info(what, zap.String("job", name), zap.Int64("version", j.Version), zap.String("remote", r.RemoteAddr))
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

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	// Two independent range reads: run them side by side.
	var jobs []job.Job
	var cursors map[string]time.Time
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { jobs, _, err = a.cfg.Store.ListJobs(gctx); return err })
	g.Go(func() (err error) { cursors, err = a.cfg.Store.Cursors(gctx); return err })
	if err := g.Wait(); err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := struct {
		Jobs []jobView `json:"jobs"`
	}{Jobs: make([]jobView, 0, len(jobs))}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, view(j, cursors[j.Name], a.cfg.Clock.Now()))
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
	a.cfg.Logger.Info("job deleted", zap.String("job", name), zap.String("remote", r.RemoteAddr))
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
			problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-parameter", "Invalid query parameter",
				fmt.Sprintf("limit must be an integer from 1 to %d, got %q", maxRunsLimit, s)))
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
