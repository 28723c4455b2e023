package cli

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/schedulerd/schedulerd/pkg/job"
)

// change is one field that differs between the server's job and the file's.
type change struct {
	Field string `json:"field"`
	// From and To are JSON values; empty when the field is absent on that side.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// hiddenValue stands for a literal header value of a target in a diff, as job.HeaderValue's
// String does: a literal may be a secret (of a job stored before secret references), and
// apply's output often ends up in CI logs. References (fromEnv, fromFile) are shown.
const hiddenValue = `"(hidden)"`

// comparable is a spec as apply compares it: without the read-only pause.since.
func comparable(s job.Spec) job.Spec {
	if s.Pause != nil {
		p := *s.Pause // a copy: s shares it with its caller
		p.Since = time.Time{}
		s.Pause = &p
	}
	return s
}

// sameSpec reports whether two specs (both with defaults) store the same job.
func sameSpec(a, b job.Spec) bool { return len(diffSpecs(a, b)) == 0 }

// diffSpecs lists the fields that differ between from and to, by dotted path, in order.
func diffSpecs(from, to job.Spec) []change {
	a, b := flatten(comparable(from)), flatten(comparable(to))
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []change
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if a[k] == b[k] {
			continue
		}
		c := change{Field: k, From: a[k], To: b[k]}
		if strings.HasPrefix(k, "target.http.headers.") && !strings.HasSuffix(k, ".fromEnv") && !strings.HasSuffix(k, ".fromFile") {
			c.From, c.To = hide(c.From), hide(c.To)
		}
		out = append(out, c)
	}
	return out
}

func hide(v string) string {
	if v == "" {
		return ""
	}
	return hiddenValue
}

// flatten maps each leaf of v's JSON form to its dotted path ("target.http.url"); an array
// is one leaf ("retry.on": `["5xx","429"]`).
func flatten(v any) map[string]string {
	b, _ := json.Marshal(v) // a job.Spec always encodes
	var tree any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&tree)
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, child := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, child)
			}
			return
		}
		leaf, _ := json.Marshal(v)
		out[prefix] = string(leaf)
	}
	walk("", tree)
	return out
}
