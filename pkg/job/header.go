package job

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/schedulerd/schedulerd/pkg/problem"
)

// SecretEnvPrefix starts every fromEnv name. A job's author picks the variable and its value
// goes to a URL the author picks, so the prefix keeps the replica's own settings
// (SCHEDULERD_ETCD_PASSWORD…) out of reach: only variables put there for targets qualify.
const SecretEnvPrefix = "SCHEDULERD_SECRET_"

// MaxSecretPath bounds a fromFile path.
const MaxSecretPath = 1024

// HeaderValue is the value of one target header: a literal, sent as is and stored with the
// job, or a reference to a secret that the dispatching replica reads at dispatch time, so the
// secret is never stored in etcd nor shown by the API. In JSON a literal is a string and a
// reference an object: {"fromEnv": "SCHEDULERD_SECRET_TOKEN"} or {"fromFile": "/etc/…"}.
// At most one of the fields is set; none is the empty literal.
//
// Its String never shows a literal: a job stored before secret references existed may hold a
// secret in one, and a spec printed by mistake must not reveal it.
type HeaderValue struct {
	// Value is a literal value.
	Value string `json:"-"`
	// FromEnv names an environment variable of the dispatching replica; it starts with
	// SecretEnvPrefix.
	FromEnv string `json:"fromEnv,omitempty"`
	// FromFile is the absolute path of a file under the dispatching replica's secrets
	// directory (serve --secrets-dir); its content less one trailing newline is the value.
	FromFile string `json:"fromFile,omitempty"`
}

// Literal is a header value sent as is.
func Literal(v string) HeaderValue { return HeaderValue{Value: v} }

// FromEnv is a header value read from the environment variable name at dispatch time.
func FromEnv(name string) HeaderValue { return HeaderValue{FromEnv: name} }

// FromFile is a header value read from the file at path at dispatch time.
func FromFile(path string) HeaderValue { return HeaderValue{FromFile: path} }

// IsRef reports whether v is a reference to a secret rather than a literal.
func (v HeaderValue) IsRef() bool { return v.FromEnv != "" || v.FromFile != "" }

// String describes v without its value: "fromEnv NAME", "fromFile PATH" or "a literal".
func (v HeaderValue) String() string {
	switch {
	case v.FromEnv != "":
		return "fromEnv " + v.FromEnv
	case v.FromFile != "":
		return "fromFile " + v.FromFile
	}
	return "a literal"
}

// MarshalJSON writes a literal as a string and a reference as an object.
func (v HeaderValue) MarshalJSON() ([]byte, error) {
	if !v.IsRef() {
		return json.Marshal(v.Value)
	}
	type ref HeaderValue // without the methods, so this does not recurse
	return json.Marshal(ref(v))
}

// UnmarshalJSON reads a string or a reference object. Its errors are *json.UnmarshalTypeError,
// and say what kind of JSON value was found, never the value.
func (v *HeaderValue) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if problems := (HeaderValue{}).CheckJSON(raw); len(problems) > 0 {
		return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[HeaderValue]()}
	}
	switch r := raw.(type) {
	case string:
		*v = Literal(r)
	case map[string]any:
		env, _ := r["fromEnv"].(string)
		file, _ := r["fromFile"].(string)
		*v = HeaderValue{FromEnv: env, FromFile: file}
	}
	return nil
}

// headerRefFields are the keys of a reference object.
var headerRefFields = []string{"fromEnv", "fromFile"}

// CheckJSON reports what keeps raw, a JSON value decoded into an any, from being a header
// value, each problem named by a JSON Pointer relative to the value ("" for the value itself,
// "/fromEnv"). A decoder that names fields by pointer (the API's) calls it before decoding,
// because encoding/json's type errors do not name map keys. It never repeats a value.
func (HeaderValue) CheckJSON(raw any) []problem.FieldError {
	const shape = `must be a string, or an object {"fromEnv": "` + SecretEnvPrefix + `…"} or {"fromFile": "/path"}`
	switch r := raw.(type) {
	case string:
		return nil
	case map[string]any:
		var out []problem.FieldError
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		set := 0
		for _, k := range keys {
			p := "/" + problem.EscapeToken(k)
			if !slices.Contains(headerRefFields, k) {
				detail := "unknown field; known fields here: fromEnv, fromFile"
				for _, f := range headerRefFields {
					if strings.EqualFold(f, k) {
						detail = fmt.Sprintf("unknown field (field names are case-sensitive: did you mean %q?)", f)
					}
				}
				out = append(out, problem.FieldError{Pointer: p, Detail: detail})
				continue
			}
			set++
			switch s, ok := r[k].(string); {
			case !ok:
				out = append(out, problem.FieldError{Pointer: p, Detail: "must be a string, got " + jsonKind(r[k])})
			case s == "":
				out = append(out, problem.FieldError{Pointer: p, Detail: "must not be empty"})
			}
		}
		switch {
		case set > 1:
			out = append(out, problem.FieldError{Detail: "a reference names one secret: fromEnv or fromFile, not both"})
		case set == 0 && len(out) == 0:
			out = append(out, problem.FieldError{Detail: shape + ", got an empty object"})
		}
		return out
	}
	return []problem.FieldError{{Detail: shape + ", got " + jsonKind(raw)}}
}

// jsonKind names the kind of a JSON value decoded into an any.
func jsonKind(raw any) string {
	switch raw.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", raw)
}

var secretEnvRE = regexp.MustCompile(`^` + SecretEnvPrefix + `[A-Za-z0-9_]+$`)

// CheckSecretEnv checks a fromEnv name: SecretEnvPrefix followed by letters, digits and '_'.
func CheckSecretEnv(name string) error {
	if !secretEnvRE.MatchString(name) {
		return fmt.Errorf("must be an environment variable name starting with %s (then letters, digits and '_'), "+
			"so that a job cannot read the replica's other settings; got %q", SecretEnvPrefix, name)
	}
	return nil
}

// CheckSecretPath checks a fromFile path on its own: absolute, clean (no "..", ".", "//" or
// trailing '/'), at most MaxSecretPath bytes, no control characters. Whether it lies under the
// replica's secrets directory is the replica's to say (package targets).
func CheckSecretPath(p string) error {
	switch {
	case len(p) > MaxSecretPath:
		return fmt.Errorf("must be at most %d bytes", MaxSecretPath)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("must not contain control characters")
	case !path.IsAbs(p):
		return fmt.Errorf("must be an absolute path under the replica's --secrets-dir (default /etc/schedulerd/secrets); got %q", p)
	case path.Clean(p) != p:
		return fmt.Errorf("must be a clean path (no '..', '.', '//' or trailing '/'): %q, not %q", path.Clean(p), p)
	}
	return nil
}

// credentialHeaders carry credentials by name; credentialWords do wherever they appear in one.
var (
	credentialHeaders = []string{"authorization", "proxy-authorization", "cookie"}
	credentialWords   = []string{"token", "secret", "password", "api-key", "apikey", "api_key"}
)

// CredentialHeader reports whether a header of this name carries a credential, so that a job
// must give its value as a secret reference: Authorization, Proxy-Authorization, Cookie, and
// any name containing token, secret, password, api-key, apikey or api_key (case-insensitive).
func CredentialHeader(name string) bool {
	n := strings.ToLower(name)
	return slices.Contains(credentialHeaders, n) || slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(n, w) })
}

// validate checks one header value; p is the header's pointer.
func (v HeaderValue) validate(e *ValidationError, p string) {
	if (v.Value != "" && v.IsRef()) || (v.FromEnv != "" && v.FromFile != "") {
		e.add(p, "set one of a literal value, fromEnv or fromFile")
	}
	if v.FromEnv != "" {
		if err := CheckSecretEnv(v.FromEnv); err != nil {
			e.add(p+"/fromEnv", "%v", err)
		}
	}
	if v.FromFile != "" {
		if err := CheckSecretPath(v.FromFile); err != nil {
			e.add(p+"/fromFile", "%v", err)
		}
	}
	if !httpguts.ValidHeaderFieldValue(v.Value) {
		e.add(p, "value contains characters not allowed in a header (control characters, newlines)")
	}
}
