// Package history records what a job target received and checks a whole run history against
// schedulerd's promises: no run delivered twice, no scheduled slot silently lost.
//
// A Recorder is a target: it guards a handler with fence.Middleware and appends one JSON line
// per request (run id, token, scheduled time, arrival, verdict). Check reads those lines with
// the jobs and run records from etcd and reports, for every slot each job owed in a window,
// whether it was delivered, recorded as skipped or failed, left in doubt (claimed by a leader
// that died before sending it), or lost without a trace — the one outcome that must never
// happen. The chaos harness (cmd/schedulerd-chaos) and its `check` mode use it, so the same
// checks run on a recorder log from a real cluster.
package history
