package election

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// campaign puts this session's election key and waits until every key created before it is
// gone; it returns the key and its create revision (the fencing token).
//
// It follows concurrency.Election.Campaign, with two differences that matter to a scheduler:
// it stops waiting as soon as the session is lost (the library keeps waiting on a key that the
// lease's expiry already deleted), and it never cleans up with an unbounded context (the
// library resigns with the client's context, which blocks a shutdown while etcd is down) —
// the caller revokes the lease instead, which deletes the key.
func (e *Elector) campaign(ctx context.Context, sess *concurrency.Session) (string, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(sess.Ctx(), cancel)()

	c := e.cfg.Client
	key := fmt.Sprintf("%s/%x", e.cfg.Prefix, sess.Lease())
	resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, e.value, clientv3.WithLease(sess.Lease()))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", 0, err
	}
	rev := resp.Header.Revision
	if !resp.Succeeded {
		rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	for {
		// Read the newest key older than ours, but only while ours still exists.
		r, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
			Then(clientv3.OpGet(e.cfg.Prefix+"/", append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(rev-1))...)).
			Commit()
		if err != nil {
			return "", 0, err
		}
		if !r.Succeeded {
			return "", 0, ErrSessionLost
		}
		kvs := r.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return key, rev, nil
		}
		if err := waitDelete(ctx, c, string(kvs[0].Key), r.Header.Revision+1); err != nil {
			return "", 0, err
		}
	}
}

// waitDelete returns when key is deleted at or after revision rev.
func waitDelete(ctx context.Context, c *clientv3.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range c.Watch(wctx, key, clientv3.WithRev(rev), clientv3.WithFilterPut()) {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) > 0 {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("election: watch ended while waiting for the previous leader")
}
