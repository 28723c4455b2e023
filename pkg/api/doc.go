// Package api is schedulerd's HTTP API, served by every replica: jobs are read from and written
// to etcd directly (not through the replica's cache), so a write is visible to the next request
// on any replica, and no request needs the leader.
//
// Promises: every error is an RFC 9457 problem (package problem) whose errors[] names each bad
// field by JSON Pointer; a request that fails validation writes nothing; request bodies are
// limited to MaxBodyBytes; unknown JSON fields are rejected, not ignored, so a typo never
// silently changes what a job does.
package api
