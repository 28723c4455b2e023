package tests

import (
	"fmt"
	"slices"

	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// labelSet is a set of label names.
type labelSet map[string]bool

func setOf(names ...string) labelSet {
	s := labelSet{}
	for _, n := range names {
		s[n] = true
	}
	return s
}

func (s labelSet) sorted() []string {
	var out []string
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// targetLabels are the labels a Prometheus scrape through the chart's ServiceMonitor adds to
// every series; the rest come from schedulerd.
var targetLabels = []string{"namespace", "job", "pod", "instance", "service", "container", "endpoint"}

// analysis follows a query's series from the selectors to the result: which labels each step
// can carry. It records a problem for every series, label or label value the query names
// that schedulerd does not export, and every label it groups, matches or reads that no input
// series carries at that step.
type analysis struct {
	exported exported
	problems []string
}

func (a *analysis) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

// labels returns the labels e's result series may carry.
func (a *analysis) labels(e parser.Expr) labelSet {
	switch n := e.(type) {
	case *parser.ParenExpr:
		return a.labels(n.Expr)
	case *parser.UnaryExpr:
		return a.labels(n.Expr)
	case *parser.StepInvariantExpr:
		return a.labels(n.Expr)
	case *parser.SubqueryExpr:
		return a.labels(n.Expr)
	case *parser.MatrixSelector:
		return a.labels(n.VectorSelector)
	case *parser.NumberLiteral, *parser.StringLiteral:
		return labelSet{}
	case *parser.VectorSelector:
		return a.selector(n)
	case *parser.Call:
		return a.call(n)
	case *parser.AggregateExpr:
		return a.aggregate(n)
	case *parser.BinaryExpr:
		return a.binary(n)
	}
	a.problem("%T: an expression these tests do not follow", e)
	return labelSet{}
}

func (a *analysis) selector(n *parser.VectorSelector) labelSet {
	have := setOf(targetLabels...)
	s, ok := a.exported.series(n.Name)
	if !ok {
		a.problem("%s: schedulerd exports no such series", n)
		for _, m := range n.LabelMatchers {
			have[m.Name] = true
		}
		return have
	}
	if s.bucket {
		have["le"] = true
	}
	if s.native && !s.hasNative {
		a.problem("%s: read as a native histogram, and schedulerd exports classic buckets only", n.Name)
	}
	for l := range s.labels {
		have[l] = true
	}
	for _, m := range n.LabelMatchers {
		if m.Name == "__name__" {
			continue
		}
		if !have[m.Name] {
			a.problem("%s: label %s: no series has it (it has %v)", n, m.Name, have.sorted())
			continue
		}
		// An exact value must be one schedulerd exports (it creates every value at zero).
		if vals, own := s.labels[m.Name]; own && m.Type == promlabels.MatchEqual && m.Value != "" && !vals[m.Value] {
			a.problem("%s: no series has %s=%q (values: %v)", n, m.Name, m.Value, vals.sorted())
		}
	}
	return have
}

func (a *analysis) call(n *parser.Call) labelSet {
	var in []labelSet
	for _, arg := range n.Args {
		in = append(in, a.labels(arg))
	}
	switch n.Func.Name {
	case "absent", "absent_over_time":
		// Only the labels of the selector's exact matchers.
		out := labelSet{}
		parser.Inspect(n.Args[0], func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				for _, m := range vs.LabelMatchers {
					if m.Type == promlabels.MatchEqual && m.Name != "__name__" {
						out[m.Name] = true
					}
				}
			}
			return nil
		})
		return out
	case "histogram_quantile", "histogram_fraction":
		last := len(n.Args) - 1
		if a.readsBuckets(n.Args[last]) && !in[last]["le"] {
			a.problem("%s: classic buckets aggregated without le", n)
		}
		out := in[last]
		delete(out, "le")
		return out
	case "label_replace", "label_join":
		out := in[0]
		if dst, ok := n.Args[1].(*parser.StringLiteral); ok {
			out[dst.Val] = true
		}
		return out
	}
	out := labelSet{}
	for _, s := range in {
		for l := range s {
			out[l] = true
		}
	}
	return out
}

// readsBuckets reports whether e reads a histogram's classic _bucket series.
func (a *analysis) readsBuckets(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			if s, ok := a.exported.series(vs.Name); ok && s.bucket {
				found = true
			}
		}
		return nil
	})
	return found
}

func (a *analysis) aggregate(n *parser.AggregateExpr) labelSet {
	in := a.labels(n.Expr)
	if n.Param != nil {
		a.labels(n.Param)
	}
	for _, g := range n.Grouping {
		if !in[g] {
			a.problem("%s: groups by %s, which the series it aggregates do not have (%v)", n, g, in.sorted())
		}
	}
	switch {
	case n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO:
		return in
	case n.Without:
		out := labelSet{}
		for l := range in {
			if !slices.Contains(n.Grouping, l) {
				out[l] = true
			}
		}
		return out
	}
	out := setOf(n.Grouping...)
	if n.Op == parser.COUNT_VALUES {
		if p, ok := n.Param.(*parser.StringLiteral); ok {
			out[p.Val] = true
		}
	}
	return out
}

func (a *analysis) binary(n *parser.BinaryExpr) labelSet {
	l, r := a.labels(n.LHS), a.labels(n.RHS)
	lScalar, rScalar := n.LHS.Type() == parser.ValueTypeScalar, n.RHS.Type() == parser.ValueTypeScalar
	switch {
	case lScalar && rScalar:
		return labelSet{}
	case lScalar:
		return r
	case rScalar:
		return l
	}
	vm := n.VectorMatching
	if vm == nil {
		vm = &parser.VectorMatching{Card: parser.CardOneToOne}
	}
	if vm.On {
		for _, m := range vm.MatchingLabels {
			if !l[m] || !r[m] {
				a.problem("%s: matches on %s, which one side does not have", n, m)
			}
		}
	}
	switch n.Op {
	case parser.LOR:
		out := labelSet{}
		for x := range l {
			out[x] = true
		}
		for x := range r {
			out[x] = true
		}
		return out
	case parser.LAND, parser.LUNLESS:
		return l
	}
	// group_left(x) copies x from the right side, group_right(x) from the left.
	switch vm.Card {
	case parser.CardManyToOne:
		for _, x := range vm.Include {
			if !r[x] {
				a.problem("%s: group_left(%s), which the right side does not have", n, x)
			}
			l[x] = true
		}
		return l
	case parser.CardOneToMany:
		for _, x := range vm.Include {
			if !l[x] {
				a.problem("%s: group_right(%s), which the left side does not have", n, x)
			}
			r[x] = true
		}
		return r
	}
	if n.Op.IsComparisonOperator() && !n.ReturnBool {
		return l // a filter: the left side's series as they are
	}
	if vm.On {
		return setOf(vm.MatchingLabels...)
	}
	for _, x := range vm.MatchingLabels {
		delete(l, x)
	}
	return l
}

// analyse returns what is wrong with q against the series schedulerd exports.
func analyse(ex exported, q query) []string {
	expr, err := parser.ParseExpr(q.expr)
	if err != nil {
		return []string{err.Error()}
	}
	a := &analysis{exported: ex}
	out := a.labels(expr)
	for _, l := range q.reads {
		if !out[l] {
			a.problem("reads label %s, which its result series do not have (%v)", l, out.sorted())
		}
	}
	return a.problems
}
