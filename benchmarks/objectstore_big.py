#!/usr/bin/env python3
"""One big object through the Object Store: put then get, memory and throughput.

Starts its own nats-server on loopback with JetStream on a temporary file store
(stopped and deleted at the end) and runs, for each client in a fresh process of
its own, one after the other:

1. connect, create a bucket (file storage); note the resident memory (VmRSS);
2. put ``--size`` bytes (default 1 GiB) as one object in 128 KiB chunks: our
   clients from an iterator of 1 MiB pieces (one random MiB repeated, so the
   input is never held), nats-py from one ``bytes`` (its API takes nothing
   else); the time to put;
3. get it back: our clients iterate the chunks and hash them (the digest is
   checked by the client at the end too), nats-py gets the whole ``bytes``;
   the time to get;
4. the peak growth of the resident memory (VmHWM minus step 1's VmRSS): for
   our clients it must stay under 64 MiB whatever the size; for nats-py it
   holds the object (and the input) at least once;
5. delete the bucket.

``sync`` is ``nats_sync``, ``asyncio`` is ``nats_anyio`` under ``asyncio.run``,
``nats-py`` is nats-py's object store (``js.create_object_store``,
``obs.put(name, data)``, ``obs.get(name)``), on at most ``--natspy-max``
(64 MiB: its get runs at a few MB/s here, so 1 GiB would take minutes).
Throughput is the object's size over the time, in MB/s (10^6 bytes). Every
wait is bounded (``--timeout`` per client); a client that fails or times out
is reported as failed. Linux only (reads /proc/self/status).

    python benchmarks/objectstore_big.py                      # 1 GiB, each client once
    python benchmarks/objectstore_big.py --size 64MiB --clients sync,asyncio
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

CLIENTS = ("sync", "asyncio", "nats-py")
PIECE = 1024 * 1024
CHUNK = 128 * 1024
LIMIT_MIB = 64


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _size(text: str) -> int:
    """``1GiB``, ``64MiB``, ``500MB``, ``1000000`` -> bytes."""
    units = {"gib": 1 << 30, "mib": 1 << 20, "kib": 1 << 10, "gb": 10**9, "mb": 10**6, "kb": 10**3}
    low = text.strip().lower()
    for unit, factor in units.items():
        if low.endswith(unit):
            return int(float(low[: -len(unit)]) * factor)
    return int(low)


def _pieces(size: int, block: bytes) -> Iterator[bytes]:
    left = size
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        left -= len(piece)
        yield piece


def _expected_digest(size: int, block: bytes) -> bytes:
    sha = hashlib.sha256()
    for piece in _pieces(size, block):
        sha.update(piece)
    return sha.digest()


def _figures(size: int, rss0: int, t0: float, t1: float, t2: float, ok: bool) -> dict[str, Any]:
    hwm = _status("VmHWM")
    return {
        "ok": ok,
        "size": size,
        "put_s": t1 - t0,
        "get_s": t2 - t1,
        "put_mb_s": size / (t1 - t0) / 1e6,
        "get_mb_s": size / (t2 - t1) / 1e6,
        "peak_growth_mib": (hwm - rss0) / 1024,
    }


def _run_sync(url: str, size: int, timeout: float) -> dict[str, Any]:
    import nats_sync

    block = os.urandom(PIECE)
    want = _expected_digest(size, block)
    with nats_sync.connect(url) as nc:
        js = nc.jetstream(timeout=timeout)
        obs = js.create_object_store(bucket="big_sync")
        rss0 = _status("VmRSS")
        t0 = time.perf_counter()
        info = obs.put("big", _pieces(size, block), chunk_size=CHUNK)
        t1 = time.perf_counter()
        sha = hashlib.sha256()
        with obs.get("big") as result:
            for chunk in result:
                sha.update(chunk)
        t2 = time.perf_counter()
        out = _figures(size, rss0, t0, t1, t2, sha.digest() == want and info.size == size)
        js.delete_object_store("big_sync")
    return out


def _run_asyncio(url: str, size: int, timeout: float) -> dict[str, Any]:
    import asyncio

    import nats_anyio

    async def main() -> dict[str, Any]:
        block = os.urandom(PIECE)
        want = _expected_digest(size, block)
        async with nats_anyio.connect(url) as nc:
            js = nc.jetstream(timeout=timeout)
            obs = await js.create_object_store(bucket="big_asyncio")
            rss0 = _status("VmRSS")
            t0 = time.perf_counter()
            info = await obs.put("big", _pieces(size, block), chunk_size=CHUNK)
            t1 = time.perf_counter()
            sha = hashlib.sha256()
            async with await obs.get("big") as result:
                async for chunk in result:
                    sha.update(chunk)
            t2 = time.perf_counter()
            ok = sha.digest() == want and info.size == size
            out = _figures(size, rss0, t0, t1, t2, ok)
            await js.delete_object_store("big_asyncio")
        return out

    return asyncio.run(main())


def _run_natspy(url: str, size: int, timeout: float) -> dict[str, Any]:
    import asyncio

    import nats

    async def main() -> dict[str, Any]:
        block = os.urandom(PIECE)
        nc = await nats.connect(url)
        try:
            js = nc.jetstream(timeout=timeout)
            obs = await js.create_object_store(bucket="big_natspy")
            rss0 = _status("VmRSS")
            data = b"".join(_pieces(size, block))  # nats-py puts one bytes object
            t0 = time.perf_counter()
            info = await obs.put("big", data)
            t1 = time.perf_counter()
            got = await obs.get("big")
            t2 = time.perf_counter()
            ok = got.data == data and info.size == size
            del got, data
            out = _figures(size, rss0, t0, t1, t2, ok)
            await js.delete_object_store("big_natspy")
        finally:
            await nc.close()
        return out

    return asyncio.run(main())


RUNS = {"sync": _run_sync, "asyncio": _run_asyncio, "nats-py": _run_natspy}


def measure(client: str, url: str, size: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", client, "--url", url, "--size", str(size)]
    cmd += ["--timeout", str(timeout)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 4 + 60)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timed out"}
    if out.returncode != 0:
        return {"ok": False, "error": out.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1GiB", help="object size (1GiB, 256MiB, 1000000...)")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument(
        "--natspy-max",
        default="64MiB",
        help="nats-py gets at most this size (its get of 64 MiB takes ~16 s here)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per API call and client")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    size = _size(args.size)
    if args.child:
        print(json.dumps(RUNS[args.child](args.url, size, args.timeout)))
        return

    from pynats.server import NatsServer

    clients = [c for c in args.clients.split(",") if c]
    runs: dict[str, dict[str, Any]] = {}
    with NatsServer(jetstream=True) as server:
        print(f"nats-server {server.version} on {server.url}; one object of {size:,} bytes")
        for c in clients:
            n = min(size, _size(args.natspy_max)) if c == "nats-py" else size
            runs[c] = r = measure(c, server.url, n, args.timeout)
            print(f"  {c}: {json.dumps(r)}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)

    print()
    print(f"{'':24}" + "".join(f"{c:>12}" for c in clients))
    for label, key, fmt in (
        ("object, MiB", "size", "{:.0f}"),
        ("put, MB/s", "put_mb_s", "{:.0f}"),
        ("get, MB/s", "get_mb_s", "{:.0f}"),
        ("put, s", "put_s", "{:.1f}"),
        ("get, s", "get_s", "{:.1f}"),
        ("peak RSS growth, MiB", "peak_growth_mib", "{:.1f}"),
    ):
        scale = 1 << 20 if key == "size" else 1
        cells = [
            fmt.format(runs[c][key] / scale) if runs[c].get("ok") else "failed" for c in clients
        ]
        print(f"{label:24}" + "".join(f"{cell:>12}" for cell in cells))
    over = [
        c
        for c in clients
        if c != "nats-py" and runs[c].get("ok") and runs[c]["peak_growth_mib"] >= LIMIT_MIB
    ]
    failed = [c for c in clients if not runs[c].get("ok")]
    if over:
        print(f"peak RSS growth of {LIMIT_MIB} MiB or more: {', '.join(over)}")
    sys.exit(1 if over or failed else 0)


if __name__ == "__main__":
    main()
