package job_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unique"
	"unsafe"

	"github.com/schedulerd/schedulerd/pkg/job"
)

func valid() job.Spec {
	return job.Spec{Schedule: "*/5 * * * *", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9000/hook"}}}
}

// literals are headers with literal values: name, value, name, value…
func literals(kv ...string) map[string]job.HeaderValue {
	h := make(map[string]job.HeaderValue)
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = job.Literal(kv[i+1])
	}
	return h
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*job.Spec)
		want   []string // pointers reported, in order; none when valid
	}{
		{"minimal spec", func(*job.Spec) {}, nil},
		{"everything set", func(s *job.Spec) {
			s.Schedule, s.Timezone, s.Description = "0 30 9 * * MON-FRI", "Europe/Berlin", "weekday report"
			s.Target.HTTP.Method, s.Target.HTTP.Body, s.Target.HTTP.Timeout = "put", `{"a":1}`, job.Duration(time.Minute)
			s.Target.HTTP.Headers = map[string]job.HeaderValue{"Authorization": job.FromEnv("SCHEDULERD_SECRET_T"), "X-Trace": job.Literal("1")}
			s.Misfire.Grace = job.Duration(5 * time.Minute)
		}, nil},
		{"descriptor", func(s *job.Spec) { s.Schedule = "@daily" }, nil},
		{"every", func(s *job.Spec) { s.Schedule = "@every 90s" }, nil},
		{"empty schedule", func(s *job.Spec) { s.Schedule = "" }, []string{"#/schedule"}},
		{"bad cron", func(s *job.Spec) { s.Schedule = "61 * * * *" }, []string{"#/schedule"}},
		{"cron with TZ prefix", func(s *job.Spec) { s.Schedule = "CRON_TZ=UTC * * * * *" }, []string{"#/schedule"}},
		{"sub-second every", func(s *job.Spec) { s.Schedule = "@every 500ms" }, []string{"#/schedule"}},
		{"unknown zone", func(s *job.Spec) { s.Timezone = "Mars/Olympus" }, []string{"#/timezone"}},
		{"Local zone", func(s *job.Spec) { s.Timezone = "Local" }, []string{"#/timezone"}},
		{"no target", func(s *job.Spec) { s.Target.HTTP = nil }, []string{"#/target/http"}},
		{"no url", func(s *job.Spec) { s.Target.HTTP.URL = "" }, []string{"#/target/http/url"}},
		{"ftp url", func(s *job.Spec) { s.Target.HTTP.URL = "ftp://example.test/x" }, []string{"#/target/http/url"}},
		{"relative url", func(s *job.Spec) { s.Target.HTTP.URL = "/hook" }, []string{"#/target/http/url"}},
		{"credentials in url", func(s *job.Spec) { s.Target.HTTP.URL = "http://u:p@127.0.0.1/" }, []string{"#/target/http/url"}},
		{"bad method", func(s *job.Spec) { s.Target.HTTP.Method = "BREW" }, []string{"#/target/http/method"}},
		{"reserved header", func(s *job.Spec) { s.Target.HTTP.Headers = literals("Schedulerd-Fencing-Token", "1") },
			[]string{"#/target/http/headers/Schedulerd-Fencing-Token"}},
		{"idempotency key header", func(s *job.Spec) { s.Target.HTTP.Headers = literals("idempotency-key", "1") },
			[]string{"#/target/http/headers/idempotency-key"}},
		{"computed header", func(s *job.Spec) { s.Target.HTTP.Headers = literals("Content-Length", "1") },
			[]string{"#/target/http/headers/Content-Length"}},
		{"header with slash is escaped", func(s *job.Spec) { s.Target.HTTP.Headers = literals("a/b", "1") },
			[]string{"#/target/http/headers/a~1b"}},
		{"header value with newline", func(s *job.Spec) { s.Target.HTTP.Headers = literals("X-A", "1\r\nX-B: 2") },
			[]string{"#/target/http/headers/X-A"}},
		{"negative timeout", func(s *job.Spec) { s.Target.HTTP.Timeout = job.Duration(-time.Second) }, []string{"#/target/http/timeout"}},
		{"huge timeout", func(s *job.Spec) { s.Target.HTTP.Timeout = job.Duration(48 * time.Hour) }, []string{"#/target/http/timeout"}},
		{"dst policies", func(s *job.Spec) { s.Timezone, s.DST = "Europe/Berlin", job.DST{Gap: "skip", Overlap: "both"} }, nil},
		{"bad dst policies", func(s *job.Spec) { s.DST = job.DST{Gap: "later", Overlap: "twice"} }, []string{"#/dst/gap", "#/dst/overlap"}},
		{"history bounds", func(s *job.Spec) { s.History = job.History{Keep: 10, MaxAge: job.Duration(time.Hour)} }, nil},
		{"history too small", func(s *job.Spec) { s.History = job.History{Keep: 3, MaxAge: job.Duration(time.Second)} },
			[]string{"#/history/keep", "#/history/maxAge"}},
		{"retries", func(s *job.Spec) {
			s.Retry = job.Retry{Attempts: 3, Backoff: job.Duration(time.Second), MaxBackoff: job.Duration(time.Minute), On: []job.RetryOn{"5xx"}}
		}, nil},
		{"bad retries", func(s *job.Spec) {
			s.Retry = job.Retry{Attempts: 11, Backoff: job.Duration(time.Millisecond), MaxBackoff: job.Duration(2 * time.Hour), On: []job.RetryOn{"4xx"}}
		}, []string{"#/retry/attempts", "#/retry/backoff", "#/retry/maxBackoff", "#/retry/on/0"}},
		{"pause with a note and an end", func(s *job.Spec) {
			s.Paused, s.Pause = true, &job.Pause{Note: "db migration", Until: time.Unix(100, 0)}
		}, nil},
		{"pause end without pause", func(s *job.Spec) { s.Pause = &job.Pause{Until: time.Unix(100, 0)} }, []string{"#/pause/until"}},
		{"bounds", func(s *job.Spec) { s.StartAt, s.EndAt = time.Unix(100, 0), time.Unix(200, 0) }, nil},
		{"end before start", func(s *job.Spec) { s.StartAt, s.EndAt = time.Unix(200, 0), time.Unix(100, 0) }, []string{"#/endAt"}},
		{"forbid overlap", func(s *job.Spec) { s.Concurrency = "forbid" }, nil},
		{"replace", func(s *job.Spec) { s.Concurrency = "replace" }, nil},
		{"bad concurrency", func(s *job.Spec) { s.Concurrency = "replace-maybe" }, []string{"#/concurrency"}},
		{"catch up all", func(s *job.Spec) { s.Misfire.CatchUp, s.Misfire.MaxCatchUp = "all", 5 }, nil},
		{"bad catch up", func(s *job.Spec) { s.Misfire.CatchUp, s.Misfire.MaxCatchUp = "some", 5000 },
			[]string{"#/misfire/catchUp", "#/misfire/maxCatchUp"}},
		{"negative grace", func(s *job.Spec) { s.Misfire.Grace = job.Duration(-time.Minute) }, []string{"#/misfire/grace"}},
		{"tiny grace", func(s *job.Spec) { s.Misfire.Grace = job.Duration(time.Nanosecond) }, []string{"#/misfire/grace"}},
		{"tiny timeout", func(s *job.Spec) { s.Target.HTTP.Timeout = job.Duration(time.Millisecond) }, []string{"#/target/http/timeout"}},
		{"headers differing in case", func(s *job.Spec) { s.Target.HTTP.Headers = literals("X-A", "1", "x-a", "2") },
			[]string{"#/target/http/headers/x-a"}},
		{"long description", func(s *job.Spec) { s.Description = strings.Repeat("x", job.MaxDescriptionLength+1) }, []string{"#/description"}},
		{"label key", func(s *job.Spec) { s.Labels = map[string]string{"team/x": "a"} }, []string{"#/labels"}},
		{"label value", func(s *job.Spec) { s.Labels = map[string]string{"team": "a b"} }, []string{"#/labels/team"}},
		{"long label value", func(s *job.Spec) { s.Labels = map[string]string{"team": strings.Repeat("a", 64)} }, []string{"#/labels/team"}},
		{"too many labels", func(s *job.Spec) {
			s.Labels = map[string]string{}
			for i := range job.MaxLabels + 1 {
				s.Labels[fmt.Sprint("k", i)] = ""
			}
		}, []string{"#/labels"}},
		{"every problem is reported", func(s *job.Spec) {
			s.Schedule, s.Timezone, s.Target.HTTP.URL = "nope", "Nowhere/Town", "file:///etc/passwd"
		}, []string{"#/timezone", "#/schedule", "#/target/http/url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.mutate(&s)
			err := s.Validate()
			if got := pointers(t, err); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("pointers %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"tick": true, "a": true, "nightly-report-2": true, "0abc": true, strings.Repeat("a", 63): true,
		"": false, "Tick": false, "-a": false, "a-": false, "a_b": false, "a.b": false, "a/b": false,
		"a@b": false, strings.Repeat("a", 64): false, "ä": false,
	} {
		err := job.ValidateName(name)
		if (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !errors.Is(err, job.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var h job.HTTPTarget
	if err := json.Unmarshal([]byte(`{"url":"http://x","timeout":"1m30s"}`), &h); err != nil || h.Timeout.D() != 90*time.Second {
		t.Fatalf("got %v, %v", h.Timeout.D(), err)
	}
	b, err := json.Marshal(h)
	if err != nil || !strings.Contains(string(b), `"timeout":"1m30s"`) {
		t.Errorf("marshal = %s, %v", b, err)
	}
	for _, bad := range []string{`"soon"`, `30`, `true`} {
		err := json.Unmarshal([]byte(`{"timeout":`+bad+`}`), &h)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || te.Field != "timeout" {
			t.Errorf("timeout %s: %v, want an UnmarshalTypeError naming the field", bad, err)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	s := valid().WithDefaults()
	h := s.Target.HTTP
	if s.Timezone != "UTC" || s.Misfire.Grace.D() != time.Minute || h.Method != "POST" || h.Timeout.D() != 30*time.Second {
		t.Errorf("defaults not applied: %+v %+v", s, h)
	}
	if orig := valid(); orig.Target.HTTP.Method != "" {
		t.Error("WithDefaults changed its receiver's target")
	}
	// What is stored is the spec with defaults, and it must still be valid (found by FuzzDecodeJob).
	s = valid()
	s.Retry.Backoff = job.Duration(100 * time.Second)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := s.WithDefaults(); d.Validate() != nil || d.Retry.MaxBackoff.D() != 100*time.Second {
		t.Errorf("backoff 100s without maxBackoff: defaults give maxBackoff %s (%v)", d.Retry.MaxBackoff.D(), d.Validate())
	}
}

func TestNextStartsAfterCursorAndAnchor(t *testing.T) {
	at := func(s string) time.Time { t.Helper(); v, _ := time.Parse(time.RFC3339, s); return v }
	j := job.Job{Name: "tick", Spec: job.Spec{Schedule: "@every 10s", Timezone: "UTC"}, ScheduledFrom: at("2026-03-01T10:00:00Z")}
	j.Compile()
	if j.Invalid != nil {
		t.Fatal(j.Invalid)
	}
	if got := j.Next(time.Time{}); !got.Equal(at("2026-03-01T10:00:10Z")) {
		t.Errorf("no cursor: %v", got)
	}
	if got := j.Next(at("2026-03-01T10:05:00Z")); !got.Equal(at("2026-03-01T10:05:10Z")) {
		t.Errorf("cursor after anchor: %v", got)
	}
	if got := j.Next(at("2026-03-01T09:00:00Z")); !got.Equal(at("2026-03-01T10:00:10Z")) {
		t.Errorf("cursor before anchor (schedule changed): %v", got)
	}
	bad := job.Job{Name: "bad", Spec: job.Spec{Schedule: "* * *", Timezone: "UTC"}}
	bad.Compile()
	if bad.Invalid == nil || !bad.Next(time.Time{}).IsZero() {
		t.Errorf("invalid job compiled: %v", bad.Invalid)
	}
}

func TestReanchors(t *testing.T) {
	base := valid()
	for _, tc := range []struct {
		name   string
		mutate func(*job.Spec)
		want   bool
	}{
		{"target change", func(s *job.Spec) { s.Target.HTTP = &job.HTTPTarget{URL: "http://other"} }, false},
		{"description change", func(s *job.Spec) { s.Description = "x" }, false},
		{"schedule change", func(s *job.Spec) { s.Schedule = "@hourly" }, true},
		{"zone change", func(s *job.Spec) { s.Timezone = "Asia/Tokyo" }, true},
		{"pause", func(s *job.Spec) { s.Paused = true }, true},
	} {
		s := valid()
		tc.mutate(&s)
		if got := s.Reanchors(base); got != tc.want {
			t.Errorf("%s: Reanchors = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStartAtAndEndAt(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name, schedule string
		cursor, want   string
	}{
		{"cron fires at startAt itself", "0 * * * *", "", "2026-03-01T12:00:00Z"},
		{"every counts from startAt", "@every 10m", "", "2026-03-01T12:10:00Z"},
		{"after startAt, as usual", "0 * * * *", "2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z"},
		{"nothing after endAt", "0 * * * *", "2026-03-01T14:00:00Z", ""},
	} {
		j := job.Job{Name: "b", Spec: job.Spec{Schedule: tc.schedule, Timezone: "UTC",
			StartAt: at("2026-03-01T12:00:00Z"), EndAt: at("2026-03-01T14:30:00Z")}, ScheduledFrom: at("2026-03-01T10:00:00Z")}
		j.Compile()
		var cursor time.Time
		if tc.cursor != "" {
			cursor = at(tc.cursor)
		}
		got := j.Next(cursor)
		if (tc.want == "" && !got.IsZero()) || (tc.want != "" && !got.Equal(at(tc.want))) {
			t.Errorf("%s: Next = %v, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPauseUntil(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	j := job.Job{Name: "p", Spec: job.Spec{Schedule: "0 * * * *", Timezone: "UTC", Paused: true},
		ScheduledFrom: at("2026-03-01T10:30:00Z")}
	j.Compile()
	if got := j.Next(time.Time{}); !got.IsZero() {
		t.Errorf("paused without an end: Next = %v", got)
	}
	j.Spec.Pause = &job.Pause{Until: at("2026-03-01T13:00:00Z")}
	if got := j.Next(time.Time{}); !got.Equal(at("2026-03-01T13:00:00Z")) {
		t.Errorf("paused until 13:00: Next = %v, want 13:00 (slots during the pause are not owed)", got)
	}
}

// A zone is loaded once and shared: a replica's cache holds one Location per zone, not one
// per job (job.Compile and validation load zones through LoadLocation).
func TestZonesAreLoadedOnce(t *testing.T) {
	la, errA := job.LoadLocation("America/New_York")
	lb, errB := job.LoadLocation("America/New_York")
	if errA != nil || errB != nil || la != lb {
		t.Fatalf("two loads of a zone: %p %p (%v %v), want one Location", la, lb, errA, errB)
	}
	if la.String() != "America/New_York" {
		t.Errorf("loaded %s", la)
	}
	if _, err := job.LoadLocation("Mars/Base"); err == nil {
		t.Error("an unknown zone loaded")
	}
}

// Compact changes no value, and two specs decoded apart share their enumerated strings after.
func TestCompactSharesStrings(t *testing.T) {
	raw := []byte(`{"schedule":"0 30 9 * * *","timezone":"Europe/Berlin","concurrency":"forbid","delivery":"atLeastOnce",
		"misfire":{"catchUp":"all"},"dst":{"gap":"skip","overlap":"both"},"retry":{"attempts":3,"on":["5xx","timeout"]},
		"target":{"http":{"url":"http://127.0.0.1:9/x","method":"PUT","completion":"callback"}}}`)
	decode := func() job.Spec {
		var s job.Spec
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return s.WithDefaults()
	}
	a, b := decode(), decode()
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if same(a.Timezone, b.Timezone) || same(a.Target.HTTP.Method, b.Target.HTTP.Method) {
		t.Fatal("decoded specs share strings already; the test shows nothing")
	}
	ca, cb := a.Compact(), b.Compact()
	if !reflect.DeepEqual(ca, a) {
		t.Errorf("Compact changed the spec:\n%+v\n%+v", ca, a)
	}
	for _, pair := range [][2]string{
		{ca.Timezone, cb.Timezone}, {ca.Target.HTTP.Method, cb.Target.HTTP.Method}, {string(ca.Target.HTTP.Completion), string(cb.Target.HTTP.Completion)},
		{string(ca.Concurrency), string(cb.Concurrency)}, {string(ca.Delivery), string(cb.Delivery)}, {string(ca.Misfire.CatchUp), string(cb.Misfire.CatchUp)},
		{string(ca.DST.Gap), string(cb.DST.Gap)}, {string(ca.DST.Overlap), string(cb.DST.Overlap)}, {string(ca.Retry.On[1]), string(cb.Retry.On[1])},
	} {
		if !same(pair[0], pair[1]) {
			t.Errorf("%q not shared after Compact", pair[0])
		}
	}
	if a.Target.HTTP == ca.Target.HTTP || &a.Retry.On[0] == &ca.Retry.On[0] {
		t.Error("Compact wrote into the spec it was given")
	}

	// The schedule and the URL are interned: shared while an equal one is in use (a handle
	// held here, so that a collection between the two decodes cannot end it).
	inUse := []any{unique.Make(a.Schedule), unique.Make(a.Target.HTTP.URL)}
	ca, cb = decode().Compact(), decode().Compact()
	if !same(ca.Schedule, cb.Schedule) || !same(ca.Target.HTTP.URL, cb.Target.HTTP.URL) {
		t.Error("schedule or URL not shared after Compact")
	}
	runtime.KeepAlive(inUse)

	// The default retry kinds are one slice, which an append does not write into.
	var d1, d2 job.Spec
	d1, d2 = d1.WithDefaults().Compact(), d2.WithDefaults().Compact()
	if &d1.Retry.On[0] != &d2.Retry.On[0] || !slices.Equal(d1.Retry.On, job.RetryOnAll) {
		t.Fatalf("default retry kinds not shared: %v %v", d1.Retry.On, d2.Retry.On)
	}
	d1.Retry.On = append(d1.Retry.On, job.Retry5xx)
	if !slices.Equal(d2.Retry.On, job.RetryOnAll) || &d1.Retry.On[0] == &d2.Retry.On[0] {
		t.Error("an append to one spec's retry kinds reached another's")
	}
}
