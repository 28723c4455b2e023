package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		bodyHas            string
	}{
		{"page", http.MethodGet, "/", http.StatusOK, "text/html; charset=utf-8", `<script type="module" src="ui/app.js">`},
		{"page HEAD", http.MethodHead, "/", http.StatusOK, "text/html; charset=utf-8", ""},
		{"script", http.MethodGet, "/ui/app.js", http.StatusOK, "text/javascript; charset=utf-8", "hashchange"},
		{"nested script", http.MethodGet, "/ui/views/job.js", http.StatusOK, "text/javascript; charset=utf-8", "export async function jobView"},
		{"style", http.MethodGet, "/ui/app.css", http.StatusOK, "text/css; charset=utf-8", ":focus-visible"},
		{"icon", http.MethodGet, "/ui/icon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"unknown asset", http.MethodGet, "/ui/nope.js", http.StatusNotFound, "application/problem+json", "problem-not-found"},
		{"directory", http.MethodGet, "/ui/views", http.StatusNotFound, "application/problem+json", ""},
		{"page under ui", http.MethodGet, "/ui/index.html", http.StatusNotFound, "application/problem+json", ""},
		{"ui root", http.MethodGet, "/ui/", http.StatusNotFound, "application/problem+json", ""},
		{"other path", http.MethodGet, "/elsewhere", http.StatusNotFound, "application/problem+json", ""},
		{"escape attempt", http.MethodGet, "/ui/../ui.go", http.StatusNotFound, "application/problem+json", ""},
		{"POST", http.MethodPost, "/", http.StatusMethodNotAllowed, "application/problem+json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://replica"+tt.path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tt.status, body)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("body does not contain %q:\n%.300s", tt.bodyHas, body)
			}
			if tt.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
			if res.StatusCode != http.StatusOK {
				return
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline or eval", csp)
			}
		})
	}
}

// TestEveryFileServed: a file added to static/ with an extension the handler has no type for
// would be left out silently.
func TestEveryFileServed(t *testing.T) {
	h := Handler().(*handler)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := h.assets[strings.TrimPrefix(p, "static/")]; !ok {
			t.Errorf("%s is embedded but not served: add its extension to contentTypes", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.assets) < 5 {
		t.Fatalf("only %d files served", len(h.assets))
	}
}

// TestHandlerRevalidates: a browser revalidating an unchanged file (Cache-Control: no-cache)
// gets 304 without the body.
func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/app.js", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("revalidation: status %d with %d bytes, want 304 without a body", rec.Code, rec.Body.Len())
	}
}

// TestNoInlineCode: the CSP forbids inline script and style, so none may be in the files (they
// would be dead), and no file may write API text as HTML.
func TestNoInlineCode(t *testing.T) {
	h := Handler().(*handler)
	for name, a := range h.assets {
		body := string(a.body)
		switch {
		case strings.HasSuffix(name, ".html"):
			for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s holds inline code %q, which the CSP blocks", name, bad)
				}
			}
		case strings.HasSuffix(name, ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "console.log"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s uses %s: insert API text with textContent (h()) only, and log nothing", name, bad)
				}
			}
		}
	}
}
