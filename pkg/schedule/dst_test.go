package schedule

import (
	"testing"
	"time"
)

// Real transition days. Each case lists every fire in a window around the transition, as UTC
// instants with the local wall time in the comment.
func TestDSTTransitions(t *testing.T) {
	tests := []struct {
		name, zone, expr string
		dst              DST
		from, to         string
		want             []string
	}{
		// Europe/Berlin, 2026-03-29: 02:00 CET (+1) jumps to 03:00 CEST (+2) at 01:00Z.
		{"Berlin spring: a time in the gap fires at the end of the gap", "Europe/Berlin", "30 2 * * *", DST{},
			"2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z", []string{
				"2026-03-28T01:30:00Z", // 02:30 CET
				"2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST, the first instant after the gap
				"2026-03-30T00:30:00Z", // 02:30 CEST
			}},
		{"Berlin spring: gap times inside the hour fire once", "Europe/Berlin", "*/20 2 * * *", DST{},
			"2026-03-29T00:00:00Z", "2026-03-29T12:00:00Z", []string{
				"2026-03-29T01:00:00Z", // 02:00, 02:20, 02:40 do not exist: one fire at 03:00 CEST
			}},
		{"Berlin spring: hourly fires once where the gap ends", "Europe/Berlin", "0 * * * *", DST{},
			"2026-03-28T23:30:00Z", "2026-03-29T02:30:00Z", []string{
				"2026-03-29T00:00:00Z", // 01:00 CET
				"2026-03-29T01:00:00Z", // 02:00 does not exist and 03:00 CEST is this instant: once
				"2026-03-29T02:00:00Z", // 04:00 CEST
			}},
		{"Berlin spring: gap skip", "Europe/Berlin", "30 2 * * *", DST{Gap: GapSkip},
			"2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z", []string{
				"2026-03-28T01:30:00Z",
				"2026-03-30T00:30:00Z",
			}},
		{"Berlin spring: times after the gap are unaffected", "Europe/Berlin", "0 3 * * *", DST{},
			"2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z", []string{
				"2026-03-29T01:00:00Z", // 03:00 CEST
				"2026-03-30T01:00:00Z",
			}},
		// Europe/Berlin, 2026-10-25: 03:00 CEST (+2) falls back to 02:00 CET (+1) at 01:00Z.
		{"Berlin fall: a repeated time fires once, at the first", "Europe/Berlin", "30 2 * * *", DST{},
			"2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z", []string{
				"2026-10-24T00:30:00Z", // 02:30 CEST
				"2026-10-25T00:30:00Z", // 02:30 CEST, the first 02:30
				"2026-10-26T01:30:00Z", // 02:30 CET
			}},
		{"Berlin fall: overlap both", "Europe/Berlin", "30 2 * * *", DST{Overlap: OverlapBoth},
			"2026-10-25T00:00:00Z", "2026-10-25T12:00:00Z", []string{
				"2026-10-25T00:30:00Z", // 02:30 CEST
				"2026-10-25T01:30:00Z", // 02:30 CET
			}},
		{"Berlin fall: hourly fires once per wall hour", "Europe/Berlin", "0 * * * *", DST{},
			"2026-10-24T23:30:00Z", "2026-10-25T02:30:00Z", []string{
				"2026-10-25T00:00:00Z", // 02:00 CEST
				"2026-10-25T02:00:00Z", // 03:00 CET (02:00 CET is the second 02:00)
			}},
		// America/New_York, 2026-03-08: 02:00 EST (-5) jumps to 03:00 EDT (-4) at 07:00Z.
		{"New York spring", "America/New_York", "30 2 * * *", DST{},
			"2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z", []string{
				"2026-03-08T07:00:00Z", // 03:00 EDT
				"2026-03-09T06:30:00Z", // 02:30 EDT
			}},
		// America/New_York, 2026-11-01: 02:00 EDT (-4) falls back to 01:00 EST (-5) at 06:00Z.
		{"New York fall", "America/New_York", "30 1 * * *", DST{},
			"2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z", []string{
				"2026-11-01T05:30:00Z", // 01:30 EDT, the first 01:30
				"2026-11-02T06:30:00Z", // 01:30 EST
			}},
		// Australia/Lord_Howe shifts by 30 minutes. 2026-04-05: 02:00 (+11) falls back to 01:30
		// (+10:30) at 15:00Z on the 4th; 2026-10-04: 02:00 (+10:30) jumps to 02:30 (+11) at 15:30Z.
		{"Lord Howe fall (30-minute overlap)", "Australia/Lord_Howe", "45 1 * * *", DST{},
			"2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z", []string{
				"2026-04-04T14:45:00Z", // 01:45 +11, the first 01:45
				"2026-04-05T15:15:00Z", // 01:45 +10:30 on the 6th
			}},
		{"Lord Howe spring (30-minute gap)", "Australia/Lord_Howe", "15 2 * * *", DST{},
			"2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z", []string{
				"2026-10-03T15:30:00Z", // 02:15 does not exist: 02:30 +11
				"2026-10-04T15:15:00Z", // 02:15 +11 on the 5th
			}},
		// Pacific/Apia changed its offset rules: Samoa skipped 30 December 2011 (−10 → +14).
		{"Samoa skipped a whole day", "Pacific/Apia", "0 10 * * *", DST{},
			"2011-12-29T00:00:00Z", "2011-12-31T00:00:00Z", []string{
				"2011-12-29T20:00:00Z", // 29 Dec 10:00 −10
				"2011-12-30T10:00:00Z", // 30 Dec does not exist: 31 Dec 00:00 +14
				"2011-12-30T20:00:00Z", // 31 Dec 10:00 +14
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseDST(tt.expr, loc, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for cur := s.Next(at(tt.from)); !cur.After(at(tt.to)); cur = s.Next(cur) {
				if len(got) > 50 {
					t.Fatal("runaway")
				}
				got = append(got, cur.Format(time.RFC3339))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("fires %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("fires %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// A leader that takes over in the middle of an overlap (its cursor is in the second
// occurrence) must not fire the repeated time again.
func TestDSTNextFromInsideTheOverlap(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, err := Parse("45 2 * * *", berlin)
	if err != nil {
		t.Fatal(err)
	}
	// 01:10Z is 02:10 CET, after 02:45 CEST (00:45Z) fired.
	if got := s.Next(at("2026-10-25T01:10:00Z")); !got.Equal(at("2026-10-26T01:45:00Z")) {
		t.Errorf("Next = %v, want the next day's 02:45 CET", got)
	}
}

func TestDSTPolicyValidated(t *testing.T) {
	if _, err := ParseDST("0 * * * *", time.UTC, DST{Gap: "later"}); err == nil {
		t.Error("unknown gap policy accepted")
	}
	if _, err := ParseDST("0 * * * *", time.UTC, DST{Overlap: "twice"}); err == nil {
		t.Error("unknown overlap policy accepted")
	}
}
