// Package problem writes RFC 9457 problem details (application/problem+json).
//
// Every error schedulerd returns over HTTP — from the API and from the target-side
// fence middleware — goes through Write, so clients parse one shape everywhere.
package problem

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ContentType is the media type of a problem details document.
const ContentType = "application/problem+json"

// TypeBase is the prefix of every problem type URI; the fragment names a section of docs/api.md
// that explains the problem and what to do about it.
const TypeBase = "https://github.com/schedulerd/schedulerd/blob/main/docs/api.md#problem-"

// Details is a problem details object (RFC 9457 section 3).
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors names each offending field of a request body, as in RFC 9457's own example.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one invalid field: Pointer is a JSON Pointer into the request body (RFC 6901,
// as a URI fragment, "#/target/http/url").
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// New returns a problem of the given kind; kind becomes the fragment of the type URI.
func New(status int, kind, title, detail string) Details {
	return Details{Type: TypeBase + kind, Title: title, Status: status, Detail: detail}
}

// Write sends d as the response. Instance defaults to the request path.
func Write(w http.ResponseWriter, r *http.Request, d Details) {
	if d.Instance == "" && r != nil {
		d.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(d) // the status line is sent; a broken connection has no one to tell
}

// EscapeToken escapes one reference token of a JSON Pointer (RFC 6901: "~" → "~0", "/" → "~1").
func EscapeToken(s string) string { return tokenEscaper.Replace(s) }

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")
