// Package fence is the fencing half of schedulerd's at-most-once promise, on both sides of a
// dispatch.
//
// Scheduler side: a leadership term is identified by a Token, the create revision of the
// leader's election key. Guard is the etcd comparison that every leader write carries, in the
// same transaction as the write; when it fails the caller is no longer leader of that term and
// gets ErrFenced. A paused, partitioned or duplicate leader therefore cannot claim a run: its
// key is gone (or was never first), so the comparison fails whatever it believes.
//
// Target side: every dispatch carries the token and the run id in HTTP headers (Header*
// constants). A Verifier remembers, per job, the highest token it has seen and the run ids it
// has accepted; Middleware wraps an http.Handler so a late request from a deposed leader
// (token lower than one already seen) or a second delivery of the same run is answered
// 409 Conflict with problem+json instead of reaching the handler.
//
// What fence does not do: it does not elect (package election does), and an in-memory
// Verifier forgets on restart. A target that must survive its own restarts should keep the
// same two facts (highest token per job, accepted run ids) in its own database, in the same
// transaction as the work the request does.
package fence
