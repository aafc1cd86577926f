#!/usr/bin/env python3
"""Memory per queued message, and resident growth receiving 1M (issue #17).

Starts its own nats-server on loopback and runs, for each client (``sync``:
nats_sync; ``asyncio`` and ``trio``: nats_anyio; ``nats-py``) in a fresh
process of its own, two measurements of 16 B messages published by another
process (``python -m pynats.bench --publish-only``, subject ``bench.mem``):

Part 1, bytes per queued message (``--n``, 100,000). tracemalloc is started
before connecting; one subscription WITHOUT a callback (pending limits off, or
above N for nats-py) and one warm-up message; once ``sub.pending_msgs`` is N,
the traced memory grown since the warm-up, divided by N, is what one waiting
message costs (``per queued``). Then all N are read with ``next_msg`` (N exactly,
and nothing more within 0.3 s) and held in a list: the memory freed by dropping
them (less the list) is what the message objects themselves cost (``object``,
traced). Beside it, in brackets, the same by ``sys.getsizeof``: the object (+
its ``__dict__`` if it has one: this over-counts nats-py's dataclass, whose
attribute values live inline until ``__dict__`` is asked for), its payload, and
its subject, reply and headers when not ``None``/empty and not the very object
the next message holds. ``queue +/msg`` = per queued - object: what the queue
and the reader keep per message beyond the messages (a deque slot is ~8.3 B).
``residual``: the traced memory left, against the same start, after the
messages were dropped, a flush and ``gc.collect()``; in brackets what a flush
freed (the reader keeps its last read's messages until it reads again).

Part 2, resident growth receiving ``--million`` (1,000,000) messages with a
callback subscription, as ``pynats bench --memory`` does: VmRSS after the
subscription is flushed, VmHWM (peak RSS) once the callback saw them all (no
tracemalloc). ``peak queued``: the most messages waiting at once
(``sub.max_pending`` for pynats; nats-py keeps no such figure, so its queue
size is sampled in the callback every 256 messages, a lower bound). Growth well
above peak queued x per queued points at messages alive outside the queue
(handled but still referenced) or at the allocator (threads' arenas, buffers).

``--repeat K`` runs each measurement K times (clients interleaved) and shows
the median (range in brackets). ``--lines K`` prints each client's top K
tracemalloc lines of part 1 (what the queued messages are made of).

    python benchmarks/queued_memory.py                       # both parts, once
    python benchmarks/queued_memory.py --repeat 3 --lines 8
    python benchmarks/queued_memory.py --only part1 --n 20000 --clients sync,nats-py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

CLIENTS = ("sync", "asyncio", "trio", "nats-py")
SUBJECT = "bench.mem"  # where `pynats.bench --publish-only` publishes
SIZE = 16


def _kib(field: str) -> int:
    """A /proc/self/status field (VmRSS, VmHWM) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _publisher(url: str, n: int) -> list[str]:
    return [sys.executable, "-m", "pynats.bench", "--publish-only", url, str(n), str(SIZE)]


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def msg_bytes(msg: Any, nxt: Any) -> int:
    """What one received message costs by ``sys.getsizeof`` (see the module docstring)."""
    total = sys.getsizeof(msg) + sys.getsizeof(msg.data)
    if hasattr(msg, "__dict__"):  # nats-py's Msg is a dataclass without slots
        total += sys.getsizeof(msg.__dict__)
    for name in ("subject", "reply", "_headers" if hasattr(msg, "_headers") else "headers"):
        value = getattr(msg, name)
        if value is not None and value != "" and getattr(nxt, name) is not value:
            total += sys.getsizeof(value)
    return total


def _part1_result(r: dict[str, Any], base: int, queued: int, held: list[Any]) -> dict[str, Any]:
    """Fill in the figures of part 1 from the traced memory after subscribing
    (``base``), with all queued (``queued``), and with the read ones ``held``."""
    n, r["read"] = r["n"], len(held)
    with_held, list_size = _traced(), sys.getsizeof(held)
    held.clear()
    after = _traced()
    r["per_msg"] = (queued - base) / n
    r["obj_traced"] = (with_held - after - list_size) / n  # what dropping them freed
    r["overhead"] = r["per_msg"] - r["obj_traced"]
    r["residual"] = after - base
    r["reader_held"] = r.pop("drained") - with_held
    return r


def _top_lines(base: tracemalloc.Snapshot | None, k: int) -> list[str]:
    if base is None:
        return []
    stats = tracemalloc.take_snapshot().compare_to(base, "lineno")
    return [str(s) for s in stats[:k]]


# ------------------------------------------------------------------ part 1


def part1_sync(url: str, n: int, lines: int = 0) -> dict[str, Any]:
    """Bytes per message waiting in a nats_sync subscription's queue."""
    import nats_sync

    tracemalloc.start()
    with nats_sync.connect(url) as nc:
        sub = nc.subscribe(SUBJECT, pending_msgs_limit=-1, pending_bytes_limit=-1)
        subprocess.run(_publisher(url, 1), check=True)  # warm-up: first-use imports, caches
        sub.next_msg(5)
        base = _traced()
        snap = tracemalloc.take_snapshot() if lines else None
        subprocess.run(_publisher(url, n), check=True)
        deadline = time.monotonic() + 60 + n / 5000
        while sub.pending_msgs < n and time.monotonic() < deadline:
            time.sleep(0.01)
        queued, top = _traced(), _top_lines(snap, lines)
        held = [sub.next_msg(), sub.next_msg()]
        r = {"n": n, "obj": msg_bytes(*held), "lines": top, "extra": 0}
        for _ in range(n - 2):
            held.append(sub.next_msg(5))
        try:
            sub.next_msg(0.3)
            r["extra"] = 1
        except TimeoutError:  # NatsTimeoutError
            pass
        r["drained"] = _traced()  # the reader may still hold its last read's messages
        nc.flush()  # it reads the PONG: they are let go
        return _part1_result(r, base, queued, held)


@asynccontextmanager
async def _connect(client: str, url: str) -> AsyncIterator[Any]:
    """A connection of ``client`` (asyncio, trio: nats_anyio; nats-py)."""
    if client == "nats-py":
        import nats

        nc = await nats.connect(url)
        try:
            yield nc
        finally:
            await nc.close()
    else:
        import nats_anyio

        async with nats_anyio.connect(url) as nc:
            yield nc


def _limits(client: str, n: int) -> dict[str, int]:
    if client == "nats-py":  # its queue is an asyncio.Queue(maxsize=pending_msgs_limit)
        return {"pending_msgs_limit": n * 2, "pending_bytes_limit": n * SIZE * 4}
    return {"pending_msgs_limit": -1, "pending_bytes_limit": -1}


async def _part1_async(client: str, url: str, n: int, lines: int) -> dict[str, Any]:
    import anyio

    tracemalloc.start()
    async with _connect(client, url) as nc:
        sub = await nc.subscribe(SUBJECT, **_limits(client, n))
        await anyio.run_process(_publisher(url, 1))  # warm-up: first-use imports, caches
        await sub.next_msg(5)
        await anyio.sleep(0)
        base = _traced()
        snap = tracemalloc.take_snapshot() if lines else None
        await anyio.run_process(_publisher(url, n))
        with anyio.move_on_after(60 + n / 5000):
            while sub.pending_msgs < n:
                await anyio.sleep(0.01)
        queued, top = _traced(), _top_lines(snap, lines)
        held = [await sub.next_msg(), await sub.next_msg()]
        r = {"n": n, "obj": msg_bytes(*held), "lines": top, "extra": 0}
        for _ in range(n - 2):
            held.append(await sub.next_msg(5))
        try:
            await sub.next_msg(0.3)
            r["extra"] = 1
        except TimeoutError:  # both clients' timeout errors are TimeoutErrors
            pass
        r["drained"] = _traced()
        await nc.flush()
        return _part1_result(r, base, queued, held)


# ------------------------------------------------------------------ part 2


def part2_sync(url: str, n: int) -> dict[str, Any]:
    """Peak RSS growth of a nats_sync callback subscription receiving ``n``."""
    import threading

    import nats_sync

    done = threading.Event()
    got = 0

    def on_msg(_msg: object) -> None:
        nonlocal got
        got += 1
        if got == n:
            done.set()

    with nats_sync.connect(url) as nc:
        sub = nc.subscribe(SUBJECT, cb=on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
        nc.flush()
        base = _kib("VmRSS")
        subprocess.run(_publisher(url, n), check=True)
        done.wait(60 + n / 5000)
        peak = sub.max_pending[0]
    return {"n": n, "got": got, "growth_kib": _kib("VmHWM") - base, "peak_queued": peak}


async def _part2_async(client: str, url: str, n: int) -> dict[str, Any]:
    import anyio

    done = anyio.Event()
    got = peak = 0
    sub: Any = None

    def on_msg(_msg: object) -> None:
        nonlocal got, peak
        got += 1
        if got == n:
            done.set()
        elif not got & 255 and sub is not None and sub.pending_msgs > peak:
            peak = sub.pending_msgs

    async def on_msg_async(msg: object) -> None:  # nats-py takes coroutine functions only
        on_msg(msg)

    cb = on_msg_async if client == "nats-py" else on_msg
    async with _connect(client, url) as nc:
        sub = await nc.subscribe(SUBJECT, cb=cb, **_limits(client, n))
        await nc.flush()
        base = _kib("VmRSS")
        await anyio.run_process(_publisher(url, n))
        with anyio.move_on_after(60 + n / 5000):
            await done.wait()
        if client != "nats-py":
            peak = sub.max_pending[0]
    return {"n": n, "got": got, "growth_kib": _kib("VmHWM") - base, "peak_queued": peak}


def worker(part: str, client: str, url: str, n: int, lines: int = 0) -> dict[str, Any]:
    """One measurement, in this process (run it in a fresh one: see :func:`run_worker`)."""
    if client == "sync":
        return part1_sync(url, n, lines) if part == "part1" else part2_sync(url, n)
    if part == "part1":
        coro: Callable[..., Any] = _part1_async
        args: tuple[Any, ...] = (client, url, n, lines)
    else:
        coro, args = _part2_async, (client, url, n)
    if client == "trio":
        import trio

        return trio.run(coro, *args)
    import asyncio

    return asyncio.run(coro(*args))


def run_worker(part: str, client: str, url: str, n: int, lines: int = 0) -> dict[str, Any]:
    """:func:`worker` in a fresh Python process; its result (JSON on the last line)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", part, client, url, str(n)]
    out = subprocess.run(
        [*cmd, str(lines)], check=True, capture_output=True, text=True, timeout=120 + n / 2000
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report


def _fig(values: list[float], fmt: str) -> str:
    mid = fmt.format(statistics.median(values))
    if len(values) == 1 or min(values) == max(values):
        return mid
    return f"{mid} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(results: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace) -> None:
    print(
        f"\n| client | per queued {SIZE} B msg, B (n={args.n:,}) | message object, B: traced "
        "(getsizeof) | queue +B/msg | residual after drain, KiB (+ until the reader's next "
        f"read) | RSS growth, {args.million:,} msgs, MiB | peak queued |\n"
        "|---|---|---|---|---|---|---|"
    )
    for client, parts in results.items():
        p1, p2 = parts.get("part1", []), parts.get("part2", [])
        row = [client] + ["-"] * 6
        if p1:
            row[1] = _fig([r["per_msg"] for r in p1], "{:.1f}")
            row[2] = _fig([r["obj_traced"] for r in p1], "{:.1f}") + f" ({p1[0]['obj']})"
            row[3] = _fig([r["overhead"] for r in p1], "{:+.1f}")
            held = _fig([max(0, r["reader_held"]) / 1024 for r in p1], "{:.0f}")
            row[4] = _fig([r["residual"] / 1024 for r in p1], "{:.1f}") + f" (+{held})"
        if p2:
            row[5] = _fig([r["growth_kib"] / 1024 for r in p2], "{:.1f}")
            row[6] = _fig([r["peak_queued"] for r in p2], "{:,.0f}")
        print("| " + " | ".join(row) + " |")
    for client, parts in results.items():
        for r in parts.get("part1", [])[:1]:
            if r["lines"]:
                print(f"\n{client}: top tracemalloc lines, all queued minus before")
                print("\n".join("    " + line for line in r["lines"]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        part, client, url, n, lines = argv[1:6]
        print(json.dumps(worker(part, client, url, int(n), int(lines))), flush=True)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="messages queued in part 1")
    p.add_argument("--million", type=int, default=1_000_000, help="messages received in part 2")
    p.add_argument("--only", choices=("part1", "part2"), help="run one part")
    p.add_argument("--repeat", type=int, default=1, help="rounds (median and range shown)")
    p.add_argument("--lines", type=int, default=0, help="top tracemalloc lines of part 1")
    p.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset")
    args = p.parse_args(argv)
    from pynats.server import NatsServer

    clients = [c for c in args.clients.split(",") if c]
    parts = [args.only] if args.only else ["part1", "part2"]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {c: {} for c in clients}
    print(f"load average before: {os.getloadavg()}", flush=True)
    with NatsServer() as srv:
        for rnd in range(args.repeat):
            for client in clients:
                for part in parts:
                    n = args.n if part == "part1" else args.million
                    r = run_worker(part, client, srv.url, n, args.lines if rnd == 0 else 0)
                    want = "read" if part == "part1" else "got"
                    if r[want] != n or r.get("extra"):
                        print(f"!! {client} {part}: {r[want]} of {n}, extra {r.get('extra')}")
                    results[client].setdefault(part, []).append(r)
                    r2 = {k: v for k, v in r.items() if k != "lines"}
                    print(f"round {rnd + 1} {client} {part}: {r2}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
