package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// printer writes what a command shows: a table for people (the caller draws it), or the API's
// objects as JSON or YAML.
type printer struct {
	w      io.Writer
	format string
}

func (g *globals) printer(cmd *cobra.Command) printer {
	return printer{w: cmd.OutOrStdout(), format: g.output}
}

func (p printer) table() bool { return p.format == formatTable }

// object prints one object as JSON or YAML.
func (p printer) object(v any) error {
	if p.format == formatYAML {
		return writeYAML(p.w, v)
	}
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// list prints objects as one JSON array, or as YAML documents separated by "---" (so the
// output of `jobs list -o yaml` can be given to `jobs apply -f`).
func list[T any](p printer, items []T) error {
	if p.format != formatYAML {
		if items == nil {
			items = []T{}
		}
		return p.object(items)
	}
	for i, it := range items {
		if i > 0 {
			if _, err := io.WriteString(p.w, "---\n"); err != nil {
				return err
			}
		}
		if err := writeYAML(p.w, it); err != nil {
			return err
		}
	}
	return nil
}

// writeYAML writes v as YAML: its JSON encoding (the API's field names and formats), in block
// style, with strings quoted only where YAML would read them as something else.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	plain(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// plain drops the flow and quoting styles the JSON source gave every node.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// columns is a table drawn with aligned columns.
type columns struct{ tw *tabwriter.Writer }

func newColumns(w io.Writer, header ...string) *columns {
	c := &columns{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	c.row(header...)
	return c
}

func (c *columns) row(cells ...string) {
	for i, s := range cells {
		// A tab or newline in a value (an error text) would break the alignment.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
	}
	fmt.Fprintln(c.tw, strings.Join(cells, "\t"))
}

func (c *columns) flush() error { return c.tw.Flush() }

// when formats an instant for a table; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate shortens s to n runes for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// labels formats a label set as a selector ("team=payments,tier=batch").
func labels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
