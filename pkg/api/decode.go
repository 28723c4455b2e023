package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// decodeStrict reads r's JSON body, checks it against schema (a struct type) and decodes it into
// each of into. It fails with a problem when the content type is not JSON, the body is too
// large, not one JSON object, has fields schema does not know (each named by pointer, matched
// case-sensitively), or values of the wrong type.
func decodeStrict(w http.ResponseWriter, r *http.Request, schema reflect.Type, into ...any) *problem.Details {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			p := problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
				fmt.Sprintf("the body must be JSON (Content-Type: application/json), got %q", ct))
			return &p
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p := problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
				fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes))
			return &p
		}
		p := problem.New(http.StatusBadRequest, "invalid-json", "Request body could not be read", err.Error())
		return &p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		p := invalidJSON("the body is empty; send the job as a JSON object")
		return &p
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		p := invalidJSON(describeSyntax(body, err))
		return &p
	}
	if _, err := dec.Token(); err != io.EOF {
		p := invalidJSON("the body holds more than one JSON value")
		return &p
	}
	if _, ok := raw.(map[string]any); !ok {
		p := invalidJSON("the body must be a JSON object")
		return &p
	}
	var fields []problem.FieldError
	unknownFields(raw, schema, "#", &fields)
	if len(fields) > 0 {
		title := "The request body has unknown fields"
		if !slices.ContainsFunc(fields, func(f problem.FieldError) bool { return strings.HasPrefix(f.Detail, "unknown field") }) {
			title = "A field has the wrong type" // only shapes a jsonChecker refused
		}
		p := invalid(title, fields)
		return requestKind(schema, &p)
	}
	for _, v := range into {
		if p := decodeInto(body, v); p != nil {
			return requestKind(schema, p)
		}
	}
	return nil
}

// requestKind gives a field problem about a body other than a job's the kind invalid-request.
func requestKind(schema reflect.Type, p *problem.Details) *problem.Details {
	if schema != reflect.TypeFor[jobBody]() && strings.HasSuffix(p.Type, "#problem-invalid-job") {
		*p = invalidRequest(p.Title, p.Errors)
	}
	return p
}

// decodeInto decodes a body already checked for unknown fields. Type errors name the field by
// its path from v, so v should be the struct whose fields are the body's top level.
func decodeInto(body []byte, v any) *problem.Details {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			p := invalid("A field has the wrong type", []problem.FieldError{{
				Pointer: "#/" + strings.ReplaceAll(te.Field, ".", "/"),
				Detail:  fmt.Sprintf("must be %s, got %s", typeWord(te.Type), te.Value),
			}})
			return &p
		}
		p := invalidJSON(err.Error())
		return &p
	}
	return nil
}

func invalidJSON(detail string) problem.Details {
	return problem.New(http.StatusBadRequest, "invalid-json", "Request body is not valid JSON", detail)
}

// invalid is the problem for a job whose fields are wrong.
func invalid(title string, fields []problem.FieldError) problem.Details {
	return fieldProblem("invalid-job", title, fields)
}

// invalidRequest is the problem for another request body whose fields are wrong.
func invalidRequest(title string, fields []problem.FieldError) problem.Details {
	return fieldProblem("invalid-request", title, fields)
}

func fieldProblem(kind, title string, fields []problem.FieldError) problem.Details {
	p := problem.New(http.StatusBadRequest, kind, title, "")
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strings.TrimPrefix(f.Pointer, "#") + ": " + f.Detail
	}
	p.Detail = strings.Join(parts, "; ")
	p.Errors = fields
	return p
}

func describeSyntax(body []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(body[:se.Offset], []byte("\n"))
		return fmt.Sprintf("%v (line %d, byte %d)", se, line, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the body ends in the middle of a JSON value"
	}
	return err.Error()
}

// jsonChecker is a type whose JSON form is not its Go fields (job.HeaderValue: a string or an
// object). It checks the generic JSON value itself and names each problem by a pointer relative
// to the value, since encoding/json's type errors do not name map keys.
type jsonChecker interface {
	CheckJSON(v any) []problem.FieldError
}

// unknownFields walks a generic JSON value beside the Go type it will decode into and reports
// every object key the type has no field for, and what a jsonChecker finds. Keys match json
// tags exactly: encoding/json would accept "Schedule" for "schedule", and we would rather say
// so than guess.
func unknownFields(v any, t reflect.Type, ptr string, out *[]problem.FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c, ok := reflect.Zero(t).Interface().(jsonChecker); ok {
		for _, f := range c.CheckJSON(v) {
			*out = append(*out, problem.FieldError{Pointer: ptr + f.Pointer, Detail: f.Detail})
		}
		return
	}
	switch val := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, e := range val {
				unknownFields(e, t.Elem(), ptr+"/"+problem.EscapeToken(k), out)
			}
		case reflect.Struct:
			known := jsonFields(t)
			keys := make([]string, 0, len(val))
			for k := range val {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ft, ok := known[k]
				if !ok {
					*out = append(*out, problem.FieldError{Pointer: ptr + "/" + problem.EscapeToken(k), Detail: unknownDetail(k, known)})
					continue
				}
				unknownFields(val[k], ft, ptr+"/"+problem.EscapeToken(k), out)
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range val {
				unknownFields(e, t.Elem(), fmt.Sprintf("%s/%d", ptr, i), out)
			}
		}
	}
}

func unknownDetail(k string, known map[string]reflect.Type) string {
	for name := range known {
		if strings.EqualFold(name, k) {
			return fmt.Sprintf("unknown field (field names are case-sensitive: did you mean %q?)", name)
		}
	}
	if len(known) == 0 {
		return "unknown field; this request takes no fields (send no body, or {})"
	}
	names := make([]string, 0, len(known))
	for name := range known {
		names = append(names, name)
	}
	sort.Strings(names)
	return "unknown field; known fields here: " + strings.Join(names, ", ")
}

// jsonFields maps the JSON names of t's fields (including promoted ones of embedded structs)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func typeWord(t reflect.Type) string {
	switch t.Name() {
	case "Duration":
		return `a duration string such as "30s" or "1m30s"`
	case "HeaderValue":
		return `a string, or an object {"fromEnv": "` + job.SecretEnvPrefix + `…"} or {"fromFile": "/path"}`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}
