// Package ui is the web page every replica serves at "/": a single-page app, in plain HTML, CSS
// and JavaScript modules embedded in the binary, that lists jobs, shows a job with its runs,
// pauses, resumes, triggers and deletes it, creates and edits jobs, and shows the cluster.
//
// The page talks only to the HTTP API of the replica that served it (relative URLs, so a path
// prefix in front of schedulerd works), with the caller's bearer token when auth is on. It keeps
// the token in sessionStorage and never puts it in a URL or a log.
//
// Promises: every file is served with its Content-Type, "Cache-Control: no-cache" (revalidated
// by ETag), "X-Content-Type-Options: nosniff" and a Content-Security-Policy that allows only this
// origin's scripts, styles and API (no inline script or style, no frames); API text is inserted
// into the page as text, never as HTML. Non-promises: the page is not the API's access control —
// the API checks every call — and it renders only what the API answers.
package ui
