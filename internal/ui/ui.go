package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/schedulerd/schedulerd/pkg/problem"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the page load its own scripts, styles and images and call its own
// origin's API, and nothing else: no inline script or style, no plugins, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes maps the extensions of the embedded files to their media types; a file with
// another extension is not served. (Spelled out rather than read from the system's MIME table,
// which differs between machines, notably for .js.)
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".ico":  "image/x-icon",
}

// asset is one embedded file, read once.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded files.
type handler struct {
	assets map[string]asset // by path under static/, "index.html", "app.js"…
}

// Handler serves the page: GET / (index.html) and GET /ui/{file...} (its assets). Any other
// path, or a file that does not exist, is a problem+json 404. HEAD works as GET does.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in: reading them fails only in a broken binary. Say so on
		// every request rather than take the replica down for its page.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, problem.New(http.StatusInternalServerError, "ui-broken", "Page unavailable",
				"ui: reading the embedded files: "+err.Error()))
		})
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not allowed on "+r.URL.Path+"; allowed: GET, HEAD"))
		return
	}
	var name string
	switch p := r.URL.Path; {
	case p == "/":
		name = "index.html"
	case strings.HasPrefix(p, "/ui/") && p != "/ui/index.html":
		name = strings.TrimPrefix(p, "/ui/")
	}
	a, ok := h.assets[name]
	if !ok {
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "Not found", "no such page or file: "+r.URL.Path))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304, ranges and HEAD.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
