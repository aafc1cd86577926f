#!/usr/bin/env python3
"""Fast-ingest batch publish (nats-server 2.14, ``allow_batched``) beside
``publish_async`` and beside nats-py's ``publish_async`` (issue #19).

Starts one nats-server 2.14 with JetStream (a file store in a temporary
directory, on a free loopback port; stopped at the end, by its own handle),
then runs, each client in its own process, rounds interleaved, N messages of
128 B into a fresh file stream per workload:

- ``fast_100`` / ``fast_500``: ``js.fast_publisher(flow=100 / 500)`` (two
  outstanding acknowledgements, orbit.go's default), N - 1 ``add`` and a
  ``commit``; timed until the commit's final acknowledgement;
- ``async_4096``: ``publish_async`` with at most 4096 in flight, then waiting
  for every acknowledgement (nats-py: its own ``publish_async`` with
  ``publish_async_max_pending=4096`` and ``publish_async_completed()``).

Every workload checks afterwards that the stream holds N messages. It prints
the best of ``--repeat`` rounds in messages/s, and each figure's ratio to
nats-py's ``publish_async``.

    python benchmarks/fast_ingest.py                 # N=50,000, 3 rounds
    python benchmarks/fast_ingest.py --n 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

PAYLOAD = b"x" * 128
CLIENTS = ("sync", "asyncio", "trio", "nats-py")
WORKLOADS = ("fast_100", "fast_500", "async_4096")

Params = dict[str, Any]


def _report(name: str, count: int, seconds: float) -> None:
    print(json.dumps({"name": name, "rate": count / seconds}), flush=True)


def _stream(tag: str, name: str) -> tuple[str, str]:
    return f"FI_{tag}_{name}", f"fi.{tag}.{name}"


def worker_sync(p: Params) -> None:
    import nats_sync

    n, tag = p["n"], p["tag"]
    with nats_sync.connect(p["url"]) as nc:
        js = nc.jetstream(timeout=10.0)
        for name in WORKLOADS:
            stream, subj = _stream(tag, name)
            js.create_stream(name=stream, subjects=[subj], storage="file", allow_batched=True)
            t = time.perf_counter()
            if name.startswith("fast_"):
                pub = js.fast_publisher(flow=int(name[5:]))
                add = pub.add
                for _ in range(n - 1):
                    add(subj, PAYLOAD)
                ack = pub.commit(subj, PAYLOAD)
                assert ack.count == n, ack
            else:
                ajs = nc.jetstream(publish_async_max_pending=4096)
                pa = ajs.publish_async
                for _ in range(n):
                    pa(subj, PAYLOAD)
                if ajs.publish_async_complete(60):
                    raise SystemExit("async publishes failed")
            _report(name, n, time.perf_counter() - t)
            stored = js.stream_info(stream).state.messages
            assert stored == n, (name, stored)
            js.delete_stream(stream)


async def _async_ours(p: Params) -> None:
    import nats_anyio

    n, tag = p["n"], p["tag"]
    async with nats_anyio.connect(p["url"]) as nc:
        js = nc.jetstream(timeout=10.0)
        for name in WORKLOADS:
            stream, subj = _stream(tag, name)
            await js.create_stream(name=stream, subjects=[subj], storage="file", allow_batched=True)
            t = time.perf_counter()
            if name.startswith("fast_"):
                pub = js.fast_publisher(flow=int(name[5:]))
                add = pub.add
                for _ in range(n - 1):
                    await add(subj, PAYLOAD)
                ack = await pub.commit(subj, PAYLOAD)
                assert ack.count == n, ack
            else:
                ajs = nc.jetstream(publish_async_max_pending=4096)
                pa = ajs.publish_async
                for _ in range(n):
                    await pa(subj, PAYLOAD)
                if await ajs.publish_async_complete(60):
                    raise SystemExit("async publishes failed")
            _report(name, n, time.perf_counter() - t)
            stored = (await js.stream_info(stream)).state.messages
            assert stored == n, (name, stored)
            await js.delete_stream(stream)


def worker_asyncio(p: Params) -> None:
    import anyio

    anyio.run(_async_ours, p, backend="asyncio")


def worker_trio(p: Params) -> None:
    import anyio

    anyio.run(_async_ours, p, backend="trio")


async def _natspy(p: Params) -> None:
    import asyncio

    import nats
    from nats.js.api import StorageType

    n, tag = p["n"], p["tag"]
    nc = await nats.connect(p["url"])
    try:
        js = nc.jetstream()
        stream, subj = _stream(tag, "async_4096")
        await js.add_stream(name=stream, subjects=[subj], storage=StorageType.FILE)
        ajs = nc.jetstream(publish_async_max_pending=4096)
        pa = ajs.publish_async
        futs = []
        t = time.perf_counter()
        for _ in range(n):
            futs.append(await pa(subj, PAYLOAD))
        await asyncio.wait_for(ajs.publish_async_completed(), 60)
        _report("async_4096", n, time.perf_counter() - t)
        if any(f.exception() is not None for f in futs):
            raise SystemExit("nats-py async publishes failed")
        stored = (await js.stream_info(stream)).state.messages
        assert stored == n, stored
        await js.delete_stream(stream)
    finally:
        await nc.close()


def worker_natspy(p: Params) -> None:
    import asyncio

    asyncio.run(_natspy(p))


WORKERS = {
    "sync": worker_sync,
    "asyncio": worker_asyncio,
    "trio": worker_trio,
    "nats-py": worker_natspy,
}


def run_worker(client: str, params: Params, timeout: float) -> dict[str, float]:
    """One client's round in a fresh process: {workload: msgs/s}."""
    cmd = [sys.executable, __file__, "--worker", client, "--params", json.dumps(params)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{client} failed:\n{out.stdout}\n{out.stderr}")
    got: dict[str, float] = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            got[row["name"]] = row["rate"]
    return got


def table(best: dict[str, dict[str, float]]) -> str:
    """The best figures, with each one's ratio to nats-py's publish_async."""
    ref = best.get("nats-py", {}).get("async_4096")
    lines = ["| client | workload | msgs/s | vs nats-py publish_async |", "|---|---|---|---|"]
    for client in CLIENTS:
        for name in WORKLOADS:
            rate = best.get(client, {}).get(name)
            if rate is None:
                continue
            ratio = f"{rate / ref:.2f}x" if ref else "-"
            lines.append(f"| {client} | {name} | {rate:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="messages per workload")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (best of)")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--timeout", type=float, default=300.0, help="per worker, seconds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        WORKERS[args.worker](json.loads(args.params))
        return 0

    from pynats.server import NatsServer

    clients = [c for c in args.clients.split(",") if c]
    best: dict[str, dict[str, float]] = {}
    with NatsServer(jetstream=True) as server:
        print(f"nats-server {NatsServer.binary_version()} on {server.url}, N={args.n}")
        for r in range(args.repeat):
            for client in clients:
                tag = f"{client.replace('-', '')}{r}{os.getpid()}"
                params = {"url": server.url, "n": args.n, "tag": tag}
                got = run_worker(client, params, args.timeout)
                print(
                    f"round {r + 1} {client}: " + ", ".join(f"{k} {v:,.0f}" for k, v in got.items())
                )
                row = best.setdefault(client, {})
                for k, v in got.items():
                    row[k] = max(row.get(k, 0.0), v)
    print(table(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
