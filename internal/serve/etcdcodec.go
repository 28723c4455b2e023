package serve

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// etcdCodec is gRPC's proto codec for the etcd client with a buffer pool of its own. gRPC's
// default pool has no size between 32 KiB and 1 MiB, so every larger message took a 1 MiB
// buffer: a busy leader's batched result writes (some 50 KB each) kept two of them in its
// pool, 2 MB of live heap that the collector's headroom doubles in RSS. It is set with
// grpc.ForceCodecV2, which gRPC marks experimental: a gRPC upgrade may need it changed.
type etcdCodec struct{ pool mem.BufferPool }

// etcdBufferPool has every power of two from 256 B to 1 MiB: a message takes at most twice
// its size (larger ones go to gRPC's fallback pool, as with its default pool).
var etcdBufferPool = func() mem.BufferPool {
	p, err := mem.NewBinaryTieredBufferPool(8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	if err != nil {
		panic(fmt.Sprintf("etcd buffer pool: %v", err))
	}
	return p
}()

func (c etcdCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, err := message(v)
	if err != nil {
		return nil, err
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
	m, err := message(v)
	if err != nil {
		return err
	}
	buf := data.MaterializeToBuffer(c.pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// Name is gRPC's proto codec's: it names the content type on the wire.
func (etcdCodec) Name() string { return "proto" }

// message is v as a proto message, as gRPC's codec takes it: generated code of either API.
func message(v any) (proto.Message, error) {
	switch m := v.(type) {
	case protoadapt.MessageV2:
		return m, nil
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m), nil
	}
	return nil, fmt.Errorf("etcd codec: %T is not a proto message", v)
}
