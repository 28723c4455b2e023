package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/schedulerd/schedulerd/pkg/store"
)

func runPath(jobName, run string) string { return jobPath(jobName) + "/runs/" + url.PathEscape(run) }

// ListRuns returns a job's run records, newest first: at most limit (0 for the server's
// default of 50; at most 1000).
func (c *Client) ListRuns(ctx context.Context, jobName string, limit int) ([]store.Run, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Runs []store.Run `json:"runs"`
	}
	_, _, err := c.do(ctx, request{method: http.MethodGet, path: jobPath(jobName) + "/runs", query: q}, &out)
	return out.Runs, err
}

// GetRun returns one run record, or a manual run not claimed yet (State "triggered").
func (c *Client) GetRun(ctx context.Context, jobName, run string) (store.Run, error) {
	var r store.Run
	_, _, err := c.do(ctx, request{method: http.MethodGet, path: runPath(jobName, run)}, &r)
	return r, err
}

// CancelRequest is the body of a cancel; every field is optional.
type CancelRequest struct {
	// By says who cancelled, for the run record (a server with authentication records the
	// token's name instead).
	By string `json:"by,omitempty"`
}

// CancelRun cancels a run in flight, or a manual run not claimed yet, and returns its record
// (state cancelled); a run that has its result already is a 409 run-finished problem.
func (c *Client) CancelRun(ctx context.Context, jobName, run string, req CancelRequest) (store.Run, error) {
	var r store.Run
	_, _, err := c.do(ctx, request{method: http.MethodPost, path: runPath(jobName, run) + "/cancel", body: req}, &r)
	return r, err
}
