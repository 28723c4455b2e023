package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func labelled(labels string) string {
	return `{"schedule":"@every 2s","labels":` + labels + `,"target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`
}

type jobList struct {
	Jobs []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"jobs"`
	Next string `json:"next"`
}

func names(l jobList) []string {
	var out []string
	for _, j := range l.Jobs {
		out = append(out, j.Name)
	}
	return out
}

func TestListSelectsAndPages(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	e.mustPut(t, "pay-daily", labelled(`{"team":"payments","tier":"1"}`))
	e.mustPut(t, "pay-hourly", labelled(`{"team":"payments"}`))
	e.mustPut(t, "search-index", labelled(`{"team":"search","tier":"1"}`))
	e.mustPut(t, "cleanup", good)

	list := func(query string) jobList {
		t.Helper()
		r := e.do(t, "GET", "/v1/jobs"+query, "", "")
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/jobs%s: %d %s", query, r.status, r.body)
		}
		return decode[jobList](t, r)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"cleanup", "pay-daily", "pay-hourly", "search-index"}},
		{"?q=pay-", []string{"pay-daily", "pay-hourly"}},
		{"?label=team=payments", []string{"pay-daily", "pay-hourly"}},
		{"?label=team=payments&label=tier=1", []string{"pay-daily"}},
		{"?label=tier", []string{"pay-daily", "search-index"}},
		{"?label=team=", nil}, // an empty value matches only an empty value
		{"?q=search&label=tier=1", []string{"search-index"}},
		{"?q=nothing", nil},
	} {
		if got := names(list(tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("GET /v1/jobs%s: %v, want %v", tc.query, got, tc.want)
		}
	}

	// Pages of 2 in name order; a job created between two pages does not shift the rest.
	first := list("?limit=2")
	if got := names(first); !slices.Equal(got, []string{"cleanup", "pay-daily"}) || first.Next == "" {
		t.Fatalf("first page %v, next %q", got, first.Next)
	}
	e.mustPut(t, "aaa-new", good)
	second := list("?limit=2&cursor=" + first.Next)
	if got := names(second); !slices.Equal(got, []string{"pay-hourly", "search-index"}) || second.Next != "" {
		t.Errorf("second page %v, next %q; want the last two and no next", got, second.Next)
	}

	// A page that holds exactly the rest has no next.
	if exact := list("?q=pay-&limit=2"); !slices.Equal(names(exact), []string{"pay-daily", "pay-hourly"}) || exact.Next != "" {
		t.Errorf("exact page %v, next %q; want both pay- jobs and no next", names(exact), exact.Next)
	}
	// Label selection reads past non-matching jobs to fill a page.
	if sel := list("?label=tier=1&limit=1"); !slices.Equal(names(sel), []string{"pay-daily"}) || sel.Next == "" {
		t.Errorf("selected page %v, next %q", names(sel), sel.Next)
	} else if rest := list("?label=tier=1&limit=1&cursor=" + sel.Next); !slices.Equal(names(rest), []string{"search-index"}) || rest.Next != "" {
		t.Errorf("second selected page %v, next %q", names(rest), rest.Next)
	}

	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?cursor=!!!", "?cursor=bm90IGEgbmFtZSE", "?label=bad%20key=x", "?label=k=bad%20value", "?q=" + strings.Repeat("a", 64)} {
		r := e.do(t, "GET", "/v1/jobs"+q, "", "")
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid-parameter") {
			t.Errorf("GET /v1/jobs%s: %d %s; want 400 invalid-parameter", q, r.status, r.body)
		}
	}
}

func TestCreateOnly(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	if r := e.put(t, "nightly", good, "If-None-Match", "*"); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	before := e.do(t, "GET", "/v1/jobs/nightly", "", "").header.Get("ETag")
	r := e.put(t, "nightly", withField(`"description":"changed"`), "If-None-Match", "*")
	if r.status != http.StatusPreconditionFailed || !strings.Contains(string(r.body), "problem-job-exists") {
		t.Errorf("create over an existing job: %d %s", r.status, r.body)
	}
	if after := e.do(t, "GET", "/v1/jobs/nightly", "", "").header.Get("ETag"); after != before {
		t.Errorf("the refused write changed the job: %s → %s", before, after)
	}
	for _, h := range [][]string{{"If-None-Match", `"3"`}, {"If-None-Match", "*", "If-Match", before}} {
		if r := e.put(t, "other", good, h...); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid-precondition") {
			t.Errorf("PUT with %v: %d %s", h, r.status, r.body)
		}
	}
}

type validation struct {
	Valid    bool           `json:"valid"`
	Spec     map[string]any `json:"spec"`
	NextRuns []string       `json:"nextRuns"`
}

func TestValidateIsADryRun(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	body := `{"name":"report","schedule":"30 9 * * MON-FRI","timezone":"Europe/Berlin","target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`
	r := e.do(t, "POST", "/v1/jobs:validate", "application/json", body)
	if r.status != http.StatusOK {
		t.Fatalf("validate: %d %s", r.status, r.body)
	}
	v := decode[validation](t, r)
	// t0 is Sunday 2026-03-01 10:00 UTC; the next weekday 09:30 in Berlin (UTC+1) is Monday's.
	if !v.Valid || len(v.NextRuns) != 10 || v.NextRuns[0] != "2026-03-02T09:30:00+01:00" || v.NextRuns[4] != "2026-03-06T09:30:00+01:00" || v.NextRuns[5] != "2026-03-09T09:30:00+01:00" {
		t.Errorf("validation %+v", v)
	}
	if v.Spec["misfire"] == nil || v.Spec["target"].(map[string]any)["http"].(map[string]any)["timeout"] != "30s" {
		t.Errorf("spec without its defaults: %v", v.Spec)
	}
	if r := e.do(t, "GET", "/v1/jobs/report", "", ""); r.status != http.StatusNotFound {
		t.Errorf("validate stored the job: %d", r.status)
	}

	r = e.do(t, "POST", "/v1/jobs:validate", "application/json", `{"schedule":"61 * * * *","target":{"http":{"url":"ftp://x"}}}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad job: %d %s", r.status, r.body)
	}
	p := decode[problemBody](t, r)
	var pointers []string
	for _, f := range p.Errors {
		pointers = append(pointers, f.Pointer)
	}
	if !slices.Contains(pointers, "#/schedule") || !slices.Contains(pointers, "#/target/http/url") {
		t.Errorf("problem %+v, want errors at #/schedule and #/target/http/url", p)
	}
	if r := e.do(t, "POST", "/v1/jobs:validate", "application/json", `{"name":"Bad Name","schedule":"@hourly","target":{"http":{"url":"http://x"}}}`); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "#/name") {
		t.Errorf("bad name: %d %s", r.status, r.body)
	}
	// H fields take the job's name: two names, two minutes (as PUT would store them).
	minute := func(name string) string {
		v := decode[validation](t, e.do(t, "POST", "/v1/jobs:validate", "application/json",
			`{"name":"`+name+`","schedule":"H * * * *","target":{"http":{"url":"http://x"}}}`))
		return v.NextRuns[0]
	}
	if minute("alpha") == minute("bravo") && minute("charlie") == minute("alpha") {
		t.Error("H fields ignore the name")
	}
}

type problemBody struct {
	Type   string `json:"type"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Detail  string `json:"detail"`
	} `json:"errors"`
}

func TestCancelRun(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	e.mustPut(t, "nightly", good)
	f := e.leaderFence(t)
	running := e.claim(t, f, newRun(f, "nightly", t0.Add(-time.Minute), store.StateRunning))[0]
	done := e.claim(t, f, newRun(f, "nightly", t0.Add(-2*time.Minute), store.StateSkipped))[0]
	cancel := func(id, body string) response {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return e.do(t, "POST", "/v1/jobs/nightly/runs/"+id+"/cancel", ct, body)
	}

	r := cancel(running.ID, `{"by":"alice"}`)
	if r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	got := e.getRun(t, running)
	if got.State != store.StateCancelled || got.Error != "cancelled by alice" || !got.Finished.Equal(t0) {
		t.Errorf("record after cancel: %s %q finished %v", got.State, got.Error, got.Finished)
	}
	if n, err := e.store.InFlightCount(context.Background(), "nightly"); err != nil || n != 0 {
		t.Errorf("%d runs still in flight (%v)", n, err)
	}
	// A result the leader comes to write afterwards does not overwrite it.
	late := running
	late.State = store.StateSucceeded
	if _, err := e.store.UpdateRun(context.Background(), late); err == nil {
		t.Error("the dispatcher's result overwrote the cancel")
	}

	for _, tc := range []struct {
		id     string
		status int
		kind   string
	}{
		{running.ID, http.StatusConflict, "run-finished"}, // twice
		{done.ID, http.StatusConflict, "run-finished"},
		{store.RunID("nightly", t0.Add(time.Hour)), http.StatusNotFound, "run-not-found"},
		{store.RunID("other", t0), http.StatusNotFound, "run-not-found"},
	} {
		r := cancel(tc.id, "")
		if r.status != tc.status || !strings.Contains(string(r.body), "problem-"+tc.kind) {
			t.Errorf("cancel %s: %d %s; want %d %s", tc.id, r.status, r.body, tc.status, tc.kind)
		}
	}

	// A manual run the leader has not claimed is withdrawn: no trigger, no record left.
	tr := decode[triggered](t, e.do(t, "POST", "/v1/jobs/nightly/trigger", "", ""))
	r = cancel(tr.Run, "")
	if r.status != http.StatusOK || decode[map[string]any](t, r)["state"] != "cancelled" {
		t.Errorf("withdraw: %d %s", r.status, r.body)
	}
	if ts := e.triggers(t); len(ts) != 0 {
		t.Errorf("triggers left: %+v", ts)
	}
	if r := e.do(t, "GET", "/v1/jobs/nightly/runs/"+tr.Run, "", ""); r.status != http.StatusNotFound {
		t.Errorf("withdrawn run: %d %s", r.status, r.body)
	}
}

// Two replicas' APIs write the same job at once, each conditional on the version both read:
// exactly one wins, the other gets 412, and the job is the winner's, whole.
func TestConcurrentConditionalWrites(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	other := newEnvOn(t, e)
	e.mustPut(t, "nightly", good)
	version := e.do(t, "GET", "/v1/jobs/nightly", "", "").header.Get("ETag")
	for round := range 20 {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		bodies := []string{withField(fmt.Sprintf(`"description":"a-%d"`, round)), withField(fmt.Sprintf(`"description":"b-%d"`, round))}
		for i, env := range []*env{e, other} {
			wg.Go(func() { statuses[i] = env.put(t, "nightly", bodies[i], "If-Match", version).status })
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusPreconditionFailed {
			t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, statuses)
		}
		r := e.do(t, "GET", "/v1/jobs/nightly", "", "")
		desc := decode[map[string]any](t, r)["description"]
		if desc != fmt.Sprintf("a-%d", round) && desc != fmt.Sprintf("b-%d", round) {
			t.Fatalf("round %d: description %v", round, desc)
		}
		version = r.header.Get("ETag")
	}
}

// newEnvOn serves a second API (another replica) on e's etcd.
func newEnvOn(t *testing.T, e *env) *env {
	t.Helper()
	return newEnvWith(t, e.client, fixedLeader{}, func(c *api.Config) { c.Registerer, c.Gatherer = nil, nil })
}

func TestHealthzAsksTheElector(t *testing.T) {
	var unhealthy error
	e := newEnv(t, fixedLeader{}, func(c *api.Config) { c.Health = func() error { return unhealthy } })
	if r := e.do(t, "GET", "/healthz", "", ""); r.status != http.StatusOK {
		t.Fatalf("healthy: %d %s", r.status, r.body)
	}
	unhealthy = errors.New("election: leading on a lease etcd has not confirmed in time")
	r := e.do(t, "GET", "/healthz", "", "")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "problem-unhealthy") || !strings.Contains(string(r.body), "not confirmed") {
		t.Errorf("unhealthy: %d %s", r.status, r.body)
	}
}
