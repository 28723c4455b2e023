package cli

import (
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string // each document's JSON body
		problem             string   // part of the one problem, if any
	}{
		{"YAML 1.2 scalars", "a.yaml", `name: a
retry: {on: [5xx, "429"], attempts: 3}
startAt: 2030-01-01T00:00:00Z
paused: false
description: yes
`, []string{`{"description":"yes","name":"a","paused":false,"retry":{"on":["5xx","429"],"attempts":3},"startAt":"2030-01-01T00:00:00Z"}`}, ""},
		{"documents, empty ones skipped", "a.yml", "---\nname: a\n---\n# nothing\n---\nname: b\n...\n", []string{`{"name":"a"}`, `{"name":"b"}`}, ""},
		{"aliases expanded", "a.yaml", "name: a\ntarget: &t {http: {url: u}}\nlabels: {x: y}\n---\nname: b\ntarget: *t\n",
			[]string{`{"labels":{"x":"y"},"name":"a","target":{"http":{"url":"u"}}}`, `{"name":"b","target":{"http":{"url":"u"}}}`}, ""},
		{"status dropped", "a.yaml", "name: a\nstatus: {state: active}\n", []string{`{"name":"a"}`}, ""},
		{"JSON array", "a.json", `[{"name":"a"},{"name":"b"}]`, []string{`{"name":"a"}`, `{"name":"b"}`}, ""},
		{"JSON object", "a.json", `{"name":"a"}`, []string{`{"name":"a"}`}, ""},
		{"duplicate key", "a.yaml", "name: a\nname: b\n", nil, "a.yaml:1: line 2: key \"name\" appears twice"},
		{"no name", "a.yaml", "\n\nschedule: x\n", nil, "a.yaml:3: the document has no name"},
		{"not a mapping", "a.yaml", "- name: a\n", nil, "a.yaml:1: a job document must be an object"},
		{"infinity", "a.yaml", "name: a\njitter: .inf\n", nil, "is not a number JSON can hold"},
		{"syntax", "a.yaml", "name: [a\n", nil, "a.yaml: "},
		{"bad JSON", "a.json", `{"name":`, nil, "a.json: not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, problems := parseFile(tc.file, []byte(tc.content))
			if tc.problem != "" {
				if len(problems) != 1 || !strings.Contains(problems[0], tc.problem) {
					t.Fatalf("problems %q, want one with %q", problems, tc.problem)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("problems: %q", problems)
			}
			if len(docs) != len(tc.want) {
				t.Fatalf("%d documents, want %d", len(docs), len(tc.want))
			}
			for i, d := range docs {
				if string(d.body) != tc.want[i] {
					t.Errorf("document %d: %s\nwant %s", i, d.body, tc.want[i])
				}
			}
		})
	}
}

func TestDocumentLines(t *testing.T) {
	docs, problems := parseFile("jobs.yaml", []byte("---\nname: a\n---\nname: b\ntarget:\n  http:\n    url: ftp://x\nretry:\n  on:\n    - 5xx\n    - 4xx\n"))
	if len(problems) > 0 || len(docs) != 2 {
		t.Fatalf("%d documents, problems %q", len(docs), problems)
	}
	d := docs[1]
	if d.source != "jobs.yaml:4" || d.where("#/target/http/url") != "jobs.yaml:7" || d.where("#/retry/on/1") != "jobs.yaml:11" || d.where("#/nope") != "jobs.yaml:4" {
		t.Errorf("source %s, url at %s, retry.on[1] at %s", d.source, d.where("#/target/http/url"), d.where("#/retry/on/1"))
	}
	if field("#/retry/on/1") != "retry.on[1]" || field("#/labels/a~1b") != "labels.a/b" || field("") != "(document)" {
		t.Errorf("field names: %s %s %s", field("#/retry/on/1"), field("#/labels/a~1b"), field(""))
	}
}
