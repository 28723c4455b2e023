package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
)

// BenchmarkClaim measures fenced claim transactions (guard + job version + run absent → run
// record + cursor) against a plain Txn that puts the same two keys with values of the same
// size and checks nothing. The ratio of the two is the cost of fencing. "claimers" is the
// number of concurrent callers, each claiming runs of its own job.
func BenchmarkClaim(b *testing.B) {
	for _, claimers := range []int{1, 16} {
		for _, kind := range []string{"fenced", "plain"} {
			b.Run(fmt.Sprintf("%s/claimers=%d", kind, claimers), func(b *testing.B) {
				benchClaim(b, claimers, kind == "fenced")
			})
		}
	}
}

func benchClaim(b *testing.B, claimers int, fenced bool) {
	client := etcdtest.Start(b).Client()
	s := New(client, "/bench/", nil)
	ctx := context.Background()
	lr, err := client.Put(ctx, "/bench/election/leader", "bench")
	if err != nil {
		b.Fatal(err)
	}
	f := Fence{LeaderKey: "/bench/election/leader", Token: fence.Token(lr.Header.Revision)}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	versions := make([]int64, claimers)
	for i := range claimers {
		spec := job.Spec{Schedule: "@every 1s", Target: job.Target{HTTP: &job.HTTPTarget{URL: "http://127.0.0.1:9/hook"}}}
		j, _, err := s.PutJob(ctx, fmt.Sprintf("job-%02d", i), spec, t0, 0)
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = j.Version
	}
	var next atomic.Int64 // hands out (job, slot) pairs so every claim is of a new run
	claim := func() error {
		n := next.Add(1)
		i := int(n % int64(claimers))
		name := fmt.Sprintf("job-%02d", i)
		at := t0.Add(time.Duration(n) * time.Second)
		run := Run{ID: RunID(name, at), Job: name, Scheduled: at, State: StateClaimed, Token: f.Token,
			Term: "bench/0123456789abcdef", Replica: "bench", JobVersion: versions[i], Claimed: at}
		if fenced {
			_, err := s.Claim(ctx, f, versions[i], []Run{run})
			return err
		}
		val, _ := json.Marshal(run)
		cur, _ := json.Marshal(cursor{Scheduled: at, Run: run.ID})
		_, err := client.Txn(ctx).Then(
			clientv3.OpPut(s.keys.Run(name, run.ID), string(val)),
			clientv3.OpPut(s.keys.Cursor(name), string(cur)),
		).Commit()
		return err
	}
	b.ReportAllocs()
	b.ResetTimer()
	var failed atomic.Value
	done := make(chan struct{})
	var issued atomic.Int64
	for range claimers {
		go func() {
			defer func() { done <- struct{}{} }()
			for issued.Add(1) <= int64(b.N) {
				if err := claim(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	for range claimers {
		<-done
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkClaimOps is the client-side part of a claim: building the compares and puts and
// encoding the run record, without the round trip (BenchmarkClaim has both).
func BenchmarkClaimOps(b *testing.B) {
	s := New(nil, "/bench/", nil)
	f := Fence{LeaderKey: "/bench/election/leader", Token: 42}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	run := Run{ID: RunID("nightly-export", at), Job: "nightly-export", Scheduled: at, State: StateRunning, Token: 42,
		Term: "replica-1/4f1c2a9e", Replica: "replica-1", JobVersion: 7, Claimed: at, Started: at}
	runs := []Run{run}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.claimOps(f, 7, runs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
