package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/schedulerd/schedulerd/pkg/problem"
)

// Client talks to one schedulerd server (any replica, or a load balancer in front of them).
// It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// New returns a client of the API at server ("http://127.0.0.1:8080"; a path prefix is kept).
// token, when not empty, is sent as "Authorization: Bearer <token>". httpClient may be nil for
// http.DefaultClient; its Timeout bounds each request.
func New(server, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server %q is not an http(s) URL such as http://127.0.0.1:8080", server)
	}
	if u.User != nil {
		// Said without echoing the URL: it holds a password.
		return nil, errors.New("client: the server URL must not hold credentials; use a bearer token")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: server %q must not have a query or fragment", server)
	}
	for _, c := range token {
		if c < 0x21 || c > 0x7e {
			// Not echoed either: it is a secret.
			return nil, errors.New("client: the token must be printable ASCII without spaces")
		}
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return &Client{base: u, token: token, hc: httpClient}, nil
}

// Server is the base URL the client sends requests to.
func (c *Client) Server() string { return c.base.String() }

// Problem is an error answer of the API: an RFC 9457 problem (docs/api.md#errors).
type Problem struct {
	problem.Details
	// RetryAfter is the server's Retry-After (503 store-unavailable), zero when absent.
	RetryAfter time.Duration
}

// Kind is the problem's type without its documentation prefix: "invalid-job",
// "version-mismatch", "job-not-found"…; empty for a problem of another origin.
func (p *Problem) Kind() string {
	if k, ok := strings.CutPrefix(p.Type, problem.TypeBase); ok {
		return k
	}
	return ""
}

// Error is one line: the title, the status, then each field error or the detail.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d)", p.Title, p.Status)
	switch {
	case len(p.Errors) > 0:
		for i, f := range p.Errors {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(&b, "%s%s: %s", sep, f.Pointer, f.Detail)
		}
	case p.Detail != "":
		b.WriteString(": " + p.Detail)
	}
	return b.String()
}

// IsKind reports whether err is (or wraps) a *Problem of the given kind.
func IsKind(err error, kind string) bool {
	var p *Problem
	return errors.As(err, &p) && p.Kind() == kind
}

// Precondition makes a write conditional. The zero value writes whatever the job's version.
type Precondition struct {
	// IfVersion: write only if the job is at this version (If-Match); else a 412
	// version-mismatch problem.
	IfVersion int64
	// IfAbsent: create only, if there is no such job yet (If-None-Match: *, PUT only); else a
	// 412 job-exists problem.
	IfAbsent bool
}

func (p Precondition) header(h http.Header) {
	if p.IfVersion > 0 {
		h.Set("If-Match", `"`+strconv.FormatInt(p.IfVersion, 10)+`"`)
	}
	if p.IfAbsent {
		h.Set("If-None-Match", "*")
	}
}

// request is one API call.
type request struct {
	method string
	path   string // escaped, from /v1 on
	query  url.Values
	header http.Header
	body   any // JSON-encoded unless it is a json.RawMessage (sent as is) or nil
}

// do sends req and decodes a 2xx answer into out (unless out is nil). It returns the answer's
// headers and status.
func (c *Client) do(ctx context.Context, req request, out any) (http.Header, int, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + req.path
	u.Path, _ = url.PathUnescape(u.RawPath) // escaped by this package: valid
	u.RawQuery = req.query.Encode()
	var body io.Reader
	if req.body != nil {
		b, ok := req.body.(json.RawMessage)
		if !ok {
			var err error
			if b, err = json.Marshal(req.body); err != nil {
				return nil, 0, fmt.Errorf("client: encode %s %s: %w", req.method, req.path, err)
			}
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), body)
	if err != nil {
		return nil, 0, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Accept", "application/json, "+problem.ContentType)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		// url.Error repeats the whole URL; say the server once, then the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, fmt.Errorf("schedulerd at %s: %s %s: %w", c.base, req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, 0, fmt.Errorf("schedulerd at %s: %s %s: reading the answer: %w", c.base, req.method, req.path, err)
	}
	if resp.StatusCode >= 400 {
		return resp.Header, resp.StatusCode, problemOf(resp, data)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, 0, fmt.Errorf("schedulerd at %s: %s %s: the answer (%d) is not the expected JSON: %w",
				c.base, req.method, req.path, resp.StatusCode, err)
		}
	}
	return resp.Header, resp.StatusCode, nil
}

// maxAnswer bounds how much of an answer is read (a page of 1000 jobs fits many times over).
const maxAnswer = 256 << 20

// problemOf reads an error answer: the problem it holds, or one made up from the status (a
// proxy's HTML error page, an older server).
func problemOf(resp *http.Response, body []byte) *Problem {
	p := &Problem{}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		p.RetryAfter = time.Duration(s) * time.Second
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (mt == problem.ContentType || mt == "application/json") && json.Unmarshal(body, &p.Details) == nil && p.Title != "" {
		if p.Status == 0 {
			p.Status = resp.StatusCode
		}
		return p
	}
	p.Details = problem.Details{Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode}
	if text := strings.TrimSpace(string(body)); text != "" && len(text) <= 200 && mt == "text/plain" {
		p.Detail = text
	}
	return p
}
