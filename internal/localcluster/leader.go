package localcluster

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// LeaderKey is the election key of the replica that leads: the oldest key under the
// election prefix.
type LeaderKey struct {
	ID  string `json:"id"`  // replica id
	URL string `json:"url"` // its API
	// Token is the key's create revision: the fencing token of the term.
	Token int64 `json:"-"`
	// Lease is the lease the key is bound to (the leader's session).
	Lease clientv3.LeaseID `json:"-"`
}

// Leader reads who leads from etcd: the oldest key under electionPrefix (<prefix>election/).
// ok is false when no replica leads.
func Leader(ctx context.Context, client *clientv3.Client, electionPrefix string) (l LeaderKey, ok bool, err error) {
	resp, err := client.Get(ctx, electionPrefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(1))
	if err != nil {
		return l, false, err
	}
	if len(resp.Kvs) == 0 {
		return l, false, nil
	}
	kv := resp.Kvs[0]
	if err := json.Unmarshal(kv.Value, &l); err != nil {
		return l, false, fmt.Errorf("election key %s: %w", kv.Key, err)
	}
	l.Token, l.Lease = kv.CreateRevision, clientv3.LeaseID(kv.Lease)
	return l, true, nil
}
