package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/schedulerd/schedulerd/pkg/problem"
)

// A job file holds YAML documents separated by "---", or JSON: one object or an array of
// objects. Each document is one job: its name and its spec fields, as PUT /v1/jobs/{name}
// takes them (a status, as `jobs get -o yaml` shows it, is ignored).
//
// YAML is read as YAML 1.2 (go.yaml.in/yaml/v3): `on`, `yes` and `no` are strings, as in JSON,
// so `retry: {on: [5xx]}` means what it says.

// document is one job document of a file.
type document struct {
	// source says where it is: "jobs/a.yaml:12" (its first line), "jobs/b.json[2]".
	source string
	name   string
	// body is the document as a JSON object, without its status.
	body json.RawMessage
	// setsPaused: the document says whether the job is paused; when it does not, apply keeps
	// the server's pause.
	setsPaused bool
	// lines maps a JSON Pointer into the document ("#/target/http/url") to its line (YAML).
	lines map[string]int
	file  string
}

// where names the place of a field of the document for a message.
func (d document) where(pointer string) string {
	if line, ok := d.lines[pointer]; ok {
		return fmt.Sprintf("%s:%d", d.file, line)
	}
	return d.source
}

// maxDocument bounds a document: the API takes bodies of at most 1 MiB.
const maxDocument = 1 << 20

// jobFileExts are the files a directory given to -f contributes.
var jobFileExts = []string{".yaml", ".yml", ".json"}

// readDocuments reads every job document of paths (files, directories of files, "-" for
// stdin). It returns the documents it could read and a message for each it could not.
func readDocuments(paths []string, stdin io.Reader) ([]document, []string) {
	var docs []document
	var problems []string
	add := func(name string, data []byte) {
		d, errs := parseFile(name, data)
		docs = append(docs, d...)
		problems = append(problems, errs...)
	}
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				problems = append(problems, fmt.Sprintf("stdin: %v", err))
				continue
			}
			add("stdin", data)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		files := []string{p}
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			files = files[:0]
			for _, e := range entries { // sorted by name
				ext := strings.ToLower(filepath.Ext(e.Name()))
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && slices.Contains(jobFileExts, ext) {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			if len(files) == 0 {
				problems = append(problems, fmt.Sprintf("%s: no .yaml, .yml or .json files", p))
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			add(f, data)
		}
	}
	return docs, problems
}

// parseFile splits a file into its documents.
func parseFile(name string, data []byte) ([]document, []string) {
	var docs []document
	var problems []string
	if strings.EqualFold(filepath.Ext(name), ".json") {
		raws, err := splitJSON(data)
		if err != nil {
			return nil, []string{fmt.Sprintf("%s: %v", name, err)}
		}
		for i, raw := range raws {
			source := name
			if len(raws) > 1 || (len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '[') {
				source = fmt.Sprintf("%s[%d]", name, i)
			}
			d, err := newDocument(source, name, raw, nil)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", source, err))
				continue
			}
			docs = append(docs, d)
		}
		return docs, problems
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The decoder cannot go on after a syntax error.
			problems = append(problems, fmt.Sprintf("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: ")))
			break
		}
		root := &n
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			root = n.Content[0]
		}
		if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
			continue // an empty document (a trailing "---", comments only)
		}
		source := fmt.Sprintf("%s:%d", name, root.Line)
		lines := map[string]int{}
		var buf bytes.Buffer
		if err := toJSON(root, "#", &buf, lines, 0); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", source, err))
			continue
		}
		d, err := newDocument(source, name, buf.Bytes(), lines)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", source, err))
			continue
		}
		docs = append(docs, d)
	}
	return docs, problems
}

// splitJSON reads a JSON file: one object, several objects one after the other, or an array.
func splitJSON(data []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []json.RawMessage
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(t, &items); err != nil {
				return nil, fmt.Errorf("not valid JSON: %v", err)
			}
			out = append(out, items...)
			continue
		}
		out = append(out, raw)
	}
}

// newDocument checks a document's shape and reads its name; the server checks the rest.
func newDocument(source, file string, body []byte, lines map[string]int) (document, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return document{}, errors.New("a job document must be an object (mapping) with a name and the spec fields")
	}
	var name string
	if raw, ok := top["name"]; !ok {
		return document{}, errors.New("the document has no name: each document is one job, with `name:` and its spec fields")
	} else if err := json.Unmarshal(raw, &name); err != nil || name == "" {
		return document{}, errors.New("name must be a non-empty string")
	}
	// A status (from `jobs get -o yaml`) is read-only: the server's, not the file's.
	delete(top, "status")
	_, setsPaused := top["paused"]
	clean, err := json.Marshal(top)
	if err != nil {
		return document{}, err
	}
	if len(clean) > maxDocument {
		return document{}, fmt.Errorf("the document is larger than the API's limit of %d bytes", maxDocument)
	}
	return document{source: source, file: file, name: name, body: clean, setsPaused: setsPaused, lines: lines}, nil
}

// toJSON writes a YAML node as JSON, recording the line of each value by its JSON Pointer.
// Keys must be strings and appear once; aliases are expanded (within maxDocument).
func toJSON(n *yaml.Node, pointer string, buf *bytes.Buffer, lines map[string]int, depth int) error {
	if depth > 64 {
		return fmt.Errorf("line %d: nested too deep", n.Line)
	}
	if buf.Len() > maxDocument {
		return fmt.Errorf("the document is larger than the API's limit of %d bytes", maxDocument)
	}
	lines[pointer] = n.Line
	switch n.Kind {
	case yaml.AliasNode:
		return toJSON(n.Alias, pointer, buf, lines, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: a key must be a plain string (no merge keys, no complex keys)", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := toJSON(v, pointer+"/"+problem.EscapeToken(k.Value), buf, lines, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := toJSON(v, pointer+"/"+strconv.Itoa(i), buf, lines, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return scalarJSON(n, buf)
	default:
		return fmt.Errorf("line %d: unexpected YAML", n.Line)
	}
	return nil
}

// scalarJSON writes a YAML scalar as the JSON value of its type.
func scalarJSON(n *yaml.Node, buf *bytes.Buffer) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		buf.WriteString(strconv.FormatInt(i, 10))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("line %d: %s is not a number JSON can hold", n.Line, n.Value)
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case "!!str", "!!timestamp":
		// A timestamp stays the text it was written as: the API reads RFC 3339 itself.
		b, _ := json.Marshal(n.Value)
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: the tag %s is not supported; write the value as a string", n.Line, n.Tag)
	}
	return nil
}
