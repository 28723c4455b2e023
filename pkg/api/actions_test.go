package api_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// callbackSpec is a job whose target reports its result to POST /v1/runs/{run}/complete.
const callbackSpec = `{"schedule":"@every 1h","target":{"http":{"url":"http://127.0.0.1:9000/hook","completion":"callback"}}}`

// triggered is the answer to POST /v1/jobs/{name}/trigger.
type triggered struct {
	Job      string `json:"job"`
	Run      string `json:"run"`
	Replayed bool   `json:"replayed"`
}

// mustPut creates or replaces a job and fails the test unless the API took it.
func (e *env) mustPut(t *testing.T, name, body string) {
	t.Helper()
	if r := e.put(t, name, body); r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("put %s: %d %s", name, r.status, r.body)
	}
}

// wantProblem fails the test unless r is a problem+json of this status and kind.
func wantProblem(t *testing.T, r response, status int, kind string) problem.Details {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != problem.ContentType {
		t.Fatalf("got %d %s (%s), want a %d problem %s", r.status, r.body, r.header.Get("Content-Type"), status, kind)
	}
	p := decode[problem.Details](t, r)
	if p.Type != problem.TypeBase+kind || p.Status != status || p.Detail == "" {
		t.Fatalf("problem %+v, want kind %s", p, kind)
	}
	return p
}

// triggers is every pending trigger in etcd.
func (e *env) triggers(t *testing.T) []store.Trigger {
	t.Helper()
	ts, err := e.store.PendingTriggers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// triggersFor is the pending triggers for one run id.
func (e *env) triggersFor(t *testing.T, run string) []store.Trigger {
	t.Helper()
	var out []store.Trigger
	for _, tr := range e.triggers(t) {
		if tr.Run == run {
			out = append(out, tr)
		}
	}
	return out
}

// leaderFence creates a stand-in leader key and returns the fence it grants (fencing only
// compares the key's create revision, so a plain key will do).
func (e *env) leaderFence(t *testing.T) store.Fence {
	t.Helper()
	key := e.store.Keys().Election() + "/stand-in"
	resp, err := e.client.Put(context.Background(), key, "leader")
	if err != nil {
		t.Fatal(err)
	}
	return store.Fence{LeaderKey: key, Token: fence.Token(resp.Header.Revision)}
}

// claim records runs of one job through the store, as the leader does.
func (e *env) claim(t *testing.T, f store.Fence, runs ...store.Run) []store.Run {
	t.Helper()
	j, _, err := e.store.GetJob(context.Background(), runs[0].Job)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := e.store.Claim(context.Background(), f, j.Version, runs)
	if err != nil {
		t.Fatal(err)
	}
	return claimed
}

// newRun is a run of jobName scheduled at at, claimed with f's token, in state.
func newRun(f store.Fence, jobName string, at time.Time, state store.State) store.Run {
	r := store.Run{ID: store.RunID(jobName, at), Job: jobName, Scheduled: at, State: state, Token: f.Token,
		Term: "term-1", Replica: "r1", Claimed: at}
	if state == store.StateRunning {
		r.Started = at
	}
	if state == store.StateSkipped {
		r.Reason = store.ReasonMissed
	}
	return r
}

// accept records that a callback target accepted run (running) at run.Started, with token.
func (e *env) accept(t *testing.T, run store.Run, token string, timeout time.Duration) store.Run {
	t.Helper()
	run.CallbackToken = token
	run.Callback = &store.Callback{Accepted: run.Started, Timeout: job.Duration(timeout), Deadline: run.Started.Add(timeout)}
	run, err := e.store.UpdateRun(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// getRun reads a run record straight from the store.
func (e *env) getRun(t *testing.T, run store.Run) store.Run {
	t.Helper()
	r, err := e.store.GetRun(context.Background(), run.Job, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noToken fails the test if an answer shows a callback token, by name or value.
func noToken(t *testing.T, r response, token string) {
	t.Helper()
	if bytes.Contains(r.body, []byte("callbackToken")) || bytes.Contains(r.body, []byte(token)) {
		t.Errorf("the answer shows the callback token:\n%s", r.body)
	}
}

var manualRunID = regexp.MustCompile(`^tick@2026-03-01T10:00:00Z-manual-[0-9a-f]{8}$`)

func TestTrigger(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	e.mustPut(t, "tick", good)
	e.mustPut(t, "other", good)
	trigger := func(name, body string, header ...string) response {
		t.Helper()
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return e.do(t, http.MethodPost, "/v1/jobs/"+name+"/trigger", ct, body, header...)
	}

	// No body: a manual run is asked for, and pending until the leader claims it.
	r := trigger("tick", "")
	if r.status != http.StatusAccepted || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	first := decode[triggered](t, r)
	if first.Job != "tick" || !manualRunID.MatchString(first.Run) || first.Replayed {
		t.Errorf("trigger answered %+v, want job tick and a run id like %s", first, manualRunID)
	}
	if loc := r.header.Get("Location"); loc != "/v1/jobs/tick/runs/"+first.Run {
		t.Errorf("Location %q", loc)
	}
	if h := r.header.Get("Idempotent-Replayed"); h != "" {
		t.Errorf("first trigger with Idempotent-Replayed %q", h)
	}
	if ts := e.triggers(t); len(ts) != 1 || ts[0].Job != "tick" || ts[0].Run != first.Run || !ts[0].Requested.Equal(t0) ||
		ts[0].By != "" || ts[0].WhilePaused {
		t.Errorf("pending triggers %+v, want the one for %s", ts, first.Run)
	}
	pending := e.do(t, http.MethodGet, r.header.Get("Location"), "", "")
	if got := decode[store.Run](t, pending); pending.status != http.StatusOK || got.ID != first.Run || got.Job != "tick" ||
		got.State != "triggered" || got.Trigger != store.TriggerManual || !got.Scheduled.Equal(t0) {
		t.Errorf("GET of the pending run: %d %s", pending.status, pending.body)
	}

	// The same Idempotency-Key again: the same run, and nothing written.
	r = trigger("tick", `{"by":"alice"}`, "Idempotency-Key", "deploy-42")
	once := decode[triggered](t, r)
	if r.status != http.StatusAccepted || once.Replayed || once.Run == first.Run || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("trigger with a new key: %d %s", r.status, r.body)
	}
	rev := etcdtest.Revision(t, e.client)
	r = trigger("tick", `{"by":"alice"}`, "Idempotency-Key", "deploy-42")
	again := decode[triggered](t, r)
	if r.status != http.StatusAccepted || again.Run != once.Run || !again.Replayed || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed trigger: %d %v %s, want run %s replayed", r.status, r.header, r.body, once.Run)
	}
	if r.header.Get("Location") != "/v1/jobs/tick/runs/"+once.Run {
		t.Errorf("replay's Location %q", r.header.Get("Location"))
	}
	if got := etcdtest.Revision(t, e.client); got != rev {
		t.Errorf("a replayed trigger wrote to etcd: revision %d → %d", rev, got)
	}
	if ts := e.triggersFor(t, once.Run); len(ts) != 1 || ts[0].By != "alice" {
		t.Errorf("pending triggers for %s: %+v, want one, by alice", once.Run, ts)
	}
	if ts := e.triggers(t); len(ts) != 2 {
		t.Errorf("%d pending triggers, want 2: %+v", len(ts), ts)
	}
	// A different key is a different run; so is the same key on another job.
	other := decode[triggered](t, trigger("tick", "", "Idempotency-Key", "deploy-43"))
	elsewhere := decode[triggered](t, trigger("other", "", "Idempotency-Key", "deploy-42"))
	if other.Replayed || other.Run == once.Run || !manualRunID.MatchString(other.Run) ||
		elsewhere.Replayed || elsewhere.Job != "other" || !strings.HasPrefix(elsewhere.Run, "other@") {
		t.Errorf("other keys: %+v %+v", other, elsewhere)
	}
	if ts := e.triggers(t); len(ts) != 4 {
		t.Errorf("%d pending triggers, want 4: %+v", len(ts), ts)
	}
	// The longest key allowed.
	if r := trigger("tick", "", "Idempotency-Key", strings.Repeat("k", api.MaxIdempotencyKey)); r.status != http.StatusAccepted {
		t.Errorf("key of %d characters: %d %s", api.MaxIdempotencyKey, r.status, r.body)
	}

	// A run id is looked up under its own job only.
	wantProblem(t, e.do(t, http.MethodGet, "/v1/jobs/tick/runs/"+elsewhere.Run, "", ""), http.StatusNotFound, "run-not-found")
	if r := e.do(t, http.MethodGet, "/v1/jobs/other/runs/"+elsewhere.Run, "", ""); r.status != http.StatusOK {
		t.Errorf("GET of other's run under other: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do(t, http.MethodGet, "/v1/jobs/tick/runs/tick@2026-03-01T10:00:00Z-manual-00000000", "", ""), http.StatusNotFound, "run-not-found")

	// A paused job runs only when the trigger says it may.
	if r := e.do(t, http.MethodPost, "/v1/jobs/tick/pause", "", ""); r.status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	rev = etcdtest.Revision(t, e.client)
	wantProblem(t, trigger("tick", `{"by":"alice"}`), http.StatusConflict, "job-paused")
	wantProblem(t, trigger("tick", `{"whilePaused":false}`), http.StatusConflict, "job-paused")
	if got := etcdtest.Revision(t, e.client); got != rev {
		t.Errorf("a refused trigger wrote to etcd: revision %d → %d", rev, got)
	}
	// A retry of a trigger made before the pause gets its first answer, not a refusal.
	if r := trigger("tick", "", "Idempotency-Key", "deploy-42"); r.status != http.StatusAccepted || decode[triggered](t, r).Run != once.Run {
		t.Errorf("retry after the pause: %d %s, want the run %s", r.status, r.body, once.Run)
	}
	r = trigger("tick", `{"whilePaused":true,"by":"bob"}`)
	paused := decode[triggered](t, r)
	if r.status != http.StatusAccepted || !manualRunID.MatchString(paused.Run) {
		t.Fatalf("trigger while paused: %d %s", r.status, r.body)
	}
	if stored := e.triggersFor(t, paused.Run); len(stored) != 1 || !stored[0].WhilePaused || stored[0].By != "bob" {
		t.Errorf("trigger while paused stored as %+v", stored)
	}

	// A pause whose end has passed does not stop a trigger.
	if r := e.do(t, http.MethodPost, "/v1/jobs/other/pause", "application/json", `{"until":"2026-03-01T11:00:00Z"}`); r.status != http.StatusOK {
		t.Fatalf("pause until: %d %s", r.status, r.body)
	}
	wantProblem(t, trigger("other", ""), http.StatusConflict, "job-paused")
	e.clock.Advance(time.Hour)
	if r := trigger("other", ""); r.status != http.StatusAccepted {
		t.Errorf("trigger after the pause ended: %d %s", r.status, r.body)
	}
}

// pauseView is the part of a job's view that pausing changes.
type pauseView struct {
	Paused bool `json:"paused"`
	Pause  *struct {
		Note   string    `json:"note"`
		By     string    `json:"by"`
		Since  time.Time `json:"since"`
		Until  time.Time `json:"until"`
		Record *bool     `json:"record"`
	} `json:"pause"`
	Status struct {
		State   string    `json:"state"`
		Version int64     `json:"version"`
		Updated time.Time `json:"updated"`
		NextRun time.Time `json:"nextRun"`
	} `json:"status"`
}

func TestPauseAndResume(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	created := e.put(t, "tick", good)
	if created.status != http.StatusCreated {
		t.Fatalf("put: %d %s", created.status, created.body)
	}
	post := func(what, body string, header ...string) response {
		t.Helper()
		return e.do(t, http.MethodPost, "/v1/jobs/tick/"+what, "application/json", body, header...)
	}

	until := t0.Add(time.Hour)
	r := post("pause", `{"note":"disk swap","by":"alice","until":"2026-03-01T11:00:00Z","record":false}`)
	v := decode[pauseView](t, r)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"`+itoa(v.Status.Version)+`"` || r.header.Get("ETag") == created.header.Get("ETag") {
		t.Fatalf("pause: %d %v %s", r.status, r.header, r.body)
	}
	if p := v.Pause; !v.Paused || v.Status.State != "paused" || p == nil || p.Note != "disk swap" || p.By != "alice" ||
		!p.Until.Equal(until) || !p.Since.Equal(t0) || p.Record == nil || *p.Record {
		t.Errorf("paused job:\n%s", r.body)
	}
	if v.Status.NextRun.Before(until) {
		t.Errorf("nextRun %v is before the pause ends (%v)", v.Status.NextRun, until)
	}
	if got := decode[pauseView](t, e.do(t, http.MethodGet, "/v1/jobs/tick", "", "")); got.Status.State != "paused" ||
		got.Pause == nil || !got.Pause.Since.Equal(t0) || got.Status.Version != v.Status.Version {
		t.Errorf("GET after pause: %+v", got)
	}

	// A stale ETag is refused and writes nothing; the current one is taken.
	rev := etcdtest.Revision(t, e.client)
	wantProblem(t, post("pause", `{"note":"again"}`, "If-Match", created.header.Get("ETag")), http.StatusPreconditionFailed, "version-mismatch")
	wantProblem(t, post("resume", "", "If-Match", created.header.Get("ETag")), http.StatusPreconditionFailed, "version-mismatch")
	if got := etcdtest.Revision(t, e.client); got != rev {
		t.Errorf("a refused pause wrote to etcd: revision %d → %d", rev, got)
	}

	// Pausing a paused job edits the pause and keeps when it began.
	e.clock.Advance(time.Minute)
	r = post("pause", `{"note":"still swapping","by":"bob"}`, "If-Match", r.header.Get("ETag"))
	v = decode[pauseView](t, r)
	if p := v.Pause; r.status != http.StatusOK || p == nil || p.Note != "still swapping" || p.By != "bob" || !p.Since.Equal(t0) ||
		!p.Until.IsZero() || p.Record == nil || !*p.Record || !v.Status.Updated.Equal(t0.Add(time.Minute)) {
		t.Errorf("pause again: %d\n%s", r.status, r.body)
	}
	if !v.Status.NextRun.IsZero() {
		t.Errorf("a pause without an end shows nextRun %v", v.Status.NextRun)
	}

	r = post("resume", "")
	v = decode[pauseView](t, r)
	if r.status != http.StatusOK || v.Paused || v.Pause != nil || v.Status.State != "active" || v.Status.NextRun.IsZero() {
		t.Errorf("resume: %d\n%s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte(`"pause"`)) || bytes.Contains(r.body, []byte(`"paused"`)) {
		t.Errorf("a resumed job still shows its pause:\n%s", r.body)
	}
	// Resuming an active job changes nothing.
	rev = etcdtest.Revision(t, e.client)
	if again := decode[pauseView](t, e.do(t, http.MethodPost, "/v1/jobs/tick/resume", "", "")); again.Status.Version != v.Status.Version {
		t.Errorf("resume of an active job moved the version %d → %d", v.Status.Version, again.Status.Version)
	}
	if got := etcdtest.Revision(t, e.client); got != rev {
		t.Errorf("resume of an active job wrote to etcd: revision %d → %d", rev, got)
	}

	// A new pause begins anew.
	e.clock.Advance(time.Minute)
	if v := decode[pauseView](t, post("pause", "")); v.Pause == nil || !v.Pause.Since.Equal(t0.Add(2*time.Minute)) || v.Pause.Note != "" {
		t.Errorf("second pause: %+v", v.Pause)
	}
}

func TestCompleteRun(t *testing.T) {
	var mu sync.Mutex
	var completed []store.Run
	e := newEnv(t, fixedLeader{}, func(c *api.Config) {
		c.Completed = func(r store.Run) { mu.Lock(); defer mu.Unlock(); completed = append(completed, r) }
	})
	completions := func() []store.Run { mu.Lock(); defer mu.Unlock(); return append([]store.Run(nil), completed...) }
	e.mustPut(t, "cb", callbackSpec)
	e.mustPut(t, "sync", good)
	f := e.leaderFence(t)

	const token, timeout = "secret-token", 5 * time.Minute
	run := e.accept(t, e.claim(t, f, newRun(f, "cb", t0.Add(-time.Minute), store.StateRunning))[0], token, timeout)
	complete := func(run store.Run, token, body string) response {
		t.Helper()
		var header []string
		if token != "" {
			header = []string{fence.HeaderCallbackToken, token}
		}
		return e.do(t, http.MethodPost, "/v1/runs/"+run.ID+"/complete", "application/json", body, header...)
	}
	unchanged := func(what string) {
		t.Helper()
		if got := e.getRun(t, run); got.Revision != run.Revision {
			t.Errorf("%s changed the run record:\n%+v", what, got)
		}
	}

	wantProblem(t, complete(run, "", `{"result":"succeeded"}`), http.StatusUnauthorized, "callback-unauthorized")
	unchanged("a report without a token")
	wantProblem(t, complete(run, "secret-tokeN", `{"result":"succeeded"}`), http.StatusUnauthorized, "callback-unauthorized")
	unchanged("a report with a wrong token")
	wantProblem(t, complete(run, token+"x", `{"result":"succeeded"}`), http.StatusUnauthorized, "callback-unauthorized")
	unchanged("a report with a longer token")
	p := wantProblem(t, complete(run, token, `{"result":"done"}`), http.StatusBadRequest, "invalid-request")
	if len(p.Errors) != 1 || p.Errors[0].Pointer != "#/result" {
		t.Errorf("bad result: errors %+v, want #/result", p.Errors)
	}
	unchanged("a report with a bad result")

	// A heartbeat moves the deadline and finishes nothing.
	e.clock.Advance(time.Minute)
	r := complete(run, token, `{"result":"heartbeat"}`)
	hb := decode[store.Run](t, r)
	if now := t0.Add(time.Minute); r.status != http.StatusOK || hb.State != store.StateRunning || hb.Callback == nil ||
		!hb.Callback.Heartbeat.Equal(now) || !hb.Callback.Deadline.Equal(now.Add(timeout)) {
		t.Errorf("heartbeat: %d\n%s", r.status, r.body)
	}
	noToken(t, r, token)
	if got := e.getRun(t, run); got.Callback == nil || got.CallbackToken != token ||
		!got.Callback.Deadline.Equal(t0.Add(time.Minute+timeout)) {
		t.Errorf("stored after the heartbeat: %+v", got.Callback)
	}
	if n := len(completions()); n != 0 {
		t.Errorf("Completed called %d times for a heartbeat", n)
	}

	// The result finishes the run, once.
	e.clock.Advance(time.Minute)
	output := strings.Repeat("0123456789", 200)
	r = complete(run, token, `{"result":"succeeded","output":"`+output+`"}`)
	done := decode[store.Run](t, r)
	if r.status != http.StatusOK || done.State != store.StateSucceeded || !done.Finished.Equal(t0.Add(2*time.Minute)) ||
		done.Duration.D() != 3*time.Minute || done.Error != "" {
		t.Errorf("succeeded: %d\n%s", r.status, r.body)
	}
	if len(done.Response) > store.MaxResponse || !strings.HasPrefix(output, done.Response) || done.Response == "" {
		t.Errorf("response of %d bytes, want the output's first %d at most", len(done.Response), store.MaxResponse)
	}
	noToken(t, r, token)
	if got := e.getRun(t, run); got.State != store.StateSucceeded || got.Response != done.Response || !got.Finished.Equal(done.Finished) {
		t.Errorf("stored: %+v", got)
	}
	if n, err := e.store.InFlightCount(context.Background(), "cb"); err != nil || n != 0 {
		t.Errorf("%d runs of cb still in flight (%v)", n, err)
	}
	if c := completions(); len(c) != 1 || c[0].ID != run.ID || c[0].State != store.StateSucceeded {
		t.Errorf("Completed got %+v, want the run succeeded once", c)
	}
	run = e.getRun(t, run)
	wantProblem(t, complete(run, token, `{"result":"failed","error":"late"}`), http.StatusConflict, "run-finished")
	wantProblem(t, complete(run, token, `{"result":"heartbeat"}`), http.StatusConflict, "run-finished")
	unchanged("a report after the result")
	if n := len(completions()); n != 1 {
		t.Errorf("Completed called %d times, want once", n)
	}

	// Each run has its own token; a failure keeps its error.
	second := e.accept(t, e.claim(t, f, newRun(f, "cb", t0.Add(time.Hour), store.StateRunning))[0], "token-2", timeout)
	wantProblem(t, complete(second, token, `{"result":"failed"}`), http.StatusUnauthorized, "callback-unauthorized")
	r = complete(second, "token-2", `{"result":"failed","error":"disk full"}`)
	if failed := decode[store.Run](t, r); r.status != http.StatusOK || failed.State != store.StateFailed || failed.Error != "disk full" {
		t.Errorf("failed: %d\n%s", r.status, r.body)
	}
	if c := completions(); len(c) != 2 || c[1].ID != second.ID || c[1].State != store.StateFailed {
		t.Errorf("Completed got %+v", c)
	}

	// A run that takes no callback, and a run that does not exist.
	syncRun := e.claim(t, f, newRun(f, "sync", t0.Add(-time.Minute), store.StateRunning))[0]
	rev := etcdtest.Revision(t, e.client)
	wantProblem(t, complete(syncRun, token, `{"result":"succeeded"}`), http.StatusConflict, "no-callback")
	wantProblem(t, complete(newRun(f, "cb", t0.Add(-time.Hour), store.StateRunning), token, `{"result":"succeeded"}`),
		http.StatusNotFound, "run-not-found")
	if got := etcdtest.Revision(t, e.client); got != rev {
		t.Errorf("refused reports wrote to etcd: revision %d → %d", rev, got)
	}
	if n := len(completions()); n != 2 {
		t.Errorf("Completed called %d times, want 2", n)
	}
}

func TestJobStatusShowsRuns(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	e.mustPut(t, "tick", callbackSpec)
	type status struct {
		Status struct {
			Runs    map[string]int `json:"runs"`
			LastRun *store.Run     `json:"lastRun"`
		} `json:"status"`
	}
	if s := decode[status](t, e.do(t, http.MethodGet, "/v1/jobs/tick", "", "")); s.Status.Runs != nil || s.Status.LastRun != nil {
		t.Errorf("a job without runs shows %+v", s.Status)
	}

	f := e.leaderFence(t)
	const token = "secret-token"
	runs := e.claim(t, f,
		newRun(f, "tick", t0.Add(-3*time.Hour), store.StateSkipped),
		newRun(f, "tick", t0.Add(-2*time.Hour), store.StateSkipped),
		newRun(f, "tick", t0.Add(-time.Hour), store.StateRunning))
	last := e.accept(t, runs[2], token, time.Minute)
	// A pending trigger has no record yet: it is not counted.
	if r := e.do(t, http.MethodPost, "/v1/jobs/tick/trigger", "", ""); r.status != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}

	r := e.do(t, http.MethodGet, "/v1/jobs/tick", "", "")
	s := decode[status](t, r)
	if want := map[string]int{"skipped": 2, "running": 1}; !maps.Equal(s.Status.Runs, want) {
		t.Errorf("status.runs %v, want %v", s.Status.Runs, want)
	}
	if lr := s.Status.LastRun; lr == nil || lr.ID != last.ID || lr.State != store.StateRunning || lr.Callback == nil ||
		!lr.Callback.Deadline.Equal(last.Callback.Deadline) {
		t.Errorf("status.lastRun %+v, want %s", lr, last.ID)
	}
	noToken(t, r, token)
	noToken(t, e.do(t, http.MethodGet, "/v1/jobs/tick/runs", "", ""), token)
	r = e.do(t, http.MethodGet, "/v1/jobs/tick/runs/"+last.ID, "", "")
	if got := decode[store.Run](t, r); r.status != http.StatusOK || got.ID != last.ID || got.Callback == nil {
		t.Errorf("GET run: %d %s", r.status, r.body)
	}
	noToken(t, r, token)
}
