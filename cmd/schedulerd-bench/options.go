package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Scenarios, in the order "all" runs them.
const (
	scenarioLimit     = "limit"
	scenarioCeiling   = "ceiling"
	scenarioLateness  = "lateness"
	scenarioFailover  = "failover"
	scenarioFootprint = "footprint"
	scenarioHistory   = "history"
)

var allScenarios = []string{scenarioLimit, scenarioCeiling, scenarioLateness, scenarioFailover, scenarioFootprint, scenarioHistory}

// Failover signals.
const (
	signalKill = "kill" // SIGKILL: a crash
	signalTerm = "term" // SIGTERM: a graceful stop, which resigns
)

type options struct {
	scenarios []string
	jobs      []int
	duration  time.Duration
	replicas  int
	etcd      int
	ttls      []time.Duration
	trials    int
	signals   []string
	busyJobs  int
	runs      int
	out       string
	quick     bool
	pprof     bool
	workdir   string
	keep      bool

	// given holds the flags set on the command line; the others take the scenario's default
	// (smaller with --quick).
	given map[string]bool
}

func defaultOptions() *options {
	return &options{scenarios: []string{"all"}, replicas: 3, etcd: 3, trials: 20, busyJobs: 100, runs: 1_000_000,
		ttls: []time.Duration{2 * time.Second, 10 * time.Second}, signals: []string{signalKill, signalTerm}}
}

func (o *options) flags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.scenarios, "scenario", o.scenarios, "what to measure: "+strings.Join(allScenarios, ", ")+" or all (comma-separated for several)")
	f.IntSliceVar(&o.jobs, "jobs", nil, "job counts (comma-separated): ceiling doubles from 100 up to one count (default 12800), or steps through several; lateness runs each spread and the largest aligned (default 1000,10000); footprint uses the largest (default 10000); history runs the largest @every 1s (default 2000)")
	f.DurationVar(&o.duration, "duration", 0, "measuring window: per concurrency (limit, default 5s), per ramp step (ceiling, 15s), of slots (lateness, 2m), of the busy phase (footprint, 2m)")
	f.IntVar(&o.replicas, "replicas", o.replicas, "schedulerd replicas (processes)")
	f.IntVar(&o.etcd, "etcd", o.etcd, "etcd members (processes): 1, or 3 for a cluster")
	f.DurationSliceVar(&o.ttls, "ttl", o.ttls, "failover: the replicas' --session-ttl, each measured in turn (whole seconds)")
	f.IntVar(&o.trials, "trials", o.trials, "failover: trials per signal and TTL")
	f.StringSliceVar(&o.signals, "signals", o.signals, "failover: signals to send the leader: kill (SIGKILL), term (SIGTERM)")
	f.IntVar(&o.busyJobs, "busy-jobs", o.busyJobs, "footprint: how many of the jobs run @every 1s in the busy phase")
	f.IntVar(&o.runs, "runs", o.runs, "history: runs to dispatch before etcd's size is judged")
	f.StringVar(&o.out, "out", "", "write the results as JSON to this file")
	f.BoolVar(&o.quick, "quick", false, "small sizes and short windows, for a smoke test (flags given explicitly still win)")
	f.BoolVar(&o.pprof, "pprof", false, "replicas serve Go's pprof profiles on a loopback port each (printed; see --keep)")
	f.StringVar(&o.workdir, "workdir", "", "where data and logs go (default: a new temporary directory)")
	f.BoolVar(&o.keep, "keep", false, "keep the work directory (every process's log)")
}

func (o *options) validate(f *pflag.FlagSet) error {
	o.given = map[string]bool{}
	f.Visit(func(fl *pflag.Flag) { o.given[fl.Name] = true })
	var errs []error
	if slices.Contains(o.scenarios, "all") {
		if len(o.scenarios) > 1 {
			errs = append(errs, errors.New("--scenario all runs every scenario; name no others with it"))
		}
		o.scenarios = allScenarios
	}
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			errs = append(errs, fmt.Errorf("--scenario: unknown %q (known: %s, all)", s, strings.Join(allScenarios, ", ")))
		}
	}
	for _, n := range o.jobs {
		if n < 1 {
			errs = append(errs, fmt.Errorf("--jobs: %d is not a positive count", n))
		}
	}
	if o.given["duration"] && o.duration < time.Second {
		errs = append(errs, errors.New("--duration must be at least 1s"))
	}
	if o.replicas < 2 {
		errs = append(errs, errors.New("--replicas must be at least 2 (a leader and a follower)"))
	}
	if o.etcd != 1 && o.etcd != 3 {
		errs = append(errs, errors.New("--etcd must be 1 or 3"))
	}
	if len(o.ttls) == 0 {
		errs = append(errs, errors.New("--ttl must name at least one TTL"))
	}
	for _, ttl := range o.ttls {
		if ttl < time.Second || ttl%time.Second != 0 {
			errs = append(errs, fmt.Errorf("--ttl: %s must be whole seconds, at least 1s", ttl))
		}
	}
	if o.trials < 1 {
		errs = append(errs, errors.New("--trials must be at least 1"))
	}
	if len(o.signals) == 0 {
		errs = append(errs, errors.New("--signals must name at least one signal"))
	}
	for _, s := range o.signals {
		if s != signalKill && s != signalTerm {
			errs = append(errs, fmt.Errorf("--signals: unknown %q (kill or term)", s))
		}
	}
	if o.busyJobs < 1 {
		errs = append(errs, errors.New("--busy-jobs must be at least 1"))
	}
	if o.runs < 1 {
		errs = append(errs, errors.New("--runs must be at least 1"))
	}
	return errors.Join(errs...)
}

// pick is a scenario's value for a flag: the one given, else the quick or the full default.
func pick[T any](o *options, flag string, given, full, quick T) T {
	switch {
	case o.given[flag]:
		return given
	case o.quick:
		return quick
	default:
		return full
	}
}

// jobCounts is --jobs, or the scenario's default, sorted.
func (o *options) jobCounts(full, quick []int) []int {
	n := slices.Clone(pick(o, "jobs", o.jobs, full, quick))
	slices.Sort(n)
	return slices.Compact(n)
}

func (o *options) window(full, quick time.Duration) time.Duration {
	return pick(o, "duration", o.duration, full, quick)
}

// quickOr is full, or quick with --quick.
func quickOr[T any](o *options, full, quick T) T {
	if o.quick {
		return quick
	}
	return full
}
