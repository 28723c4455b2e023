package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// exported is a scrape of schedulerd's /metrics: its metric families by name.
type exported map[string]*dto.MetricFamily

// seriesInfo is what a scrape says about a series name a query reads.
type seriesInfo struct {
	labels labelValuesByName
	// bucket: a histogram's classic _bucket series, which have le.
	bucket bool
	// native: a histogram read by its own name, which only its native buckets answer;
	// hasNative: it has them.
	native, hasNative bool
}

// labelValuesByName maps a label to the values a family's series have for it.
type labelValuesByName map[string]labelSet

// series resolves a series name: a family by its name (a counter's includes _total), or a
// histogram's classic series, the family's name with _bucket, _sum or _count.
func (e exported) series(name string) (seriesInfo, bool) {
	if f, ok := e[name]; ok {
		s := seriesInfo{labels: familyLabels(f)}
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_GAUGE_HISTOGRAM {
			s.native, s.hasNative = true, hasNativeBuckets(f)
		}
		return s, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		f := e[base]
		if !ok || f == nil {
			continue
		}
		histogram := f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_GAUGE_HISTOGRAM
		if histogram || (f.GetType() == dto.MetricType_SUMMARY && suffix != "_bucket") {
			return seriesInfo{labels: familyLabels(f), bucket: suffix == "_bucket"}, true
		}
	}
	return seriesInfo{}, false
}

func familyLabels(f *dto.MetricFamily) labelValuesByName {
	out := labelValuesByName{}
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if out[lp.GetName()] == nil {
				out[lp.GetName()] = labelSet{}
			}
			out[lp.GetName()][lp.GetValue()] = true
		}
	}
	return out
}

// hasNativeBuckets reports whether every series of a histogram family carries native buckets
// (a schema), as client_golang exports them even before the first observation.
func hasNativeBuckets(f *dto.MetricFamily) bool {
	for _, m := range f.GetMetric() {
		if m.GetHistogram().Schema == nil {
			return false
		}
	}
	return len(f.GetMetric()) > 0
}

// scrapeSchedulerd builds schedulerd, runs it with an embedded etcd on loopback, runs a job
// once, and scrapes its /metrics in the protobuf format (the only one that shows native
// histograms).
func scrapeSchedulerd(t *testing.T) exported {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(target.Close)
	p := startSchedulerd(t, buildSchedulerd(t))

	body := fmt.Sprintf(`{"schedule":"@every 1s","target":{"http":{"url":%q}}}`, target.URL)
	if code, b := p.call(t, http.MethodPut, "/v1/jobs/chart-test", body); code != http.StatusCreated {
		t.Fatalf("PUT /v1/jobs/chart-test: %d %s", code, b)
	}
	waitFor(t, 30*time.Second, "a run of chart-test to succeed", func() bool {
		_, b := p.call(t, http.MethodGet, "/v1/jobs/chart-test/runs?limit=10", "")
		var runs struct{ Runs []struct{ State string } }
		if json.Unmarshal(b, &runs) != nil {
			return false
		}
		for _, r := range runs.Runs {
			if r.State == "succeeded" {
				return true
			}
		}
		return false
	})

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.api+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("/metrics answered %q, not protobuf", format)
	}
	ex := exported{}
	dec := expfmt.NewDecoder(resp.Body, format)
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode /metrics: %v", err)
		}
		ex[f.GetName()] = &f
	}
	p.quiet = true // from here on, a failure is the queries'
	if s, ok := ex.series("schedulerd_is_leader"); !ok || len(s.labels) != 0 || ex["schedulerd_is_leader"].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatal("the scraped replica does not report schedulerd_is_leader 1")
	}
	return ex
}
