// Package scheduler turns jobs into runs: it plans each job's next slot, and while this replica
// leads, claims due runs through the fenced claim and dispatches the claimed ones.
//
// Promises:
//   - Only a committed claim is dispatched, and a claim commits only under a valid fencing
//     token for a run not recorded before (package store), so a run is dispatched at most once
//     whatever the number of replicas that believe they lead.
//   - No slot is dropped silently. A leader continues each job after its cursor (the last
//     slot claimed or skipped, read from etcd when the term starts). A slot later than the
//     job's misfire grace is recorded as skipped with reason "missed" and counted.
//   - The loop never dies of a store fault: it backs off with jitter and retries the same slot;
//     a retried claim that finds its own earlier commit (same term) dispatches it.
//   - A term's loop has returned before the term ends (Lead blocks); dispatches started in a
//     term may outlive it — they belong to the Scheduler, which drains them on shutdown and
//     records their results with a write conditional on the run record it created.
//
// Non-promises: a run whose leader died after the claim and before the result is not
// finished by that leader; the next leader's reaper marks it "unknown" (delivery atMostOnce)
// or sends it again with the same run id (atLeastOnce), except a callback run its target had
// accepted, which waits for the target's report or its deadline. A Retry-After longer than
// retry.maxBackoff ends the run rather than wait. The schedule heap is rebuilt at each term
// start from the warm job cache and the cursors.
package scheduler
