// Package auth authenticates API callers by bearer token and says what their role allows.
//
// Promises: a token is compared only by its SHA-256, in constant time against every entry, so
// neither the file nor the timing of a refusal reveals a token; a token never appears in an
// error or a String of this package. Roles are ordered: each may do what the ones below it may.
package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Role is what a caller may do.
type Role int

// Roles, each with the rights of the ones before it.
const (
	// RoleNone is a caller without a valid token; it may use the public routes only.
	RoleNone Role = iota
	// RoleViewer reads jobs, runs and the cluster.
	RoleViewer
	// RoleOperator also triggers, pauses, resumes and cancels.
	RoleOperator
	// RoleAdmin also creates, updates and deletes jobs.
	RoleAdmin
)

var roleNames = map[Role]string{RoleNone: "none", RoleViewer: "viewer", RoleOperator: "operator", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a role name: viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s && r != RoleNone {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q: want viewer, operator or admin", s)
}

// Identity is an authenticated caller: the name its token line gives, for audit logs.
type Identity struct {
	Name string
	Role Role
}

// Tokens is a set of accepted tokens, by SHA-256.
type Tokens struct {
	entries []entry
}

type entry struct {
	hash [sha256.Size]byte
	id   Identity
}

// MaxNameLength bounds a token's name: it is recorded as a job's pause.by and a run's by,
// which hold a job name's length.
const MaxNameLength = 63

// ErrTokensFile reports a malformed tokens file.
var ErrTokensFile = errors.New("auth: invalid tokens file")

// Load reads a tokens file: one `<sha256 of the token, hex> <role> <name>` per line; blank
// lines and lines starting with # are ignored. Names must be unique, so an audit line names
// one caller.
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a tokens file's content (see Load).
func Parse(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: line %d: want `<sha256 hex> <role> <name>`, got %d fields", ErrTokensFile, n, len(f))
		}
		var e entry
		if b, err := hex.DecodeString(f[0]); err != nil || len(b) != sha256.Size {
			// Not echoed: a user who pasted the token itself here must not see it in a log.
			return nil, fmt.Errorf("%w: line %d: the first field must be the SHA-256 of the token, 64 hex digits (not the token itself)", ErrTokensFile, n)
		} else {
			copy(e.hash[:], b)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrTokensFile, n, err)
		}
		if len(f[2]) > MaxNameLength {
			return nil, fmt.Errorf("%w: line %d: the name is longer than %d bytes (it is recorded as who paused or triggered a job)", ErrTokensFile, n, MaxNameLength)
		}
		if names[f[2]] {
			return nil, fmt.Errorf("%w: line %d: name %q is used twice", ErrTokensFile, n, f[2])
		}
		if hashes[e.hash] {
			return nil, fmt.Errorf("%w: line %d: the same token hash is listed twice", ErrTokensFile, n)
		}
		names[f[2]], hashes[e.hash] = true, true
		e.id = Identity{Name: f[2], Role: role}
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokensFile, err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrTokensFile)
	}
	return t, nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Authenticate returns the identity of token, if it is one of t's. It looks at every entry
// whatever matches, so its time does not tell which entry (or whether any) matched.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	sum := sha256.Sum256([]byte(token))
	var found Identity
	ok := 0
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found, ok = e.id, 1
		}
	}
	return found, ok == 1
}

// Hash is the line field for a token: its SHA-256 in hex (what `schedulerd token hash` prints).
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
