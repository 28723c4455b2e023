package serve

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEnvOverridesDefaultNotFlag(t *testing.T) {
	t.Setenv("SCHEDULERD_LOG_FORMAT", "console")
	t.Setenv("SCHEDULERD_PREFIX", "/from-env/")
	cmd := Command()
	if err := cmd.ParseFlags([]string{"--prefix", "/from-flag/"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	if got, _ := cmd.Flags().GetString("log-format"); got != "console" {
		t.Errorf("log-format %q, want console from the environment", got)
	}
	if got, _ := cmd.Flags().GetString("prefix"); got != "/from-flag/" {
		t.Errorf("prefix %q, want the flag to win over the environment", got)
	}
}

func TestPprofHandler(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	for path, want := range map[string]int{"/debug/pprof/": 200, "/debug/pprof/goroutine?debug=1": 200, "/debug/pprof/cmdline": 200, "/v1/jobs": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
