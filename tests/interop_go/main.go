// Command interop is nats.go's side of the JetStream interop tests
// (tests/test_js_interop.py): it publishes to a stream, or consumes from a
// durable pull consumer and prints what it got, one JSON object a line.
//
//	interop pub -url URL -subject SUBJ -n N
//	interop sub -url URL -stream STREAM -durable NAME -n N
//	interop kv-put -url URL -bucket B -key K -value V   (creates the bucket if needed)
//	interop kv-get -url URL -bucket B -key K
//	interop kv-keys -url URL -bucket B
//	interop kv-delete -url URL -bucket B -key K
//	interop obj-put -url URL -bucket B -key NAME -n SIZE   (creates the bucket if needed)
//	interop obj-get -url URL -bucket B -key NAME
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

type received struct {
	Subject   string              `json:"subject"`
	Data      string              `json:"data"`
	Headers   map[string][]string `json:"headers"`
	Stream    string              `json:"stream"`
	Consumer  string              `json:"consumer"`
	StreamSeq uint64              `json:"stream_seq"`
	ConsSeq   uint64              `json:"consumer_seq"`
	Delivered uint64              `json:"delivered"`
	Pending   uint64              `json:"pending"`
	Timestamp int64               `json:"timestamp_ns"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: interop pub|sub [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", nats.DefaultURL, "server URL")
	subject := fs.String("subject", "", "subject to publish to")
	stream := fs.String("stream", "", "stream to consume from")
	durable := fs.String("durable", "", "durable pull consumer to bind to")
	n := fs.Int("n", 1, "messages to publish or consume")
	bucket := fs.String("bucket", "", "Key-Value bucket")
	key := fs.String("key", "", "Key-Value key")
	value := fs.String("value", "", "Key-Value value")
	_ = fs.Parse(os.Args[2:])

	nc, err := nats.Connect(*url)
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		fail("jetstream: %v", err)
	}
	out := json.NewEncoder(os.Stdout)

	switch os.Args[1] {
	case "pub":
		for i := 0; i < *n; i++ {
			m := nats.NewMsg(*subject)
			m.Data = []byte("go " + strconv.Itoa(i))
			m.Header.Set("Lang", "go")
			m.Header.Add("Multi", "a")
			m.Header.Add("Multi", "b")
			ack, err := js.PublishMsg(m, nats.MsgId("go-"+strconv.Itoa(i)))
			if err != nil {
				fail("publish: %v", err)
			}
			_ = out.Encode(map[string]interface{}{"stream": ack.Stream, "seq": ack.Sequence})
		}
	case "sub":
		sub, err := js.PullSubscribe("", *durable, nats.Bind(*stream, *durable))
		if err != nil {
			fail("pull subscribe: %v", err)
		}
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got < *n && time.Now().Before(deadline) {
			msgs, err := sub.Fetch(*n-got, nats.MaxWait(2*time.Second))
			if err != nil && err != nats.ErrTimeout {
				fail("fetch: %v", err)
			}
			for _, m := range msgs {
				meta, err := m.Metadata()
				if err != nil {
					fail("metadata: %v", err)
				}
				_ = out.Encode(received{
					Subject:   m.Subject,
					Data:      string(m.Data),
					Headers:   m.Header,
					Stream:    meta.Stream,
					Consumer:  meta.Consumer,
					StreamSeq: meta.Sequence.Stream,
					ConsSeq:   meta.Sequence.Consumer,
					Delivered: meta.NumDelivered,
					Pending:   meta.NumPending,
					Timestamp: meta.Timestamp.UnixNano(),
				})
				if err := m.AckSync(); err != nil {
					fail("ack: %v", err)
				}
				got++
			}
		}
		if got < *n {
			fail("got %d of %d messages", got, *n)
		}
	case "kv-put":
		kv, err := js.KeyValue(*bucket)
		if err == nats.ErrBucketNotFound {
			kv, err = js.CreateKeyValue(&nats.KeyValueConfig{Bucket: *bucket, History: 5})
		}
		if err != nil {
			fail("bucket: %v", err)
		}
		rev, err := kv.Put(*key, []byte(*value))
		if err != nil {
			fail("put: %v", err)
		}
		_ = out.Encode(map[string]interface{}{"revision": rev})
	case "kv-get":
		kv, err := js.KeyValue(*bucket)
		if err != nil {
			fail("bucket: %v", err)
		}
		e, err := kv.Get(*key)
		if err == nats.ErrKeyNotFound {
			_ = out.Encode(map[string]interface{}{"error": "not found"})
			break
		}
		if err != nil {
			fail("get: %v", err)
		}
		_ = out.Encode(map[string]interface{}{
			"key": e.Key(), "value": string(e.Value()), "revision": e.Revision(),
			"op": e.Operation().String(),
		})
	case "kv-keys":
		kv, err := js.KeyValue(*bucket)
		if err != nil {
			fail("bucket: %v", err)
		}
		keys, err := kv.Keys()
		if err != nil && err != nats.ErrNoKeysFound {
			fail("keys: %v", err)
		}
		_ = out.Encode(map[string]interface{}{"keys": keys})
	case "kv-delete":
		kv, err := js.KeyValue(*bucket)
		if err != nil {
			fail("bucket: %v", err)
		}
		if err := kv.Delete(*key); err != nil {
			fail("delete: %v", err)
		}
		_ = out.Encode(map[string]interface{}{"deleted": *key})
	case "obj-put":
		obs, err := js.ObjectStore(*bucket)
		if err == nats.ErrStreamNotFound || err == nats.ErrBucketNotFound {
			obs, err = js.CreateObjectStore(&nats.ObjectStoreConfig{Bucket: *bucket})
		}
		if err != nil {
			fail("object store: %v", err)
		}
		data := make([]byte, *n)
		for i := range data {
			data[i] = byte(i % 251)
		}
		info, err := obs.PutBytes(*key, data)
		if err != nil {
			fail("put: %v", err)
		}
		_ = out.Encode(map[string]interface{}{
			"size": info.Size, "chunks": info.Chunks, "digest": info.Digest, "nuid": info.NUID,
		})
	case "obj-get":
		obs, err := js.ObjectStore(*bucket)
		if err != nil {
			fail("object store: %v", err)
		}
		data, err := obs.GetBytes(*key)
		if err != nil {
			fail("get: %v", err)
		}
		info, err := obs.GetInfo(*key)
		if err != nil {
			fail("info: %v", err)
		}
		head := data
		if len(head) > 16 {
			head = head[:16]
		}
		_ = out.Encode(map[string]interface{}{
			"size": len(data), "data_head": string(head),
			"digest": info.Digest, "description": info.Description,
		})
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
