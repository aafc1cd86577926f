#!/usr/bin/env python3
"""The cost of the instrumentation seam on the publish path (issue #15).

Starts one nats-server on a free loopback port (stopped at the end, by its own
handle) and, in this process, publishes N messages of 16 B with no subscriber
(then one flush, inside the timing) from a fresh client per round, for each
variant, rounds interleaved:

- ``none``: no instrumentation (nothing is installed: the path of a client
  without the seam);
- ``noop``: ``instrumentation=Instrumentation()``, every hook the base class's
  no-op, so the per-call wrappers and guards alone;
- ``otel``: :class:`pynats.otel.OpenTelemetryInstrumentation` on an SDK
  TracerProvider, publishing with no current span (nothing to inject);
- ``otel_span``: the same inside a span: every message gets a ``traceparent``
  header (the cost of propagation itself: a header block per message).

The ``otel`` variants need the ``otel`` extra; they are skipped without it.
Prints msgs/s (best of ``--repeat`` rounds) and ns per publish for the blocking
client and for the async one on asyncio, with each variant's ratio to ``none``.

    python benchmarks/instrument_overhead.py
    python benchmarks/instrument_overhead.py --n 200000 --repeat 5 --clients sync
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import anyio

import nats_anyio
import nats_sync
from nats_core import Instrumentation
from pynats.server import NatsServer

PAYLOAD = b"x" * 16
SUBJECT = "bench.instrument"


def variants() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name -> (make the instrumentation, make the context to publish in)."""
    out: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "none": (lambda: None, contextlib.nullcontext),
        "noop": (Instrumentation, contextlib.nullcontext),
    }
    try:
        from opentelemetry.sdk.trace import TracerProvider

        from pynats.otel import OpenTelemetryInstrumentation
    except ImportError:
        print("(opentelemetry not installed: the otel variants are skipped)", file=sys.stderr)
        return out
    provider = TracerProvider()  # no processor: spans are made, never exported
    tracer = provider.get_tracer("bench")

    def otel() -> Any:
        return OpenTelemetryInstrumentation(tracer_provider=provider)

    out["otel"] = (otel, contextlib.nullcontext)
    out["otel_span"] = (otel, lambda: tracer.start_as_current_span("bench"))
    return out


def run_sync(url: str, n: int, instrumentation: Any, ctx: Callable[[], Any]) -> float:
    with nats_sync.connect(url, instrumentation=instrumentation) as nc:
        publish = nc.publish
        nc.flush()
        with ctx():
            start = time.perf_counter()
            for _ in range(n):
                publish(SUBJECT, PAYLOAD)
            nc.flush(timeout=60)
            return time.perf_counter() - start


def run_asyncio(url: str, n: int, instrumentation: Any, ctx: Callable[[], Any]) -> float:
    async def main() -> float:
        async with nats_anyio.connect(url, instrumentation=instrumentation) as nc:
            publish = nc.publish
            await nc.flush()
            with ctx():
                start = time.perf_counter()
                for _ in range(n):
                    await publish(SUBJECT, PAYLOAD)
                await nc.flush(timeout=60)
                return time.perf_counter() - start

    return anyio.run(main, backend="asyncio")


RUNNERS = {"sync": run_sync, "asyncio": run_asyncio}


@contextlib.contextmanager
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="publishes per round")
    ap.add_argument("--repeat", type=int, default=5, help="rounds (best kept)")
    ap.add_argument("--clients", default="sync,asyncio", help="sync,asyncio")
    args = ap.parse_args()
    vs = variants()
    clients = [c for c in args.clients.split(",") if c]
    best: dict[tuple[str, str], float] = {}
    with server() as srv:
        for _ in range(args.repeat):
            for client in clients:
                for name, (make, ctx) in vs.items():
                    secs = RUNNERS[client](srv.url, args.n, make(), ctx)
                    key = (client, name)
                    best[key] = min(best.get(key, secs), secs)
    print(f"{args.n} publishes of {len(PAYLOAD)} B, best of {args.repeat} rounds")
    print(f"{'client':8} {'variant':10} {'msgs/s':>12} {'ns/publish':>11} {'vs none':>8}")
    for client in clients:
        base = best[(client, "none")]
        for name in vs:
            secs = best[(client, name)]
            print(
                f"{client:8} {name:10} {args.n / secs:12,.0f} {secs / args.n * 1e9:11,.0f} "
                f"{base / secs:8.2f}"
            )


if __name__ == "__main__":
    main()
