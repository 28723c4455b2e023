package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/internal/serve"
	"github.com/schedulerd/schedulerd/pkg/history"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlagsAreValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--faults", "kill-leader,meteor"},
		{"--replicas", "1"},
		{"--session-ttl", "1500ms"},
		{"--etcd-outage-min", "20s", "--etcd-outage-max", "10s"},
		{"--min-faults", "-1"},
		{"check"}, // --log and --etcd-endpoints are required
	} {
		root := newRootCommand()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		err := root.ExecuteContext(context.Background())
		if err == nil || serve.ExitCode(err) != 2 {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}

// The check mode finds a silent loss in a recorder log against real etcd, and passes the same
// history once the slot is accounted for.
func TestCheckCommand(t *testing.T) {
	e := etcdtest.Start(t)
	st := store.New(e.Client(), "/test/", nil)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	spec := job.Spec{Schedule: "@every 1s", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9/ok"}}}
	if _, _, err := st.PutJob(context.Background(), "tick", spec, t0, 0); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "target.jsonl")
	write := func(slots ...int) {
		var b bytes.Buffer
		for _, s := range slots {
			at := t0.Add(time.Duration(s) * time.Second)
			line, _ := json.Marshal(history.Entry{Arrived: at, Job: "tick", Run: store.RunID("tick", at), Scheduled: at,
				Token: 7, Attempt: 1, Verdict: history.Accepted, Status: 204})
			b.Write(append(line, '\n'))
		}
		if err := os.WriteFile(logPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func() (string, error) {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"check", "--log", logPath, "--etcd-endpoints", e.URL, "--prefix", "/test/",
			"--from", t0.Format(time.RFC3339), "--to", t0.Add(5 * time.Second).Format(time.RFC3339)})
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}

	write(1, 2, 4, 5)
	out, err := check()
	if !errors.Is(err, errPromisesBroken) || !strings.Contains(out, "silent losses") || !strings.Contains(out, "tick@") {
		t.Fatalf("a lost slot passed: %v\n%s", err, out)
	}
	write(1, 2, 3, 4, 5)
	if out, err := check(); err != nil || !strings.Contains(out, "PASS") {
		t.Fatalf("a clean history failed: %v\n%s", err, out)
	}
}
