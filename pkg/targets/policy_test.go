package targets_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustPolicy(t *testing.T, cfg targets.Config) *targets.Policy {
	t.Helper()
	p, err := targets.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  targets.Config
		bad  []string // each must appear in the error
	}{
		{"zero", targets.Config{}, nil},
		{"patterns", targets.Config{AllowedHosts: []string{"*.internal", " 127.0.0.1 ", "[::1]", "api.example.com", "10.*", ""}}, nil},
		{"URL as a pattern", targets.Config{AllowedHosts: []string{"https://api.example.com"}}, []string{"--allowed-target-hosts", "https://api.example.com"}},
		{"port in a pattern", targets.Config{AllowedHosts: []string{"api.example.com:443"}}, []string{"api.example.com:443"}},
		{"bad glob", targets.Config{AllowedHosts: []string{"[a-"}}, []string{"glob"}},
		{"relative secrets dir", targets.Config{SecretsDir: "secrets"}, []string{"--secrets-dir"}},
		{"unclean secrets dir", targets.Config{SecretsDir: "/etc/../secrets"}, []string{"--secrets-dir"}},
		{"every problem", targets.Config{SecretsDir: "/x/", AllowedHosts: []string{"a/b", "c:1"}}, []string{"--secrets-dir", "a/b", "c:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := targets.New(tc.cfg)
			if (err != nil) != (tc.bad != nil) {
				t.Fatalf("New = %v", err)
			}
			for _, want := range tc.bad {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestAllowsHost(t *testing.T) {
	p := mustPolicy(t, targets.Config{AllowedHosts: []string{"*.internal", "127.0.0.1", "API.example.com", "[::1]", "10.*"}})
	for host, want := range map[string]bool{
		"a.internal": true, "a.b.internal": true, "A.Internal": true, "internal": false, "a.internal.evil.com": false,
		"api.example.com": true, "api.example.com.": true, "api.example.com.evil.com": false, "evil.com": false,
		"127.0.0.1": true, "127.0.0.2": false, "::ffff:127.0.0.1": true, "::1": true, "0:0::1": true, "[::1]": true,
		"10.1.2.3": true, "100.1.2.3": false, "169.254.169.254": false, "": false,
	} {
		if got := p.AllowsHost(host); got != want {
			t.Errorf("AllowsHost(%q) = %v, want %v", host, got, want)
		}
	}
	for _, p := range []*targets.Policy{nil, mustPolicy(t, targets.Config{})} {
		if !p.AllowsHost("anything.example") || !p.AllowsHost("169.254.169.254") {
			t.Errorf("%v: an empty list allows any host", p.AllowedHosts())
		}
	}
}

func TestCheckURL(t *testing.T) {
	p := mustPolicy(t, targets.Config{AllowedHosts: []string{"*.internal", "127.0.0.1"}})
	if err := p.CheckURL("http://127.0.0.1:9000/hook?token=hunter2"); err != nil {
		t.Error(err)
	}
	err := p.CheckURL("https://evil.example/x?token=hunter2")
	var te *targets.Error
	if !errors.As(err, &te) || !strings.Contains(err.Error(), `"evil.example"`) || !strings.Contains(err.Error(), "*.internal, 127.0.0.1") ||
		strings.Contains(err.Error(), "hunter2") {
		t.Errorf("CheckURL = %v, want an *Error naming the host and the list, not the URL's query", err)
	}
}

func TestValidate(t *testing.T) {
	p := mustPolicy(t, targets.Config{AllowedHosts: []string{"*.internal", "127.0.0.1"}, SecretsDir: "/run/secrets"})
	spec := func(url string, headers map[string]job.HeaderValue) job.Spec {
		return job.Spec{Schedule: "@hourly", Target: job.Target{HTTP: &job.HTTPTarget{URL: url, Headers: headers}}}
	}
	for _, tc := range []struct {
		name   string
		policy *targets.Policy
		spec   job.Spec
		want   []string
	}{
		{"allowed", p, spec("http://127.0.0.1:9000/", map[string]job.HeaderValue{
			"Authorization": job.FromFile("/run/secrets/token"), "X-Api-Key": job.FromEnv("SCHEDULERD_SECRET_KEY"), "X-Trace": job.Literal("1"),
		}), nil},
		{"host not allowed", p, spec("https://api.example.com/", nil), []string{"#/target/http/url"}},
		{"secret outside the directory", p, spec("http://a.internal/", map[string]job.HeaderValue{
			"Authorization": job.FromFile("/etc/schedulerd/secrets/token"),
		}), []string{"#/target/http/headers/Authorization/fromFile"}},
		{"the directory itself", p, spec("http://a.internal/", map[string]job.HeaderValue{"X-Key": job.FromFile("/run/secrets")}),
			[]string{"#/target/http/headers/X-Key/fromFile"}},
		{"a sibling directory", p, spec("http://a.internal/", map[string]job.HeaderValue{"X-Key": job.FromFile("/run/secrets2/k")}),
			[]string{"#/target/http/headers/X-Key/fromFile"}},
		{"unclean path reported once", p, spec("http://a.internal/", map[string]job.HeaderValue{"X-Key": job.FromFile("/run/secrets/../k")}),
			[]string{"#/target/http/headers/X-Key/fromFile"}},
		{"literal credential", p, spec("http://a.internal/", map[string]job.HeaderValue{"Authorization": job.Literal("Bearer x")}),
			[]string{"#/target/http/headers/Authorization"}},
		{"bad url reported once", p, spec("ftp://evil.example/", nil), []string{"#/target/http/url"}},
		{"every problem", p, spec("http://evil.example/", map[string]job.HeaderValue{"Cookie": job.Literal("a=b"), "X-Key": job.FromFile("/k")}),
			[]string{"#/target/http/headers/Cookie", "#/target/http/url", "#/target/http/headers/X-Key/fromFile"}},
		{"nil policy: any host, the default directory", nil, spec("https://api.example.com/", map[string]job.HeaderValue{
			"Authorization": job.FromFile("/etc/schedulerd/secrets/token"),
		}), nil},
		{"nil policy: still secrets under the default directory", nil, spec("https://api.example.com/", map[string]job.HeaderValue{
			"Authorization": job.FromFile("/run/secrets/token"),
		}), []string{"#/target/http/headers/Authorization/fromFile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate(tc.spec)
			var got []string
			if err != nil {
				var ve *job.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate = %v, want a *job.ValidationError", err)
				}
				for _, f := range ve.Errors {
					got = append(got, f.Pointer)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("pointers %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	if err := p.Validate(spec("http://evil.example/", nil)); err == nil || !strings.Contains(err.Error(), `"evil.example"`) ||
		!strings.Contains(err.Error(), "--allowed-target-hosts is *.internal, 127.0.0.1") {
		t.Errorf("the host error must name the host, the flag and its list: %v", err)
	}
}
