package history

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// Fault is one injected fault: what and when.
type Fault struct {
	Kind   string    `json:"kind"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Input is a whole history: what the target saw, what etcd recorded, and the jobs.
type Input struct {
	Entries []Entry
	// Jobs as stored (store.ListJobs): their schedules and anchors say which slots were owed.
	Jobs []job.Job
	// Runs are every run record of those jobs.
	Runs []store.Run
	// Slots in (From, To] are checked. To should leave time for the last runs to arrive.
	From, To time.Time
	Faults   []Fault
}

// Gap summarises the failover gaps of one fault kind, in seconds.
type Gap struct {
	P50   float64 `json:"p50"`
	Max   float64 `json:"max"`
	Count int     `json:"count"`
}

// Report is the verdict on a history.
type Report struct {
	Faults     map[string]int `json:"faults"`
	Slots      int            `json:"slots"`
	Dispatches int            `json:"dispatches"`
	// Duplicates counts runs delivered more than once (for the same attempt).
	Duplicates    int      `json:"duplicates"`
	DuplicateRuns []string `json:"duplicateRuns,omitempty"`
	// StaleClaims counts runs claimed by a term after a newer term had claimed: in etcd's
	// order of claims, a token lower than one before it. The fencing guard makes this
	// impossible (a term's key is gone before the next term starts).
	StaleClaims    int      `json:"staleClaims"`
	StaleClaimRuns []string `json:"staleClaimRuns,omitempty"`
	// SilentLosses counts owed slots neither delivered nor recorded.
	SilentLosses int      `json:"silentLosses"`
	LostRuns     []string `json:"lostRuns,omitempty"`
	// FenceRejections counts requests the target's fence refused as coming from a stale leader.
	FenceRejections int `json:"fenceRejections"`
	// Skipped counts slots recorded as skipped, by reason.
	Skipped map[string]int `json:"skipped"`
	// Failed counts slots whose run was recorded as failed and never reached the target.
	Failed int `json:"failed"`
	// InDoubt counts slots claimed but neither delivered nor finished: the claiming leader died
	// between its claim and its request. Visible in the run records; not re-sent (at most once).
	InDoubt     int      `json:"inDoubt"`
	InDoubtRuns []string `json:"inDoubtRuns,omitempty"`
	// ClaimsFenced counts claims refused because the claimer no longer led (filled in by the
	// harness from the replicas' logs): stale leaders stopped at the claim.
	ClaimsFenced int `json:"claimsFenced"`
	// FailoverSeconds is, per fault kind, the time from the fault to the first delivery of a
	// slot scheduled after it.
	FailoverSeconds map[string]Gap `json:"failoverSeconds"`
}

// OK reports whether the history keeps the promises: no duplicate, no silent loss.
func (r Report) OK() bool { return r.Duplicates == 0 && r.SilentLosses == 0 && r.StaleClaims == 0 }

// Check checks a history.
func Check(in Input) Report {
	r := Report{Faults: map[string]int{}, Skipped: map[string]int{}, FailoverSeconds: map[string]Gap{}}
	delivered := make(map[string]bool)
	type attempt struct {
		run string
		n   int
	}
	seen := make(map[attempt]int)
	for _, e := range in.Entries {
		switch e.Verdict {
		case Accepted:
			r.Dispatches++
			delivered[e.Run] = true
		case StaleToken:
			r.FenceRejections++
		}
		if e.Verdict == Accepted || e.Verdict == DuplicateRun {
			a := attempt{e.Run, e.Attempt}
			seen[a]++
			if seen[a] == 2 {
				r.Duplicates++
				r.DuplicateRuns = append(r.DuplicateRuns, e.Run)
			}
		}
	}
	records := make(map[string]store.Run, len(in.Runs))
	for _, run := range in.Runs {
		records[run.ID] = run
	}
	claims := slices.Clone(in.Runs)
	slices.SortFunc(claims, func(a, b store.Run) int { return cmp.Compare(a.ClaimRevision, b.ClaimRevision) })
	var newest store.Run
	for _, run := range claims {
		if run.ClaimRevision == 0 {
			continue // not read from etcd: no claim order to check
		}
		if run.Token < newest.Token {
			r.StaleClaims++
			r.StaleClaimRuns = append(r.StaleClaimRuns, fmt.Sprintf("%s (token %d after %d)", run.ID, run.Token, newest.Token))
			continue
		}
		newest = run
	}
	for _, j := range in.Jobs {
		if j.Invalid != nil || j.Spec.Paused {
			continue
		}
		for slot := j.Next(in.From); !slot.IsZero() && !slot.After(in.To); slot = j.Next(slot) {
			r.Slots++
			id := store.RunID(j.Name, slot)
			if delivered[id] {
				continue
			}
			rec, ok := records[id]
			switch {
			case !ok:
				r.SilentLosses++
				r.LostRuns = append(r.LostRuns, id)
			case rec.State == store.StateSkipped:
				r.Skipped[rec.Reason]++
			case rec.State == store.StateFailed:
				r.Failed++
			default: // claimed, or succeeded without the target having seen it
				r.InDoubt++
				r.InDoubtRuns = append(r.InDoubtRuns, id+" ("+string(rec.State)+")")
			}
		}
	}
	gaps := make(map[string][]float64)
	for _, f := range in.Faults {
		r.Faults[f.Kind]++
		first := time.Time{}
		for _, e := range in.Entries {
			if e.Verdict == Accepted && e.Scheduled.After(f.At) && (first.IsZero() || e.Arrived.Before(first)) {
				first = e.Arrived
			}
		}
		if !first.IsZero() {
			gaps[f.Kind] = append(gaps[f.Kind], max(0, first.Sub(f.At).Seconds()))
		}
	}
	for kind, g := range gaps {
		sort.Float64s(g)
		r.FailoverSeconds[kind] = Gap{P50: round(g[(len(g)-1)/2]), Max: round(g[len(g)-1]), Count: len(g)}
	}
	return r
}

func round(s float64) float64 { return math.Round(s*100) / 100 }

// WriteTable prints the report for people.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	p("fault\tcount\tfailover p50\tfailover max")
	for _, kind := range slices.Sorted(maps.Keys(r.Faults)) {
		g, ok := r.FailoverSeconds[kind]
		if ok {
			p("%s\t%d\t%.2fs\t%.2fs", kind, r.Faults[kind], g.P50, g.Max)
		} else {
			p("%s\t%d\t-\t-", kind, r.Faults[kind])
		}
	}
	p("\t\t\t")
	p("slots owed\t%d\t\t", r.Slots)
	p("dispatches accepted\t%d\t\t", r.Dispatches)
	p("duplicates\t%d\t%s\t", r.Duplicates, list(r.DuplicateRuns))
	p("silent losses\t%d\t%s\t", r.SilentLosses, list(r.LostRuns))
	p("stale claims\t%d\t%s\t", r.StaleClaims, list(r.StaleClaimRuns))
	p("claims fenced (stale leader)\t%d\t\t", r.ClaimsFenced)
	p("fence rejections at the target\t%d\t\t", r.FenceRejections)
	for _, reason := range slices.Sorted(maps.Keys(r.Skipped)) {
		p("skipped (%s)\t%d\t\t", reason, r.Skipped[reason])
	}
	p("failed (recorded, not delivered)\t%d\t\t", r.Failed)
	p("in doubt (claimed, leader died)\t%d\t\t", r.InDoubt)
	verdict := "PASS: no duplicate, no silent loss, no stale claim"
	if !r.OK() {
		verdict = "FAIL: promises broken"
	}
	p("%s\t\t\t", verdict)
	return tw.Flush()
}

func list(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) > 3 {
		return fmt.Sprintf("%v … (+%d)", ids[:3], len(ids)-3)
	}
	return fmt.Sprint(ids)
}
