"""Key-Value buckets against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(The sans-IO parts: tests/test_js_kv.py.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import nats_anyio
from anyio_helpers import uniq
from nats_core.errors import NatsTimeoutError
from nats_core.jetstream import (
    BucketNotFoundError,
    InvalidNameError,
    KeyDeletedError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValueConfig,
    KeyValueOp,
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
