// Package election decides which replica leads, and for how long it may believe so.
//
// An Elector campaigns on an etcd lease (a concurrency.Session). When it wins it runs the
// leader work under a Term: a context that ends when the session is lost, when this replica
// cannot confirm its lease in time, when the work returns, or on shutdown. The term's Token is
// the create revision of its election key; package fence turns it into the comparison every
// leader write carries. After a term the Elector revokes its lease (which also resigns, so a
// follower takes over at once) and campaigns again on a new one. It keeps campaigning, with
// backoff, through any etcd fault, until its context ends.
//
// What it does not promise: that only one replica *believes* it leads at any instant. etcd's
// client learns of a lost lease late (it restarts its TTL clock when a keepalive answer arrives,
// after the server started its own), and a process can be paused at any moment. The Elector
// narrows the window by ending a term when its last keepalive answer is older than the TTL minus
// a margin, but only the fenced write (package fence) makes a stale leader harmless.
//
// An Observer follows the current leader (replica id, URL, token) on any replica, and Members
// lists the replicas that are up.
package election
