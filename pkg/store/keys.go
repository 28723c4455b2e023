package store

import "strings"

// Keys is the etcd key layout under one prefix (see DESIGN.md):
//
//	jobs/<name>          job spec; its mod revision is the job's version
//	election/<lease>     election keys (package election), lease-bound
//	runs/<job>/<run id>  run records, created by the claim
//	cursors/<job>        last claimed or skipped scheduled time of the job
//	members/<replica>    replica presence, lease-bound
//	inflight/<job>/<id>  claimed runs without a result yet (an index for the next leader)
//	triggers/<job>/<id>  manual runs asked for and not claimed yet (id: the run id to be)
//	idempotency/<job>/<sha256 of key>  the run id an Idempotency-Key was given (kept a day)
type Keys struct{ prefix string }

// NewKeys returns the layout under prefix; a missing trailing slash is added.
func NewKeys(prefix string) Keys {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return Keys{prefix: prefix}
}

// Prefix is the root of every key.
func (k Keys) Prefix() string { return k.prefix }

func (k Keys) Jobs() string              { return k.prefix + "jobs/" }
func (k Keys) Job(name string) string    { return k.Jobs() + name }
func (k Keys) Runs(job string) string    { return k.prefix + "runs/" + job + "/" }
func (k Keys) Run(job, id string) string { return k.Runs(job) + id }
func (k Keys) Cursors() string           { return k.prefix + "cursors/" }
func (k Keys) Cursor(job string) string  { return k.Cursors() + job }
func (k Keys) Members() string           { return k.prefix + "members/" }
func (k Keys) InFlight() string          { return k.prefix + "inflight/" }
func (k Keys) InFlightJob(job string) string {
	return k.InFlight() + job + "/"
}
func (k Keys) InFlightRun(job, id string) string { return k.InFlightJob(job) + id }
func (k Keys) Triggers() string                  { return k.prefix + "triggers/" }
func (k Keys) TriggersOf(job string) string      { return k.Triggers() + job + "/" }
func (k Keys) Trigger(job, id string) string     { return k.TriggersOf(job) + id }
func (k Keys) Idempotency() string               { return k.prefix + "idempotency/" }
func (k Keys) IdempotencyOf(job string) string   { return k.Idempotency() + job + "/" }

// Election is the election's key prefix; package election appends "/<lease id>".
func (k Keys) Election() string { return k.prefix + "election" }

// Member is a replica's presence key.
func (k Keys) Member(id string) string { return k.Members() + id }

func (k Keys) jobName(key string) string { return strings.TrimPrefix(key, k.Jobs()) }
