#!/usr/bin/env python3
"""The layers above the core: JetStream, Key-Value, Object Store, services (issue #17).

Starts one nats-server with JetStream (a file store in a temporary directory, on a
free loopback port; stopped at the end, by its own handle), fills a file stream
with N messages of 128 B and a Key-Value bucket with W keys, then runs, each
client in its own process (pynats blocking, asyncio and Trio, nats-py), rounds
interleaved, the same workloads:

- ``js_pub``: P JetStream publishes of 128 B, each waiting for its ack;
- ``js_async_256`` / ``js_async_4096``: A ``publish_async`` with at most 256 /
  4096 in flight (``publish_async_max_pending``), then waiting for completion;
- ``fetch``: the N messages with ``fetch(500)`` batches, each acked (explicit);
- ``msgs_ack`` / ``msgs_none``: the N messages through ``messages()`` (ack
  explicit, every message acked / ack policy none). nats-py has no
  ``messages()``: its figure is the same ``fetch(500)`` loop, its fastest pull;
- ``kv_put`` / ``kv_get``: K puts of 128 B over 100 keys, then K gets (ops/s);
- ``kv_watch``: a watcher of the W keys, messages/s until the initial values end;
- ``obj_put`` / ``obj_get`` / ``obj_rt``: O puts and gets of a 1 MiB object (MB/s;
  ``obj_rt`` is bytes over the time of put + get), and with ``--big`` of 64 MiB;
- ``svc``: R sequential requests to a service endpoint (ADR-32, the library's
  own service: ``add_service`` / nats-py's ``nats.micro``) on another connection.

It prints a table, the best of ``--repeat`` rounds for each figure, with each
pynats client's ratio to nats-py. Defaults (N=30,000) keep a run of one round near a
minute on the project's 2-core VM and ``--repeat 3`` under four minutes.

    python benchmarks/layers.py                     # 3 rounds, every client
    python benchmarks/layers.py --repeat 1 --only js_async_256,js_async_4096
    python benchmarks/layers.py --n 100000 --big    # the issue's 100k, 64 MiB objects
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

PAYLOAD = b"x" * 128
CONS_STREAM = "LCONS"
WATCH_BUCKET = "LWATCH"
OBJ_SIZE = 1024 * 1024
BIG_SIZE = 64 * 1024 * 1024
BATCH = 500
CLIENTS = ("sync", "asyncio", "trio", "nats-py")
OURS = ("sync", "asyncio", "trio")

WORKLOADS = (
    "js_pub",
    "js_async_256",
    "js_async_4096",
    "fetch",
    "msgs_ack",
    "msgs_none",
    "kv_put",
    "kv_get",
    "kv_watch",
    "obj_put",
    "obj_get",
    "obj_rt",
    "obj64_put",
    "obj64_get",
    "obj64_rt",
    "svc",
)
UNITS = {"obj": "MB/s", "kv_put": "ops/s", "kv_get": "ops/s", "svc": "req/s"}

Params = dict[str, Any]


def _unit(name: str) -> str:
    if name.startswith("obj"):
        return "MB/s"
    return UNITS.get(name, "msgs/s")


def _report(name: str, count: float, seconds: float) -> None:
    print(f"{name} {count / seconds:.1f}", flush=True)


def _wants(p: Params, *names: str) -> bool:
    only = p["only"]
    return not only or any(n in only for n in names)


# ------------------------------------------------------------ blocking client


def worker_sync(p: Params) -> None:
    import nats_sync
    from nats_core.jetstream import ConsumerConfig

    tag = p["tag"]
    with nats_sync.connect(p["url"]) as nc, nats_sync.connect(p["url"]) as sc:
        js = nc.jetstream()
        if _wants(p, "js_pub", "js_async_256", "js_async_4096"):
            subj = f"lpub.{tag}"
            js.create_stream(name=f"LPUB_{tag}", subjects=[subj], storage="file")
            if _wants(p, "js_pub"):
                t = time.perf_counter()
                for _ in range(p["p"]):
                    js.publish(subj, PAYLOAD)
                _report("js_pub", p["p"], time.perf_counter() - t)
            for window in (256, 4096):
                if not _wants(p, f"js_async_{window}"):
                    continue
                ajs = nc.jetstream(publish_async_max_pending=window)
                pa = ajs.publish_async
                t = time.perf_counter()
                for _ in range(p["a"]):
                    pa(subj, PAYLOAD)
                failed = ajs.publish_async_complete(60)
                _report(f"js_async_{window}", p["a"], time.perf_counter() - t)
                if failed:
                    raise SystemExit(f"{failed} async publishes failed")
            js.delete_stream(f"LPUB_{tag}")

        n = p["n"]
        for name, policy in (
            ("fetch", "explicit"),
            ("msgs_ack", "explicit"),
            ("msgs_none", "none"),
        ):
            if not _wants(p, name):
                continue
            c = js.create_consumer(
                CONS_STREAM, ConsumerConfig(name=f"{name}_{tag}", ack_policy=policy)
            )
            got = 0
            t = time.perf_counter()
            if name == "fetch":
                while got < n:
                    for m in c.fetch(BATCH, max_wait=5):
                        m.ack()
                        got += 1
            else:
                with c.messages() as it:
                    for m in it:
                        if policy == "explicit":
                            m.ack()
                        got += 1
                        if got == n:
                            break
            _report(name, n, time.perf_counter() - t)
            js.delete_consumer(CONS_STREAM, f"{name}_{tag}")

        if _wants(p, "kv_put", "kv_get"):
            kv = js.create_key_value(bucket=f"LKV_{tag}")
            keys = [f"k{i}" for i in range(100)]
            k = p["k"]
            t = time.perf_counter()
            for i in range(k):
                kv.put(keys[i % 100], PAYLOAD)
            _report("kv_put", k, time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(k):
                kv.get(keys[i % 100])
            _report("kv_get", k, time.perf_counter() - t)
            js.delete_key_value(f"LKV_{tag}")
        if _wants(p, "kv_watch"):
            wkv = js.key_value(WATCH_BUCKET)
            got = 0
            t = time.perf_counter()
            with wkv.watch(">") as w:
                for e in w:
                    if e is None:
                        break
                    got += 1
            _report("kv_watch", got, time.perf_counter() - t)

        if _wants(p, "obj_put", "obj_get", "obj_rt", "obj64_put", "obj64_get", "obj64_rt"):
            obs = js.create_object_store(bucket=f"LOBJ_{tag}")
            for prefix, size, reps in (("obj", OBJ_SIZE, p["o"]), ("obj64", BIG_SIZE, p["big"])):
                if not reps or not _wants(p, prefix + "_put", prefix + "_get", prefix + "_rt"):
                    continue
                data = os.urandom(size)
                tput = tget = 0.0
                for _ in range(reps):
                    t0 = time.perf_counter()
                    obs.put("o", data)
                    t1 = time.perf_counter()
                    got_data = obs.get("o").data
                    tget += time.perf_counter() - t1
                    tput += t1 - t0
                    if len(got_data) != size:
                        raise SystemExit("object store: short read")
                mb = size * reps / 1e6
                _report(prefix + "_put", mb, tput)
                _report(prefix + "_get", mb, tget)
                _report(prefix + "_rt", mb, tput + tget)
            js.delete_object_store(f"LOBJ_{tag}")

        if _wants(p, "svc"):
            svc = nats_sync.add_service(sc, f"lsvc{tag}", "1.0.0")
            svc.add_endpoint("echo", lambda req: req.respond(b"ok"), subject=f"lsvc.{tag}")
            sc.flush()
            r = p["r"]
            t = time.perf_counter()
            for _ in range(r):
                nc.request(f"lsvc.{tag}", b"hi", timeout=2)
            _report("svc", r, time.perf_counter() - t)
            svc.stop()


# --------------------------------------------------------- async (asyncio/Trio)


async def _async_ours(p: Params) -> None:
    import nats_anyio
    from nats_core.jetstream import ConsumerConfig

    tag = p["tag"]
    async with nats_anyio.connect(p["url"]) as nc, nats_anyio.connect(p["url"]) as sc:
        js = nc.jetstream()
        if _wants(p, "js_pub", "js_async_256", "js_async_4096"):
            subj = f"lpub.{tag}"
            await js.create_stream(name=f"LPUB_{tag}", subjects=[subj], storage="file")
            if _wants(p, "js_pub"):
                t = time.perf_counter()
                for _ in range(p["p"]):
                    await js.publish(subj, PAYLOAD)
                _report("js_pub", p["p"], time.perf_counter() - t)
            for window in (256, 4096):
                if not _wants(p, f"js_async_{window}"):
                    continue
                ajs = nc.jetstream(publish_async_max_pending=window)
                pa = ajs.publish_async
                t = time.perf_counter()
                for _ in range(p["a"]):
                    await pa(subj, PAYLOAD)
                failed = await ajs.publish_async_complete(60)
                _report(f"js_async_{window}", p["a"], time.perf_counter() - t)
                if failed:
                    raise SystemExit(f"{failed} async publishes failed")
            await js.delete_stream(f"LPUB_{tag}")

        n = p["n"]
        for name, policy in (
            ("fetch", "explicit"),
            ("msgs_ack", "explicit"),
            ("msgs_none", "none"),
        ):
            if not _wants(p, name):
                continue
            c = await js.create_consumer(
                CONS_STREAM, ConsumerConfig(name=f"{name}_{tag}", ack_policy=policy)
            )
            got = 0
            t = time.perf_counter()
            if name == "fetch":
                while got < n:
                    for m in await c.fetch(BATCH, max_wait=5):
                        await m.ack()
                        got += 1
            else:
                async with c.messages() as it:
                    async for m in it:
                        if policy == "explicit":
                            await m.ack()
                        got += 1
                        if got == n:
                            break
            _report(name, n, time.perf_counter() - t)
            await js.delete_consumer(CONS_STREAM, f"{name}_{tag}")

        if _wants(p, "kv_put", "kv_get"):
            kv = await js.create_key_value(bucket=f"LKV_{tag}")
            keys = [f"k{i}" for i in range(100)]
            k = p["k"]
            t = time.perf_counter()
            for i in range(k):
                await kv.put(keys[i % 100], PAYLOAD)
            _report("kv_put", k, time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(k):
                await kv.get(keys[i % 100])
            _report("kv_get", k, time.perf_counter() - t)
            await js.delete_key_value(f"LKV_{tag}")
        if _wants(p, "kv_watch"):
            wkv = await js.key_value(WATCH_BUCKET)
            got = 0
            t = time.perf_counter()
            async with wkv.watch(">") as w:
                async for e in w:
                    if e is None:
                        break
                    got += 1
            _report("kv_watch", got, time.perf_counter() - t)

        if _wants(p, "obj_put", "obj_get", "obj_rt", "obj64_put", "obj64_get", "obj64_rt"):
            obs = await js.create_object_store(bucket=f"LOBJ_{tag}")
            for prefix, size, reps in (("obj", OBJ_SIZE, p["o"]), ("obj64", BIG_SIZE, p["big"])):
                if not reps or not _wants(p, prefix + "_put", prefix + "_get", prefix + "_rt"):
                    continue
                data = os.urandom(size)
                tput = tget = 0.0
                for _ in range(reps):
                    t0 = time.perf_counter()
                    await obs.put("o", data)
                    t1 = time.perf_counter()
                    got_data = await (await obs.get("o")).read()
                    tget += time.perf_counter() - t1
                    tput += t1 - t0
                    if len(got_data) != size:
                        raise SystemExit("object store: short read")
                mb = size * reps / 1e6
                _report(prefix + "_put", mb, tput)
                _report(prefix + "_get", mb, tget)
                _report(prefix + "_rt", mb, tput + tget)
            await js.delete_object_store(f"LOBJ_{tag}")

        if _wants(p, "svc"):

            async def echo(req: Any) -> None:
                await req.respond(b"ok")

            svc = await nats_anyio.add_service(sc, f"lsvc{tag}", "1.0.0")
            await svc.add_endpoint("echo", echo, subject=f"lsvc.{tag}")
            await sc.flush()
            r = p["r"]
            t = time.perf_counter()
            for _ in range(r):
                await nc.request(f"lsvc.{tag}", b"hi", timeout=2)
            _report("svc", r, time.perf_counter() - t)
            await svc.stop()


def worker_asyncio(p: Params) -> None:
    import asyncio

    asyncio.run(_async_ours(p))


def worker_trio(p: Params) -> None:
    import trio

    trio.run(_async_ours, p)


# ------------------------------------------------------------------- nats-py


async def _natspy(p: Params) -> None:
    import asyncio

    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType
    from nats.micro import add_service

    tag = p["tag"]
    nc = await nats.connect(p["url"])
    sc = await nats.connect(p["url"])
    js = nc.jetstream()
    if _wants(p, "js_pub", "js_async_256", "js_async_4096"):
        subj = f"lpub.{tag}"
        await js.add_stream(name=f"LPUB_{tag}", subjects=[subj], storage=StorageType.FILE)
        if _wants(p, "js_pub"):
            t = time.perf_counter()
            for _ in range(p["p"]):
                await js.publish(subj, PAYLOAD)
            _report("js_pub", p["p"], time.perf_counter() - t)
        for window in (256, 4096):
            if not _wants(p, f"js_async_{window}"):
                continue
            ajs = nc.jetstream(publish_async_max_pending=window)
            pa = ajs.publish_async
            futs = []
            t = time.perf_counter()
            for _ in range(p["a"]):
                futs.append(await pa(subj, PAYLOAD))
            await asyncio.wait_for(ajs.publish_async_completed(), 60)
            _report(f"js_async_{window}", p["a"], time.perf_counter() - t)
            bad = sum(1 for f in futs if f.exception() is not None)
            if bad:
                raise SystemExit(f"{bad} async publishes failed")
        await js.delete_stream(f"LPUB_{tag}")

    n = p["n"]
    for name, policy in (
        ("fetch", AckPolicy.EXPLICIT),
        ("msgs_ack", AckPolicy.EXPLICIT),
        ("msgs_none", AckPolicy.NONE),
    ):
        if not _wants(p, name):
            continue
        # nats-py has no messages(): every figure is its fetch loop.
        psub = await js.pull_subscribe(
            "lcons.>",
            durable=f"{name}_{tag}",
            stream=CONS_STREAM,
            config=ConsumerConfig(ack_policy=policy),
        )
        got = 0
        t = time.perf_counter()
        while got < n:
            for m in await psub.fetch(BATCH, timeout=5):
                if policy == AckPolicy.EXPLICIT:
                    await m.ack()
                got += 1
        _report(name, n, time.perf_counter() - t)
        await psub.unsubscribe()
        await js.delete_consumer(CONS_STREAM, f"{name}_{tag}")

    if _wants(p, "kv_put", "kv_get"):
        kv = await js.create_key_value(bucket=f"LKV_{tag}")
        keys = [f"k{i}" for i in range(100)]
        k = p["k"]
        t = time.perf_counter()
        for i in range(k):
            await kv.put(keys[i % 100], PAYLOAD)
        _report("kv_put", k, time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(k):
            await kv.get(keys[i % 100])
        _report("kv_get", k, time.perf_counter() - t)
        await js.delete_key_value(f"LKV_{tag}")
    if _wants(p, "kv_watch"):
        wkv = await js.key_value(WATCH_BUCKET)
        got = 0
        t = time.perf_counter()
        w = await wkv.watch(">")
        while True:
            e = await w.updates(timeout=10)
            if e is None:
                break
            got += 1
        _report("kv_watch", got, time.perf_counter() - t)
        await w.stop()

    if _wants(p, "obj_put", "obj_get", "obj_rt", "obj64_put", "obj64_get", "obj64_rt"):
        obs = await js.create_object_store(f"LOBJ_{tag}")
        for prefix, size, reps in (("obj", OBJ_SIZE, p["o"]), ("obj64", BIG_SIZE, p["big"])):
            if not reps or not _wants(p, prefix + "_put", prefix + "_get", prefix + "_rt"):
                continue
            data = os.urandom(size)
            tput = tget = 0.0
            for _ in range(reps):
                t0 = time.perf_counter()
                await obs.put("o", data)
                t1 = time.perf_counter()
                res = await obs.get("o")
                tget += time.perf_counter() - t1
                tput += t1 - t0
                if len(res.data or b"") != size:
                    raise SystemExit("object store: short read")
            mb = size * reps / 1e6
            _report(prefix + "_put", mb, tput)
            _report(prefix + "_get", mb, tget)
            _report(prefix + "_rt", mb, tput + tget)
        await js.delete_object_store(f"LOBJ_{tag}")

    if _wants(p, "svc"):

        async def echo(req: Any) -> None:
            await req.respond(b"ok")

        svc = await add_service(sc, name=f"lsvc{tag}", version="1.0.0")
        await svc.add_endpoint(name="echo", handler=echo, subject=f"lsvc.{tag}")
        await sc.flush()
        r = p["r"]
        t = time.perf_counter()
        for _ in range(r):
            await nc.request(f"lsvc.{tag}", b"hi", timeout=2)
        _report("svc", r, time.perf_counter() - t)
        await svc.stop()
    await nc.close()
    await sc.close()


def worker_natspy(p: Params) -> None:
    import asyncio

    asyncio.run(_natspy(p))


WORKERS: dict[str, Callable[[Params], None]] = {
    "sync": worker_sync,
    "asyncio": worker_asyncio,
    "trio": worker_trio,
    "nats-py": worker_natspy,
}


# -------------------------------------------------------------------- driver


def fill(url: str, n: int, w: int) -> None:
    """The consume stream (``n`` messages of 128 B) and the watched bucket (``w`` keys)."""
    import nats_sync

    with nats_sync.connect(url) as nc:
        js = nc.jetstream()
        js.create_stream(name=CONS_STREAM, subjects=["lcons.>"], storage="file")
        for i in range(n):
            js.publish_async(f"lcons.{i % 16}", PAYLOAD)
        if js.publish_async_complete(120):
            raise SystemExit("filling the consume stream failed")
        js.create_key_value(bucket=WATCH_BUCKET)
        for i in range(w):
            js.publish_async(f"$KV.{WATCH_BUCKET}.k{i}", PAYLOAD)
        if js.publish_async_complete(120):
            raise SystemExit("filling the watched bucket failed")


def run_worker(client: str, params: Params, timeout: float) -> dict[str, float]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", client, json.dumps(params)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  {client}: timed out after {timeout:.0f} s", file=sys.stderr)
        return {}
    if out.returncode:
        print(f"  {client} failed ({out.returncode}):\n{out.stderr[-3000:]}", file=sys.stderr)
    got: dict[str, float] = {}
    for line in out.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name in WORKLOADS:
            got[name] = float(value)
    return got


def table(best: dict[str, dict[str, float]], clients: Sequence[str]) -> str:
    head = ["workload", "unit", *clients]
    ours = [c for c in clients if c in OURS]
    if "nats-py" in clients:
        head += [f"{c}/py" for c in ours]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in WORKLOADS:
        vals = [best.get(c, {}).get(name) for c in clients]
        if all(v is None for v in vals):
            continue
        cells = [name, _unit(name)] + [
            "-" if v is None else (f"{v:,.1f}" if v < 100 else f"{v:,.0f}") for v in vals
        ]
        py = best.get("nats-py", {}).get(name)
        if "nats-py" in clients:
            for c in ours:
                v = best.get(c, {}).get(name)
                cells.append("-" if v is None or not py else f"{v / py:.2f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=30_000, help="messages consumed (default 30000)")
    ap.add_argument("--p", type=int, default=3_000, help="acked JetStream publishes")
    ap.add_argument("--a", type=int, default=30_000, help="async JetStream publishes")
    ap.add_argument("--k", type=int, default=2_000, help="KV puts, then gets")
    ap.add_argument("--w", type=int, default=20_000, help="keys in the watched bucket")
    ap.add_argument("--o", type=int, default=8, help="1 MiB object puts+gets")
    ap.add_argument("--big", type=int, default=0, help="64 MiB object puts+gets (0: none)")
    ap.add_argument("--r", type=int, default=3_000, help="service requests")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (best kept)")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--json", help="write every round's figures to this file")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per client run")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.worker:
        WORKERS[args.worker](json.loads(rest[0]))
        return 0

    from pynats.server import NatsServer

    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    rounds: list[dict[str, dict[str, float]]] = []
    started = time.perf_counter()
    with NatsServer(jetstream=True) as server:
        t = time.perf_counter()
        fill(server.url, args.n, args.w)
        print(f"server {server.url}: filled in {time.perf_counter() - t:.1f} s", flush=True)
        for rnd in range(args.repeat):
            got: dict[str, dict[str, float]] = {}
            for client in clients:
                params: Params = {
                    "url": server.url,
                    "tag": f"{client.replace('-', '')}{rnd}",
                    "only": only,
                    **{k: getattr(args, k) for k in ("n", "p", "a", "k", "w", "o", "big", "r")},
                }
                t = time.perf_counter()
                got[client] = run_worker(client, params, args.timeout)
                print(f"round {rnd + 1} {client}: {time.perf_counter() - t:.1f} s", flush=True)
            rounds.append(got)
    best: dict[str, dict[str, float]] = {}
    for got in rounds:
        for client, figs in got.items():
            for name, v in figs.items():
                b = best.setdefault(client, {})
                b[name] = max(b.get(name, 0.0), v)
    print(
        f"\nbest of {args.repeat} rounds; N={args.n} consumed, P={args.p} acked and A={args.a} "
        f"async publishes, K={args.k} KV ops, W={args.w} watched keys, O={args.o} x 1 MiB"
        + (f", {args.big} x 64 MiB" if args.big else "")
        + f", R={args.r} service requests; {time.perf_counter() - started:.0f} s in all\n"
    )
    print(table(best, clients))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rounds": rounds, "best": best}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
