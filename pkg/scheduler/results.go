package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/schedulerd/schedulerd/pkg/store"
)

// resultWriter writes runs' results to etcd for the dispatches of a Scheduler, several to a
// transaction when they come together (group commit): a result that finds the writer idle
// goes at once, alone; results that arrive while earlier ones are being written wait and go
// together in the next transaction. Thousands of runs finishing at once then cost etcd tens of
// proposals, not thousands, at no cost to a lone result.
type resultWriter struct {
	store   *store.Store
	timeout time.Duration
	reqs    chan resultReq
}

type resultReq struct {
	run  store.Run
	done chan resultRes // buffered: the writer never waits for the caller
}

type resultRes struct {
	run store.Run
	err error
}

func newResultWriter(st *store.Store, timeout time.Duration) *resultWriter {
	return &resultWriter{store: st, timeout: timeout, reqs: make(chan resultReq, 1024)}
}

// write writes run's record as store.UpdateRun does and returns what it returns. It returns
// ctx's error when ctx ends first; the write may still land, as with any failed write.
func (w *resultWriter) write(ctx context.Context, run store.Run) (store.Run, error) {
	req := resultReq{run: run, done: make(chan resultRes, 1)}
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		return store.Run{}, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.run, res.err
	case <-ctx.Done():
		return store.Run{}, ctx.Err()
	}
}

// run takes results until ctx ends, keeping up to store.ClaimPipeline transactions in
// flight, and waits for those before it returns.
func (w *resultWriter) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, store.ClaimPipeline)
	for {
		// A slot first: while every slot is busy, results queue up for the next batch.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		var batch []resultReq
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < store.MaxUpdateBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			runs := make([]store.Run, len(batch))
			for i, r := range batch {
				runs[i] = r.run
			}
			wctx, cancel := context.WithTimeout(ctx, w.timeout)
			out, errs := w.store.UpdateRuns(wctx, runs)
			cancel()
			for i, r := range batch {
				r.done <- resultRes{run: out[i], err: errs[i]}
			}
		})
	}
}
