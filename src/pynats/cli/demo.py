"""``pynats demo``: a tour of the client against an embedded (or given) server."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

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


def register(root: click.Group) -> None:
    """Add ``demo``."""
    root.add_command(demo)
