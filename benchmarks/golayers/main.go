// golayers: a nats.go 1.22 worker for the layer benchmarks of benchmarks/layers.py
// (pynats.bench_layers; its Python workers are in src/pynats/_bench_layers_workers.py),
// with the legacy JetStream API (nats.JetStreamContext) and the experimental micro
// package that nats.go 1.22 has.
//
// Run as `golayers '<json params>'`: the same dict the runner gives its Python workers
// (url, tag, only, n, p, a, k, w, o, big, r; other keys ignored). For each workload it
// runs it prints `<name> <value>` on stdout, value = count / seconds in the runner's
// units (msgs/s, ops/s for kv_*, MB/s (1e6 bytes) for obj*, req/s for svc); it exits
// 0, or non-zero with a message on stderr. Each workload follows worker_sync; the
// server must have been prepared by the runner's fill() (stream LCONS, bucket LWATCH).
//
// Build (GOPATH mode, Debian's golang-github-nats-io-go-nats-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/golayers .
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

const (
	consStream  = "LCONS"
	watchBucket = "LWATCH"
	objSize     = 1024 * 1024
	bigSize     = 64 * 1024 * 1024
	batch       = 500
)

var payload = bytes.Repeat([]byte("x"), 128)

// params is the JSON dict of the runner's run_worker.
type params struct {
	URL  string   `json:"url"`
	Tag  string   `json:"tag"`
	Only []string `json:"only"`
	N    int      `json:"n"`
	P    int      `json:"p"`
	A    int      `json:"a"`
	K    int      `json:"k"`
	W    int      `json:"w"`
	O    int      `json:"o"`
	Big  int      `json:"big"`
	R    int      `json:"r"`
}

// wants reports whether any of names is to run (an empty "only" runs everything).
func (p *params) wants(names ...string) bool {
	if len(p.Only) == 0 {
		return true
	}
	for _, o := range p.Only {
		for _, n := range names {
			if o == n {
				return true
			}
		}
	}
	return false
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func report(name string, count float64, d time.Duration) {
	fmt.Printf("%s %.1f\n", name, count/d.Seconds())
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: golayers '<json params>'")
		os.Exit(2)
	}
	var p params
	if err := json.Unmarshal([]byte(os.Args[1]), &p); err != nil {
		fmt.Fprintln(os.Stderr, "golayers: bad params:", err)
		os.Exit(2)
	}
	if err := run(&p); err != nil {
		fmt.Fprintln(os.Stderr, "golayers:", err)
		os.Exit(1)
	}
}

func run(p *params) error {
	nc, err := nats.Connect(p.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	sc, err := nats.Connect(p.URL)
	if err != nil {
		return err
	}
	defer sc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	steps := []func(*nats.Conn, *nats.Conn, nats.JetStreamContext, *params) error{
		publishes, consume, keyValue, watch, objects, service,
	}
	for _, step := range steps {
		if err := step(nc, sc, js, p); err != nil {
			return err
		}
	}
	return nil
}

// publishes: js_pub (acked publishes one at a time), js_async_256 and js_async_4096
// (PublishAsync with at most 256 / 4096 in flight, then PublishAsyncComplete).
func publishes(nc, _ *nats.Conn, js nats.JetStreamContext, p *params) error {
	if !p.wants("js_pub", "js_async_256", "js_async_4096") {
		return nil
	}
	stream, subj := "LPUB_"+p.Tag, "lpub."+p.Tag
	_, err := js.AddStream(&nats.StreamConfig{
		Name: stream, Subjects: []string{subj}, Storage: nats.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", stream, err)
	}
	if p.wants("js_pub") {
		t := time.Now()
		for i := 0; i < p.P; i++ {
			if _, err := js.Publish(subj, payload); err != nil {
				return fmt.Errorf("js_pub: %w", err)
			}
		}
		report("js_pub", float64(p.P), time.Since(t))
	}
	for _, window := range []int{256, 4096} {
		name := fmt.Sprintf("js_async_%d", window)
		if !p.wants(name) {
			continue
		}
		// Failed acks are counted by the error handler, which has run for every one of
		// them by the time PublishAsyncComplete's channel is closed.
		var failed int64
		ajs, err := nc.JetStream(
			nats.PublishAsyncMaxPending(window),
			nats.PublishAsyncErrHandler(func(nats.JetStream, *nats.Msg, error) {
				atomic.AddInt64(&failed, 1)
			}),
		)
		if err != nil {
			return err
		}
		t := time.Now()
		for i := 0; i < p.A; i++ {
			if _, err := ajs.PublishAsync(subj, payload); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		select {
		case <-ajs.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			return fmt.Errorf("%s: not complete after 60 s", name)
		}
		report(name, float64(p.A), time.Since(t))
		if n := atomic.LoadInt64(&failed); n > 0 {
			return fmt.Errorf("%d async publishes failed", n)
		}
	}
	return js.DeleteStream(stream)
}

// consume: fetch, msgs_ack and msgs_none read the N messages of LCONS through a new
// consumer each (ack explicit, every message acked; msgs_none: ack policy none), in
// batches of at most 500 (never more than the messages still wanted).
//
// nats.go 1.22 has only the legacy JetStream API, without the new API's
// Consumer.Messages() / Consume(): msgs_ack and msgs_none use the fastest pull it has,
// the same Fetch(500) loop as fetch (like the runner's nats-py worker), so msgs_ack
// measures the same thing as fetch, and msgs_none the loop without acks.
func consume(_, _ *nats.Conn, js nats.JetStreamContext, p *params) error {
	for _, c := range []struct {
		name   string
		policy nats.AckPolicy
	}{
		{"fetch", nats.AckExplicitPolicy},
		{"msgs_ack", nats.AckExplicitPolicy},
		{"msgs_none", nats.AckNonePolicy},
	} {
		if !p.wants(c.name) {
			continue
		}
		cname := c.name + "_" + p.Tag
		// A durable (worker_sync makes a named ephemeral one): nats.go 1.22's Bind wants
		// the consumer's durable name to be the one it binds to. Deleted below.
		_, err := js.AddConsumer(consStream, &nats.ConsumerConfig{Durable: cname, AckPolicy: c.policy})
		if err != nil {
			return fmt.Errorf("%s: create consumer: %w", c.name, err)
		}
		sub, err := js.PullSubscribe("", cname, nats.Bind(consStream, cname))
		if err != nil {
			return fmt.Errorf("%s: pull subscribe: %w", c.name, err)
		}
		ack := c.policy == nats.AckExplicitPolicy
		got := 0
		t := time.Now()
		for got < p.N {
			msgs, err := sub.Fetch(min(batch, p.N-got), nats.MaxWait(5*time.Second))
			if err != nil {
				return fmt.Errorf("%s: fetch after %d messages: %w", c.name, got, err)
			}
			for _, m := range msgs {
				if ack {
					if err := m.Ack(); err != nil {
						return fmt.Errorf("%s: ack: %w", c.name, err)
					}
				}
				got++
			}
		}
		report(c.name, float64(p.N), time.Since(t))
		if err := sub.Unsubscribe(); err != nil {
			return err
		}
		if err := js.DeleteConsumer(consStream, cname); err != nil {
			return fmt.Errorf("%s: delete consumer: %w", c.name, err)
		}
	}
	return nil
}

// keyValue: kv_put (K puts of 128 B over the keys k0..k99), then kv_get (K gets).
func keyValue(_, _ *nats.Conn, js nats.JetStreamContext, p *params) error {
	if !p.wants("kv_put", "kv_get") {
		return nil
	}
	bucket := "LKV_" + p.Tag
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: bucket})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	t := time.Now()
	for i := 0; i < p.K; i++ {
		if _, err := kv.Put(keys[i%100], payload); err != nil {
			return fmt.Errorf("kv_put: %w", err)
		}
	}
	report("kv_put", float64(p.K), time.Since(t))
	t = time.Now()
	for i := 0; i < p.K; i++ {
		if _, err := kv.Get(keys[i%100]); err != nil {
			return fmt.Errorf("kv_get: %w", err)
		}
	}
	report("kv_get", float64(p.K), time.Since(t))
	return js.DeleteKeyValue(bucket)
}

// watch: kv_watch, a watcher of every key of LWATCH, entries/s until the nil entry
// that marks the end of the initial values.
func watch(_, _ *nats.Conn, js nats.JetStreamContext, p *params) error {
	if !p.wants("kv_watch") {
		return nil
	}
	kv, err := js.KeyValue(watchBucket)
	if err != nil {
		return fmt.Errorf("kv_watch: bucket %s: %w", watchBucket, err)
	}
	got := 0
	t := time.Now()
	w, err := kv.Watch(">")
	if err != nil {
		return fmt.Errorf("kv_watch: %w", err)
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
loop:
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				break loop
			}
			got++
		case <-timeout.C:
			return fmt.Errorf("kv_watch: no end of initial values after 10 s (%d entries)", got)
		}
	}
	report("kv_watch", float64(got), time.Since(t))
	return w.Stop()
}

// objects: obj_put / obj_get / obj_rt, O times a put then a get of a 1 MiB random
// object "o" (MB/s; obj_rt over the time of both), and obj64_* with `big` of 64 MiB.
func objects(_, _ *nats.Conn, js nats.JetStreamContext, p *params) error {
	if !p.wants("obj_put", "obj_get", "obj_rt", "obj64_put", "obj64_get", "obj64_rt") {
		return nil
	}
	bucket := "LOBJ_" + p.Tag
	obs, err := js.CreateObjectStore(&nats.ObjectStoreConfig{Bucket: bucket})
	if err != nil {
		return fmt.Errorf("create object store %s: %w", bucket, err)
	}
	for _, o := range []struct {
		prefix string
		size   int
		reps   int
	}{
		{"obj", objSize, p.O},
		{"obj64", bigSize, p.Big},
	} {
		if o.reps == 0 || !p.wants(o.prefix+"_put", o.prefix+"_get", o.prefix+"_rt") {
			continue
		}
		data := make([]byte, o.size)
		if _, err := rand.Read(data); err != nil {
			return err
		}
		var tput, tget time.Duration
		for i := 0; i < o.reps; i++ {
			t0 := time.Now()
			if _, err := obs.PutBytes("o", data); err != nil {
				return fmt.Errorf("%s_put: %w", o.prefix, err)
			}
			t1 := time.Now()
			got, err := obs.GetBytes("o")
			tget += time.Since(t1)
			tput += t1.Sub(t0)
			if err != nil {
				return fmt.Errorf("%s_get: %w", o.prefix, err)
			}
			if len(got) != o.size {
				return fmt.Errorf("object store: short read (%d of %d bytes)", len(got), o.size)
			}
		}
		mb := float64(o.size*o.reps) / 1e6
		report(o.prefix+"_put", mb, tput)
		report(o.prefix+"_get", mb, tget)
		report(o.prefix+"_rt", mb, tput+tget)
	}
	return js.DeleteObjectStore(bucket)
}

// service: svc, R sequential requests on nc to an ADR-32 service on sc. nats.go 1.22's
// micro package (an "experimental preview") has one endpoint per service, given in
// its Config; no AddEndpoint.
func service(nc, sc *nats.Conn, _ nats.JetStreamContext, p *params) error {
	if !p.wants("svc") {
		return nil
	}
	subj := "lsvc." + p.Tag
	svc, err := micro.AddService(sc, micro.Config{
		Name:    "lsvc" + p.Tag,
		Version: "1.0.0",
		Endpoint: micro.Endpoint{
			Subject: subj,
			Handler: func(req *micro.Request) { _ = req.Respond([]byte("ok")) },
		},
	})
	if err != nil {
		return fmt.Errorf("svc: add service: %w", err)
	}
	if err := sc.Flush(); err != nil {
		return err
	}
	t := time.Now()
	for i := 0; i < p.R; i++ {
		if _, err := nc.Request(subj, []byte("hi"), 2*time.Second); err != nil {
			return fmt.Errorf("svc: request %d: %w", i, err)
		}
	}
	report("svc", float64(p.R), time.Since(t))
	return svc.Stop()
}
