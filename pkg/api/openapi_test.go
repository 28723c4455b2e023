package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// uiPatterns are the routes of the web page: files, not API operations.
var uiPatterns = []string{"GET /{$}", "GET /ui/"}

// openAPISpec is the embedded document, parsed.
type openAPISpec map[string]any

func parseOpenAPI(t *testing.T) openAPISpec {
	t.Helper()
	var doc openAPISpec
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	return doc
}

// operations maps "METHOD /path" to each operation the document lists, with the path item's
// parameters.
func (d openAPISpec) operations() map[string]openAPIOperation {
	ops := map[string]openAPIOperation{}
	paths, _ := d["paths"].(map[string]any)
	for p, v := range paths {
		item, _ := v.(map[string]any)
		shared, _ := item["parameters"].([]any)
		for method, o := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, method) {
				continue // parameters, summary, …
			}
			op, _ := o.(map[string]any)
			own, _ := op["parameters"].([]any)
			ops[strings.ToUpper(method)+" "+p] = openAPIOperation{path: p, op: op, params: append(slices.Clone(shared), own...)}
		}
	}
	return ops
}

type openAPIOperation struct {
	path   string
	op     map[string]any
	params []any
}

// routeKey is a mux pattern in the form operations uses: Go's {name} and OpenAPI's {name}
// agree, and a trailing wildcard {name...} is one path parameter to OpenAPI.
func routeKey(pattern string) (string, bool) {
	method, p, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(p, "/") {
		return "", false // no method, or a host: not something this test knows how to compare
	}
	return method + " " + strings.ReplaceAll(p, "...}", "}"), true
}

// allRoutes is routes() with every optional route on (metrics, UI).
func allRoutes() []route {
	a := &API{cfg: Config{Logger: zap.NewNop(), Gatherer: prometheus.NewRegistry(), UI: http.NotFoundHandler()}}
	return a.routes()
}

var (
	camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	pathParam = regexp.MustCompile(`\{([^}]+)\}`)
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := parseOpenAPI(t)
	ops := doc.operations()

	roles := map[string]auth.Role{}
	for _, rt := range allRoutes() {
		if slices.Contains(uiPatterns, rt.pattern) {
			continue
		}
		key, ok := routeKey(rt.pattern)
		if !ok {
			t.Errorf("route %q: want \"METHOD /path\"", rt.pattern)
			continue
		}
		roles[key] = rt.role
	}
	var undocumented, unrouted []string
	for key := range roles {
		if _, ok := ops[key]; !ok {
			undocumented = append(undocumented, key)
		}
	}
	for key := range ops {
		if _, ok := roles[key]; !ok {
			unrouted = append(unrouted, key)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unrouted)
	for _, key := range undocumented {
		t.Errorf("route %s is not in openapi.json", key)
	}
	for _, key := range unrouted {
		t.Errorf("openapi.json documents %s, which routes() does not serve", key)
	}

	ids := map[string]string{}
	for key, o := range ops {
		id, _ := o.op["operationId"].(string)
		if !camelCase.MatchString(id) {
			t.Errorf("%s: operationId %q is not camelCase", key, id)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q is also %s's", key, id, other)
		}
		ids[id] = key
		doc.checkPathParams(t, key, o)
		role, ok := roles[key]
		if !ok {
			continue
		}
		if got := o.op["x-schedulerd-role"]; got != role.String() {
			t.Errorf("%s: x-schedulerd-role %v, want %s (routes())", key, got, role)
		}
		if desc, _ := o.op["description"].(string); !strings.Contains(desc, "Role: "+role.String()) {
			t.Errorf("%s: the description does not say \"Role: %s\"", key, role)
		}
		security, _ := json.Marshal(o.op["security"])
		responses, _ := o.op["responses"].(map[string]any)
		switch {
		case role != auth.RoleNone:
			if string(security) != `[{"bearer":[]}]` {
				t.Errorf("%s: security %s, want the bearer scheme (role %s)", key, security, role)
			}
			if responses["401"] == nil || responses["403"] == nil {
				t.Errorf("%s: role %s, but 401 or 403 is not among the responses", key, role)
			}
		case string(security) != `[]` && string(security) != `[{"callbackToken":[]}]`:
			t.Errorf("%s: security %s on a route of role none", key, security)
		}
	}

	var broken []string
	doc.walkRefs(map[string]any(doc), "#", func(at, ref string) {
		if _, err := doc.lookup(ref); err != nil {
			broken = append(broken, fmt.Sprintf("%s: $ref %q: %v", at, ref, err))
		}
	})
	for _, b := range broken {
		t.Error(b)
	}
}

// checkPathParams checks that the path parameters declared for o are the {names} of its path.
func (d openAPISpec) checkPathParams(t *testing.T, key string, o openAPIOperation) {
	t.Helper()
	var inPath, declared []string
	for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
		inPath = append(inPath, m[1])
	}
	for _, p := range o.params {
		param := d.resolve(p)
		if param["in"] == "path" {
			name, _ := param["name"].(string)
			declared = append(declared, name)
			if param["required"] != true {
				t.Errorf("%s: path parameter %q is not required", key, name)
			}
		}
	}
	slices.Sort(inPath)
	slices.Sort(declared)
	if !slices.Equal(inPath, declared) {
		t.Errorf("%s: path parameters %v declared, the path has %v", key, declared, inPath)
	}
}

// walkRefs calls f with every $ref in v and where it is.
func (d openAPISpec) walkRefs(v any, at string, f func(at, ref string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				f(at, s)
				continue
			}
			d.walkRefs(e, at+"/"+problem.EscapeToken(k), f)
		}
	case []any:
		for i, e := range v {
			d.walkRefs(e, fmt.Sprintf("%s/%d", at, i), f)
		}
	}
}

// lookup resolves a reference within the document ("#/components/schemas/Job").
func (d openAPISpec) lookup(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a reference within the document")
	}
	var cur any = map[string]any(d)
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok || m[tok] == nil {
			return nil, fmt.Errorf("nothing at %q", tok)
		}
		cur = m[tok]
	}
	return cur, nil
}

// resolve follows $ref until it reaches an object without one; nil when it cannot.
func (d openAPISpec) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; m != nil && m["$ref"] != nil && i < 10; i++ {
		target, err := d.lookup(m["$ref"].(string))
		if err != nil {
			return nil
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// properties merges the properties and required names of a schema and its allOf parts.
func (d openAPISpec) properties(schema map[string]any) (map[string]any, []string) {
	props := map[string]any{}
	for k, v := range asMap(schema["properties"]) {
		props[k] = v
	}
	var required []string
	for _, r := range asList(schema["required"]) {
		name, _ := r.(string)
		required = append(required, name)
	}
	for _, part := range asList(schema["allOf"]) {
		p, r := d.properties(d.resolve(part))
		for k, v := range p {
			props[k] = v
		}
		required = append(required, r...)
	}
	return props, required
}

// branch picks, of a schema with anyOf or oneOf, the first alternative that is not null; the
// schema itself otherwise.
func (d openAPISpec) branch(schema map[string]any) map[string]any {
	for _, alt := range append(asList(schema["anyOf"]), asList(schema["oneOf"])...) {
		if s := d.resolve(alt); s != nil && s["type"] != "null" {
			return s
		}
	}
	return schema
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }

// TestOpenAPISchemasMatchTypes holds the schemas to the Go types the handlers decode and encode:
// every JSON field of the type is a property of the schema, of the matching JSON type, and
// the schema has no property the type lacks.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := parseOpenAPI(t)
	for schema, typ := range map[string]reflect.Type{
		"JobSpec":         reflect.TypeFor[job.Spec](),
		"JobBody":         reflect.TypeFor[jobBody](),
		"Job":             reflect.TypeFor[JobView](),
		"Validation":      reflect.TypeFor[validationView](),
		"Run":             reflect.TypeFor[store.Run](),
		"PendingRun":      reflect.TypeFor[pendingView](),
		"TriggerRequest":  reflect.TypeFor[triggerBody](),
		"TriggerResult":   reflect.TypeFor[triggerView](),
		"PauseRequest":    reflect.TypeFor[pauseBody](),
		"ResumeRequest":   reflect.TypeFor[struct{}](),
		"CancelRequest":   reflect.TypeFor[cancelBody](),
		"CompleteRequest": reflect.TypeFor[completeBody](),
		"Cluster":         reflect.TypeFor[clusterView](),
		"Problem":         reflect.TypeFor[problem.Details](),
	} {
		s := doc.resolve(map[string]any{"$ref": "#/components/schemas/" + schema})
		if s == nil {
			t.Errorf("no schema %s", schema)
			continue
		}
		doc.matchType(t, schema, s, typ)
	}
}

// hidden are JSON fields of a type ("type.field") the API never shows.
var hidden = map[string]bool{
	"store.Run.callbackToken": true, // runView clears it
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

func (d openAPISpec) matchType(t *testing.T, at string, schema map[string]any, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	schema = d.branch(schema)
	want := ""
	switch {
	case typ == timeType:
		if schema["format"] != "date-time" {
			t.Errorf("%s: a time, but the schema's format is %v, not date-time", at, schema["format"])
		}
		want = "string"
	case typ == reflect.TypeFor[json.RawMessage]():
		return // any JSON
	case typ.Implements(marshalerType):
		// Its own JSON form (job.Duration is a string): the zero value's says which type.
		b, err := json.Marshal(reflect.Zero(typ).Interface())
		var v any
		if err == nil && json.Unmarshal(b, &v) == nil {
			want = jsonType(v)
		}
	case typ.Kind() == reflect.String:
		want = "string"
	case typ.Kind() == reflect.Bool:
		want = "boolean"
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		want = "integer"
	case typ.Kind() == reflect.Float32 || typ.Kind() == reflect.Float64:
		want = "number"
	case typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array:
		want = "array"
		if items := d.resolve(schema["items"]); items != nil {
			d.matchType(t, at+"/items", items, typ.Elem())
		} else {
			t.Errorf("%s: an array without items", at)
		}
	case typ.Kind() == reflect.Map:
		want = "object"
		if values := d.resolve(schema["additionalProperties"]); values != nil {
			d.matchType(t, at+"/additionalProperties", values, typ.Elem())
		} else {
			t.Errorf("%s: a map, but additionalProperties is not a schema", at)
		}
	case typ.Kind() == reflect.Struct:
		want = "object"
		props, _ := d.properties(schema)
		fields := jsonFields(typ)
		for name, ft := range fields {
			if hidden[typ.String()+"."+name] {
				if props[name] != nil {
					t.Errorf("%s: %s is never shown, but the schema lists it", at, name)
				}
				continue
			}
			p := d.resolve(props[name])
			if p == nil {
				t.Errorf("%s: field %s (%s) is not in the schema", at, name, ft)
				continue
			}
			d.matchType(t, at+"/"+name, p, ft)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: the schema lists %s, which %s does not have", at, name, typ)
			}
		}
	}
	if got, ok := schema["type"]; ok && got != want {
		t.Errorf("%s: type %v in the schema, %s in Go (%s)", at, got, want, typ)
	}
}

// TestOpenAPIServed reads the document from a real API with authentication on, and checks a
// few real answers against it.
func TestOpenAPIServed(t *testing.T) {
	const token = "admin-secret"
	sum := sha256.Sum256([]byte(token))
	tokens, err := auth.Parse(strings.NewReader(hex.EncodeToString(sum[:]) + " admin alice\n"))
	if err != nil {
		t.Fatal(err)
	}
	client := etcdtest.Start(t).Client()
	log := zaptest.NewLogger(t)
	reg := prometheus.NewRegistry()
	st := store.New(client, "/test/", reg)
	a, err := New(Config{
		Store: st, Cache: store.NewCache(st, log, clockwork.NewRealClock(), reg), Leaders: noLeader{},
		Self:  election.Leader{ID: "r1", URL: "http://127.0.0.1:8080"},
		Clock: clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)), Logger: log,
		Registerer: reg, Gatherer: reg, Tokens: tokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	doc := parseOpenAPI(t)
	ops := doc.operations()

	// call makes a request, checks its status, and checks that the document lists that status
	// for the operation and that a JSON answer conforms to the schema listed for it.
	call := func(want int, method, path, operation, body string, header ...string) (http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		doc.checkResponse(t, method+" "+path, ops[operation], resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return resp.Header, b
	}
	bearer := []string{"Authorization", "Bearer " + token}

	h, b := call(200, "GET", "/v1/openapi.json", "GET /v1/openapi.json", "") // public
	if h.Get("Content-Type") != "application/json" || !bytes.Equal(b, openAPIDocument) {
		t.Errorf("GET /v1/openapi.json: %s, %d bytes; want application/json, the embedded %d bytes",
			h.Get("Content-Type"), len(b), len(openAPIDocument))
	}
	if h, _ := call(401, "GET", "/v1/jobs", "GET /v1/jobs", ""); h.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	spec := `{"schedule":"@every 30s","labels":{"team":"data"},"target":{"http":{"url":"http://127.0.0.1:9000/hook"}}}`
	call(201, "PUT", "/v1/jobs/tick", "PUT /v1/jobs/{name}", spec, bearer...)
	call(400, "PUT", "/v1/jobs/tick", "PUT /v1/jobs/{name}", `{"schedule":"nope","target":{}}`, bearer...)
	call(200, "POST", "/v1/jobs:validate", "POST /v1/jobs:validate", spec, bearer...)
	call(200, "GET", "/v1/jobs?label=team=data&limit=10", "GET /v1/jobs", "", bearer...)
	h, _ = call(202, "POST", "/v1/jobs/tick/trigger", "POST /v1/jobs/{name}/trigger", `{"by":"ci"}`, bearer...)
	run := h.Get("Location")
	call(200, "GET", run, "GET /v1/jobs/{name}/runs/{run}", "", bearer...) // pending
	call(200, "POST", run+"/cancel", "POST /v1/jobs/{name}/runs/{run}/cancel", "", bearer...)
	call(401, "POST", "/v1/runs/"+path.Base(run)+"/complete", "POST /v1/runs/{run}/complete", `{"result":"succeeded"}`)
	call(200, "GET", "/v1/jobs/tick", "GET /v1/jobs/{name}", "", bearer...)
	call(200, "GET", "/v1/jobs/tick/runs", "GET /v1/jobs/{name}/runs", "", bearer...)
	call(200, "POST", "/v1/jobs/tick/pause", "POST /v1/jobs/{name}/pause", `{"note":"disk swap"}`, bearer...)
	call(200, "GET", "/v1/cluster", "GET /v1/cluster", "", bearer...)
	call(204, "DELETE", "/v1/jobs/tick", "DELETE /v1/jobs/{name}", "", bearer...)
	call(503, "GET", "/readyz", "GET /readyz", "") // the cache is not running
	call(200, "GET", "/healthz", "GET /healthz", "")
	call(200, "GET", "/metrics", "GET /metrics", "")
}

type noLeader struct{}

func (noLeader) Leader() (election.Leader, bool) { return election.Leader{}, false }

// checkResponse checks that o lists status with the answer's media type, and that a JSON answer
// conforms to the schema.
func (d openAPISpec) checkResponse(t *testing.T, what string, o openAPIOperation, status int, contentType string, body []byte) {
	t.Helper()
	if o.op == nil {
		t.Errorf("%s: no such operation in the document", what)
		return
	}
	r := d.resolve(asMap(o.op["responses"])[fmt.Sprint(status)])
	if r == nil {
		t.Errorf("%s answered %d, which the document does not list: %s", what, status, body)
		return
	}
	if r["content"] == nil && len(body) == 0 {
		return // 204
	}
	mediaType, _, _ := strings.Cut(contentType, ";")
	media := asMap(asMap(r["content"])[mediaType])
	if media == nil {
		t.Errorf("%s answered %d %s, which the document does not list", what, status, contentType)
		return
	}
	if !strings.HasSuffix(mediaType, "json") {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s answered %d with JSON that does not parse: %v", what, status, err)
		return
	}
	var errs []string
	d.conform(media["schema"], v, "#", &errs)
	for _, e := range errs {
		t.Errorf("%s answered %d: %s", what, status, e)
	}
}

// conform checks the parts of JSON Schema this document uses to describe answers: type, const,
// enum, date-time, required and listed properties, items, additionalProperties, allOf, anyOf
// and oneOf.
func (d openAPISpec) conform(schema any, v any, at string, errs *[]string) {
	s := d.resolve(schema)
	if s == nil {
		*errs = append(*errs, at+": the schema does not resolve")
		return
	}
	if alts := append(asList(s["anyOf"]), asList(s["oneOf"])...); len(alts) > 0 {
		for _, alt := range alts {
			var sub []string
			if d.conform(alt, v, at, &sub); len(sub) == 0 {
				return
			}
		}
		*errs = append(*errs, fmt.Sprintf("%s: %v matches none of the alternatives", at, v))
		return
	}
	if want, ok := s["type"].(string); ok && want != jsonType(v) && (want != "number" || jsonType(v) != "integer") {
		*errs = append(*errs, fmt.Sprintf("%s: %s, the schema says %s", at, jsonType(v), want))
		return
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		*errs = append(*errs, fmt.Sprintf("%s: %v, the schema says %v", at, v, c))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		*errs = append(*errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	if str, ok := v.(string); ok && s["format"] == "date-time" {
		if _, err := time.Parse(time.RFC3339, str); err != nil {
			*errs = append(*errs, fmt.Sprintf("%s: %q is not a date-time", at, str))
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, required := d.properties(s)
		for _, name := range required {
			if _, ok := v[name]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: required property %s is missing", at, name))
			}
		}
		for name, e := range v {
			switch values, isSchema := s["additionalProperties"].(map[string]any); {
			case props[name] != nil:
				d.conform(props[name], e, at+"/"+problem.EscapeToken(name), errs)
			case isSchema:
				d.conform(values, e, at+"/"+problem.EscapeToken(name), errs)
			case len(props) > 0:
				*errs = append(*errs, fmt.Sprintf("%s: property %s is not in the schema", at, name))
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range v {
				d.conform(items, e, fmt.Sprintf("%s/%d", at, i), errs)
			}
		}
	}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
