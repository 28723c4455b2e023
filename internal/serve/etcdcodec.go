package serve

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// etcdCodec is gRPC's proto codec for the etcd client with a buffer pool of its own. gRPC's
// default pool has no size between 32 KiB and 1 MiB, so every larger message took a 1 MiB
// buffer: a busy leader's batched result writes (some 50 KB each) kept two of them in its
// pool, 2 MB of live heap that the collector's headroom doubles in RSS.
type etcdCodec struct{ pool mem.BufferPool }

// etcdBufferPool has every power of two from 256 B to 1 MiB: a message takes at most twice
// its size.
var etcdBufferPool = func() mem.BufferPool {
	p, err := mem.NewBinaryTieredBufferPool(8, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	if err != nil {
		panic(fmt.Sprintf("etcd buffer pool: %v", err))
	}
	return p
}()

func (c etcdCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("etcd codec: %T is not a proto message", v)
	}
	// Size first: UseCachedSize below relies on it.
	size := proto.Size(m)
	opts := proto.MarshalOptions{UseCachedSize: true}
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := c.pool.Get(size)
	if _, err := opts.MarshalAppend((*buf)[:0], m); err != nil {
		c.pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, c.pool)}, nil
}

func (c etcdCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("etcd codec: %T is not a proto message", v)
	}
	buf := data.MaterializeToBuffer(c.pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// Name is gRPC's proto codec's: it names the content type on the wire.
func (etcdCodec) Name() string { return "proto" }
