package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/schedulerd/schedulerd/internal/serve"
)

// The benchmark's etcd members and replicas are this test binary re-executed: it runs the
// command instead of the tests when this variable is set.
const execEnv = "SCHEDULERD_BENCH_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestFlagsAreValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "limit,meteor"},
		{"--scenario", "all,limit"},
		{"--etcd", "2"},
		{"--replicas", "1"},
		{"--ttl", "1500ms"},
		{"--trials", "0"},
		{"--signals", "hup"},
		{"--jobs", "0"},
		{"--duration", "10ms"},
		{"--runs", "0"},
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

// Every scenario runs end to end with tiny numbers against real processes, and the JSON says
// what the issue asks for. Only counts are checked: timings are measured, never asserted.
func TestQuickRunOfEveryScenario(t *testing.T) {
	t.Setenv(execEnv, "1")
	out := filepath.Join(t.TempDir(), "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := newRootCommand()
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetArgs([]string{"--scenario", "all", "--quick", "--etcd", "1", "--replicas", "2", "--out", out})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("quick run: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"limit: raw etcd txns", "ceiling: @every 1s jobs", "lateness: receive time", "failover: signal", "footprint:", "goal"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	m := r.Machine
	if m.Cores < 1 || m.GoVersion == "" || m.EtcdVersion == "" || m.CPUModel == "" {
		t.Errorf("machine = %+v, want cores, Go and etcd versions, CPU model", m)
	}
	if r.Setup != (setup{EtcdMembers: 1, Replicas: 2, Quick: true}) {
		t.Errorf("setup = %+v", r.Setup)
	}

	s := r.Scenarios
	if s.Limit == nil || s.Ceiling == nil || s.Lateness == nil || s.Failover == nil || s.Footprint == nil {
		t.Fatalf("scenarios missing: %s", b)
	}
	if len(s.Limit.Results) != 3 {
		t.Errorf("limit: %d concurrencies, want 1, 16, 64", len(s.Limit.Results))
	}
	for _, l := range s.Limit.Results {
		// etcd may refuse a few under this much load (-race, one member, shared cores): the
		// benchmark reports them; more than 1 % would mean it measured failures.
		if l.Txns == 0 || l.Errors*100 > l.Txns || l.Latency.Count != l.Txns {
			t.Errorf("limit: %+v, want transactions and errors under 1 %%", l)
		}
	}

	c := s.Ceiling.Results
	if c.BaselineTxnsPerSec <= 0 || len(c.Steps) == 0 {
		t.Errorf("ceiling: %+v, want a baseline and steps", c)
	}
	for _, st := range c.Steps {
		if st.Dispatches == 0 || st.EtcdPuts == 0 || st.EtcdProposals == 0 || st.Lateness.Count != st.Dispatches {
			t.Errorf("ceiling step %+v: want dispatches and etcd writes", st)
		}
	}

	l := s.Lateness.Results
	if len(l.Spread) != 1 || len(l.Aligned) != 1 {
		t.Fatalf("lateness: %+v, want one spread and one aligned run", l)
	}
	if sp := l.Spread[0]; sp.SlotsOwed == 0 || sp.Delivered != sp.SlotsOwed || sp.Lateness.Count != sp.Delivered {
		t.Errorf("lateness spread: %+v, want every owed slot delivered", sp)
	}
	if f := l.Spread[0].Floor; f.PerSecond != 1 || f.Seconds < 1 || f.Lateness.Count != f.PerSecond*f.Seconds || f.Lateness.P99 <= 0 {
		t.Errorf("lateness floor: %+v, want one request a second (60 jobs) for every second measured", f)
	}
	if a := l.Aligned[0]; len(a.Instants) != 1 || a.Instants[0].Delivered != a.Jobs || a.Jobs == 0 {
		t.Errorf("lateness aligned: %+v, want every job delivered at the instant", a)
	}

	f := s.Failover.Results
	if want := len(s.Failover.Parameters.TTLs) * s.Failover.Parameters.Trials * len(s.Failover.Parameters.Signals); len(f.Trials) != want || want == 0 {
		t.Errorf("failover: %d trials, want %d", len(f.Trials), want)
	}
	for _, tr := range f.Trials {
		if tr.Leader == "" || tr.NewLeader == "" || tr.NewLeader == tr.Leader {
			t.Errorf("failover trial %+v: want a new leader", tr)
		}
		if tr.NextDispatchMs <= 0 || tr.NextDispatchMs > tr.FailoverMs {
			t.Errorf("failover trial %+v: the next dispatch must come after the signal, by the new leader's first at the latest", tr)
		}
	}
	for _, h := range f.Checks {
		if h.Slots == 0 || h.Duplicates != 0 || h.StaleClaims != 0 || h.SilentLosses != 0 {
			t.Errorf("failover check %+v: want slots, and no duplicate, stale claim or silent loss", h)
		}
	}

	fp := s.Footprint.Results
	if fp.PerJob.BusyLeaderRSS == 0 {
		t.Errorf("footprint: no busy leader RSS per job in %+v", fp.PerJob)
	}
	for _, ph := range []phaseSample{fp.Empty, fp.Idle, fp.Busy, fp.RunsAlone} {
		if ph.Leader.RSSBytes == 0 || ph.Follower.RSSBytes == 0 || ph.Leader.HeapInuseBytes == 0 {
			t.Errorf("footprint phase %+v: want memory figures", ph)
		}
		for _, p := range []procSample{ph.Leader, ph.Follower} {
			if p.RSSAnonBytes == 0 || p.RSSFileBytes == 0 || p.RSSAnonBytes+p.RSSFileBytes > p.RSSBytes {
				t.Errorf("footprint: RSS %d B split into anonymous %d B and file %d B; want both, within it", p.RSSBytes, p.RSSAnonBytes, p.RSSFileBytes)
			}
		}
	}
	if fp.SpecBytes == 0 || fp.Takeover.NewLeader == "" || fp.Takeover.NewLeader == fp.Takeover.OldLeader {
		t.Errorf("footprint: spec %d B, takeover %+v", fp.SpecBytes, fp.Takeover)
	}
	if n := len(fp.DB); n < 2 || fp.DB[n-1].RunKeys == 0 || fp.DB[n-1].DBSizeBytes == 0 || fp.DB[n-1].Dispatched == 0 {
		t.Errorf("footprint: database samples %+v, want run keys growing", fp.DB)
	}
	h := s.History
	if h == nil {
		t.Fatal("history: no report")
	}
	hr := h.Results
	if hr.Dispatched < h.Parameters.Runs || len(hr.Samples) < 2 || hr.RunKeysMax == 0 || hr.RunKeysBound == 0 || hr.DefragSizeBytes == 0 {
		t.Errorf("history: %d of %d runs, %d samples, run keys %d of %d, defragmented %d B; want all the runs, samples and sizes",
			hr.Dispatched, h.Parameters.Runs, len(hr.Samples), hr.RunKeysMax, hr.RunKeysBound, hr.DefragSizeBytes)
	}
	if len(r.Goals) < 9 {
		t.Errorf("goals: %d, want every goal judged", len(r.Goals))
	}
}

func TestHistoryBounded(t *testing.T) {
	ok := historyResults{Judged: true, RunKeysBound: 1000, RunKeysMax: 990, InUseSecondQuarterMax: 400, InUseLastQuarterMax: 480}
	for _, c := range []struct {
		name string
		r    historyResults
		want bool
	}{
		{"within", ok, true},
		{"run keys past history.keep", func() historyResults { r := ok; r.RunKeysMax = 1001; return r }(), false},
		{"database still growing", func() historyResults { r := ok; r.InUseLastQuarterMax = 501; return r }(), false},
		{"nothing measured", historyResults{Judged: true, RunKeysBound: 1000}, false},
		{"too few runs to judge", func() historyResults { r := ok; r.Judged = false; return r }(), false},
	} {
		if got := c.r.bounded(); got != c.want {
			t.Errorf("%s: bounded() = %v, want %v", c.name, got, c.want)
		}
	}
}
