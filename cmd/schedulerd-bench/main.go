// Command schedulerd-bench measures schedulerd on loopback: what etcd itself can do (limit),
// how many dispatches one leader sustains (ceiling), how late runs are (lateness), how long a
// failover takes (failover) and what a job costs (footprint).
//
// Like the chaos harness it runs real processes: etcd members (1 or 3) and schedulerd
// replicas are this binary re-executed (package localcluster), jobs call a recording target
// served in this process, guarded by pkg/fence. Each scenario starts a fresh cluster.
//
//	schedulerd-bench --scenario all --out bench.json
//	schedulerd-bench --scenario lateness --jobs 1000,10000 --duration 2m
//	schedulerd-bench --scenario all --quick
package main

import (
	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/internal/serve"
	_ "time/tzdata"
)

func main() { serve.Main(newRootCommand()) }

func newRootCommand() *cobra.Command {
	o := defaultOptions()
	root := &cobra.Command{
		Use:   "schedulerd-bench",
		Short: "Measure schedulerd on loopback: etcd's limit, the dispatch ceiling, lateness, failover, footprint",
		Args:  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(cmd.Flags()); err != nil {
				return serve.UsageError{Err: err}
			}
			return nil
		},
		RunE:          func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return serve.UsageError{Err: err} })
	o.flags(root.Flags())

	root.AddCommand(localcluster.ChildCommands()...) // what it re-executes itself as
	root.AddCommand(burstClientCommand())
	return root
}
