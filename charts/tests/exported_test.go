package tests

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const metricsDoc = "../../docs/metrics.md"

// Against a real schedulerd that has run a job:
//   - every series, label and exact label value the alerts and the dashboard name is one it
//     exports, and every label an alert's templates or a legend shows is on the query's result;
//   - docs/metrics.md lists exactly the families it exports, with their types and labels.
func TestExportedMetrics(t *testing.T) {
	t.Parallel()
	queries := shippedQueries(t)
	ex := scrapeSchedulerd(t)
	t.Run("shipped queries", func(t *testing.T) {
		for _, q := range queries {
			for _, p := range analyse(ex, q) {
				t.Errorf("%s: %s", q.source, p)
			}
		}
	})
	t.Run("docs/metrics.md", func(t *testing.T) {
		checkMetricsDoc(t, ex)
	})
}

// metricRow is a row of docs/metrics.md's tables: | `name` | type | `label`, … | meaning |.
var metricRow = regexp.MustCompile("(?m)^\\| `(schedulerd_\\w+)` \\| (\\w+) \\|([^|]*)\\|")

func checkMetricsDoc(t *testing.T, ex exported) {
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range metricRow.FindAllStringSubmatch(string(b), -1) {
		name, typ := m[1], m[2]
		documented[name] = true
		f, ok := ex[name]
		if !ok {
			t.Errorf("%s documents %s, which schedulerd does not export", metricsDoc, name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != typ {
			t.Errorf("%s documents %s as a %s; it is a %s", metricsDoc, name, typ, got)
		}
		var doc []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				doc = append(doc, l)
			}
		}
		slices.Sort(doc)
		labels := labelSet{}
		for l := range familyLabels(f) {
			labels[l] = true
		}
		if got := labels.sorted(); !slices.Equal(got, doc) {
			t.Errorf("%s documents %s with labels %q; it has %q", metricsDoc, name, doc, got)
		}
	}
	for name := range ex {
		if strings.HasPrefix(name, "schedulerd_") && !documented[name] {
			t.Errorf("schedulerd exports %s, which %s does not document", name, metricsDoc)
		}
	}
}
