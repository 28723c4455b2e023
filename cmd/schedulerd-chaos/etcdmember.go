package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/embedetcd"
)

// etcdMemberCommand runs one member of the harness's etcd cluster until a signal.
func etcdMemberCommand() *cobra.Command {
	var c embedetcd.Config
	cmd := &cobra.Command{
		Use:  "etcd-member",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := zap.NewProduction()
			if err != nil {
				return err
			}
			c.Logger = log
			srv, err := embedetcd.Start(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer srv.Close(5 * time.Second) // SIGTERM: a clean stop; the harness uses SIGKILL for a crash
			select {
			case <-cmd.Context().Done():
				return nil
			case err := <-srv.Err():
				return fmt.Errorf("etcd member %s: %w", c.Name, err)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Name, "name", "", "member name")
	f.StringVar(&c.Dir, "dir", "", "data directory")
	f.StringVar(&c.ClientURL, "client-url", "", "client URL")
	f.StringVar(&c.PeerURL, "peer-url", "", "peer URL")
	f.StringVar(&c.InitialCluster, "initial-cluster", "", "name=peer-url,… of every member")
	return cmd
}
