// Command schedulerd is a distributed, leader-elected cron scheduler backed by etcd.
//
//	schedulerd serve     run a replica (embedded single-node etcd when no endpoints are given)
//	schedulerd version   print the build
package main

import (
	"github.com/spf13/cobra"

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
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return serve.UsageError{Err: err} })
	root.AddCommand(serve.Command(), serve.VersionCommand())
	return root
}
