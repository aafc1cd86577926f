"""``pynats demo``: a tour of the client against an embedded (or given) server."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

import nats_sync

from ..server import NatsServer
from . import _common as c

__all__ = ["register"]


@contextlib.contextmanager
def _server_url(url: str | None) -> Iterator[str | None]:
    """``url`` (``None``: the global options'), else an embedded server's URL."""
    if url or c.options().context:
        yield url
        return
    with NatsServer(jetstream=True) as srv:
        c.out(f"started an embedded nats-server {srv.version} on {srv.url}")
        yield srv.url


@click.command("demo", cls=c.NatsCommand)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="jobs for the queue group",
)
@click.option(
    "--requests",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="requests to time",
)
@click.option(
    "--messages",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="messages to publish",
)
def demo(jobs: int, requests: int, messages: int) -> None:
    """Show the client at work: on an embedded nats-server, or on the one
    --server, $NATS_URL or --context name."""
    with _server_url(c.server_url()) as url:
        nc = c.connect_from(servers=url, name="pynats-demo")
        _tour(nc, jobs, requests, messages)
        _tour_jetstream(nc)
        c.close_client()
    c.out("done")


def _tour(nc: nats_sync.Client, jobs: int, requests: int, messages: int) -> None:
    info = nc.server_info
    assert info is not None
    c.out(f"connected to {nc.connected_url} (server {info.version}, rtt {nc.rtt() * 1e3:.2f} ms)")

    c.out("\n1. publish / subscribe with a wildcard and headers")
    sub = nc.subscribe("demo.orders.*")
    nc.flush()
    nc.publish("demo.orders.new", b"order 1", headers={"Trace-Id": "abc", "Tags": ["a", "b"]})
    nc.publish("demo.orders.paid", b"order 1 paid")
    for _ in range(2):
        msg = sub.next_msg(timeout=2)
        hdr = ""
        if msg.headers:
            hdr = " (" + ", ".join(f"{k}: {v}" for k, v in msg.headers.multi_items()) + ")"
        c.out(f"   got {msg.subject}: {msg.data.decode()}{hdr}")
    sub.unsubscribe()

    c.out("\n2. a queue group spreads work over its members")
    counts = {"worker-1": 0, "worker-2": 0, "worker-3": 0}
    lock = threading.Lock()

    def worker(name: str) -> Callable[[nats_sync.Msg], None]:
        def handle(_msg: nats_sync.Msg) -> None:
            with lock:
                counts[name] += 1

        return handle

    subs = [nc.subscribe("demo.jobs", queue="workers", cb=worker(n)) for n in counts]
    nc.flush()
    start = time.perf_counter()
    for i in range(jobs):
        nc.publish("demo.jobs", b"job %d" % i)
    nc.flush()
    deadline = time.monotonic() + 10
    while sum(counts.values()) < jobs and time.monotonic() < deadline:
        time.sleep(0.005)
    took = time.perf_counter() - start
    shares = ", ".join(f"{k} {v}" for k, v in counts.items())
    c.out(f"   {jobs} jobs handled in {took * 1e3:.1f} ms: {shares}")
    for s in subs:
        s.unsubscribe()

    c.out("\n3. request / reply")
    nc.subscribe("demo.echo", cb=lambda m: m.respond(b"echo: " + m.data))
    nc.flush()
    reply = nc.request("demo.echo", b"hello", timeout=2)
    c.out(f"   reply: {reply.data.decode()}")
    start = time.perf_counter()
    for _ in range(requests):
        nc.request("demo.echo", b"ping", timeout=2)
    took = time.perf_counter() - start
    c.out(f"   {requests} requests in {took * 1e3:.1f} ms ({took / requests * 1e6:.0f} us each)")
    try:
        nc.request("demo.nobody", b"?", timeout=1)
    except nats_sync.NoRespondersError as e:
        c.out(f"   a request nobody answers fails fast: {e}")

    c.out("\n4. publish throughput")
    start = time.perf_counter()
    for _ in range(messages):
        nc.publish("demo.firehose", b"x" * 128)
    nc.flush()
    took = time.perf_counter() - start
    c.out(f"   {messages} messages of 128 B in {took * 1e3:.1f} ms ({messages / took:,.0f} msgs/s)")

    c.out("\nstatistics:")
    stats = nc.stats.as_dict()
    c.table(["counter", "value"], sorted(stats.items()), right=["value"])


def _tour_jetstream(nc: nats_sync.Client) -> None:
    info = nc.server_info
    if info is None or not info.jetstream:
        c.out("\n(JetStream, Key-Value, Object Store: the server has no JetStream; skipped)")
    else:
        js = c.jetstream_from(nc)
        _tour_streams(js)
        _tour_kv(js)
        _tour_objects(js)
    _tour_service(nc)


def _tour_streams(js: Any) -> None:
    c.out("\n5. JetStream: a stream keeps messages, a consumer reads them with acks")
    try:
        js.delete_stream("DEMO_ORDERS")
    except nats_sync.NatsError:
        pass
    js.create_stream(name="DEMO_ORDERS", subjects=["demo.js.>"])
    for i in range(1, 4):
        ack = js.publish(f"demo.js.order{i}", b"order %d" % i)
        c.out(f"   published demo.js.order{i}: stored in {ack.stream} as sequence {ack.seq}")
    consumer = js.create_consumer("DEMO_ORDERS", durable_name="demo", ack_policy="explicit")
    for msg in consumer.fetch(3, max_wait=2):
        msg.ack()
        meta = msg.metadata
        c.out(
            f"   consumer {consumer.name} got {msg.data.decode()} "
            f"(sequence {meta.sequence.stream}, {meta.num_pending} pending), acked"
        )
    js.delete_stream("DEMO_ORDERS")


def _tour_kv(js: Any) -> None:
    c.out("\n6. Key-Value: put, get, and watch the changes")
    try:
        js.delete_key_value("demo")
    except nats_sync.NatsError:
        pass
    kv = js.create_key_value(bucket="demo", history=5)
    rev = kv.put("color", b"blue")
    c.out(f"   put color=blue (revision {rev})")
    kv.put("color", b"green")
    entry = kv.get("color")
    c.out(f"   get color: {entry.value.decode()} (revision {entry.revision})")
    with kv.watch("color", include_history=True) as watcher:
        for entry in watcher:
            if entry is None:  # the end of the values already there
                break
            c.out(f"   watch: color={entry.value.decode()} at revision {entry.revision}")
    js.delete_key_value("demo")


def _tour_objects(js: Any) -> None:
    c.out("\n7. Object Store: a large object in chunks, checked by its SHA-256 digest")
    try:
        js.delete_object_store("demo")
    except nats_sync.NatsError:
        pass
    store = js.create_object_store(bucket="demo")
    data = bytes(range(256)) * 4096  # 1 MiB
    info = store.put("blob.bin", data)
    c.out(f"   put blob.bin: {info.size:,} bytes in {info.chunks} chunks, digest {info.digest}")
    got = store.get("blob.bin").read()
    c.out(f"   get blob.bin: {len(got):,} bytes, {'identical' if got == data else 'DIFFERENT'}")
    js.delete_object_store("demo")


def _tour_service(nc: nats_sync.Client) -> None:
    from nats_sync import discover

    c.out("\n8. a service: add it, discover it, call it")
    svc = nats_sync.add_service(nc, "demo-greeter", "1.0.0", description="says hello")
    svc.add_endpoint("greet", lambda req: req.respond(b"hello, " + req.data), subject="demo.greet")
    nc.flush()
    for ping in discover.ping(nc, "demo-greeter", timeout=1, stall=0.2):
        c.out(f"   discovered {ping.name} {ping.version} (id {ping.id})")
    c.out(f"   call demo.greet: {nc.request('demo.greet', b'you', timeout=2).data.decode()}")
    svc.stop()


def register(root: click.Group) -> None:
    """Add ``demo``."""
    root.add_command(demo)
