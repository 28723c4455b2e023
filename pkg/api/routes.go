package api

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

// route is one entry of the API: its mux pattern, the least role that may call it, and its
// handler. The table is the one place routes are listed: the mux, the role checks, and the
// test that holds the OpenAPI document to the router all read it.
type route struct {
	pattern string
	role    auth.Role
	handler http.Handler
}

// routes lists every route this API serves.
func (a *API) routes() []route {
	hf := func(pattern string, role auth.Role, f http.HandlerFunc) route { return route{pattern, role, f} }
	rs := []route{
		hf("GET /v1/jobs", auth.RoleViewer, a.listJobs),
		hf("POST /v1/jobs:validate", auth.RoleViewer, a.validateJob),
		hf("GET /v1/jobs/{name}", auth.RoleViewer, a.getJob),
		hf("PUT /v1/jobs/{name}", auth.RoleAdmin, a.putJob),
		hf("DELETE /v1/jobs/{name}", auth.RoleAdmin, a.deleteJob),
		hf("GET /v1/jobs/{name}/runs", auth.RoleViewer, a.listRuns),
		hf("GET /v1/jobs/{name}/runs/{run}", auth.RoleViewer, a.getRun),
		hf("POST /v1/jobs/{name}/runs/{run}/cancel", auth.RoleOperator, a.cancelRun),
		hf("POST /v1/jobs/{name}/trigger", auth.RoleOperator, a.triggerJob),
		hf("POST /v1/jobs/{name}/pause", auth.RoleOperator, a.pauseJob),
		hf("POST /v1/jobs/{name}/resume", auth.RoleOperator, a.resumeJob),
		// Authenticated by the run's callback token, not a bearer token: a target has none.
		hf("POST /v1/runs/{run}/complete", auth.RoleNone, a.completeRun),
		hf("GET /v1/cluster", auth.RoleViewer, a.cluster),
		hf("GET /v1/openapi.json", auth.RoleNone, a.openAPI),
		hf("GET /healthz", auth.RoleNone, a.healthz),
		hf("GET /readyz", auth.RoleNone, a.readyz),
	}
	if a.cfg.Gatherer != nil {
		// Public like /healthz: Prometheus scrapes it without a token, and it holds no job
		// data beyond names.
		rs = append(rs, route{"GET /metrics", auth.RoleNone, a.metricsHandler()})
	}
	if a.cfg.UI != nil {
		// The page's files (serve passes ui.Handler()) are public; its API calls carry the
		// user's token.
		rs = append(rs, route{"GET /{$}", auth.RoleNone, a.cfg.UI}, route{"GET /ui/", auth.RoleNone, a.cfg.UI})
	}
	return rs
}

type identityKey struct{}

// caller is the identity a request was authenticated as; the zero Identity when auth is off
// or the route is public.
func caller(r *http.Request) auth.Identity {
	id, _ := r.Context().Value(identityKey{}).(auth.Identity)
	return id
}

// authorize checks r's bearer token against the least role its route needs. It answers 401 or
// 403 itself and returns false when the request may not go on.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, need auth.Role) (*http.Request, bool) {
	if a.cfg.Tokens == nil || need == auth.RoleNone {
		return r, true
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	id, ok := auth.Identity{}, false
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		id, ok = a.cfg.Tokens.Authenticate(strings.TrimSpace(token))
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="schedulerd"`)
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"this route needs a bearer token (Authorization: Bearer <token>); the token was missing or is not known"))
		return r, false
	}
	if id.Role < need {
		problem.Write(w, r, problem.New(http.StatusForbidden, "forbidden", "Forbidden",
			"the role "+id.Role.String()+" of "+id.Name+" may not do this; it needs "+need.String()))
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id)), true
}

// audit logs a write: who made it (the token's name; "anonymous" when auth is off), what it
// did, and from where. Every handler that changes state calls it once it has.
func (a *API) audit(r *http.Request, what string, fields ...zap.Field) {
	who := caller(r).Name
	if who == "" {
		who = "anonymous"
	}
	a.audits.Info(what, append(fields, zap.String("who", who), zap.String("remote", r.RemoteAddr))...)
}

// by is who a change is recorded as made by: the authenticated caller, whose name cannot be
// claimed by another; without auth, what the client says.
func by(r *http.Request, claimed string) string {
	if id := caller(r); id.Name != "" {
		return id.Name
	}
	return claimed
}
