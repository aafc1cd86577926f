// Command push is nats.go's side of the push consumer interop tests
// (tests/test_js_interop.py), with nats.go's legacy JetStream API: it makes a
// durable push consumer, or subscribes to one and acks what it reads, printing
// one JSON object a line.
//
//	push add -url URL -stream STREAM -durable NAME -subject FILTER
//	    js.AddConsumer with a deliver subject of its own (explicit acks)
//	push sub -url URL -subject SUBJ -durable NAME [-stream STREAM] -n N [-unsubscribe]
//	    js.SubscribeSync with nats.Durable(NAME), or nats.Bind(STREAM, NAME)
//	    when -stream is given, manual acks; reads N messages (AckSync each),
//	    then prints the consumer's info. It leaves without unsubscribing (a
//	    durable it made stays) unless -unsubscribe (which deletes a consumer
//	    the subscription made, as nats.go does).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
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
}

type summary struct {
	Name           string `json:"name"`
	DeliverSubject string `json:"deliver_subject"`
	FilterSubject  string `json:"filter_subject"`
	AckPolicy      string `json:"ack_policy"`
	AckFloor       uint64 `json:"ack_floor"`
	NumAckPending  int    `json:"num_ack_pending"`
	PushBound      bool   `json:"push_bound"`
}

func summarize(info *nats.ConsumerInfo) summary {
	return summary{
		Name:           info.Name,
		DeliverSubject: info.Config.DeliverSubject,
		FilterSubject:  info.Config.FilterSubject,
		AckPolicy:      info.Config.AckPolicy.String(),
		AckFloor:       info.AckFloor.Stream,
		NumAckPending:  info.NumAckPending,
		PushBound:      info.PushBound,
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: push add|sub [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", nats.DefaultURL, "server URL")
	subject := fs.String("subject", "", "subject (the consumer's filter)")
	stream := fs.String("stream", "", "stream of the consumer (sub: bind with nats.Bind)")
	durable := fs.String("durable", "", "durable consumer name")
	n := fs.Int("n", 1, "messages to read")
	unsubscribe := fs.Bool("unsubscribe", false, "unsubscribe at the end")
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
	case "add":
		info, err := js.AddConsumer(*stream, &nats.ConsumerConfig{
			Durable:        *durable,
			DeliverSubject: nats.NewInbox(),
			FilterSubject:  *subject,
			AckPolicy:      nats.AckExplicitPolicy,
			DeliverPolicy:  nats.DeliverAllPolicy,
		})
		if err != nil {
			fail("add consumer: %v", err)
		}
		_ = out.Encode(summarize(info))
	case "sub":
		opts := []nats.SubOpt{nats.ManualAck()}
		if *stream != "" {
			opts = append(opts, nats.Bind(*stream, *durable))
		} else {
			opts = append(opts, nats.Durable(*durable))
		}
		sub, err := js.SubscribeSync(*subject, opts...)
		if err != nil {
			fail("subscribe: %v", err)
		}
		for i := 0; i < *n; i++ {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				fail("message %d of %d: %v", i+1, *n, err)
			}
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
			})
			if err := m.AckSync(); err != nil {
				fail("ack: %v", err)
			}
		}
		info, err := sub.ConsumerInfo()
		if err != nil {
			fail("consumer info: %v", err)
		}
		_ = out.Encode(summarize(info))
		if *unsubscribe {
			if err := sub.Unsubscribe(); err != nil {
				fail("unsubscribe: %v", err)
			}
		}
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
