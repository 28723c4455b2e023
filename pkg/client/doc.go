// Package client is a Go client of schedulerd's HTTP API v1 (docs/api.md): one method per
// route, context first, with the API's own types (job.Spec for a job's spec, store.Run for a
// run record, election.Leader for a replica).
//
// Promises:
//   - Every method honours its context: cancelling it aborts the request and returns the
//     context's error (wrapped; errors.Is finds it).
//   - An answer of 4xx or 5xx is returned as a *Problem (errors.As finds it) holding the RFC 9457
//     problem the server sent, or one made up from the status when the body was not a problem.
//     Problem.Kind names it ("version-mismatch", "job-not-found"…) for callers to branch on.
//   - Any other failure (the server unreachable, a broken answer) is an error that names the
//     server it tried.
//   - The bearer token is sent as an Authorization header and nowhere else: it is never part
//     of an error, a URL or anything this package prints.
//   - Writes are sent once. The client never retries: a write that failed with a
//     store-unavailable problem or a network error may or may not have been applied, and only
//     the caller knows whether repeating it is safe (use a Precondition, or an idempotency key
//     for a trigger).
//
// Non-promises: it does not follow a job list's pages by itself except in AllJobs, does not
// cache, and does not check a spec before sending it (the server validates; ValidateJob asks
// it to without storing anything).
package client
