// Package httpx holds the small HTTP pieces schedulerd's handlers share.
package httpx

import "net/http"

// StatusWriter remembers the status code a handler answered with.
type StatusWriter struct {
	http.ResponseWriter
	Status      int
	wroteHeader bool
}

// NewStatusWriter wraps w; Status is 200 until the handler says otherwise.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w, Status: http.StatusOK}
}

func (w *StatusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.Status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Discard is a ResponseWriter that keeps only the header and status code, for asking a handler
// what it would answer.
type Discard struct {
	H    http.Header
	Code int
}

func (d *Discard) Header() http.Header {
	if d.H == nil {
		d.H = make(http.Header)
	}
	return d.H
}

func (d *Discard) Write(b []byte) (int, error) {
	if d.Code == 0 {
		d.Code = http.StatusOK
	}
	return len(b), nil
}

func (d *Discard) WriteHeader(code int) {
	if d.Code == 0 {
		d.Code = code
	}
}
