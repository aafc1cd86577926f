"""Key-Value buckets against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(The sans-IO parts: tests/test_js_kv.py.)
"""

from __future__ import annotations

import time
from datetime import timedelta

import anyio
import pytest

import nats_anyio
from anyio_helpers import needs_server, uniq
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import (
    BucketNotFoundError,
    InvalidNameError,
    InvalidOptionError,
    KeyDeletedError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValueConfig,
    KeyValueEntry,
    KeyValueOp,
    MsgTTLDisabledError,
    StreamSource,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


async def test_put_get_update_delete_purge(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_key_value(bucket=bucket, history=5, storage="memory")
    assert kv.bucket == bucket
    r1 = await kv.put("a.b", b"one")
    e = await kv.get("a.b")
    assert (e.key, e.value, e.revision, e.operation) == ("a.b", b"one", r1, KeyValueOp.PUT)
    assert e.created is not None
    r2 = await kv.update("a.b", b"two", r1)
    assert r2 > r1
    with pytest.raises(KeyExistsError):
        await kv.update("a.b", b"stale", r1)
    with pytest.raises(KeyExistsError):
        await kv.create("a.b", b"again")
    assert (await kv.get("a.b", revision=r1)).value == b"one"
    with pytest.raises(KeyNotFoundError):
        await kv.get("missing")
    await kv.delete("a.b")
    with pytest.raises(KeyDeletedError) as deleted:
        await kv.get("a.b")
    assert deleted.value.entry.operation is KeyValueOp.DEL
    r3 = await kv.create("a.b", b"back")  # create over a delete marker
    assert (await kv.get("a.b")).value == b"back"
    hist = await kv.history("a.b")
    assert [(h.value, h.operation) for h in hist] == [
        (b"one", KeyValueOp.PUT),
        (b"two", KeyValueOp.PUT),
        (b"", KeyValueOp.DEL),
        (b"back", KeyValueOp.PUT),
    ]
    assert hist[-1].revision == r3
    await kv.purge("a.b")
    hist = await kv.history("a.b")
    assert [h.operation for h in hist] == [KeyValueOp.PURGE]  # the rollup kept only it
    with pytest.raises(KeyNotFoundError):
        await kv.get("a.b")
    with pytest.raises(KeyNotFoundError):
        await kv.history("never")


async def test_keys_status_and_buckets(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_key_value(KeyValueConfig(bucket, storage="memory"))
    assert await kv.keys() == []
    for k in ("x", "y.1", "y.2"):
        await kv.put(k, k.encode())
    await kv.delete("x")
    assert sorted(await kv.keys()) == ["y.1", "y.2"]
    assert sorted(await kv.keys("y.*")) == ["y.1", "y.2"]
    st = await kv.status()
    assert (st.bucket, st.history, st.values) == (bucket, 1, 3)
    again = await ajs.key_value(bucket)
    assert (await again.get("y.1")).value == b"y.1"
    assert await ajs.delete_key_value(bucket)
    with pytest.raises(BucketNotFoundError):
        await ajs.key_value(bucket)
    with pytest.raises(BucketNotFoundError):
        await ajs.delete_key_value(bucket)


async def test_watch(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(bucket=uniq("B"), history=3, storage="memory")
    await kv.put("k1", b"a")
    await kv.put("k2", b"b")
    await kv.put("k1", b"c")
    async with await kv.watch_all() as w:
        first = [await w.next(2), await w.next(2)]
        assert [(e.key, e.value) for e in first if e] == [("k2", b"b"), ("k1", b"c")]
        assert await w.next(2) is None  # the end of the current values
        await kv.put("k2", b"d")
        await kv.delete("k1")
        e1, e2 = await w.next(2), await w.next(2)
        assert e1 is not None and (e1.key, e1.value) == ("k2", b"d")
        assert e2 is not None and (e2.key, e2.operation) == ("k1", KeyValueOp.DEL)
        with pytest.raises(NatsTimeoutError):
            await w.next(0.3)
    async with await kv.watch("k2", include_history=True, meta_only=True) as w:
        got = []
        while (e := await w.next(2)) is not None:
            got.append(e)
        assert [(e.key, e.value) for e in got] == [("k2", b""), ("k2", b"")]  # values left out
    async with await kv.watch("k9") as w:  # nothing yet: the marker comes first
        assert await w.next(2) is None
    async with await kv.watch_all(updates_only=True) as w:
        await kv.put("k3", b"new")
        e = await w.next(2)
        assert e is not None and (e.key, e.value) == ("k3", b"new")  # no marker


async def test_bucket_round_trip(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_key_value(bucket=bucket, history=2, storage="memory")
    r1 = await kv.create("cfg.port", b"4222")
    assert (await kv.get("cfg.port")).revision == r1
    with pytest.raises(KeyExistsError):
        await kv.create("cfg.port", b"4223")
    await kv.put("cfg.port", b"4223")
    await kv.put("cfg.port", b"4224")
    assert [e.value for e in await kv.history("cfg.port")] == [b"4223", b"4224"]  # history=2
    assert await kv.keys() == ["cfg.port"]
    async with await kv.watch("cfg.>") as w:
        e = await w.next(2)
        assert e is not None and e.value == b"4224" and e.delta == 0
        assert await w.next(2) is None
        await kv.purge("cfg.port")
        e = await w.next(2)
        assert e is not None and e.operation is KeyValueOp.PURGE
    with pytest.raises(KeyDeletedError):
        await kv.get("cfg.port")
    assert (await kv.status()).values == 1
    await ajs.delete_key_value(bucket)
    with pytest.raises(BucketNotFoundError):
        await ajs.key_value(bucket)


async def test_guards_ttl_and_iteration(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_key_value(bucket=bucket, storage="memory", ttl=timedelta(seconds=30))
    ra = await kv.put("a", b"1")
    rb = await kv.put("b", b"2")
    with pytest.raises(KeyNotFoundError):
        await kv.get("a", revision=rb)  # that revision is another key's
    with pytest.raises(KeyExistsError):
        await kv.delete("a", last=rb)
    await kv.delete("a", last=ra)
    st = await kv.status()
    assert st.ttl == timedelta(seconds=30)
    updated = await ajs.update_key_value(bucket=bucket, storage="memory", ttl=60, history=4)
    assert (await updated.status()).history == 4
    with pytest.raises(BucketNotFoundError):
        await ajs.update_key_value(bucket=uniq("B"), storage="memory")
    seen = []
    async with await kv.watch_all(ignore_deletes=True) as w:
        async for e in w:
            seen.append(e)
            if e is None:
                break
    assert [(e.key, e.value) for e in seen if e] == [("b", b"2")] and seen[-1] is None
    with pytest.raises(ValueError, match="pattern"):
        await kv.watch([])
    with pytest.raises(InvalidNameError):
        await kv.put("bad key", b"x")


async def test_purge_deletes_and_bucket_names(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_key_value(bucket=bucket, history=5, storage="memory")
    for v in (b"1", b"2"):
        await kv.put("gone", v)
        await kv.put("kept", v)
    await kv.delete("gone")
    assert (await kv.status()).values == 5
    # A fresh marker keeps only itself; its key's older values go.
    assert await kv.purge_deletes() == 2
    assert [e.operation for e in await kv.history("gone")] == [KeyValueOp.DEL]
    # Negative: every marker goes, and with it the key.
    assert await kv.purge_deletes(older_than=-1) == 1
    with pytest.raises(KeyNotFoundError):
        await kv.history("gone")
    assert [e.value for e in await kv.history("kept")] == [b"1", b"2"]
    names = [n async for n in ajs.key_value_store_names()]
    assert bucket in names
    assert all(not n.startswith("KV_") for n in names)


async def test_bucket_names(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    await ajs.create_key_value(bucket=bucket, storage="memory")
    assert bucket in [n async for n in ajs.key_value_store_names()]


# ------------------------------------------- issue #14: TTLs, markers, watch forms


async def _wait_value(kv: nats_anyio.KeyValue, key: str, want: bytes, timeout: float = 5.0) -> None:
    """Poll ``kv.get(key)`` until its value is ``want`` (a mirror or source lags)."""
    deadline = time.monotonic() + timeout
    got: bytes | None = None
    while True:
        try:
            got = (await kv.get(key)).value
        except KeyNotFoundError:
            got = None
        if got == want:
            return
        assert time.monotonic() < deadline, f"{key!r} is {got!r}, not {want!r}"
        await anyio.sleep(0.05)


@needs_server(2, 11)
async def test_key_ttl_and_limit_markers(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(bucket=uniq("B"), storage="memory", limit_marker_ttl=3)
    st = await kv.status()
    assert st.limit_marker_ttl == timedelta(seconds=3)
    assert st.stream_info.config.allow_msg_ttl
    async with kv.watch_all(updates_only=True) as w:
        rs = await kv.create("short", b"v", ttl=1)
        await kv.put("long", b"x")
        e = await w.next(2)
        assert e is not None and (e.key, e.operation, e.revision) == ("short", KeyValueOp.PUT, rs)
        e = await w.next(2)
        assert e is not None and (e.key, e.operation) == ("long", KeyValueOp.PUT)
        e = await w.next(5)  # the server's MaxAge marker: a purge, not an empty value
        assert e is not None and (e.key, e.operation, e.value) == ("short", KeyValueOp.PURGE, b"")
        assert e.revision > rs
    with pytest.raises(KeyDeletedError) as gone:
        await kv.get("short")
    assert gone.value.entry.operation is KeyValueOp.PURGE
    assert await kv.keys() == ["long"]
    assert [k async for k in kv.list_keys()] == ["long"]
    assert [h.operation for h in await kv.history("short")] == [KeyValueOp.PURGE]
    async with kv.watch_all(ignore_deletes=True) as w:
        assert [e.key for e in await w._initial()] == ["long"]
    assert await kv.create("short", b"again")  # over the marker
    # A purge marker with its own TTL goes, and with it the key.
    rp = await kv.purge("long", ttl=1)
    with pytest.raises(KeyDeletedError):
        await kv.get("long")
    deadline = time.monotonic() + 6
    while rp in [h.revision for h in await _history_or_empty(kv, "long")]:
        assert time.monotonic() < deadline, "the purge marker did not expire"
        await anyio.sleep(0.2)
    with pytest.raises(InvalidOptionError):
        await kv.create("tiny", b"v", ttl=0.5)


async def _history_or_empty(kv: nats_anyio.KeyValue, key: str) -> list[KeyValueEntry]:
    try:
        return await kv.history(key)
    except KeyNotFoundError:
        return []


@needs_server(2, 11)
async def test_limit_markers_on_max_age(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(
        bucket=uniq("B"), storage="memory", ttl=1, limit_marker_ttl=timedelta(seconds=2)
    )
    async with kv.watch("k") as w:
        assert await w.next(2) is None
        r = await kv.put("k", b"v")
        e = await w.next(2)
        assert e is not None and e.revision == r
        e = await w.next(5)
        assert e is not None and (e.key, e.operation) == ("k", KeyValueOp.PURGE)
    with pytest.raises(KeyNotFoundError):
        await kv.get("k")
    assert await kv.keys() == []


@needs_server(2, 11)
async def test_ttl_needs_limit_markers(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(bucket=uniq("B"), storage="memory")
    with pytest.raises(MsgTTLDisabledError):
        await kv.create("k", b"v", ttl=5)
    # Limit markers can be turned on for an existing bucket.
    cfg = (await kv.status()).config
    cfg.limit_marker_ttl = 5
    kv = await ajs.update_key_value(cfg)
    assert (await kv.status()).limit_marker_ttl == timedelta(seconds=5)
    assert await kv.create("k", b"v", ttl=5)


async def test_watch_resume_and_forms(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(bucket=uniq("B"), history=5, storage="memory")
    r1 = await kv.put("a", b"1")
    r2 = await kv.put("b", b"2")
    await kv.put("a", b"3")
    async with kv.watch_all(resume_from_revision=r2) as w:  # no await: async with
        got = []
        while (e := await w.next(2)) is not None:
            got.append((e.key, e.value))
        assert got == [("b", b"2"), ("a", b"3")]
        await kv.put("c", b"4")
        e = await w.next(2)
        assert e is not None and (e.key, e.value) == ("c", b"4")
    w = await kv.watch("a", resume_from_revision=r1)  # awaited: started
    try:
        e1, e2 = await w.next(2), await w.next(2)
        assert e1 is not None and e2 is not None
        assert [(e1.revision, e1.value), (e2.value)] == [(r1, b"1"), b"3"]
        assert await w.next(2) is None
    finally:
        await w.stop()
    lazy = kv.watch("b")  # starts at the first read
    assert "not started" in repr(lazy)
    e = await lazy.next(2)
    assert e is not None and e.value == b"2"
    await lazy.stop()
    unstarted = kv.watch_all()
    await unstarted.stop()
    with pytest.raises(SubscriptionClosedError):
        await unstarted.next(1)
    with pytest.raises(InvalidOptionError):
        kv.watch_all(resume_from_revision=0)


@needs_server(2, 10)
async def test_watch_several_patterns(ajs: nats_anyio.JetStream) -> None:
    kv = await ajs.create_key_value(
        bucket=uniq("B"), storage="memory", compression=True, metadata={"team": "a"}
    )
    st = await kv.status()
    assert st.is_compressed and (st.metadata or {}).get("team") == "a"
    for k in ("a.1", "b.1", "c.1"):
        await kv.put(k, k.encode())
    async with kv.watch(["a.*", "c.>"]) as w:
        assert [e.key for e in await w._initial()] == ["a.1", "c.1"]
    assert sorted(await kv.keys(["a.*", "b.*"])) == ["a.1", "b.1"]
    assert sorted([k async for k in kv.list_keys(["b.*", "c.*"])]) == ["b.1", "c.1"]


async def test_list_keys_stores_and_create_or_update(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("B")
    kv = await ajs.create_or_update_key_value(bucket=bucket, storage="memory")
    for k in ("k1", "k2", "k3"):
        await kv.put(k, b"v")
    assert [k async for k in kv.list_keys()] == ["k1", "k2", "k3"]
    async with kv.list_keys() as lister:
        assert [k async for k in lister] == ["k1", "k2", "k3"]
    lister = kv.list_keys()
    async for k in lister:
        assert k == "k1"
        break
    await lister.stop()
    assert [k async for k in lister] == []
    kv = await ajs.create_or_update_key_value(
        bucket=bucket,
        storage="memory",
        history=3,
        description="d",
    )
    st = await kv.status()
    assert (st.history, st.config.history, st.config.description) == (3, 3, "d")
    assert st.config.bucket == bucket
    stores = {s.bucket: s async for s in ajs.key_value_stores()}
    assert bucket in stores
    assert stores[bucket].values == 3 and stores[bucket].history == 3


@needs_server(2, 10)
async def test_mirror_and_sources(ajs: nats_anyio.JetStream) -> None:
    origin = uniq("O")
    okv = await ajs.create_key_value(bucket=origin, storage="memory", history=2)
    await okv.put("k", b"1")
    mkv = await ajs.create_key_value(
        bucket=uniq("M"), storage="memory", history=2, mirror=StreamSource(name=origin)
    )
    mcfg = (await mkv.status()).stream_info.config
    assert mcfg.mirror is not None and mcfg.mirror.name == "KV_" + origin
    assert mcfg.mirror_direct and not mcfg.subjects
    assert (await mkv.status()).config.mirror == StreamSource(name=origin)
    await _wait_value(mkv, "k", b"1")
    await mkv.put("k", b"2")  # a mirror's writes go to its origin
    # (a direct get of the origin may be answered by the mirror, which may lag: wait)
    await _wait_value(okv, "k", b"2")
    await _wait_value(mkv, "k", b"2")
    async with mkv.watch("k") as w:
        e = await w.next(2)
        assert e is not None and (e.bucket, e.key, e.value) == (mkv.bucket, "k", b"2")
    # A source bucket's keys are copied into this bucket's own subjects.
    sbucket = uniq("S")
    skv = await ajs.create_key_value(
        bucket=sbucket, storage="memory", sources=[StreamSource(name=origin)]
    )
    src = (await skv.status()).stream_info.config.sources
    assert src is not None and src[0].name == "KV_" + origin
    assert src[0].subject_transforms is not None
    assert (src[0].subject_transforms[0].src, src[0].subject_transforms[0].dest) == (
        f"$KV.{origin}.>",
        f"$KV.{sbucket}.>",
    )
    await _wait_value(skv, "k", b"2")
    await skv.put("own", b"x")
    assert sorted(await skv.keys()) == ["k", "own"]
