package api

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

// fuzzNow is the API's clock in these tests (an @at before it is refused).
var fuzzNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// fuzzPolicy is the target policy of these tests: the seeds' hosts, and the default secrets
// directory.
func fuzzPolicy(t testing.TB) *targets.Policy {
	p, err := targets.New(targets.Config{AllowedHosts: []string{"127.0.0.1", "*.internal", "[::1]"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// putBody runs body through readSpec, the decode-and-validate path of PUT /v1/jobs/fuzz.
func (a *API) putBody(body []byte) (*httptest.ResponseRecorder, job.Spec, bool) {
	req := httptest.NewRequest(http.MethodPut, "/v1/jobs/fuzz", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	spec, _, ok := a.readSpec(rec, req, "fuzz")
	return rec, spec, ok
}

// FuzzDecodeJob feeds arbitrary bytes as a PUT body through the API's decode and validation
// (readSpec). It holds that nothing panics; that a body is accepted exactly when it decodes
// strictly, names no other job, passes the write-time validation (job rules and the target
// policy) and is not a past one-shot; that a refusal is a 4xx problem whose field errors are
// JSON Pointers; and that an accepted spec, stored with defaults and sent back (as itself, and
// as the body of a GET), is accepted again as the same spec.
//
// Seeds: testdata/fuzz/FuzzDecodeJob, valid-* and invalid-* (TestRejectedJobsAreNotStored
// holds the names to what the API does with them). valid-fuzz-* were found by the fuzzer.
func FuzzDecodeJob(f *testing.F) {
	// Only the clock and the target policy are used by readSpec.
	a := &API{cfg: Config{Clock: clockwork.NewFakeClockAt(fuzzNow), Targets: fuzzPolicy(f)}}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec, spec, ok := a.putBody(body)
		if want := a.verdict(body); ok != want {
			t.Fatalf("readSpec accepted %v, but decoding and validation say %v\nbody: %q\nanswer: %s", ok, want, body, rec.Body)
		}
		if !ok {
			checkRefusal(t, rec)
			return
		}
		var plain job.Spec
		if err := json.Unmarshal(body, &plain); err != nil || !sameSpec(plain, spec) {
			t.Fatalf("the strict decoder and encoding/json disagree on an accepted body (%v)\nbody: %q", err, body)
		}
		stored := spec.Normalize().WithDefaults()
		asSpec, err := json.Marshal(stored)
		if err != nil {
			t.Fatalf("an accepted spec does not encode: %v\nbody: %q", err, body)
		}
		asView, err := json.Marshal(view(job.Job{Name: "fuzz", Spec: stored}, time.Time{}, fuzzNow))
		if err != nil {
			t.Fatalf("an accepted job's view does not encode: %v\nbody: %q", err, body)
		}
		for _, again := range [][]byte{asSpec, asView} {
			rec, spec2, ok := a.putBody(again)
			if !ok {
				t.Fatalf("an accepted spec, stored and sent back, is refused: %s\nbody: %q\nsent back: %s", rec.Body, body, again)
			}
			if !sameSpec(spec2.Normalize().WithDefaults(), stored) {
				t.Fatalf("an accepted spec changed on its way back\nbody: %q\nsent back: %s\nread: %+v", body, again, spec2)
			}
		}
	})
}

// verdict is whether the API should accept body, decided from its parts: it decodes strictly,
// names job "fuzz" or none, passes the write-time validation and is not a past one-shot.
func (a *API) verdict(body []byte) bool {
	req := httptest.NewRequest(http.MethodPut, "/v1/jobs/fuzz", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var meta jobMeta
	var spec job.Spec
	if decodeStrict(httptest.NewRecorder(), req, reflect.TypeFor[jobBody](), &meta, &spec) != nil {
		return false
	}
	_, past := oneShotInThePast(spec, fuzzNow)
	return (meta.Name == "" || meta.Name == "fuzz") && a.cfg.Targets.Validate(spec) == nil && !past
}

// sameSpec compares specs by their JSON: equal instants in equal zones, whatever *Location
// value holds the zone.
func sameSpec(a, b job.Spec) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// checkRefusal checks that a refused body got a problem a client can act on.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !slices.Contains([]int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}, rec.Code) {
		t.Fatalf("refused with status %d: %s", rec.Code, rec.Body)
	}
	var p problem.Details
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		t.Fatalf("refusal is not a problem (%s): %s", ct, rec.Body)
	}
	if p.Status != rec.Code || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem %+v", p)
	}
	if p.Type == problem.TypeBase+"invalid-job" && len(p.Errors) == 0 {
		t.Fatalf("invalid-job without field errors: %s", rec.Body)
	}
	for _, fe := range p.Errors {
		if !strings.HasPrefix(fe.Pointer, "#/") || fe.Detail == "" {
			t.Fatalf("field error %+v is not a pointer with a detail", fe)
		}
	}
}

// seedBodies reads the seed corpus: file name → body.
func seedBodies(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeJob", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed corpus (%v)", err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The corpus format: a header line, then one Go literal per argument.
		header, arg, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		quoted, ok := strings.CutPrefix(strings.TrimSpace(arg), "[]byte(")
		quoted, ok2 := strings.CutSuffix(quoted, ")")
		body, err := strconv.Unquote(quoted)
		if header != "go test fuzz v1" || !ok || !ok2 || err != nil {
			t.Fatalf("%s is not a corpus file of one []byte", f)
		}
		out[filepath.Base(f)] = []byte(body)
	}
	return out
}

// snapshotAll is every key and value in etcd, and its revision.
func snapshotAll(t *testing.T, c *clientv3.Client) (int64, map[string]string) {
	t.Helper()
	resp, err := c.Get(context.Background(), "", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	kv := make(map[string]string, len(resp.Kvs))
	for _, k := range resp.Kvs {
		kv[string(k.Key)] = string(k.Value)
	}
	return resp.Header.Revision, kv
}

// staticLeaders says no replica leads.
type staticLeaders struct{}

func (staticLeaders) Leader() (election.Leader, bool) { return election.Leader{}, false }

// A rejected spec never reaches etcd: every invalid seed, sent through the whole API (routing,
// decoding, validation, the store) to a real etcd, is refused with a problem and writes
// nothing, and every valid seed is stored valid. The seeds' names say which they are, and the
// fuzzer's own verdict must agree.
func TestRejectedJobsAreNotStored(t *testing.T) {
	client := etcdtest.Start(t).Client()
	log := zaptest.NewLogger(t)
	st := store.New(client, "/test/", nil)
	a, err := New(Config{
		Store: st, Cache: store.NewCache(st, log, clockwork.NewRealClock(), nil), Leaders: staticLeaders{},
		Clock: clockwork.NewFakeClockAt(fuzzNow), Logger: log, Targets: fuzzPolicy(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	seeds := seedBodies(t)
	var valid, invalid int
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		body := seeds[name]
		t.Run(name, func(t *testing.T) {
			// A seed named valid-… or invalid-… says what it is; one the fuzzer wrote (named
			// by its hash) is what the verdict says.
			wantValid := a.verdict(body)
			if named := strings.HasPrefix(name, "valid-"); named || strings.HasPrefix(name, "invalid-") {
				if named != wantValid {
					t.Fatalf("the fuzzer's verdict is %v for %q", wantValid, body)
				}
			}
			const jobName = "fuzz" // the seeds that carry a name carry this one
			if _, err := st.Client().Delete(context.Background(), "/test/", clientv3.WithPrefix()); err != nil {
				t.Fatal(err)
			}
			rev, before := snapshotAll(t, client)
			req := httptest.NewRequest(http.MethodPut, "/v1/jobs/"+jobName, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			afterRev, after := snapshotAll(t, client)
			if !wantValid {
				invalid++
				checkRefusal(t, rec)
				if afterRev != rev || !reflect.DeepEqual(before, after) {
					t.Errorf("a refused body changed etcd: revision %d → %d", rev, afterRev)
				}
				return
			}
			valid++
			if rec.Code != http.StatusCreated {
				t.Fatalf("a valid seed got %d: %s", rec.Code, rec.Body)
			}
			j, _, err := st.GetJob(context.Background(), jobName)
			if err != nil || j.Invalid != nil {
				t.Fatalf("stored job: %v %v", err, j.Invalid)
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("the corpus has %d valid and %d invalid seeds; it needs both", valid, invalid)
	}
}
