package schedule

import (
	"fmt"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, expr string
		loc        *time.Location
		after      string
		want       []string
	}{
		{"five fields fire on the minute", "*/15 * * * *", nil, "2026-03-01T10:07:30Z",
			[]string{"2026-03-01T10:15:00Z", "2026-03-01T10:30:00Z"}},
		{"six fields have seconds", "*/20 * * * * *", nil, "2026-03-01T10:00:05Z",
			[]string{"2026-03-01T10:00:20Z", "2026-03-01T10:00:40Z", "2026-03-01T10:01:00Z"}},
		{"descriptor", "@hourly", nil, "2026-03-01T10:00:00Z",
			[]string{"2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"}},
		{"every counts from the anchor, truncated to the second", "@every 2s", nil, "2026-03-01T10:00:00.7Z",
			[]string{"2026-03-01T10:00:02Z", "2026-03-01T10:00:04Z"}},
		{"cron in a time zone", "0 9 * * *", berlin, "2026-01-10T00:00:00Z",
			[]string{"2026-01-10T08:00:00Z", "2026-01-11T08:00:00Z"}},
		{"time zone across the spring-forward day", "0 9 * * *", berlin, "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}},
		{"leap day", "0 0 29 2 *", nil, "2026-03-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z"}},
		{"one-shot with an offset", "@at 2026-12-01T09:00:00+01:00", nil, "2026-03-01T00:00:00Z",
			[]string{"2026-12-01T08:00:00Z", "0001-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr, tt.loc)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			cur := at(tt.after)
			for i, w := range tt.want {
				cur = s.Next(cur)
				if !cur.Equal(at(w)) || cur.Location() != time.UTC {
					t.Fatalf("fire %d: got %v, want %s (UTC)", i, cur, w)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, expr := range []string{
		"", "* * *", "* * * * * * *", "61 * * * *", "@every", "@every 500ms", "@every 1.5s", "@every -5s",
		"@every banana", "@fortnightly", "CRON_TZ=Europe/Berlin 0 9 * * *", "TZ=UTC * * * * *", "0 0 30 2 *",
		"@at", "@at tomorrow", "@at 2026-12-01T09:00:00", "@at 2026-12-01T09:00:00.5Z",
	} {
		if _, err := Parse(expr, nil); err == nil {
			t.Errorf("Parse(%q) accepted an invalid schedule", expr)
		}
	}
}

func TestHashedFields(t *testing.T) {
	minuteOf := func(expr, name string) int {
		t.Helper()
		s, err := ParseJob(expr, nil, DST{}, name)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s.Next(at("2026-03-01T10:00:00Z")).Minute()
	}
	// Stable for a name, and spread over names.
	if minuteOf("H * * * *", "report") != minuteOf("H * * * *", "report") {
		t.Error("H is not stable for one name")
	}
	seen := map[int]bool{}
	for i := range 100 {
		seen[minuteOf("H * * * *", fmt.Sprintf("job-%d", i))] = true
	}
	if len(seen) < 30 {
		t.Errorf("100 jobs written H * * * * use only %d distinct minutes", len(seen))
	}
	// H/15 fires four times an hour at a fixed offset below 15.
	s, err := ParseJob("H/15 * * * *", nil, DST{}, "report")
	if err != nil {
		t.Fatal(err)
	}
	a := s.Next(at("2026-03-01T10:00:00Z"))
	b := s.Next(a)
	if b.Sub(a) != 15*time.Minute || a.Minute() >= 15 {
		t.Errorf("H/15 fired at %v then %v", a, b)
	}
	// H in the day of month stays within 1–28, so every month has it.
	for i := range 50 {
		s, err := ParseJob("0 0 H * *", nil, DST{}, fmt.Sprintf("monthly-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if d := s.Next(at("2026-02-01T00:00:00Z")).Day(); d < 1 || d > 28 {
			t.Errorf("H day of month %d", d)
		}
	}
	for _, bad := range []string{"H/0 * * * *", "H/61 * * * *", "1H * * * *", "H-5 * * * *"} {
		if _, err := ParseJob(bad, nil, DST{}, "x"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Jobs whose cron schedules come out the same (expression after H, zone, DST policy) hold one
// compiled schedule; any difference in those gives another.
func TestSchedulesAreShared(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(expr string, loc *time.Location, dst DST, name string) Schedule {
		t.Helper()
		s, err := ParseJob(expr, loc, dst, name)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}
	// One compiled schedule: the same canonical copy, not two equal ones.
	same := func(x, y Schedule) bool {
		sx, ok := x.(sharedCron)
		sy, ok2 := y.(sharedCron)
		return ok && ok2 && sx.c == sy.c
	}
	a := parse("0 30 9 * * MON-FRI", berlin, DST{}, "a")
	if b := parse(" 0 30 9 * * MON-FRI", berlin, DST{}, "b"); !same(a, b) {
		t.Error("two jobs with the same schedule hold two compiled ones")
	}
	for what, other := range map[string]Schedule{
		"expression": parse("0 30 9 * * MON-SAT", berlin, DST{}, "a"),
		"zone":       parse("0 30 9 * * MON-FRI", time.UTC, DST{}, "a"),
		"DST policy": parse("0 30 9 * * MON-FRI", berlin, DST{Gap: GapSkip}, "a"),
	} {
		if same(other, a) {
			t.Errorf("schedules differing in their %s are one", what)
		}
	}
	// H is expanded per name first: shared only when two names hash to the same minute.
	h1, h2 := parse("H * * * *", nil, DST{}, "report"), parse("H * * * *", nil, DST{}, "report")
	if !same(h1, h2) {
		t.Error("one name's H schedule compiled twice is not shared")
	}
	from := at("2026-03-01T10:00:00Z")
	for i := range 100 {
		other := parse("H * * * *", nil, DST{}, fmt.Sprintf("job-%d", i))
		if fires, shared := other.Next(from).Equal(h1.Next(from)), same(other, h1); fires != shared {
			t.Errorf("job-%d: fires with report's H: %v, shares its schedule: %v", i, fires, shared)
		}
	}
}
