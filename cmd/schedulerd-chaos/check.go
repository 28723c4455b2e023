package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/internal/serve"
	"github.com/schedulerd/schedulerd/pkg/history"
)

// newCheckCommand checks a recorder log from anywhere (a Kubernetes cluster, say) against the
// jobs and run records in its etcd.
func newCheckCommand() *cobra.Command {
	var (
		logPath, faultsPath, prefix, report string
		endpoints                           []string
		from, to                            string
		settle                              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check --log TARGET.jsonl --etcd-endpoints URL",
		Short: "Check a recorder log and the run records in etcd for duplicates and silent losses",
		Long: `Check reads a target log written by history.Recorder (one JSON object per request) and
the jobs and run records under --prefix in etcd, and reports every duplicate and silent loss.
Slots are checked from --from (default: one second before the first request) to --to
(default: --settle before the last request). --faults names a JSON-lines file of
{"kind": "...", "at": "<RFC 3339>"} objects, as hack/kill-pods.sh writes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if logPath == "" || len(endpoints) == 0 {
				return serve.UsageError{Err: errors.New("--log and --etcd-endpoints are required")}
			}
			f, err := os.Open(logPath)
			if err != nil {
				return err
			}
			entries, err := history.ReadEntries(f)
			f.Close()
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				return fmt.Errorf("%s has no requests", logPath)
			}
			client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				return err
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			in, err := localcluster.ReadStore(ctx, client, prefix)
			if err != nil {
				return err
			}
			in.Entries = entries
			in.From = entries[0].Arrived.Add(-time.Second)
			in.To = entries[len(entries)-1].Arrived.Add(-settle)
			for flag, t := range map[string]*time.Time{from: &in.From, to: &in.To} {
				if flag == "" {
					continue
				}
				if *t, err = time.Parse(time.RFC3339, flag); err != nil {
					return serve.UsageError{Err: fmt.Errorf("--from/--to: %w", err)}
				}
			}
			if faultsPath != "" {
				if in.Faults, err = readFaults(faultsPath); err != nil {
					return err
				}
			}
			r := history.Check(in)
			if err := r.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if report != "" {
				b, _ := json.MarshalIndent(r, "", "  ")
				if err := os.WriteFile(report, append(b, '\n'), 0o644); err != nil {
					return err
				}
			}
			if !r.OK() {
				return errPromisesBroken
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&logPath, "log", "", "the target's recorder log (JSON lines)")
	f.StringSliceVar(&endpoints, "etcd-endpoints", nil, "etcd of the cluster that was tested")
	f.StringVar(&prefix, "prefix", "/schedulerd/", "the cluster's --prefix")
	f.StringVar(&faultsPath, "faults", "", "JSON lines of injected faults, for the failover table")
	f.StringVar(&from, "from", "", "check slots after this time (RFC 3339)")
	f.StringVar(&to, "to", "", "check slots up to this time (RFC 3339)")
	f.DurationVar(&settle, "settle", 10*time.Second, "without --to: slots this close to the last request are not checked")
	f.StringVar(&report, "report", "", "write the report as JSON to this file")
	return cmd
}

func readFaults(path string) ([]history.Fault, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []history.Fault
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ft history.Fault
		if err := json.Unmarshal(sc.Bytes(), &ft); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, ft)
	}
	return out, sc.Err()
}
