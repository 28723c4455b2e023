package job_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/schedulerd/schedulerd/pkg/job"
)

func withHeaders(h map[string]job.HeaderValue) job.Spec {
	s := valid()
	s.Target.HTTP.Headers = h
	return s
}

// pointers lists the pointers of a *ValidationError (nil for nil), and fails on another error.
func pointers(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *job.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	var out []string
	for _, f := range ve.Errors {
		if f.Detail == "" {
			t.Errorf("%s: empty detail", f.Pointer)
		}
		out = append(out, f.Pointer)
	}
	return out
}

func TestValidateHeaderValues(t *testing.T) {
	const a = "#/target/http/headers/Authorization"
	for _, tc := range []struct {
		name string
		v    job.HeaderValue
		want []string
	}{
		{"fromEnv", job.FromEnv("SCHEDULERD_SECRET_TOKEN"), nil},
		{"fromEnv lower case rest", job.FromEnv("SCHEDULERD_SECRET_api_1"), nil},
		{"fromFile", job.FromFile("/etc/schedulerd/secrets/token"), nil},
		{"fromEnv of a replica setting", job.FromEnv("SCHEDULERD_ETCD_PASSWORD"), []string{a + "/fromEnv"}},
		{"fromEnv of anything", job.FromEnv("HOME"), []string{a + "/fromEnv"}},
		{"fromEnv prefix only", job.FromEnv("SCHEDULERD_SECRET_"), []string{a + "/fromEnv"}},
		{"fromEnv prefix in lower case", job.FromEnv("schedulerd_secret_token"), []string{a + "/fromEnv"}},
		{"fromEnv with '='", job.FromEnv("SCHEDULERD_SECRET_A=B"), []string{a + "/fromEnv"}},
		{"fromFile relative", job.FromFile("secrets/token"), []string{a + "/fromFile"}},
		{"fromFile with ..", job.FromFile("/etc/schedulerd/secrets/../../passwd"), []string{a + "/fromFile"}},
		{"fromFile starting with ..", job.FromFile("/../etc/passwd"), []string{a + "/fromFile"}},
		{"fromFile with //", job.FromFile("/etc/schedulerd//token"), []string{a + "/fromFile"}},
		{"fromFile with /./", job.FromFile("/etc/schedulerd/./token"), []string{a + "/fromFile"}},
		{"fromFile trailing slash", job.FromFile("/etc/schedulerd/secrets/"), []string{a + "/fromFile"}},
		{"fromFile with a newline", job.FromFile("/etc/schedulerd/secrets/a\nb"), []string{a + "/fromFile"}},
		{"fromFile too long", job.FromFile("/" + strings.Repeat("a", job.MaxSecretPath)), []string{a + "/fromFile"}},
		{"both references", job.HeaderValue{FromEnv: "SCHEDULERD_SECRET_A", FromFile: "/etc/schedulerd/secrets/a"}, []string{a}},
		{"literal and reference", job.HeaderValue{Value: "x", FromEnv: "SCHEDULERD_SECRET_A"}, []string{a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := withHeaders(map[string]job.HeaderValue{"Authorization": tc.v})
			if got := pointers(t, s.Validate()); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Validate pointers %v, want %v", got, tc.want)
			}
			// A reference passes the write rules when it passes Validate.
			if got := pointers(t, s.ValidateWrite()); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("ValidateWrite pointers %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateWriteRefusesLiteralCredentials(t *testing.T) {
	const secret = "hunter2-Bearer-eyJhbGciOi"
	for name, credential := range map[string]bool{
		"Authorization": true, "authorization": true, "Proxy-Authorization": true, "COOKIE": true,
		"X-Auth-Token": true, "X-Client-Secret": true, "X-Password": true, "X-Api-Key": true, "X-APIKEY": true,
		"api_key": true, "Tokens": true,
		"X-Trace": false, "Accept": false, "Content-Type": false, "X-Authorized-By": false, "Set-Cookie2": false,
	} {
		t.Run(name, func(t *testing.T) {
			if got := job.CredentialHeader(name); got != credential {
				t.Fatalf("CredentialHeader(%q) = %v", name, got)
			}
			s := withHeaders(map[string]job.HeaderValue{name: job.Literal(secret)})
			// A stored spec is not held to the write rule: an older job keeps running.
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			err := s.ValidateWrite()
			if !credential {
				if err != nil {
					t.Fatalf("ValidateWrite: %v", err)
				}
				return
			}
			if got := pointers(t, err); len(got) != 1 || got[0] != "#/target/http/headers/"+name {
				t.Fatalf("pointers %v, want the header's", got)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "fromEnv") || !strings.Contains(msg, "fromFile") {
				t.Errorf("error %q must name fromEnv and fromFile and not repeat the value", msg)
			}
			for _, ref := range []job.HeaderValue{job.FromEnv("SCHEDULERD_SECRET_X"), job.FromFile("/etc/schedulerd/secrets/x")} {
				if err := withHeaders(map[string]job.HeaderValue{name: ref}).ValidateWrite(); err != nil {
					t.Errorf("%v: %v", ref, err)
				}
			}
		})
	}
	// The write rule adds to Validate's problems, it does not hide them.
	s := withHeaders(map[string]job.HeaderValue{"Authorization": job.Literal("x")})
	s.Schedule = "nope"
	if got := pointers(t, s.ValidateWrite()); strings.Join(got, " ") != "#/schedule #/target/http/headers/Authorization" {
		t.Errorf("pointers %v", got)
	}
}

func TestHeaderValueJSON(t *testing.T) {
	for _, tc := range []struct {
		json string
		v    job.HeaderValue
	}{
		{`"Bearer x"`, job.Literal("Bearer x")},
		{`""`, job.Literal("")},
		{`{"fromEnv":"SCHEDULERD_SECRET_T"}`, job.FromEnv("SCHEDULERD_SECRET_T")},
		{`{"fromFile":"/etc/schedulerd/secrets/t"}`, job.FromFile("/etc/schedulerd/secrets/t")},
	} {
		var v job.HeaderValue
		if err := json.Unmarshal([]byte(tc.json), &v); err != nil || v != tc.v {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.json, v, err, tc.v)
		}
		if b, err := json.Marshal(tc.v); err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.v, b, err, tc.json)
		}
	}
	for _, tc := range []struct {
		json     string
		pointers []string // CheckJSON's, relative to the value
	}{
		{`31337`, []string{""}},
		{`true`, []string{""}},
		{`null`, []string{""}},
		{`["x"]`, []string{""}},
		{`{}`, []string{""}},
		{`{"fromEnv":31337}`, []string{"/fromEnv"}},
		{`{"fromEnv":""}`, []string{"/fromEnv"}},
		{`{"fromFile":{"path":"/x"}}`, []string{"/fromFile"}},
		{`{"fromEnv":"SCHEDULERD_SECRET_A","fromFile":"/b"}`, []string{""}},
		{`{"FromEnv":"SCHEDULERD_SECRET_A"}`, []string{"/FromEnv"}},
		{`{"fromEnv":"SCHEDULERD_SECRET_A","value":"x"}`, []string{"/value"}},
		{`{"a/b":"x"}`, []string{"/a~1b"}},
	} {
		var raw any
		if err := json.Unmarshal([]byte(tc.json), &raw); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range (job.HeaderValue{}).CheckJSON(raw) {
			if f.Detail == "" || strings.Contains(f.Detail, "31337") {
				t.Errorf("%s: detail %q must say what is wrong without repeating the value", tc.json, f.Detail)
			}
			got = append(got, f.Pointer)
		}
		if strings.Join(got, ",") != strings.Join(tc.pointers, ",") {
			t.Errorf("CheckJSON(%s) pointers %q, want %q", tc.json, got, tc.pointers)
		}
		var h job.HTTPTarget
		err := json.Unmarshal([]byte(`{"headers":{"X":`+tc.json+`}}`), &h)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || strings.Contains(err.Error(), "31337") {
			t.Errorf("Unmarshal(%s) = %v, want an UnmarshalTypeError without the value", tc.json, err)
		}
	}
}

func TestHeaderValueStringHidesLiterals(t *testing.T) {
	h := job.HTTPTarget{URL: "http://x", Headers: map[string]job.HeaderValue{
		"Authorization": job.Literal("hunter2"), "X-Key": job.FromEnv("SCHEDULERD_SECRET_KEY"),
	}}
	for _, s := range []string{fmt.Sprint(h), fmt.Sprintf("%+v", h), fmt.Sprintf("%v", h.Headers)} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "SCHEDULERD_SECRET_KEY") {
			t.Errorf("printed %s", s)
		}
	}
}
