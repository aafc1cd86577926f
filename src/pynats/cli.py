"""The ``pynats`` command: an embedded server, pub/sub/request/reply tools and a demo.

    pynats demo                      # starts an embedded nats-server and shows the client
    pynats server [--port P] [--js]  # runs an embedded nats-server until Ctrl-C
    pynats pub SUBJECT DATA [--count N] [--header K=V]
    pynats sub SUBJECT [--queue Q] [--count N]
    pynats request SUBJECT DATA [--timeout S]
    pynats reply SUBJECT DATA [--queue Q] [--count N]
    pynats bench [--server URL] [--parser] [--memory N]   (see pynats.bench)

Every client command takes ``--server URL`` (default ``$NATS_URL`` or
``nats://127.0.0.1:4222``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import nats_sync
from nats_core import Headers

from .server import NatsServer

__all__ = ["main"]


def _headers(pairs: Sequence[str] | None) -> Headers | None:
    if not pairs:
        return None
    h = Headers()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"pynats: --header wants KEY=VALUE, got {pair!r}")
        h.add(key, value)
    return h


def _show(msg: nats_sync.Msg, n: int) -> None:
    reply = f" reply={msg.reply}" if msg.reply else ""
    print(f"[#{n}] {msg.subject}{reply}: {msg.data.decode('utf-8', 'replace')}")
    if msg.headers:
        for k, v in msg.headers.multi_items():
            print(f"    {k}: {v}")


def cmd_server(a: argparse.Namespace) -> int:
    with NatsServer(port=a.port, jetstream=a.js) as srv:
        print(f"nats-server {srv.version} listening on {srv.url} (Ctrl-C stops it)", flush=True)
        try:
            while srv.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_pub(a: argparse.Namespace) -> int:
    with nats_sync.connect(a.server, name="pynats-pub") as nc:
        h = _headers(a.header)
        for i in range(a.count):
            data = a.data.replace("{i}", str(i + 1)).encode()
            nc.publish(a.subject, data, headers=h)
        nc.flush()
        print(f"published {a.count} message(s) to {a.subject}")
    return 0


def cmd_sub(a: argparse.Namespace) -> int:
    with nats_sync.connect(a.server, name="pynats-sub") as nc:
        sub = nc.subscribe(a.subject, queue=a.queue or "", max_msgs=a.count)
        nc.flush()
        print(f"listening on {a.subject}" + (f" (queue {a.queue})" if a.queue else ""), flush=True)
        try:
            for n, msg in enumerate(sub, 1):
                _show(msg, n)
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_request(a: argparse.Namespace) -> int:
    with nats_sync.connect(a.server, name="pynats-request") as nc:
        start = time.perf_counter()
        try:
            msg = nc.request(
                a.subject, a.data.encode(), timeout=a.timeout, headers=_headers(a.header)
            )
        except nats_sync.NoRespondersError as e:
            print(f"pynats: {e}", file=sys.stderr)
            return 1
        except TimeoutError as e:
            print(f"pynats: {e}", file=sys.stderr)
            return 1
        took = (time.perf_counter() - start) * 1000
        print(f"reply in {took:.2f} ms")
        _show(msg, 1)
    return 0


def cmd_reply(a: argparse.Namespace) -> int:
    with nats_sync.connect(a.server, name="pynats-reply") as nc:
        sub = nc.subscribe(a.subject, queue=a.queue or "", max_msgs=a.count)
        nc.flush()
        print(f"answering requests on {a.subject}", flush=True)
        try:
            for n, msg in enumerate(sub, 1):
                _show(msg, n)
                if msg.reply:
                    msg.respond(a.data.encode())
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
        nc.flush()
    return 0


@contextlib.contextmanager
def _server_url(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with NatsServer() as srv:
        print(f"started an embedded nats-server {srv.version} on {srv.url}")
        yield srv.url


def cmd_demo(a: argparse.Namespace) -> int:
    with _server_url(a.server) as url, nats_sync.connect(url, name="pynats-demo") as nc:
        info = nc.server_info
        assert info is not None
        print(
            f"connected to {nc.connected_url} (server {info.version}, rtt {nc.rtt() * 1e3:.2f} ms)"
        )

        print("\n1. publish / subscribe with a wildcard and headers")
        sub = nc.subscribe("demo.orders.*")
        nc.flush()
        nc.publish("demo.orders.new", b"order 1", headers={"Trace-Id": "abc", "Tags": ["a", "b"]})
        nc.publish("demo.orders.paid", b"order 1 paid")
        for _ in range(2):
            msg = sub.next_msg(timeout=2)
            hdr = {k: msg.headers.get_all(k) for k in msg.headers} if msg.headers else {}
            print(f"   got {msg.subject}: {msg.data.decode()} {hdr or ''}")
        sub.unsubscribe()

        print("\n2. a queue group spreads work over its members")
        counts = {"worker-1": 0, "worker-2": 0, "worker-3": 0}
        lock = threading.Lock()

        def worker(name: str) -> Callable[[nats_sync.Msg], None]:
            def handle(_msg: nats_sync.Msg) -> None:
                with lock:
                    counts[name] += 1

            return handle

        subs = [nc.subscribe("demo.jobs", queue="workers", cb=worker(n)) for n in counts]
        nc.flush()
        jobs = a.jobs
        start = time.perf_counter()
        for i in range(jobs):
            nc.publish("demo.jobs", b"job %d" % i)
        nc.flush()
        deadline = time.monotonic() + 10
        while sum(counts.values()) < jobs and time.monotonic() < deadline:
            time.sleep(0.005)
        took = time.perf_counter() - start
        print(f"   {jobs} jobs handled in {took * 1e3:.1f} ms: {counts}")
        for s in subs:
            s.unsubscribe()

        print("\n3. request / reply")
        nc.subscribe("demo.echo", cb=lambda m: m.respond(b"echo: " + m.data))
        nc.flush()
        reply = nc.request("demo.echo", b"hello", timeout=2)
        print(f"   reply: {reply.data.decode()}")
        n = a.requests
        start = time.perf_counter()
        for _ in range(n):
            nc.request("demo.echo", b"ping", timeout=2)
        took = time.perf_counter() - start
        print(f"   {n} requests in {took * 1e3:.1f} ms ({took / n * 1e6:.0f} us each)")
        try:
            nc.request("demo.nobody", b"?", timeout=1)
        except nats_sync.NoRespondersError as e:
            print(f"   a request nobody answers fails fast: {e}")

        print("\n4. publish throughput")
        n = a.messages
        start = time.perf_counter()
        for _ in range(n):
            nc.publish("demo.firehose", b"x" * 128)
        nc.flush()
        took = time.perf_counter() - start
        print(f"   {n} messages of 128 B in {took * 1e3:.1f} ms ({n / took:,.0f} msgs/s)")
        print(f"\nstatistics: {nc.stats.as_dict()}")
        nc.drain()
    print("done")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pynats`` command."""
    default_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    p = argparse.ArgumentParser(prog="pynats", description="pynats: NATS tools and demo")
    sp = p.add_subparsers(dest="command", required=True)

    d = sp.add_parser("demo", help="show the client against an embedded (or given) server")
    d.add_argument("--server", default=None, help="use this server instead of an embedded one")
    d.add_argument("--jobs", type=int, default=300)
    d.add_argument("--requests", type=int, default=500)
    d.add_argument("--messages", type=int, default=100_000)
    d.set_defaults(func=cmd_demo)

    s = sp.add_parser("server", help="run an embedded nats-server until Ctrl-C")
    s.add_argument("--port", type=int, default=4222)
    s.add_argument("--js", action="store_true", help="enable JetStream")
    s.set_defaults(func=cmd_server)

    def client(name: str, helptext: str) -> argparse.ArgumentParser:
        c = sp.add_parser(name, help=helptext)
        c.add_argument("--server", default=default_url)
        c.add_argument("subject")
        return c

    c = client("pub", "publish messages ({i} in DATA is the message number)")
    c.add_argument("data", nargs="?", default="")
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--header", action="append", metavar="KEY=VALUE")
    c.set_defaults(func=cmd_pub)

    c = client("sub", "print messages as they arrive")
    c.add_argument("--queue", default=None)
    c.add_argument("--count", type=int, default=0, help="stop after N messages")
    c.set_defaults(func=cmd_sub)

    c = client("request", "send a request and print the reply")
    c.add_argument("data", nargs="?", default="")
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("--header", action="append", metavar="KEY=VALUE")
    c.set_defaults(func=cmd_request)

    c = client("reply", "answer requests with DATA")
    c.add_argument("data", nargs="?", default="")
    c.add_argument("--queue", default=None)
    c.add_argument("--count", type=int, default=0, help="stop after N requests")
    c.set_defaults(func=cmd_reply)

    sp.add_parser(
        "bench",
        help="benchmark pynats beside nats-py and nats.go (pynats bench --help)",
        add_help=False,
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pynats`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from . import bench

        return bench.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except nats_sync.NatsError as e:
        print(f"pynats: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"pynats: {e}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
