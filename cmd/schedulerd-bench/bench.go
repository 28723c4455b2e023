package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// bench owns one invocation: its work directory, its HTTP client and the report.
type bench struct {
	o       *options
	out     io.Writer
	workdir string
	http    *http.Client
	report  report
}

func (o *options) run(ctx context.Context, out io.Writer) (err error) {
	b := &bench{o: o, out: out, http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}}
	defer b.http.CloseIdleConnections()
	b.workdir = o.workdir
	if b.workdir != "" {
		if err := os.MkdirAll(b.workdir, 0o755); err != nil {
			return err
		}
	} else {
		dir, err := os.MkdirTemp("", "schedulerd-bench-")
		if err != nil {
			return err
		}
		b.workdir = dir
	}
	b.say("work directory %s (logs of every process)", b.workdir)
	defer func() {
		if err != nil {
			o.keep = true
			b.say("keeping %s for the post-mortem", b.workdir)
		}
		if !o.keep {
			_ = os.RemoveAll(b.workdir)
		}
	}()

	b.report = report{Command: "schedulerd-bench " + strings.Join(os.Args[1:], " "), Started: time.Now().UTC(), Machine: machineInfo(ctx),
		Setup: setup{EtcdMembers: o.etcd, Replicas: o.replicas, Quick: o.quick}}
	for _, s := range o.scenarios {
		start, load := time.Now(), loadAverage()
		b.say("scenario %s", s)
		info := func() scenarioInfo {
			return scenarioInfo{LoadAverageStart: load, LoadAverageEnd: loadAverage(), Seconds: round(time.Since(start).Seconds(), 1)}
		}
		var err error
		switch s {
		case scenarioLimit:
			b.report.Scenarios.Limit, err = b.limit(ctx)
			if err == nil {
				b.report.Scenarios.Limit.scenarioInfo = info()
			}
		case scenarioCeiling:
			b.report.Scenarios.Ceiling, err = b.ceiling(ctx)
			if err == nil {
				b.report.Scenarios.Ceiling.scenarioInfo = info()
			}
		case scenarioLateness:
			b.report.Scenarios.Lateness, err = b.lateness(ctx)
			if err == nil {
				b.report.Scenarios.Lateness.scenarioInfo = info()
			}
		case scenarioFailover:
			b.report.Scenarios.Failover, err = b.failover(ctx)
			if err == nil {
				b.report.Scenarios.Failover.scenarioInfo = info()
			}
		case scenarioFootprint:
			b.report.Scenarios.Footprint, err = b.footprint(ctx)
			if err == nil {
				b.report.Scenarios.Footprint.scenarioInfo = info()
			}
		case scenarioHistory:
			b.report.Scenarios.History, err = b.history(ctx)
			if err == nil {
				b.report.Scenarios.History.scenarioInfo = info()
			}
		}
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s, err)
		}
		if err := b.report.writeScenario(out, s); err != nil {
			return err
		}
	}
	b.report.Finished = time.Now().UTC()
	b.report.Goals = b.report.goals()
	if err := b.report.writeGoals(out); err != nil {
		return err
	}
	if o.out != "" {
		j, _ := json.MarshalIndent(b.report, "", "  ")
		if err := os.WriteFile(o.out, append(j, '\n'), 0o644); err != nil {
			return err
		}
		b.say("wrote %s", o.out)
	}
	return nil
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, "%s  %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
