package client

import (
	"context"
	"net/http"

	"github.com/schedulerd/schedulerd/pkg/election"
)

// Cluster is the body of GET /v1/cluster.
type Cluster struct {
	// Leader is nil when no replica leads.
	Leader  *election.Leader  `json:"leader"`
	Members []election.Leader `json:"members"`
	// Replica is the replica that answered.
	Replica election.Leader `json:"replica"`
}

// Cluster tells who leads, with which fencing token, and which replicas are members.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var cl Cluster
	_, _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/cluster"}, &cl)
	return cl, err
}
