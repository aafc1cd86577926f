"""The worker processes of ``pynats bench layers`` (see :mod:`pynats.bench_layers`).

Each worker runs the layer workloads on one client (pynats blocking, asyncio or
Trio, or nats-py) against the server at ``url`` and prints one ``NAME VALUE``
line per figure on stdout, which the runner reads. The runner starts them as
``python -m pynats.bench_layers --worker CLIENT PARAMS_JSON``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

__all__ = ["CLIENTS", "OURS", "WORKERS", "WORKLOADS", "fill", "unit"]

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


def unit(name: str) -> str:
    """The unit of a workload's figure: ``MB/s``, ``ops/s``, ``req/s`` or ``msgs/s``."""
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
    """The workloads on the blocking client (:mod:`nats_sync`)."""
    import nats_sync
    from nats_core.jetstream import AckPolicy, ConsumerConfig

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
                CONS_STREAM, ConsumerConfig(name=f"{name}_{tag}", ack_policy=AckPolicy(policy))
            )
            got = 0
            t = time.perf_counter()
            if name == "fetch":
                while got < n:
                    for m in c.fetch(min(BATCH, n - got), max_wait=5):
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
            nc.request(f"lsvc.{tag}", b"hi", timeout=2)  # warm-up, as for every client
            r = p["r"]
            t = time.perf_counter()
            for _ in range(r):
                nc.request(f"lsvc.{tag}", b"hi", timeout=2)
            _report("svc", r, time.perf_counter() - t)
            svc.stop()


# --------------------------------------------------------- async (asyncio/Trio)


async def _async_ours(p: Params) -> None:
    import nats_anyio
    from nats_core.jetstream import AckPolicy, ConsumerConfig

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
                CONS_STREAM, ConsumerConfig(name=f"{name}_{tag}", ack_policy=AckPolicy(policy))
            )
            got = 0
            t = time.perf_counter()
            if name == "fetch":
                while got < n:
                    for m in await c.fetch(min(BATCH, n - got), max_wait=5):
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
            await nc.request(f"lsvc.{tag}", b"hi", timeout=2)  # warm-up, as for every client
            r = p["r"]
            t = time.perf_counter()
            for _ in range(r):
                await nc.request(f"lsvc.{tag}", b"hi", timeout=2)
            _report("svc", r, time.perf_counter() - t)
            await svc.stop()


def worker_asyncio(p: Params) -> None:
    """The workloads on :mod:`nats_anyio` under asyncio."""
    import asyncio

    asyncio.run(_async_ours(p))


def worker_trio(p: Params) -> None:
    """The workloads on :mod:`nats_anyio` under Trio."""
    import trio

    trio.run(_async_ours, p)


# ------------------------------------------------------------------- nats-py


async def _natspy(p: Params) -> None:
    import asyncio

    import nats
    from nats.errors import NoRespondersError
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
            for m in await psub.fetch(min(BATCH, n - got), timeout=5):
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
        w: Any = await wkv.watch(">")  # nats-py: untyped
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
        # Warm-up, as for every client; nats-py's endpoint has been seen to answer
        # "no responders" to a first request right after the flush (on a loaded VM).
        for attempt in range(20):
            try:
                await nc.request(f"lsvc.{tag}", b"hi", timeout=2)
                break
            except NoRespondersError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.1)
        r = p["r"]
        t = time.perf_counter()
        for _ in range(r):
            await nc.request(f"lsvc.{tag}", b"hi", timeout=2)
        _report("svc", r, time.perf_counter() - t)
        await svc.stop()
    await nc.close()
    await sc.close()


def worker_natspy(p: Params) -> None:
    """The workloads on nats-py (``nats``), under asyncio."""
    import asyncio

    asyncio.run(_natspy(p))


WORKERS: dict[str, Callable[[Params], None]] = {
    "sync": worker_sync,
    "asyncio": worker_asyncio,
    "trio": worker_trio,
    "nats-py": worker_natspy,
}


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
