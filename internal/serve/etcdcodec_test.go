package serve

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
)

// sizingPool records the size asked for and the capacity given of every buffer it hands out.
type sizingPool struct {
	mem.BufferPool
	mu   sync.Mutex
	gets [][2]int
}

func (p *sizingPool) Get(n int) *[]byte {
	b := p.BufferPool.Get(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets = append(p.gets, [2]int{n, cap(*b)})
	return b
}

// check fails t unless the pool handed out a buffer for a message of at least least bytes,
// and no buffer more than twice the size asked for.
func (p *sizingPool) check(t *testing.T, least int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	big := false
	for _, g := range p.gets {
		big = big || g[0] >= least
		if g[1] > 2*g[0] {
			t.Errorf("asked for %d B, given %d B; want at most twice", g[0], g[1])
		}
	}
	if !big {
		t.Errorf("buffers handed out %v (size, capacity); want one for a message of %d B or more", p.gets, least)
	}
}

// txn is a transaction of n puts of 800 B values; bigTxn is the size of a batch of results:
// 64 puts, about 53 KB.
func txn(n int) *etcdserverpb.TxnRequest {
	t := &etcdserverpb.TxnRequest{}
	for i := range n {
		put := &etcdserverpb.PutRequest{Key: fmt.Appendf(nil, "/runs/job-%02d/1", i), Value: []byte(strings.Repeat("v", 800))}
		t.Success = append(t.Success, &etcdserverpb.RequestOp{Request: &etcdserverpb.RequestOp_RequestPut{RequestPut: put}})
	}
	return t
}

func bigTxn() *etcdserverpb.TxnRequest { return txn(64) }

func TestEtcdCodecSizesBuffersToTheMessage(t *testing.T) {
	// From just above gRPC's pooling threshold (1 KiB) to most of a MiB.
	for _, puts := range []int{2, 4, 64, 700} {
		pool := &sizingPool{BufferPool: etcdBufferPool}
		c := etcdCodec{pool: pool}
		in := txn(puts)
		size := proto.Size(in)
		data, err := c.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		pool.check(t, size)
		if data.Len() != size {
			t.Errorf("%d puts: marshalled %d B, want %d", puts, data.Len(), size)
		}
		var out etcdserverpb.TxnRequest
		if err := c.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		data.Free()
		if !proto.Equal(in, &out) {
			t.Errorf("%d puts: the transaction came back different", puts)
		}
	}
	if _, err := (etcdCodec{pool: etcdBufferPool}).Marshal("not a message"); err == nil {
		t.Error("marshalled a string; want an error")
	}
}

// TestEtcdClientCodec sends a transaction bigger than gRPC's pooling threshold through the
// client serve builds, to a real etcd, and reads it back in one response as big: both go
// through the client's pool.
func TestEtcdClientCodec(t *testing.T) {
	e := etcdtest.Start(t)
	pool := &sizingPool{BufferPool: etcdBufferPool}
	client, err := (&serveOptions{etcdPool: pool}).etcdClient([]string{e.URL}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ops []clientv3.Op
	for _, op := range bigTxn().Success {
		put := op.GetRequestPut()
		ops = append(ops, clientv3.OpPut(string(put.Key), string(put.Value)))
	}
	if _, err := client.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(ctx, "/runs/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != len(ops) {
		t.Fatalf("read %d keys, want %d", len(resp.Kvs), len(ops))
	}
	for _, kv := range resp.Kvs {
		if len(kv.Value) != 800 || strings.Trim(string(kv.Value), "v") != "" {
			t.Errorf("%s: %d B value, want the 800 B written", kv.Key, len(kv.Value))
		}
	}
	pool.check(t, proto.Size(bigTxn()))
}
