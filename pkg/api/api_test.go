package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/promtest"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type fixedLeader struct {
	l  election.Leader
	ok bool
}

func (f fixedLeader) Leader() (election.Leader, bool) { return f.l, f.ok }

type env struct {
	srv    *httptest.Server
	client *clientv3.Client
	store  *store.Store
	cache  *store.Cache
	reg    *prometheus.Registry
	clock  *clockwork.FakeClock // the API's clock, at t0 until a test advances it
	start  func()               // runs the cache until the test ends
}

// newEnv serves an API on a fresh embedded etcd; each option may adjust its Config.
func newEnv(t *testing.T, leaders api.Leaders, options ...func(*api.Config)) *env {
	t.Helper()
	return newEnvWith(t, etcdtest.Start(t).Client(), leaders, options...)
}

// newEnvWith serves an API on client's etcd, as newEnv does.
func newEnvWith(t *testing.T, client *clientv3.Client, leaders api.Leaders, options ...func(*api.Config)) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	reg := prometheus.NewRegistry()
	st := store.New(client, "/test/", reg)
	cache := store.NewCache(st, log, clockwork.NewRealClock(), reg)
	clock := clockwork.NewFakeClockAt(t0)
	cfg := api.Config{
		Store: st, Cache: cache, Leaders: leaders, Self: election.Leader{ID: "r1", URL: "http://127.0.0.1:8080"},
		Clock: clock, Logger: log, Registerer: reg, Gatherer: reg,
	}
	for _, o := range options {
		o(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, client: client, store: st, cache: cache, reg: reg, clock: clock}
	e.start = func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = cache.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, path, contentType, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) put(t *testing.T, name, body string, header ...string) response {
	t.Helper()
	return e.do(t, http.MethodPut, "/v1/jobs/"+name, "application/json", body, header...)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %v\n%s", r.status, err, r.body)
	}
	return v
}

// snapshot is every key and value under the test prefix, and the store's revision.
func snapshot(t *testing.T, c *clientv3.Client) (int64, map[string]string) {
	t.Helper()
	resp, err := c.Get(context.Background(), "/test/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	kv := make(map[string]string)
	for _, k := range resp.Kvs {
		kv[string(k.Key)] = string(k.Value)
	}
	return resp.Header.Revision, kv
}

const good = `{"schedule":"@every 2s","target":{"http":{"url":"http://127.0.0.1:9000/hook","method":"POST"}}}`

func withField(field string) string {
	return `{"schedule":"@every 2s",` + field + `,"target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`
}

func withHTTP(field string) string {
	return `{"schedule":"@every 2s","target":{"http":{"url":"http://127.0.0.1:9000/hook",` + field + `}}}`
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	if r := e.put(t, "existing", good); r.status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	version := decode[map[string]any](t, e.do(t, "GET", "/v1/jobs/existing", "", ""))["status"].(map[string]any)["version"]

	for _, tc := range []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      []string
		status      int
		kind        string
		pointers    []string // each must be named in errors[]
	}{
		{name: "syntax error", body: `{"schedule":`, kind: "invalid-json"},
		{name: "syntax error mid-body", body: `{"schedule": "@hourly",, }`, kind: "invalid-json"},
		{name: "not an object", body: `["@hourly"]`, kind: "invalid-json"},
		{name: "two values", body: good + good, kind: "invalid-json"},
		{name: "empty body", body: ``, kind: "invalid-json"},
		{name: "null", body: `null`, kind: "invalid-json"},
		{name: "unknown field", body: withField(`"schedul":"x"`), pointers: []string{"#/schedul"}},
		{name: "unknown nested field", body: withHTTP(`"urll":"x"`), pointers: []string{"#/target/http/urll"}},
		{name: "field in the wrong case", body: `{"Schedule":"@hourly","target":{"http":{"url":"http://127.0.0.1:9000/"}}}`, pointers: []string{"#/Schedule"}},
		{name: "unknown target kind", body: `{"schedule":"@hourly","target":{"grpc":{}}}`, pointers: []string{"#/target/grpc"}},
		{name: "invalid name", path: "/v1/jobs/Bad_Name", body: good, pointers: []string{"#/name"}},
		{name: "name too long", path: "/v1/jobs/" + strings.Repeat("a", 64), body: good, pointers: []string{"#/name"}},
		{name: "name mismatch", body: withField(`"name":"other"`), pointers: []string{"#/name"}},
		{name: "bad cron", body: `{"schedule":"61 * * * *","target":{"http":{"url":"http://127.0.0.1:9000/"}}}`, pointers: []string{"#/schedule"}},
		{name: "cron with 7 fields", body: `{"schedule":"* * * * * * *","target":{"http":{"url":"http://127.0.0.1:9000/"}}}`, pointers: []string{"#/schedule"}},
		{name: "missing schedule", body: `{"target":{"http":{"url":"http://127.0.0.1:9000/"}}}`, pointers: []string{"#/schedule"}},
		{name: "unknown time zone", body: withField(`"timezone":"Europe/Atlantis"`), pointers: []string{"#/timezone"}},
		{name: "non-http url", body: `{"schedule":"@hourly","target":{"http":{"url":"ftp://127.0.0.1/x"}}}`, pointers: []string{"#/target/http/url"}},
		{name: "missing target", body: `{"schedule":"@hourly"}`, pointers: []string{"#/target/http"}},
		{name: "negative timeout", body: withHTTP(`"timeout":"-5s"`), pointers: []string{"#/target/http/timeout"}},
		{name: "timeout not a duration", body: withHTTP(`"timeout":"soon"`), pointers: []string{"#/target/http/timeout"}},
		{name: "timeout as number", body: withHTTP(`"timeout":30`), pointers: []string{"#/target/http/timeout"}},
		{name: "negative grace", body: withField(`"misfire":{"grace":"-1m"}`), pointers: []string{"#/misfire/grace"}},
		{name: "paused not a bool", body: withField(`"paused":"yes"`), pointers: []string{"#/paused"}},
		{name: "reserved header", body: withHTTP(`"headers":{"Schedulerd-Fencing-Token":"1"}`), pointers: []string{"#/target/http/headers/Schedulerd-Fencing-Token"}},
		{name: "bad method", body: withHTTP(`"method":"FETCH"`), pointers: []string{"#/target/http/method"}},
		{name: "one-shot in the past", body: `{"schedule":"@at 2020-01-01T00:00:00Z","target":{"http":{"url":"http://127.0.0.1:9000/"}}}`, pointers: []string{"#/schedule"}},
		{name: "several problems at once", body: `{"schedule":"nope","timezone":"Nowhere","target":{"http":{"url":"gopher://x"}}}`,
			pointers: []string{"#/schedule", "#/timezone", "#/target/http/url"}},
		{name: "bad update of an existing job", path: "/v1/jobs/existing", body: withField(`"timezone":"Mars/Base"`), pointers: []string{"#/timezone"}},
		{name: "body over 1 MiB", body: withField(`"description":"` + strings.Repeat("x", api.MaxBodyBytes) + `"`), status: 413, kind: "too-large"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: good, status: 415, kind: "unsupported-media-type"},
		{name: "text content type", contentType: "text/plain", body: good, status: 415, kind: "unsupported-media-type"},
		{name: "garbage If-Match", path: "/v1/jobs/existing", body: withField(`"description":"x"`), header: []string{"If-Match", "yesterday"}, kind: "invalid-precondition"},
		{name: "stale If-Match", path: "/v1/jobs/existing", body: withField(`"description":"x"`), header: []string{"If-Match", `"1"`}, status: 412, kind: "version-mismatch"},
		{name: "delete unknown job", method: "DELETE", path: "/v1/jobs/nope", status: 404, kind: "job-not-found"},
		{name: "delete with stale If-Match", method: "DELETE", path: "/v1/jobs/existing", header: []string{"If-Match", `"1"`}, status: 412, kind: "version-mismatch"},
		{name: "delete invalid name", method: "DELETE", path: "/v1/jobs/a.b", pointers: []string{"#/name"}},
		{name: "get unknown job", method: "GET", path: "/v1/jobs/nope", status: 404, kind: "job-not-found"},
		{name: "runs of unknown job", method: "GET", path: "/v1/jobs/nope/runs", status: 404, kind: "job-not-found"},
		{name: "runs limit zero", method: "GET", path: "/v1/jobs/existing/runs?limit=0", kind: "invalid-parameter"},
		{name: "runs limit not a number", method: "GET", path: "/v1/jobs/existing/runs?limit=ten", kind: "invalid-parameter"},
		{name: "wrong method", method: "POST", path: "/v1/jobs/existing", body: good, status: 405, kind: "method-not-allowed"},
		{name: "unknown route", method: "GET", path: "/v1/nothing", status: 404, kind: "not-found"},
		// POST /v1/jobs/{name}/trigger
		{name: "trigger unknown job", method: "POST", path: "/v1/jobs/nope/trigger", status: 404, kind: "job-not-found"},
		{name: "trigger invalid name", method: "POST", path: "/v1/jobs/Bad_Name/trigger", kind: "invalid-job", pointers: []string{"#/name"}},
		{name: "trigger unknown field", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"whilepaused":true}`, pointers: []string{"#/whilepaused"}},
		{name: "trigger syntax error", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"by":`, kind: "invalid-json"},
		{name: "trigger body not an object", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `"alice"`, kind: "invalid-json"},
		{name: "trigger whilePaused not a bool", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"whilePaused":"yes"}`, pointers: []string{"#/whilePaused"}},
		{name: "trigger by too long", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"by":"` + strings.Repeat("a", 64) + `"}`, pointers: []string{"#/by"}},
		{name: "trigger by not printable", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"by":"al\u0007ice"}`, pointers: []string{"#/by"}},
		{name: "trigger text body", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "text/plain", body: `{}`, status: 415, kind: "unsupported-media-type"},
		{name: "trigger body over 1 MiB", method: "POST", path: "/v1/jobs/existing/trigger", contentType: "application/json", body: `{"by":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, status: 413, kind: "too-large"},
		{name: "Idempotency-Key too long", method: "POST", path: "/v1/jobs/existing/trigger", header: []string{"Idempotency-Key", strings.Repeat("k", api.MaxIdempotencyKey+1)}, kind: "invalid-idempotency-key"},
		{name: "Idempotency-Key with a tab", method: "POST", path: "/v1/jobs/existing/trigger", header: []string{"Idempotency-Key", "a\tb"}, kind: "invalid-idempotency-key"},
		{name: "Idempotency-Key not ASCII", method: "POST", path: "/v1/jobs/existing/trigger", header: []string{"Idempotency-Key", "clé"}, kind: "invalid-idempotency-key"},
		{name: "trigger with GET", method: "GET", path: "/v1/jobs/existing/trigger", status: 405, kind: "method-not-allowed"},
		// GET /v1/jobs/{name}/runs/{run}
		{name: "unknown run", method: "GET", path: "/v1/jobs/existing/runs/existing@2026-03-01T10:00:00Z", status: 404, kind: "run-not-found"},
		{name: "run id of another job", method: "GET", path: "/v1/jobs/existing/runs/other@2026-03-01T10:00:00Z", status: 404, kind: "run-not-found"},
		{name: "run id without a job", method: "GET", path: "/v1/jobs/existing/runs/2026-03-01T10:00:00Z", status: 404, kind: "run-not-found"},
		{name: "run of an invalid job name", method: "GET", path: "/v1/jobs/Bad_Name/runs/Bad_Name@2026-03-01T10:00:00Z", pointers: []string{"#/name"}},
		// POST /v1/jobs/{name}/pause and /resume
		{name: "pause unknown job", method: "POST", path: "/v1/jobs/nope/pause", status: 404, kind: "job-not-found"},
		{name: "pause invalid name", method: "POST", path: "/v1/jobs/a.b/pause", kind: "invalid-job", pointers: []string{"#/name"}},
		{name: "pause until in the past", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"until":"2026-03-01T09:00:00Z"}`, pointers: []string{"#/until"}},
		{name: "pause until now", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"until":"2026-03-01T10:00:00Z"}`, pointers: []string{"#/until"}},
		{name: "pause until not a time", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"until":"tomorrow"}`, kind: "invalid-json"},
		{name: "pause unknown field", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"reason":"x"}`, pointers: []string{"#/reason"}},
		{name: "pause note too long", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"note":"` + strings.Repeat("n", 1025) + `"}`},
		{name: "pause by too long", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"by":"` + strings.Repeat("b", 64) + `"}`, pointers: []string{"#/by"}},
		{name: "pause record not a bool", method: "POST", path: "/v1/jobs/existing/pause", contentType: "application/json", body: `{"record":"no"}`, pointers: []string{"#/record"}},
		{name: "pause with stale If-Match", method: "POST", path: "/v1/jobs/existing/pause", header: []string{"If-Match", `"1"`}, status: 412, kind: "version-mismatch"},
		{name: "pause with garbage If-Match", method: "POST", path: "/v1/jobs/existing/pause", header: []string{"If-Match", "now"}, kind: "invalid-precondition"},
		{name: "resume unknown job", method: "POST", path: "/v1/jobs/nope/resume", status: 404, kind: "job-not-found"},
		{name: "resume with a field", method: "POST", path: "/v1/jobs/existing/resume", contentType: "application/json", body: `{"note":"x"}`, pointers: []string{"#/note"}},
		{name: "resume with stale If-Match", method: "POST", path: "/v1/jobs/existing/resume", header: []string{"If-Match", `"1"`}, status: 412, kind: "version-mismatch"},
		// POST /v1/runs/{run}/complete
		{name: "complete without token", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"result":"succeeded"}`, status: 401, kind: "callback-unauthorized"},
		{name: "complete unknown run", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"result":"succeeded"}`, header: []string{fence.HeaderCallbackToken, "t"}, status: 404, kind: "run-not-found"},
		{name: "complete run id without a job", method: "POST", path: "/v1/runs/nothing/complete", contentType: "application/json", body: `{"result":"succeeded"}`, header: []string{fence.HeaderCallbackToken, "t"}, status: 404, kind: "run-not-found"},
		{name: "complete bad result", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"result":"done"}`, header: []string{fence.HeaderCallbackToken, "t"}, pointers: []string{"#/result"}},
		{name: "complete without result", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"output":"x"}`, header: []string{fence.HeaderCallbackToken, "t"}, pointers: []string{"#/result"}},
		{name: "complete error too long", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"result":"failed","error":"` + strings.Repeat("e", 4097) + `"}`, header: []string{fence.HeaderCallbackToken, "t"}, pointers: []string{"#/error"}},
		{name: "complete unknown field", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", body: `{"result":"succeeded","status":200}`, header: []string{fence.HeaderCallbackToken, "t"}, pointers: []string{"#/status"}},
		{name: "complete empty body", method: "POST", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", contentType: "application/json", header: []string{fence.HeaderCallbackToken, "t"}, kind: "invalid-json"},
		{name: "complete with GET", method: "GET", path: "/v1/runs/existing@2026-03-01T10:00:00Z/complete", status: 405, kind: "method-not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method == "" {
				tc.method = "PUT"
			}
			if tc.path == "" {
				tc.path = "/v1/jobs/new-job"
			}
			if tc.contentType == "" && tc.method == "PUT" {
				tc.contentType = "application/json"
			}
			if tc.status == 0 {
				tc.status = 400
			}
			if tc.kind == "" {
				tc.kind = "invalid-job" // a field of a job body; other bodies say invalid-request
				if tc.method == "POST" {
					tc.kind = "invalid-request"
				}
			}
			rev, before := snapshot(t, e.client)
			r := e.do(t, tc.method, tc.path, tc.contentType, tc.body, tc.header...)
			if r.status != tc.status {
				t.Errorf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type %q, want %q", ct, problem.ContentType)
			}
			p := decode[problem.Details](t, r)
			if p.Type != problem.TypeBase+tc.kind || p.Status != tc.status || p.Title == "" || p.Detail == "" {
				t.Errorf("problem %+v, want kind %s", p, tc.kind)
			}
			for _, want := range tc.pointers {
				if !slices.ContainsFunc(p.Errors, func(f problem.FieldError) bool { return f.Pointer == want && f.Detail != "" }) {
					t.Errorf("errors %+v do not name %s", p.Errors, want)
				}
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			afterRev, after := snapshot(t, e.client)
			if afterRev != rev || len(after) != len(before) {
				t.Errorf("etcd changed: revision %d → %d", rev, afterRev)
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("key %s changed", k)
				}
			}
		})
	}
	if got := decode[map[string]any](t, e.do(t, "GET", "/v1/jobs/existing", "", ""))["status"].(map[string]any)["version"]; got != version {
		t.Errorf("existing job's version moved from %v to %v", version, got)
	}
}

type JobView struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
	Timezone string `json:"timezone"`
	Target   struct {
		HTTP struct {
			URL     string `json:"url"`
			Method  string `json:"method"`
			Timeout string `json:"timeout"`
		} `json:"http"`
	} `json:"target"`
	Status struct {
		State         string    `json:"state"`
		Version       int64     `json:"version"`
		Created       time.Time `json:"created"`
		ScheduledFrom time.Time `json:"scheduledFrom"`
		NextRun       time.Time `json:"nextRun"`
	} `json:"status"`
}

func TestJobLifecycle(t *testing.T) {
	e := newEnv(t, fixedLeader{})
	r := e.put(t, "tick", good)
	if r.status != http.StatusCreated || r.header.Get("Location") != "/v1/jobs/tick" {
		t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
	}
	created := decode[JobView](t, r)
	if created.Name != "tick" || created.Timezone != "UTC" || created.Target.HTTP.Timeout != "30s" || created.Status.State != "active" {
		t.Errorf("created view without defaults: %+v", created)
	}
	if want := t0.Add(2 * time.Second); !created.Status.NextRun.Equal(want) {
		t.Errorf("nextRun %v, want %v", created.Status.NextRun, want)
	}
	if r.header.Get("ETag") != `"`+itoa(created.Status.Version)+`"` {
		t.Errorf("ETag %q for version %d", r.header.Get("ETag"), created.Status.Version)
	}

	// Putting the same spec again is a no-op: same version.
	if again := decode[JobView](t, e.put(t, "tick", good)); again.Status.Version != created.Status.Version {
		t.Errorf("identical PUT changed the version %d → %d", created.Status.Version, again.Status.Version)
	}
	// A GET body can be PUT back as it is (name and status are accepted).
	got := e.do(t, "GET", "/v1/jobs/tick", "", "")
	if r := e.put(t, "tick", string(got.body)); r.status != http.StatusOK || decode[JobView](t, r).Status.Version != created.Status.Version {
		t.Errorf("round trip: %d %s", r.status, r.body)
	}
	// Conditional update with the right version.
	r = e.put(t, "tick", `{"schedule":"*/5 * * * * *","target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`, "If-Match", r.header.Get("ETag"))
	updated := decode[JobView](t, r)
	if r.status != http.StatusOK || updated.Status.Version <= created.Status.Version || updated.Schedule != "*/5 * * * * *" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if !updated.Status.Created.Equal(created.Status.Created) {
		t.Errorf("update moved created")
	}

	list := decode[struct{ Jobs []JobView }](t, e.do(t, "GET", "/v1/jobs", "", ""))
	if len(list.Jobs) != 1 || list.Jobs[0].Status.Version != updated.Status.Version {
		t.Errorf("list: %+v", list)
	}

	// Runs appear newest first.
	key := "/test/election/leader"
	lr, err := e.client.Put(context.Background(), key, "x")
	if err != nil {
		t.Fatal(err)
	}
	f := store.Fence{LeaderKey: key, Token: fence.Token(lr.Header.Revision)}
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i*5) * time.Second)
		run := store.Run{ID: store.RunID("tick", at), Job: "tick", Scheduled: at, State: store.StateClaimed, Token: f.Token, Term: "t", Replica: "r1", Claimed: at}
		if _, err := e.store.Claim(context.Background(), f, updated.Status.Version, []store.Run{run}); err != nil {
			t.Fatal(err)
		}
	}
	runs := decode[struct{ Runs []store.Run }](t, e.do(t, "GET", "/v1/jobs/tick/runs?limit=2", "", ""))
	if len(runs.Runs) != 2 || runs.Runs[0].ID != "tick@2026-03-01T10:00:15Z" || runs.Runs[1].ID != "tick@2026-03-01T10:00:10Z" {
		t.Errorf("runs: %+v", runs)
	}
	after := decode[struct{ Status map[string]any }](t, e.do(t, "GET", "/v1/jobs/tick", "", ""))
	if after.Status["lastScheduled"] != "2026-03-01T10:00:15Z" || after.Status["nextRun"] != "2026-03-01T10:00:20Z" {
		t.Errorf("status after runs: %v", after.Status)
	}
	if last, _ := after.Status["lastRun"].(map[string]any); last["id"] != "tick@2026-03-01T10:00:15Z" {
		t.Errorf("lastRun %v", after.Status["lastRun"])
	}
	next, _ := after.Status["nextRuns"].([]any)
	if len(next) != 5 || next[0] != "2026-03-01T10:00:20Z" || next[4] != "2026-03-01T10:00:40Z" {
		t.Errorf("nextRuns %v", next)
	}

	once := decode[struct {
		Status struct{ State, NextRun string }
	}](t, e.put(t, "once",
		`{"schedule":"@at 2026-03-01T12:00:00+01:00","target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`))
	if once.Status.State != "active" || once.Status.NextRun != "2026-03-01T11:00:00Z" {
		t.Errorf("one-shot: %+v", once.Status)
	}
	if r := e.do(t, "DELETE", "/v1/jobs/once", "", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete once: %d", r.status)
	}
	berlin := decode[struct{ Status struct{ NextRuns []string } }](t, e.put(t, "berlin",
		`{"schedule":"0 9 * * *","timezone":"Europe/Berlin","target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`))
	if n := berlin.Status.NextRuns; len(n) != 5 || n[0] != "2026-03-02T09:00:00+01:00" {
		t.Errorf("nextRuns in the job's zone: %v", n)
	}
	if r := e.do(t, "DELETE", "/v1/jobs/berlin", "", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete berlin: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/v1/jobs/tick", "", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/jobs/tick", "", ""); r.status != http.StatusNotFound {
		t.Errorf("get after delete: %d", r.status)
	}
	if _, kv := snapshot(t, e.client); len(kv) != 1 { // only the stand-in leader key is left
		t.Errorf("delete left keys behind: %v", kv)
	}
	if n := promtest.Value(t, e.reg, "schedulerd_http_requests_total", "route", "PUT /v1/jobs/{name}", "code", "201"); n != 3 {
		t.Errorf("schedulerd_http_requests_total{PUT,201} = %v", n)
	}
}

func TestHealthAndCluster(t *testing.T) {
	leader := election.Leader{ID: "r2", URL: "http://127.0.0.1:8081", Token: 7}
	e := newEnv(t, fixedLeader{l: leader, ok: true})
	if r := e.do(t, "GET", "/healthz", "", ""); r.status != http.StatusOK {
		t.Errorf("healthz: %d", r.status)
	}
	if r := e.do(t, "GET", "/readyz", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz before the cache synced: %d", r.status)
	}
	e.start()
	etcdtest.WaitFor(t, 10*time.Second, "readyz", func() bool { return e.do(t, "GET", "/readyz", "", "").status == http.StatusOK })

	member, _ := json.Marshal(election.Leader{ID: "r2", URL: "http://127.0.0.1:8081"})
	if _, err := e.client.Put(context.Background(), e.store.Keys().Member("r2"), string(member)); err != nil {
		t.Fatal(err)
	}
	c := decode[struct {
		Leader  *election.Leader
		Members []election.Leader
		Replica election.Leader
	}](t, e.do(t, "GET", "/v1/cluster", "", ""))
	if c.Leader == nil || *c.Leader != leader || len(c.Members) != 1 || c.Members[0].ID != "r2" || c.Replica.ID != "r1" {
		t.Errorf("cluster: %+v", c)
	}
	r := e.do(t, "GET", "/metrics", "", "")
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte("schedulerd_http_requests_total")) {
		t.Errorf("metrics: %d", r.status)
	}

	none := newEnv(t, fixedLeader{})
	if body := none.do(t, "GET", "/v1/cluster", "", "").body; !bytes.Contains(body, []byte(`"leader": null`)) {
		t.Errorf("no leader: %s", body)
	}
}

func itoa(v int64) string { return strings.TrimSpace(string(must(json.Marshal(v)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
