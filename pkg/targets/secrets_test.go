package targets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

const secretValue = "s3cr3t-Value-77"

func TestHeaderFromEnv(t *testing.T) {
	t.Setenv("SCHEDULERD_SECRET_TOKEN", secretValue)
	t.Setenv("SCHEDULERD_SECRET_EMPTY", "")
	t.Setenv("SCHEDULERD_SECRET_NEWLINE", secretValue+"\r\nX-Injected: 1")
	t.Setenv("SCHEDULERD_ETCD_PASSWORD", secretValue)
	var p *targets.Policy
	if v, err := p.Header("Authorization", job.FromEnv("SCHEDULERD_SECRET_TOKEN")); err != nil || v != secretValue {
		t.Fatalf("Header = %q, %v", v, err)
	}
	if v, err := p.Header("X-Trace", job.Literal("1")); err != nil || v != "1" {
		t.Fatalf("literal: %q, %v", v, err)
	}
	for _, tc := range []struct {
		name, env, want string
	}{
		{"unset", "SCHEDULERD_SECRET_MISSING", "not set on this replica"},
		{"empty", "SCHEDULERD_SECRET_EMPTY", "empty"},
		{"not a header value", "SCHEDULERD_SECRET_NEWLINE", "not allowed in a header"},
		// Written around the API, say: the replica refuses to read it all the same.
		{"a replica setting", "SCHEDULERD_ETCD_PASSWORD", "must be an environment variable name starting with SCHEDULERD_SECRET_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Header("Authorization", job.FromEnv(tc.env))
			checkRefusal(t, err, "Authorization", "fromEnv "+tc.env, tc.want)
		})
	}
}

// checkRefusal checks that err is an *Error naming the header, the reference and the cause,
// and never the secret.
func checkRefusal(t *testing.T, err error, header, ref, cause string) {
	t.Helper()
	var te *targets.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want a *targets.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{`"` + header + `"`, ref, cause} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, secretValue) {
		t.Errorf("error %q holds the secret", msg)
	}
}

func TestHeaderFromFile(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	symlink := func(target, name string) string {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, name)
	}
	if err := os.WriteFile(outside, []byte(secretValue), 0o600); err != nil {
		t.Fatal(err)
	}
	// A Kubernetes Secret volume: token → ..data/token, ..data → ..2026_03_01_10_00_00.1/.
	write("..2026_03_01_10_00_00.1/token", secretValue+"\n")
	symlink("..2026_03_01_10_00_00.1", "..data")
	kube := symlink("..data/token", "token")
	p := mustPolicy(t, targets.Config{SecretsDir: dir})

	for _, tc := range []struct {
		name, path, want string
	}{
		{"a Kubernetes Secret volume", kube, secretValue},
		{"one trailing newline is trimmed", write("lf", secretValue+"\n"), secretValue},
		{"a CRLF counts as one", write("crlf", secretValue+"\r\n"), secretValue},
		{"no newline", write("plain", secretValue), secretValue},
		{"inner spaces are kept", write("spaces", " a b \n"), " a b "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := p.Header("Authorization", job.FromFile(tc.path)); err != nil || v != tc.want {
				t.Errorf("Header = %q, %v; want %q", v, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, path, cause string
	}{
		{"missing", filepath.Join(dir, "missing"), "no such file on this replica"},
		{"two trailing newlines", write("two", secretValue+"\n\n"), "not allowed in a header"},
		{"an inner newline", write("inner", secretValue+"\nX-Injected: 1\n"), "not allowed in a header"},
		{"empty", write("empty", "\n"), "the file is empty"},
		{"too large", write("large", strings.Repeat("a", targets.MaxSecretBytes+1)), "larger than 64 KiB"},
		{"a directory", filepath.Join(dir, "..data"), "directory"},
		{"outside the directory", outside, "must be under this replica's --secrets-dir"},
		{"a symbolic link out of the directory", symlink(outside, "escape"), "escapes"},
		{"an absolute symbolic link", symlink("/etc/hostname", "abs"), "escapes"},
		{"not clean", dir + "/../outside", "clean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Header("X-Api-Key", job.FromFile(tc.path))
			checkRefusal(t, err, "X-Api-Key", "fromFile "+tc.path, tc.cause)
		})
	}
}
