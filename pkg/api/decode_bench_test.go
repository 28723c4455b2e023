package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
)

// BenchmarkReadSpec is what a PUT costs before etcd: decode the body strictly (unknown fields
// refused, field errors by pointer) and validate the spec, for a job with most fields set.
func BenchmarkReadSpec(b *testing.B) {
	const body = `{"name":"nightly-export","description":"nightly export","labels":{"team":"payments","tier":"1"},
	"schedule":"0 30 2 * * MON-FRI","timezone":"Europe/Berlin",
	"target":{"http":{"url":"https://exports.internal/run","method":"POST","headers":{"X-Team":"payments","Authorization":{"fromEnv":"SCHEDULERD_SECRET_EXPORT"}},
	"body":"{\"full\": true}","timeout":"5m"}},
	"misfire":{"grace":"10m","catchUp":"latest"},"retry":{"attempts":3,"backoff":"2s","maxBackoff":"1m","on":["5xx","timeout"]},
	"concurrency":"forbid","delivery":"atLeastOnce","jitter":"30s","history":{"keep":200,"maxAge":"72h"}}`
	a := &API{cfg: Config{Clock: clockwork.NewFakeClockAt(fuzzNow), Targets: fuzzPolicy(b)}}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("PUT", "/v1/jobs/nightly-export", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		if _, _, ok := a.readSpec(w, r, "nightly-export"); !ok {
			b.Fatalf("refused: %s", w.Body)
		}
	}
}
