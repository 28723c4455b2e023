package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/pkg/client"
)

func (g *globals) clusterCommand() *cobra.Command {
	return group("cluster", "Inspect the cluster of replicas", "", g.clusterStatusCommand())
}

func (g *globals) clusterStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show who leads, with which fencing token, and every replica",
		Example: "  schedulerd cluster status\n  schedulerd cluster status -o json",
		Args:    usage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(g, cmd, func(ctx context.Context, c *client.Client) (client.Cluster, error) { return c.Cluster(ctx) }, showCluster)
		},
	}
}

// showCluster draws the replicas for people.
func showCluster(p printer, cl client.Cluster) error {
	t := newColumns(p.w, "REPLICA", "URL", "ROLE", "TOKEN")
	leaderListed := false
	for _, m := range cl.Members {
		role, token := "follower", "-"
		if cl.Leader != nil && cl.Leader.ID == m.ID {
			role, token, leaderListed = "leader", fmt.Sprint(cl.Leader.Token), true
		}
		t.row(m.ID, orDash(m.URL), role, token)
	}
	if l := cl.Leader; l != nil && !leaderListed {
		// Leading, but its member key is not there (yet, or any more).
		t.row(l.ID, orDash(l.URL), "leader", fmt.Sprint(l.Token))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if cl.Leader == nil {
		return line(p, "no replica leads: nothing is scheduled until one does")
	}
	return nil
}
