package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/schedulerd/schedulerd/pkg/auth"
)

func TestParseAndAuthenticate(t *testing.T) {
	file := "# team tokens\n\n" +
		auth.Hash("v-secret") + " viewer grafana\n" +
		auth.Hash("o-secret") + "  operator   oncall\n" +
		auth.Hash("a-secret") + " admin ci\n"
	tokens, err := auth.Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 3 {
		t.Fatalf("%d tokens, want 3", tokens.Len())
	}
	for _, tc := range []struct {
		token string
		want  auth.Identity
		ok    bool
	}{
		{"v-secret", auth.Identity{Name: "grafana", Role: auth.RoleViewer}, true},
		{"o-secret", auth.Identity{Name: "oncall", Role: auth.RoleOperator}, true},
		{"a-secret", auth.Identity{Name: "ci", Role: auth.RoleAdmin}, true},
		{"a-secret ", auth.Identity{}, false},
		{"", auth.Identity{}, false},
		{auth.Hash("a-secret"), auth.Identity{}, false}, // the hash is not a token
	} {
		id, ok := tokens.Authenticate(tc.token)
		if ok != tc.ok || id != tc.want {
			t.Errorf("Authenticate(%q) = %+v, %v; want %+v, %v", tc.token, id, ok, tc.want, tc.ok)
		}
	}
	if !(auth.RoleViewer < auth.RoleOperator && auth.RoleOperator < auth.RoleAdmin && auth.RoleNone < auth.RoleViewer) {
		t.Error("roles are not ordered")
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	h := auth.Hash("x")
	for _, tc := range []struct {
		name, file, want string
	}{
		{"empty", "# nothing\n", "no tokens"},
		{"two fields", h + " admin\n", "line 1"},
		{"plain token", "my-secret-token admin ci\n", "SHA-256"},
		{"short hash", h[:60] + " admin ci\n", "SHA-256"},
		{"role", h + " root ci\n", `unknown role "root"`},
		{"name twice", h + " admin ci\n" + auth.Hash("y") + " viewer ci\n", `name "ci" is used twice`},
		{"long name", h + " admin " + strings.Repeat("n", 64) + "\n", "longer than 63"},
		{"hash twice", h + " admin ci\n" + h + " viewer other\n", "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.Parse(strings.NewReader(tc.file))
			if !errors.Is(err, auth.ErrTokensFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrTokensFile saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "my-secret-token") {
				t.Errorf("the error repeats the line's token: %v", err)
			}
		})
	}
}
