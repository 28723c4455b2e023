package localcluster

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/pkg/history"
	"github.com/schedulerd/schedulerd/pkg/store"
)

// ReadStore reads every job and run record under prefix, for history.Check.
func ReadStore(ctx context.Context, client *clientv3.Client, prefix string) (history.Input, error) {
	var in history.Input
	st := store.New(client, prefix, nil)
	jobs, _, err := st.ListJobs(ctx)
	if err != nil {
		return in, err
	}
	in.Jobs = jobs
	for _, j := range jobs {
		runs, err := st.ListRuns(ctx, j.Name, 0)
		if err != nil {
			return in, err
		}
		in.Runs = append(in.Runs, runs...)
	}
	return in, nil
}
