package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
)

// query is one PromQL expression the chart ships, and the labels its reader takes from each
// result series: an alert's $labels.x, a dashboard legend's {{x}}.
type query struct {
	source string
	expr   string
	reads  []string
}

// shippedQueries are the alert expressions of the rendered PrometheusRule and of
// docs/prometheus-rules.yaml, and the dashboard's queries.
func shippedQueries(t *testing.T) []query {
	t.Helper()
	r, err := render("metrics: {prometheusRule: {enabled: true}}", renderOptions{})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	prs := all[monitoringv1.PrometheusRule](r)
	if len(prs) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want 1", len(prs))
	}
	out := ruleQueries(t, "PrometheusRule", prs[0].Spec.Groups)
	out = append(out, ruleQueries(t, docsRulesFile, readRuleFile(t, docsRulesFile).Groups)...)
	return append(out, dashboardQueries(t)...)
}

func ruleQueries(t *testing.T, source string, groups []monitoringv1.RuleGroup) []query {
	t.Helper()
	var out []query
	for _, g := range groups {
		for _, rule := range g.Rules {
			q := query{source: fmt.Sprintf("%s alert %s", source, rule.Alert), expr: rule.Expr.String()}
			for _, text := range mergeMaps(rule.Labels, rule.Annotations) {
				ls, err := alertTemplateLabels(text)
				if err != nil {
					t.Errorf("%s: %v", q.source, err)
				}
				for _, l := range ls {
					if !slices.Contains(q.reads, l) {
						q.reads = append(q.reads, l)
					}
				}
			}
			out = append(out, q)
		}
	}
	return out
}

// dashboard is what these tests read of files/dashboard.json.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
}

var (
	// grafanaVar is a dashboard variable in a query: $name, ${name} or ${name:format}.
	grafanaVar = regexp.MustCompile(`\$(?:\{(\w+)(?::\w+)?\}|(\w+))`)
	// legendLabel is a label a legend shows: {{name}}.
	legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	// labelValues is a query variable's query: label_values(metric, label).
	labelValues = regexp.MustCompile(`^label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)$`)
	// grafanaIntervals are Grafana's own variables, all ranges.
	grafanaIntervals = []string{"__rate_interval", "__interval", "__range"}
)

// dashboardQueries are the dashboard's panel queries, with its variables substituted (Grafana's
// ranges by 5m, its own variables, all regex matches, by .*), and its label_values variables
// as queries that read the label.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := map[string]string{}
	for _, v := range grafanaIntervals {
		vars[v] = "5m"
	}
	var out []query
	for _, v := range d.Templating.List {
		vars[v.Name] = ".*"
		if v.Type != "query" {
			continue
		}
		var text string
		switch q := v.Query.(type) {
		case string:
			text = q
		case map[string]any:
			text, _ = q["query"].(string)
		}
		m := labelValues.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(metric, label)", dashboardFile, v.Name, text)
			continue
		}
		out = append(out, query{source: "dashboard variable " + v.Name, expr: m[1], reads: []string{m[2]}})
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				q := query{source: fmt.Sprintf("dashboard panel %q query %s", p.Title, tg.RefID)}
				q.expr = grafanaVar.ReplaceAllStringFunc(tg.Expr, func(s string) string {
					m := grafanaVar.FindStringSubmatch(s)
					name := m[1] + m[2]
					v, ok := vars[name]
					if !ok {
						t.Errorf("%s: $%s is not a variable of the dashboard", q.source, name)
					}
					return v
				})
				for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
					q.reads = append(q.reads, m[1])
				}
				out = append(out, q)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(out) < 10 {
		t.Fatalf("%s: only %d queries found", dashboardFile, len(out))
	}
	return out
}

// Every query the chart ships is PromQL.
func TestShippedQueriesParse(t *testing.T) {
	for _, q := range shippedQueries(t) {
		if _, err := parser.ParseExpr(q.expr); err != nil {
			t.Errorf("%s: %q: %v", q.source, q.expr, err)
		}
	}
}
