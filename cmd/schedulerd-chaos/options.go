package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Fault kinds.
const (
	faultKillLeader      = "kill-leader"      // SIGKILL: pod force-deleted, OOM-killed, node lost
	faultTermLeader      = "term-leader"      // SIGTERM: pod deleted, rolling update, drain
	faultStopLeader      = "stop-leader"      // SIGSTOP > TTL, then SIGCONT: GC pause, frozen VM
	faultKillFollower    = "kill-follower"    // SIGKILL of a replica that does not lead
	faultEtcdMember      = "etcd-member"      // SIGKILL one etcd member, restart it
	faultEtcdAllDown     = "etcd-all-down"    // all etcd members down 10–30 s: quorum lost
	faultPartitionLeader = "partition-leader" // leader cut from etcd > TTL, then healed: network policy
	faultRestartAll      = "restart-all"      // every replica SIGKILLed and started at once
	faultRevokeLeader    = "revoke-leader"    // the leader's lease revoked in etcd while it runs on
)

var allFaults = []string{faultKillLeader, faultTermLeader, faultStopLeader, faultKillFollower,
	faultEtcdMember, faultEtcdAllDown, faultPartitionLeader, faultRestartAll, faultRevokeLeader}

type options struct {
	duration   time.Duration
	minFaults  int
	seed       int64
	replicas   int
	jobs       int
	faults     []string
	report     string
	sessionTTL time.Duration
	outageMin  time.Duration
	outageMax  time.Duration
	workdir    string
	keep       bool
}

func defaultOptions() *options {
	return &options{duration: 3 * time.Minute, seed: 1, replicas: 3, jobs: 4, faults: allFaults,
		sessionTTL: 2 * time.Second, outageMin: 10 * time.Second, outageMax: 30 * time.Second}
}

func (o *options) flags(f *pflag.FlagSet) {
	f.DurationVar(&o.duration, "duration", o.duration, "how long to inject faults (setup and the final check come on top)")
	f.IntVar(&o.minFaults, "min-faults", 0, "inject at least this many faults, even past --duration (kinds are drawn in shuffled rounds, so a multiple of the number of kinds covers each equally)")
	f.Int64Var(&o.seed, "seed", o.seed, "seed of the fault schedule; the same seed gives the same sequence of faults")
	f.IntVar(&o.replicas, "replicas", o.replicas, "schedulerd replicas (processes)")
	f.IntVar(&o.jobs, "jobs", o.jobs, "@every 1s jobs, besides a cron job with seconds, a slow one, a failing one and one with a 5s misfire grace")
	f.StringSliceVar(&o.faults, "faults", o.faults, "fault kinds to inject: "+strings.Join(allFaults, ", "))
	f.StringVar(&o.report, "report", "", "write the report as JSON to this file")
	f.DurationVar(&o.sessionTTL, "session-ttl", o.sessionTTL, "the replicas' --session-ttl")
	f.DurationVar(&o.outageMin, "etcd-outage-min", o.outageMin, "shortest etcd-all-down outage")
	f.DurationVar(&o.outageMax, "etcd-outage-max", o.outageMax, "longest etcd-all-down outage")
	f.StringVar(&o.workdir, "workdir", "", "where data and logs go (default: a new temporary directory)")
	f.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, target log) even when the run passes")
}

func (o *options) validate() error {
	var errs []error
	if o.duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if o.minFaults < 0 {
		errs = append(errs, errors.New("--min-faults must not be negative"))
	}
	if o.replicas < 2 {
		errs = append(errs, errors.New("--replicas must be at least 2 (a leader and a follower)"))
	}
	if o.jobs < 1 {
		errs = append(errs, errors.New("--jobs must be at least 1"))
	}
	if len(o.faults) == 0 {
		errs = append(errs, errors.New("--faults must name at least one kind"))
	}
	for _, f := range o.faults {
		if !slices.Contains(allFaults, f) {
			errs = append(errs, fmt.Errorf("--faults: unknown kind %q (known: %s)", f, strings.Join(allFaults, ", ")))
		}
	}
	if o.sessionTTL < time.Second || o.sessionTTL%time.Second != 0 {
		errs = append(errs, errors.New("--session-ttl must be whole seconds, at least 1s"))
	}
	if o.outageMin <= 0 || o.outageMax < o.outageMin {
		errs = append(errs, errors.New("--etcd-outage-min must be positive and not above --etcd-outage-max"))
	}
	return errors.Join(errs...)
}
