package targets

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// MaxSecretBytes bounds a fromFile secret.
const MaxSecretBytes = 64 << 10

// Header returns the value to send for the header name: a literal as it is, or the secret a
// reference names, read now. The error names the header and the reference, never a value: an
// unset or empty variable, a missing, unreadable, empty or oversized file, a reference a
// replica must not follow (a variable without job.SecretEnvPrefix, a file outside the secrets
// directory, also through a symbolic link), or a value that cannot be sent in a header.
func (p *Policy) Header(name string, v job.HeaderValue) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", refuse("header %q: %s: "+format, append([]any{name, v}, args...)...)
	}
	var val string
	switch {
	case v.FromEnv != "":
		if err := job.CheckSecretEnv(v.FromEnv); err != nil {
			return fail("%v", err)
		}
		s, ok := os.LookupEnv(v.FromEnv)
		switch {
		case !ok:
			return fail("not set on this replica")
		case s == "":
			return fail("empty on this replica")
		}
		val = s
	case v.FromFile != "":
		rel, err := p.secretRel(v.FromFile)
		if err != nil {
			return fail("%v", err)
		}
		// os.Root follows the symbolic links of a Kubernetes Secret volume (token →
		// ..data/token) but none that leads out of the directory.
		f, err := os.OpenInRoot(p.SecretsDir(), rel)
		if err != nil {
			return fail("%s", describeFileError(err))
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
		_ = f.Close()
		switch {
		case err != nil:
			return fail("%s", describeFileError(err))
		case len(b) > MaxSecretBytes:
			return fail("larger than %d KiB", MaxSecretBytes>>10)
		}
		val = string(b)
		if s, ok := strings.CutSuffix(val, "\n"); ok { // one trailing newline, as editors and echo leave it
			val = strings.TrimSuffix(s, "\r")
		}
		if val == "" {
			return fail("the file is empty")
		}
	default:
		return v.Value, nil
	}
	if !httpguts.ValidHeaderFieldValue(val) {
		return fail("the value holds characters not allowed in a header (control characters, or newlines besides one at the end of a file)")
	}
	return val, nil
}

func describeFileError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file on this replica"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied (the replica's user cannot read it)"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error() // "path escapes from parent", "is a directory"…
	}
	return err.Error()
}
