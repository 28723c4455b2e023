package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template/parse"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
)

const (
	rulesFile     = chartDir + "/files/prometheus-rules.yaml"
	docsRulesFile = "../../docs/prometheus-rules.yaml"
	dashboardFile = chartDir + "/files/dashboard.json"
	operationsDoc = "../../docs/operations.md"
	runbookPrefix = "https://github.com/schedulerd/schedulerd/blob/main/docs/operations.md#"
)

// ruleFile is a Prometheus rules file, in the operator's types (which a PrometheusRule's spec is).
type ruleFile struct {
	Groups []monitoringv1.RuleGroup `json:"groups"`
}

func readRuleFile(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := decodeStrictYAML(b, &f, true); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s: no rule groups", path)
	}
	return f
}

// checkMonitoring: with monitoring on, a ServiceMonitor that scrapes the schedulerd Service's
// /metrics, a PrometheusRule holding exactly files/prometheus-rules.yaml, and the dashboard
// ConfigMap holding exactly files/dashboard.json; otherwise none of them.
func checkMonitoring(t *testing.T, r *rendered, w want) {
	sms := all[monitoringv1.ServiceMonitor](r)
	prs := all[monitoringv1.PrometheusRule](r)
	dash := find[corev1.ConfigMap](r, fullname+"-dashboard")
	if !w.monitoring {
		if len(sms)+len(prs) > 0 || dash != nil {
			t.Errorf("monitoring off, and it renders %d ServiceMonitors, %d PrometheusRules, dashboard %v", len(sms), len(prs), dash != nil)
		}
		return
	}
	if len(sms) != 1 || len(prs) != 1 || dash == nil {
		t.Fatalf("monitoring on: %d ServiceMonitors, %d PrometheusRules, dashboard %v; want one each", len(sms), len(prs), dash != nil)
	}

	sm := sms[0]
	svc := find[corev1.Service](r, fullname)
	if svc == nil || !selects(t, &sm.Spec.Selector, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select Service %s", sm.Spec.Selector, fullname)
	}
	if etcd := find[corev1.Service](r, etcdName); etcd != nil && selects(t, &sm.Spec.Selector, etcd.Labels) {
		t.Errorf("ServiceMonitor selects the etcd Service %s too", etcdName)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) || sm.Spec.NamespaceSelector.Any {
		t.Errorf("ServiceMonitor namespaceSelector %+v, want the release's namespace", sm.Spec.NamespaceSelector)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Path != "/metrics" || svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("ServiceMonitor scrapes port %q path %q, want a port of Service %s and /metrics", ep.Port, ep.Path, fullname)
	}
	interval, err1 := model.ParseDuration(string(ep.Interval))
	timeout, err2 := model.ParseDuration(string(ep.ScrapeTimeout))
	if err1 != nil || err2 != nil || timeout > interval {
		t.Errorf("ServiceMonitor interval %q scrapeTimeout %q: want durations, the timeout no longer (%v, %v)", ep.Interval, ep.ScrapeTimeout, err1, err2)
	}

	if want := readRuleFile(t, rulesFile); !reflect.DeepEqual(prs[0].Spec.Groups, want.Groups) {
		t.Errorf("PrometheusRule groups differ from %s", rulesFile)
	}

	if dash.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap label grafana_dashboard=%q, want 1", dash.Labels["grafana_dashboard"])
	}
	file, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := dash.Data["schedulerd.json"]; got != string(bytes.TrimSpace(file)) || !json.Valid([]byte(got)) {
		t.Errorf("dashboard ConfigMap schedulerd.json is not %s", dashboardFile)
	}
}

// The chart's rules file is the one the docs give to a Prometheus without the operator.
func TestRulesFileIsTheDocsFile(t *testing.T) {
	chart, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile(docsRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chart, docs) {
		t.Errorf("%s and %s differ: copy one over the other", rulesFile, docsRulesFile)
	}
}

// Every alert has a unique name, a duration, a severity, a summary, a description, and a
// runbook that docs/operations.md has; its templates parse.
func TestAlertRules(t *testing.T) {
	ops, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ +(.+?) *$`).FindAllStringSubmatch(string(ops), -1) {
		anchors[slug(m[1])] = true
	}
	seen := map[string]bool{}
	for _, g := range readRuleFile(t, rulesFile).Groups {
		for _, rule := range g.Rules {
			name := rule.Alert
			if name == "" {
				t.Errorf("group %s: a rule that is not an alert (record %q)", g.Name, rule.Record)
				continue
			}
			if seen[name] {
				t.Errorf("alert %s defined twice", name)
			}
			seen[name] = true
			if rule.For == nil {
				t.Errorf("%s: no for", name)
			} else if _, err := model.ParseDuration(string(*rule.For)); err != nil {
				t.Errorf("%s: for: %v", name, err)
			}
			if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", name, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(rule.Annotations[a]) == "" {
					t.Errorf("%s: no annotation %s", name, a)
				}
			}
			url := rule.Annotations["runbook_url"]
			if anchor, ok := strings.CutPrefix(url, runbookPrefix); !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not a heading of %s", name, url, operationsDoc)
			}
			for k, text := range mergeMaps(rule.Labels, rule.Annotations) {
				if _, err := alertTemplateLabels(text); err != nil {
					t.Errorf("%s: %s: %v", name, k, err)
				}
			}
		}
	}
}

// slug is the anchor GitHub gives a Markdown heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func mergeMaps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// alertTemplateHeader is what Prometheus puts before an alert's label and annotation templates.
const alertTemplateHeader = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// alertTemplateLabels parses an alert template as Prometheus would (its functions are not
// checked) and returns the labels it reads: each $labels.name.
func alertTemplateLabels(text string) ([]string, error) {
	tree := parse.New("alert")
	tree.Mode = parse.SkipFuncCheck
	if _, err := tree.Parse(alertTemplateHeader+text, "{{", "}}", map[string]*parse.Tree{}); err != nil {
		return nil, err
	}
	var out []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.VariableNode:
			if len(n.Ident) == 2 && n.Ident[0] == "$labels" {
				out = append(out, n.Ident[1])
			}
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(tree.Root)
	return out, nil
}
