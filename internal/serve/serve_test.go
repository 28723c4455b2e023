package serve

import "testing"

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
