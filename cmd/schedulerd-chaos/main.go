// Command schedulerd-chaos tries hard to break schedulerd and checks every run.
//
// It starts, on loopback only, a 3-member etcd cluster and N schedulerd replicas as separate
// processes (this binary re-executes itself as each of them), each replica reaching etcd
// through its own cuttable TCP proxies; a recording target guarded by pkg/fence; a mix of jobs.
// Then it injects faults from a seeded schedule, and finally checks the whole history with
// package history: duplicates and silent losses make it exit 1.
//
//	schedulerd-chaos --duration 30m --seed 7 --report report.json
//	schedulerd-chaos check --log target.jsonl --etcd-endpoints http://127.0.0.1:2379
package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/internal/serve"
	_ "time/tzdata"
)

// errPromisesBroken makes the process exit 1 after the report is printed.
var errPromisesBroken = errors.New("promises broken: see the report")

func main() { serve.Main(newRootCommand()) }

func newRootCommand() *cobra.Command {
	o := defaultOptions()
	root := &cobra.Command{
		Use:   "schedulerd-chaos",
		Short: "Inject faults into a real schedulerd cluster on loopback and check every run",
		Args:  cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if err := o.validate(); err != nil {
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

	root.AddCommand(newCheckCommand(), newTargetCommand())
	root.AddCommand(localcluster.ChildCommands()...) // what it re-executes itself as
	return root
}
