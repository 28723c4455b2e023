package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// decodeOptional is decodeStrict for a body that may be absent: no body leaves into as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, schema reflect.Type, into ...any) *problem.Details {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err == nil && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errorReader{err}))
	return decodeStrict(w, r, schema, into...)
}

// errorReader hands decodeStrict the error of the first read, so it answers as for any body.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// triggerBody is what POST /v1/jobs/{name}/trigger accepts (the body is optional).
type triggerBody struct {
	// WhilePaused runs the job even though it is paused.
	WhilePaused bool `json:"whilePaused,omitempty"`
	// By says who asked, for the run record.
	By string `json:"by,omitempty"`
}

// triggerView is the answer to a trigger.
type triggerView struct {
	Job string `json:"job"`
	Run string `json:"run"`
	// Replayed: the Idempotency-Key was seen before; Run is the run it started then.
	Replayed bool `json:"replayed,omitempty"`
}

// MaxIdempotencyKey bounds the Idempotency-Key header of a trigger.
const MaxIdempotencyKey = 255

func (a *API) triggerJob(w http.ResponseWriter, r *http.Request) {
	name, p := pathName(r)
	if p != nil {
		problem.Write(w, r, *p)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxIdempotencyKey || !printable(key) {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-idempotency-key", "Invalid Idempotency-Key",
			fmt.Sprintf("the Idempotency-Key header must be at most %d printable ASCII characters", MaxIdempotencyKey)))
		return
	}
	body, ok := readOptional(w, r, func(b triggerBody) string { return b.By })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	replay := func(id string) {
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Location", "/v1/jobs/"+name+"/runs/"+id)
		writeJSON(w, http.StatusAccepted, triggerView{Job: name, Run: id, Replayed: true})
	}
	for {
		j, _, err := a.cfg.Store.GetJob(ctx, name)
		if err != nil {
			a.jobError(w, r, name, err)
			return
		}
		if key != "" {
			// A retry gets the first answer even if the job was paused since.
			id, seen, err := a.cfg.Store.IdempotentRun(ctx, name, key)
			if err != nil {
				a.storeFailed(w, r, err)
				return
			}
			if seen {
				replay(id)
				return
			}
		}
		now := a.cfg.Clock.Now()
		switch {
		case j.Invalid != nil:
			problem.Write(w, r, problem.New(http.StatusConflict, "job-invalid", "Job cannot run",
				fmt.Sprintf("job %q cannot be scheduled: %v; PUT a valid spec first", name, j.Invalid)))
			return
		case j.PausedAt(now) && !body.WhilePaused:
			problem.Write(w, r, problem.New(http.StatusConflict, "job-paused", "Job is paused",
				fmt.Sprintf(`job %q is paused; send {"whilePaused": true} to run it anyway, or resume it`, name)))
			return
		}
		t := store.Trigger{Job: name, Run: store.ManualRunID(name, now, nonce()), Requested: now, By: by(r, body.By), WhilePaused: body.WhilePaused}
		id, created, err := a.cfg.Store.AddTrigger(ctx, t, j.Version, key)
		if errors.Is(err, store.ErrVersionMismatch) {
			continue // the job changed since read: look at it again
		}
		if err != nil {
			a.jobError(w, r, name, err)
			return
		}
		if !created {
			replay(id) // the same key, at the same moment from another client
			return
		}
		a.audit(r, "manual run asked for", zap.String("job", name), zap.String("run", id), zap.Bool("whilePaused", body.WhilePaused))
		w.Header().Set("Location", "/v1/jobs/"+name+"/runs/"+id)
		writeJSON(w, http.StatusAccepted, triggerView{Job: name, Run: id})
		return
	}
}

// nonce is a short random suffix that keeps manual run ids asked for in the same second apart.
func nonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func printable(s string) bool {
	for _, c := range s {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// readOptional decodes an optional body of type T and checks the by it names; it answers the
// problem itself when either is wrong.
func readOptional[T any](w http.ResponseWriter, r *http.Request, by func(T) string) (T, bool) {
	var body T
	p := decodeOptional(w, r, reflect.TypeFor[T](), &body)
	if p == nil {
		p = validBy(by(body))
	}
	if p != nil {
		problem.Write(w, r, *p)
		return body, false
	}
	return body, true
}

func validBy(by string) *problem.Details {
	if len(by) > job.MaxNameLength || !printable(by) {
		p := invalidRequest("Invalid request", []problem.FieldError{{Pointer: "#/by",
			Detail: fmt.Sprintf("must be at most %d printable ASCII characters", job.MaxNameLength)}})
		return &p
	}
	return nil
}

// pauseBody is what POST /v1/jobs/{name}/pause accepts (the body is optional).
type pauseBody struct {
	Note   string    `json:"note,omitempty"`
	By     string    `json:"by,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Record *bool     `json:"record,omitempty"`
}

func (a *API) pauseJob(w http.ResponseWriter, r *http.Request) {
	body, ok := readOptional(w, r, func(b pauseBody) string { return b.By })
	if !ok {
		return
	}
	if len(body.Note) > job.MaxDescriptionLength {
		problem.Write(w, r, invalidRequest("Invalid request", []problem.FieldError{{Pointer: "#/note",
			Detail: fmt.Sprintf("must be at most %d bytes", job.MaxDescriptionLength)}}))
		return
	}
	if !body.Until.IsZero() && !body.Until.After(a.cfg.Clock.Now()) {
		problem.Write(w, r, invalidRequest("Invalid request", []problem.FieldError{{Pointer: "#/until", Detail: "must be in the future"}}))
		return
	}
	a.editJob(w, r, "job paused", func(s *job.Spec) {
		s.Paused = true
		s.Pause = &job.Pause{Note: body.Note, By: by(r, body.By), Until: body.Until, Record: body.Record}
	})
}

func (a *API) resumeJob(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if p := decodeOptional(w, r, reflect.TypeFor[struct{}](), &body); p != nil {
		problem.Write(w, r, *p)
		return
	}
	a.editJob(w, r, "job resumed", func(s *job.Spec) { s.Paused, s.Pause = false, nil })
}

// editJob applies change to a job's spec and stores it, conditional on the version read (or
// on If-Match, when given: 412 if the job moved on).
func (a *API) editJob(w http.ResponseWriter, r *http.Request, what string, change func(*job.Spec)) {
	name, ifVersion, ok := writeTarget(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	for {
		j, _, err := a.cfg.Store.GetJob(ctx, name)
		if err == nil && ifVersion > 0 && j.Version != ifVersion {
			err = store.ErrVersionMismatch
		}
		if err == nil && j.Invalid != nil {
			problem.Write(w, r, problem.New(http.StatusConflict, "job-invalid", "Job cannot be changed this way",
				fmt.Sprintf("job %q is stored invalid (%v); PUT a valid spec", name, j.Invalid)))
			return
		}
		if err != nil {
			a.jobError(w, r, name, err)
			return
		}
		spec := j.Spec
		change(&spec)
		if err := spec.Validate(); err != nil {
			problem.Write(w, r, validationProblem(err))
			return
		}
		j, _, err = a.cfg.Store.PutJob(ctx, name, spec, a.cfg.Clock.Now(), j.Version)
		if errors.Is(err, store.ErrVersionMismatch) && ifVersion == 0 {
			continue // someone else wrote it meanwhile: apply the change to theirs
		}
		if err != nil {
			a.jobError(w, r, name, err)
			return
		}
		cursor, _ := a.cfg.Store.Cursor(ctx, name)
		a.audit(r, what, zap.String("job", name), zap.Int64("version", j.Version))
		w.Header().Set("ETag", etag(j.Version))
		writeJSON(w, http.StatusOK, view(j, cursor, a.cfg.Clock.Now()))
		return
	}
}

// runPath reads the {name} and {run} path segments: a run id of that job. It answers the
// problem itself when they are not.
func runPath(w http.ResponseWriter, r *http.Request) (name, id string, ok bool) {
	name, p := pathName(r)
	if p != nil {
		problem.Write(w, r, *p)
		return "", "", false
	}
	id = r.PathValue("run")
	if owner, ok := store.JobOfRun(id); !ok || owner != name {
		problem.Write(w, r, runNotFound(id))
		return "", "", false
	}
	return name, id, true
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	name, id, ok := runPath(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	run, pending, err := a.cfg.Store.GetRunOrTrigger(ctx, name, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, r, runNotFound(id))
	case err != nil:
		a.storeFailed(w, r, err)
	case pending != nil:
		writeJSON(w, http.StatusOK, pendingView{ID: id, Job: name, State: stateTriggered, Requested: pending.Requested,
			Trigger: store.TriggerManual, By: pending.By, WhilePaused: pending.WhilePaused})
	default:
		writeJSON(w, http.StatusOK, runView(run))
	}
}

// cancelBody is what POST …/runs/{run}/cancel accepts (the body is optional).
type cancelBody struct {
	By string `json:"by,omitempty"`
}

func (a *API) cancelRun(w http.ResponseWriter, r *http.Request) {
	name, id, ok := runPath(w, r)
	if !ok {
		return
	}
	body, ok := readOptional(w, r, func(b cancelBody) string { return b.By })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	run, withdrawn, err := a.cfg.Store.Cancel(ctx, name, id, by(r, body.By), a.cfg.Clock.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, r, runNotFound(id))
	case errors.Is(err, store.ErrRunFinished):
		problem.Write(w, r, problem.New(http.StatusConflict, "run-finished", "Run has its result",
			fmt.Sprintf("run %q is %s already; nothing to cancel", id, run.State)))
	case err != nil:
		a.storeFailed(w, r, err)
	default:
		a.audit(r, "run cancelled", zap.String("job", name), zap.String("run", id), zap.Bool("withdrawn", withdrawn))
		writeJSON(w, http.StatusOK, runView(run))
	}
}

// pendingView shows a manual run asked for and not claimed by the leader yet.
type pendingView struct {
	ID          string      `json:"id"`
	Job         string      `json:"job"`
	State       store.State `json:"state"`
	Requested   time.Time   `json:"scheduled"`
	Trigger     string      `json:"trigger"`
	By          string      `json:"by,omitempty"`
	WhilePaused bool        `json:"whilePaused,omitempty"`
}

// stateTriggered is how GET shows a manual run the leader has not claimed yet.
const stateTriggered store.State = "triggered"

func runNotFound(id string) problem.Details {
	return problem.New(http.StatusNotFound, "run-not-found", "Run not found",
		fmt.Sprintf("there is no run %q (never claimed, or pruned from the history)", id))
}

// runView is a run record as the API shows it: without its callback token.
func runView(r store.Run) store.Run {
	r.CallbackToken = ""
	return r
}

// completeBody is what a callback target reports to POST /v1/runs/{run}/complete.
type completeBody struct {
	// Result is "succeeded", "failed" or "heartbeat" (still working: the deadline moves).
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// Output is kept in the run record (its first store.MaxResponse bytes).
	Output string `json:"output,omitempty"`
}

// Callback results.
const (
	resultSucceeded = "succeeded"
	resultFailed    = "failed"
	resultHeartbeat = "heartbeat"
)

// callbackChallenge names the credential a callback needs (RFC 9110 asks a 401 for one).
const callbackChallenge = `Schedulerd-Callback-Token realm="schedulerd"`

// maxCallbackError bounds the error text a callback may report.
const maxCallbackError = 4096

func (a *API) completeRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("run")
	name, ok := store.JobOfRun(id)
	if !ok {
		problem.Write(w, r, runNotFound(id))
		return
	}
	token := r.Header.Get(fence.HeaderCallbackToken)
	if token == "" {
		w.Header().Set("WWW-Authenticate", callbackChallenge)
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "callback-unauthorized", "Callback token required",
			fmt.Sprintf("send the %s header the run's dispatch carried", fence.HeaderCallbackToken)))
		return
	}
	var body completeBody
	if p := decodeStrict(w, r, reflect.TypeFor[completeBody](), &body); p != nil {
		problem.Write(w, r, *p)
		return
	}
	var fields []problem.FieldError
	switch body.Result {
	case resultSucceeded, resultFailed, resultHeartbeat:
	default:
		fields = append(fields, problem.FieldError{Pointer: "#/result", Detail: fmt.Sprintf("must be %q, %q or %q", resultSucceeded, resultFailed, resultHeartbeat)})
	}
	if len(body.Error) > maxCallbackError {
		fields = append(fields, problem.FieldError{Pointer: "#/error", Detail: fmt.Sprintf("must be at most %d bytes", maxCallbackError)})
	}
	if len(fields) > 0 {
		problem.Write(w, r, invalidRequest("Invalid completion", fields))
		return
	}
	c := store.Completion{Heartbeat: body.Result == resultHeartbeat, Succeeded: body.Result == resultSucceeded, Error: body.Error, Output: body.Output}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	run, err := a.cfg.Store.Complete(ctx, name, id, token, c, a.cfg.Clock.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, r, runNotFound(id))
		return
	case errors.Is(err, store.ErrCallbackToken):
		a.cfg.Logger.Warn("callback with a wrong token refused", zap.String("run", id), zap.String("remote", r.RemoteAddr))
		w.Header().Set("WWW-Authenticate", callbackChallenge)
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "callback-unauthorized", "Wrong callback token",
			"the token is not the one this run's dispatch carried"))
		return
	case errors.Is(err, store.ErrNoCallback):
		problem.Write(w, r, problem.New(http.StatusConflict, "no-callback", "Run takes no callback",
			fmt.Sprintf("run %q takes no callback: its job's completion is sync", id)))
		return
	case errors.Is(err, store.ErrRunFinished):
		problem.Write(w, r, problem.New(http.StatusConflict, "run-finished", "Run already finished",
			fmt.Sprintf("run %q has its result already (%s); this report was not recorded", id, run.State)))
		return
	case err != nil:
		a.storeFailed(w, r, err)
		return
	}
	if !c.Heartbeat && a.cfg.Completed != nil {
		a.cfg.Completed(run)
	}
	a.cfg.Logger.Info("callback", zap.String("job", name), zap.String("run", id), zap.String("result", body.Result))
	writeJSON(w, http.StatusOK, runView(run))
}
