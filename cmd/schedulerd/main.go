// Command schedulerd is a distributed, leader-elected cron scheduler backed by etcd.
//
//	schedulerd serve     run a replica (embedded single-node etcd when no endpoints are given)
//	schedulerd jobs      apply job files, get, list, pause, resume, trigger and delete jobs
//	schedulerd runs      list, show and cancel runs
//	schedulerd cluster   show who leads
//	schedulerd version   print the build
package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/internal/cli"
	"github.com/schedulerd/schedulerd/internal/serve"

	_ "time/tzdata" // job time zones must not depend on the machine's zoneinfo
)

func main() { serve.Main(newRootCommand()) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "schedulerd",
		Short:         "A distributed, leader-elected cron scheduler backed by etcd",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without these, cobra answers an unknown command with a plain error (exit 1).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return serve.UsageError{Err: fmt.Errorf("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return serve.UsageError{Err: err} })
	root.AddCommand(serve.Command(), serve.VersionCommand())
	root.AddCommand(cli.Commands()...)
	return root
}
