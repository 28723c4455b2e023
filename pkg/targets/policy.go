package targets

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
)

// DefaultSecretsDir is where fromFile secrets are read from by default: where a Kubernetes
// Secret volume is usually mounted.
const DefaultSecretsDir = "/etc/schedulerd/secrets"

// Config of a Policy. The zero Config allows any host and reads secrets files under
// DefaultSecretsDir.
type Config struct {
	// AllowedHosts are the hosts targets may call, as patterns matched against a target URL's
	// host name, case-insensitively: a glob (path.Match syntax: "*.internal" matches
	// "a.b.internal"), or an IP address, which matches that address however it is written
	// ("::1", "[::1]"). No scheme, port or path. Empty: any host.
	AllowedHosts []string
	// SecretsDir is the absolute directory fromFile references must be under; default
	// DefaultSecretsDir.
	SecretsDir string
}

// Policy is a replica's rules for targets. A nil *Policy is the zero Config's policy. It is
// immutable, so safe for concurrent use.
type Policy struct {
	allowed    []string // the patterns as given, for messages
	hosts      []hostPattern
	secretsDir string
}

type hostPattern struct {
	glob  string     // lower case; empty for an address
	addr  netip.Addr // valid for an address
	exact bool       // names one host: no wildcard
}

// Error is a dispatch or a secret the policy refuses. It never holds a secret's value.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func refuse(format string, args ...any) *Error { return &Error{msg: fmt.Sprintf(format, args...)} }

// New validates cfg and returns its Policy.
func New(cfg Config) (*Policy, error) {
	p := &Policy{secretsDir: cfg.SecretsDir}
	if p.secretsDir == "" {
		p.secretsDir = DefaultSecretsDir
	}
	var errs []error
	if !path.IsAbs(p.secretsDir) || path.Clean(p.secretsDir) != p.secretsDir {
		errs = append(errs, fmt.Errorf("--secrets-dir: %q must be an absolute, clean path such as %s", cfg.SecretsDir, DefaultSecretsDir))
	}
	for _, s := range cfg.AllowedHosts {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		hp, err := parsePattern(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--allowed-target-hosts: %q %w", s, err))
			continue
		}
		p.allowed = append(p.allowed, s)
		p.hosts = append(p.hosts, hp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func parsePattern(s string) (hostPattern, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return hostPattern{addr: a.Unmap(), exact: true}, nil
	}
	g := strings.ToLower(strings.TrimSuffix(s, "."))
	if strings.ContainsAny(g, "/:@ ") {
		return hostPattern{}, errors.New("is not a host name pattern: no scheme, port, path or spaces (*.internal, api.example.com, 10.0.0.7)")
	}
	if _, err := path.Match(g, ""); err != nil {
		return hostPattern{}, fmt.Errorf("is not a valid glob: %w", err)
	}
	return hostPattern{glob: g, exact: !strings.ContainsAny(g, `*?[\`)}, nil
}

// match reports whether host (a URL's host name) matches the pattern; exactOnly counts only
// patterns without wildcards.
func (hp hostPattern) match(host string, addr netip.Addr, exactOnly bool) bool {
	if exactOnly && !hp.exact {
		return false
	}
	if hp.addr.IsValid() {
		return addr.IsValid() && addr == hp.addr
	}
	ok, _ := path.Match(hp.glob, host)
	return ok
}

// normHost is host as patterns see it: lower case, without brackets or a final dot, and its
// address when it is one.
func normHost(host string) (string, netip.Addr) {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "."))
	a, err := netip.ParseAddr(h)
	if err != nil {
		return h, netip.Addr{}
	}
	return h, a.Unmap()
}

// AllowsHost reports whether a target URL's host name may be called.
func (p *Policy) AllowsHost(host string) bool {
	if p == nil || len(p.hosts) == 0 {
		return true
	}
	h, a := normHost(host)
	return slices.ContainsFunc(p.hosts, func(hp hostPattern) bool { return hp.match(h, a, false) })
}

// names reports whether the allowed list names host (a host name or an address) itself: a
// pattern without wildcards that matches it.
func (p *Policy) names(host string) bool {
	if p == nil {
		return false
	}
	h, a := normHost(host)
	return slices.ContainsFunc(p.hosts, func(hp hostPattern) bool { return hp.match(h, a, true) })
}

// AllowedHosts returns the allowed host patterns; empty when any host is allowed.
func (p *Policy) AllowedHosts() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.allowed)
}

// SecretsDir is the directory fromFile references must be under.
func (p *Policy) SecretsDir() string {
	if p == nil {
		return DefaultSecretsDir
	}
	return p.secretsDir
}

func (p *Policy) allowedList() string { return strings.Join(p.AllowedHosts(), ", ") }

// CheckURL refuses a target URL whose host the policy does not allow.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("target URL does not parse") // (said without the URL: its query may hold a secret)
	}
	if !p.AllowsHost(u.Hostname()) {
		return refuse("target host %q is not allowed by this replica's --allowed-target-hosts (%s)", u.Hostname(), p.allowedList())
	}
	return nil
}

// secretRel returns file's path relative to the secrets directory, or an error when it is
// not under it.
func (p *Policy) secretRel(file string) (string, error) {
	dir := p.SecretsDir()
	if err := job.CheckSecretPath(file); err != nil {
		return "", err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	if !strings.HasPrefix(file, prefix) || file == prefix {
		return "", fmt.Errorf("must be under this replica's --secrets-dir %s (%s…)", dir, prefix)
	}
	return strings.TrimPrefix(file, prefix), nil
}

// Validate checks a spec being written: job.Spec.ValidateWrite, then that its target's host is
// allowed and its fromFile secrets lie under the secrets directory. Problems are reported in
// one *job.ValidationError, by JSON Pointer.
func (p *Policy) Validate(s job.Spec) error {
	var v job.ValidationError
	if err := s.ValidateWrite(); err != nil {
		ve, ok := err.(*job.ValidationError)
		if !ok {
			return err
		}
		v = *ve
	}
	reported := func(ptr string) bool {
		return slices.ContainsFunc(v.Errors, func(f job.FieldError) bool { return f.Pointer == ptr })
	}
	if h := s.Target.HTTP; h != nil {
		if u, err := url.Parse(h.URL); err == nil && !reported("#/target/http/url") && !p.AllowsHost(u.Hostname()) {
			v.Errors = append(v.Errors, job.FieldError{Pointer: "#/target/http/url", Detail: fmt.Sprintf(
				"host %q is not allowed: this replica's --allowed-target-hosts is %s", u.Hostname(), p.allowedList())})
		}
		for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
			ptr := "#/target/http/headers/" + problem.EscapeToken(name) + "/fromFile"
			if f := h.Headers[name].FromFile; f != "" && !reported(ptr) {
				if _, err := p.secretRel(f); err != nil {
					v.Errors = append(v.Errors, job.FieldError{Pointer: ptr, Detail: err.Error()})
				}
			}
		}
	}
	if len(v.Errors) > 0 {
		return &v
	}
	return nil
}
