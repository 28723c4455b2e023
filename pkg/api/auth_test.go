package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// One token per role; the test checks every route with each of them and with none.
var roleTokens = map[auth.Role]string{
	auth.RoleViewer:   "token-of-the-viewer",
	auth.RoleOperator: "token-of-the-operator",
	auth.RoleAdmin:    "token-of-the-admin",
}

func testTokens(t *testing.T) *auth.Tokens {
	t.Helper()
	file := auth.Hash(roleTokens[auth.RoleViewer]) + " viewer dash\n" +
		auth.Hash(roleTokens[auth.RoleOperator]) + " operator oncall\n" +
		auth.Hash(roleTokens[auth.RoleAdmin]) + " admin ci\n"
	tokens, err := auth.Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// examplePath turns a route pattern into a request path the route matches.
func examplePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.NewReplacer("{name}", "nightly", "{run}", store.RunID("nightly", t0), "{$}", "", "{file...}", "app.js").Replace(path)
	if strings.HasSuffix(path, "/ui/") {
		path += "app.js"
	}
	return method, path
}

// Every route × every role: a caller below the route's role gets 401 (no valid token) or 403
// (a valid token of a lesser role), and nothing else does. The handlers' own answers (404,
// 400 for an empty body…) do not matter here, only that the request got past the check.
func TestEveryRouteChecksItsRole(t *testing.T) {
	var a *api.API
	e := newEnv(t, fixedLeader{}, func(c *api.Config) {
		c.Tokens = testTokens(t)
		c.UI = http.NotFoundHandler()
	}, func(c *api.Config) {
		cfg := *c
		cfg.Registerer = nil // a second API on the same config, to list its routes
		var err error
		if a, err = api.New(cfg); err != nil {
			t.Fatal(err)
		}
	})
	// What docs/api.md promises, written out again: viewers read, operators also act on
	// runs and pauses, admins also write jobs; the health checks, metrics, the API document,
	// the page's files and the callback route (its own token) are public.
	promised := map[string]auth.Role{
		"GET /v1/jobs": auth.RoleViewer, "POST /v1/jobs:validate": auth.RoleViewer,
		"GET /v1/jobs/{name}": auth.RoleViewer, "GET /v1/jobs/{name}/runs": auth.RoleViewer,
		"GET /v1/jobs/{name}/runs/{run}": auth.RoleViewer, "GET /v1/cluster": auth.RoleViewer,
		"POST /v1/jobs/{name}/trigger": auth.RoleOperator, "POST /v1/jobs/{name}/pause": auth.RoleOperator,
		"POST /v1/jobs/{name}/resume": auth.RoleOperator, "POST /v1/jobs/{name}/runs/{run}/cancel": auth.RoleOperator,
		"PUT /v1/jobs/{name}": auth.RoleAdmin, "DELETE /v1/jobs/{name}": auth.RoleAdmin,
		"POST /v1/runs/{run}/complete": auth.RoleNone, "GET /v1/openapi.json": auth.RoleNone,
		"GET /healthz": auth.RoleNone, "GET /readyz": auth.RoleNone, "GET /metrics": auth.RoleNone,
		"GET /{$}": auth.RoleNone, "GET /ui/": auth.RoleNone,
	}
	routes := a.RouteRoles()
	for _, rt := range routes {
		if want, ok := promised[rt.Pattern]; !ok || want != rt.Role {
			t.Errorf("route %s needs %s; promised: %s (listed: %v)", rt.Pattern, rt.Role, want, ok)
		}
		delete(promised, rt.Pattern)
	}
	for p := range promised {
		t.Errorf("route %s promised but not served", p)
	}
	callers := []auth.Role{auth.RoleNone, auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin}
	for _, rt := range routes {
		method, path := examplePath(rt.Pattern)
		for _, role := range callers {
			var header []string
			if role != auth.RoleNone {
				header = []string{"Authorization", "Bearer " + roleTokens[role]}
			}
			r := e.do(t, method, path, "application/json", "", header...)
			want := "through"
			switch {
			case role < rt.Role && role == auth.RoleNone:
				want = "401"
			case role < rt.Role:
				want = "403"
			}
			got := "through"
			// (The callback route answers 401 too, for a missing callback token: another kind.)
			if r.status == http.StatusForbidden || strings.Contains(string(r.body), "#problem-unauthorized") {
				got = strconv.Itoa(r.status)
			}
			if got != want {
				t.Errorf("%s %s as %s (route needs %s): %d %s; want %s", method, path, role, rt.Role, r.status, r.body, want)
			}
			if want == "401" && r.header.Get("WWW-Authenticate") != `Bearer realm="schedulerd"` {
				t.Errorf("%s %s: 401 without WWW-Authenticate: Bearer", method, path)
			}
		}
	}
}

func TestAuthRefusesBadCredentials(t *testing.T) {
	e := newEnv(t, fixedLeader{}, func(c *api.Config) { c.Tokens = testTokens(t) })
	for _, h := range []string{
		"Bearer wrong-token",
		"Basic " + roleTokens[auth.RoleAdmin], // the right secret, the wrong scheme
		"Bearer",
		roleTokens[auth.RoleAdmin],
	} {
		r := e.do(t, "GET", "/v1/jobs", "", "", "Authorization", h)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "problem-unauthorized") {
			t.Errorf("Authorization %q: %d %s", h, r.status, r.body)
		}
		if strings.Contains(string(r.body), roleTokens[auth.RoleAdmin]) || strings.Contains(string(r.body), "wrong-token") {
			t.Errorf("the answer repeats the token: %s", r.body)
		}
	}
	// The scheme is case-insensitive (RFC 9110).
	if r := e.do(t, "GET", "/v1/jobs", "", "", "Authorization", "bearer "+roleTokens[auth.RoleViewer]); r.status != http.StatusOK {
		t.Errorf("lower-case scheme: %d %s", r.status, r.body)
	}
}

// Each write is audited with who made it (the token's name, never the token), and the
// caller's name is what the records say did it, whatever the body claims.
func TestWritesAreAudited(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	e := newEnv(t, fixedLeader{}, func(c *api.Config) {
		c.Tokens = testTokens(t)
		c.Logger = zap.New(core)
	})
	admin := []string{"Authorization", "Bearer " + roleTokens[auth.RoleAdmin]}
	operator := []string{"Authorization", "Bearer " + roleTokens[auth.RoleOperator]}
	if r := e.put(t, "nightly", good, admin...); r.status != http.StatusCreated {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r := e.do(t, "POST", "/v1/jobs/nightly/pause", "application/json", `{"by":"somebody-else","note":"db upgrade"}`, operator...)
	if r.status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if by := decode[map[string]any](t, r)["pause"].(map[string]any)["by"]; by != "oncall" {
		t.Errorf("pause.by is %v, want the caller's name oncall", by)
	}
	if r := e.do(t, "DELETE", "/v1/jobs/nightly", "", "", admin...); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	audit := logs.FilterLoggerName("api.audit").All()
	var got []string
	for _, entry := range audit {
		f := entry.ContextMap()
		got = append(got, entry.Message+" by "+f["who"].(string)+" of "+f["job"].(string))
		if _, ok := f["version"]; entry.Message != "job deleted" && !ok {
			t.Errorf("%q without the version", entry.Message)
		}
	}
	want := []string{"job created by ci of nightly", "job paused by oncall of nightly", "job deleted by ci of nightly"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit lines %q, want %q", got, want)
	}
	for _, entry := range logs.All() {
		line := entry.Message + fmt.Sprint(entry.ContextMap())
		for _, tok := range roleTokens {
			if strings.Contains(line, tok) {
				t.Errorf("a log line holds a token: %s", line)
			}
		}
	}
}
