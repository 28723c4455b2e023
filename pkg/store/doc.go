// Package store is schedulerd's only door to etcd data: the key layout, the codecs of jobs, runs
// and cursors, the fenced claim, and a watch-backed cache of all jobs that every replica keeps.
//
// Promises:
//   - A job's version is the etcd mod revision of its key; writes can be made conditional on it.
//   - Claim records runs and moves the job's cursor in one transaction that also checks the
//     leader's fencing token, that no run record exists yet and that the job is unchanged. It
//     is idempotent: retrying it after an ambiguous error cannot create a second claim, and the
//     existing record tells whose claim it was.
//   - The Cache holds every job at a single etcd revision, survives watch errors and compaction
//     by re-listing and re-watching, and tells subscribers which jobs changed — each real
//     change once, none invented by a re-list.
//
// Non-promises: the store does not decide who leads (package election) or when runs are due
// (package scheduler); a caller that does not hold a valid token simply gets fence.ErrFenced.
package store
