package history_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/history"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func tick() job.Job {
	j := job.Job{Name: "tick", Spec: job.Spec{Schedule: "@every 1s", Timezone: "UTC"}, ScheduledFrom: t0}
	j.Compile()
	return j
}

func accepted(slot int, tok fence.Token, arrivedAfter time.Duration) history.Entry {
	return history.Entry{Arrived: sec(slot).Add(arrivedAfter), Job: "tick", Run: store.RunID("tick", sec(slot)),
		Scheduled: sec(slot), Token: tok, Attempt: 1, Verdict: history.Accepted, Status: 204}
}

func record(slot int, st store.State, reason string) store.Run {
	return store.Run{ID: store.RunID("tick", sec(slot)), Job: "tick", Scheduled: sec(slot), State: st, Reason: reason}
}

func TestCheckClassifiesEverySlot(t *testing.T) {
	in := history.Input{
		Jobs: []job.Job{tick()},
		From: t0, To: sec(8),
		Entries: []history.Entry{
			accepted(1, 5, 10*time.Millisecond),
			accepted(2, 5, 10*time.Millisecond),
			accepted(2, 5, 20*time.Millisecond), // delivered twice
			{Arrived: sec(3), Job: "tick", Run: "tick@old", Scheduled: sec(0), Token: 4, Attempt: 1, Verdict: history.StaleToken, Status: 409},
			accepted(6, 9, 2500*time.Millisecond), // first slot after the fault at 4s, by the new leader
			accepted(7, 9, 1600*time.Millisecond), // caught up right after
		},
		Runs: []store.Run{
			record(3, store.StateSkipped, store.ReasonMissed),
			record(4, store.StateClaimed, ""), // leader died after claiming
			record(8, store.StateFailed, ""),
			// slot 5: nothing anywhere — lost
		},
		Faults: []history.Fault{{Kind: "kill-leader", At: sec(4).Add(500 * time.Millisecond)}},
	}
	r := history.Check(in)
	if r.Slots != 8 || r.Dispatches != 5 {
		t.Errorf("slots %d dispatches %d, want 8 and 5", r.Slots, r.Dispatches)
	}
	if r.Duplicates != 1 || !slices.Equal(r.DuplicateRuns, []string{store.RunID("tick", sec(2))}) {
		t.Errorf("duplicates %d %v", r.Duplicates, r.DuplicateRuns)
	}
	if r.SilentLosses != 1 || !slices.Equal(r.LostRuns, []string{store.RunID("tick", sec(5))}) {
		t.Errorf("losses %d %v", r.SilentLosses, r.LostRuns)
	}
	if r.Skipped[store.ReasonMissed] != 1 || r.Failed != 1 || r.InDoubt != 1 || r.FenceRejections != 1 {
		t.Errorf("skipped %v failed %d in doubt %d fence %d", r.Skipped, r.Failed, r.InDoubt, r.FenceRejections)
	}
	if g := r.FailoverSeconds["kill-leader"]; g.Max != 4 || r.Faults["kill-leader"] != 1 {
		t.Errorf("failover %+v, want 4s (fault at 4.5s, slot 6 arrived at 8.5s)", g)
	}
	if r.OK() {
		t.Error("a history with a duplicate and a loss passed")
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestCheckFindsStaleClaims(t *testing.T) {
	claim := func(slot int, tok fence.Token, rev int64) store.Run {
		r := record(slot, store.StateSucceeded, "")
		r.Token, r.ClaimRevision = tok, rev
		return r
	}
	in := history.Input{Jobs: []job.Job{tick()}, From: t0, To: sec(3),
		Entries: []history.Entry{accepted(1, 5, 0), accepted(2, 9, 0), accepted(3, 5, 0)},
		Runs:    []store.Run{claim(1, 5, 10), claim(2, 9, 20), claim(3, 5, 30)}}
	r := history.Check(in)
	if r.StaleClaims != 1 || r.OK() {
		t.Errorf("stale claims %d %v, OK %v", r.StaleClaims, r.StaleClaimRuns, r.OK())
	}
	in.Runs[2].Token = 9
	if r := history.Check(in); r.StaleClaims != 0 || !r.OK() {
		t.Errorf("monotone tokens reported stale: %v", r.StaleClaimRuns)
	}
}

func TestCheckPassesACleanHistory(t *testing.T) {
	in := history.Input{Jobs: []job.Job{tick()}, From: t0, To: sec(3),
		Entries: []history.Entry{accepted(1, 5, 0), accepted(2, 5, 0), accepted(3, 5, 0)}}
	if r := history.Check(in); !r.OK() || r.Slots != 3 {
		t.Errorf("clean history: %+v", r)
	}
}

func TestRecorderLogsVerdicts(t *testing.T) {
	var log bytes.Buffer
	rec := history.NewRecorder(&log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}), func() time.Time { return t0 })
	srv := httptest.NewServer(rec)
	defer srv.Close()
	send := func(run string, tok fence.Token) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
		fence.Dispatch{Job: "tick", RunID: run, Scheduled: t0, Token: tok, Attempt: 1}.Set(req.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send("tick@1", 5)
	send("tick@1", 5)
	send("tick@2", 4)
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := rec.LatestScheduled(); !got.Equal(t0) {
		t.Errorf("LatestScheduled %v, want %v (only accepted requests count)", got, t0)
	}
	entries, err := history.ReadEntries(&log)
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []string
	for _, e := range entries {
		verdicts = append(verdicts, e.Verdict)
	}
	want := []string{history.Accepted, history.DuplicateRun, history.StaleToken, history.NoDispatch}
	if !slices.Equal(verdicts, want) {
		t.Errorf("verdicts %v, want %v", verdicts, want)
	}
	if entries[0].Run != "tick@1" || entries[0].Token != 5 || entries[0].Status != 204 || !entries[0].Arrived.Equal(t0) {
		t.Errorf("entry %+v", entries[0])
	}
}
