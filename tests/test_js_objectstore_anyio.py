"""Object Store buckets against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(The sans-IO parts: tests/test_js_objectstore.py.)
"""

from __future__ import annotations

import array
import base64
import hashlib
import io

import pytest

import nats_anyio
from anyio_helpers import uniq
from nats_core.jetstream import (
    BucketNotFoundError,
    DigestMismatchError,
    ObjectNotFoundError,
    ObjectStoreConfig,
    ObjectStoreError,
    StreamSealedError,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


async def test_put_get_replace_delete(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("O")
    obs = await ajs.create_object_store(bucket=bucket, storage="memory")
    blob = bytes(range(256)) * 1500  # 384,000 bytes: 3 chunks of 128 KiB
    info = await obs.put("dir/blob.bin", blob, description="bytes", metadata={"k": "v"})
    assert (info.size, info.chunks) == (len(blob), 3)
    digest = hashlib.sha256(blob).digest()
    assert info.digest == "SHA-256=" + base64.urlsafe_b64encode(digest).decode()
    got = await obs.get("dir/blob.bin")
    assert got.data == blob
    assert (got.info.description, got.info.metadata) == ("bytes", {"k": "v"})
    assert got.info.mtime is not None
    small = await obs.put("dir/blob.bin", io.BytesIO(b"short"), chunk_size=2)  # a file object
    assert (small.chunks, (await obs.get("dir/blob.bin")).data) == (3, b"short")
    st = await obs.status()
    assert st.size < len(blob)  # the old chunks were purged
    empty = await obs.put("empty", b"")
    assert empty.chunks == 0 and (await obs.get("empty")).data == b""
    assert sorted(i.name for i in await obs.list()) == ["dir/blob.bin", "empty"]
    await obs.delete("empty")
    with pytest.raises(ObjectNotFoundError):
        await obs.get("empty")
    assert (await obs.get_info("empty", show_deleted=True)).deleted
    assert [i.name for i in await obs.list()] == ["dir/blob.bin"]
    assert len(await obs.list(show_deleted=True)) == 2
    with pytest.raises(ObjectNotFoundError):
        await obs.get_info("never")
    with pytest.raises(TypeError, match="bytes or a binary file"):
        await obs.put("text", "a str")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        await obs.put("zero", b"x", chunk_size=0)
    with pytest.raises(TypeError, match="not bytes"):
        await obs.put("text", io.StringIO("a text file"))  # type: ignore[arg-type]
    wide = memoryview(array.array("H", range(1000)))  # not bytes-shaped: stored as its bytes
    assert (await obs.put("wide", wide, chunk_size=300)).size == 2000
    assert (await obs.get("wide")).data == wide.tobytes()
    assert bucket in [n async for n in ajs.object_store_names()]


async def test_digest_is_checked_and_seal(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("O")
    obs = await ajs.create_object_store(ObjectStoreConfig(bucket, storage="memory"))
    info = await obs.put("x", b"payload")
    # Chunks that no longer match the metadata (written behind the store's back).
    await ajs.publish(f"$O.{bucket}.C.{info.nuid}", b"tampered")
    await ajs.purge_stream(f"OBJ_{bucket}", subject=f"$O.{bucket}.C.{info.nuid}", keep=1)
    with pytest.raises(DigestMismatchError):
        await obs.get("x")
    assert await obs.list() != []
    st = await obs.seal()
    assert st.sealed
    with pytest.raises(StreamSealedError):
        await obs.put("y", b"no")
    assert await ajs.delete_object_store(bucket)
    with pytest.raises(BucketNotFoundError):
        await ajs.object_store(bucket)


async def test_update_meta_and_watch(ajs: nats_anyio.JetStream) -> None:
    obs = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    async with await obs.watch() as w:
        assert await w.next(2) is None  # nothing stored yet
        await obs.put("a.txt", b"alpha", description="first")
        seen = await w.next(2)
        assert seen is not None and (seen.name, seen.size) == ("a.txt", 5)
        moved = await obs.update_meta("a.txt", new_name="b.txt", metadata={"v": "2"})
        assert (moved.name, moved.description, moved.metadata) == ("b.txt", "first", {"v": "2"})
        seen = await w.next(2)
        assert seen is not None and seen.name == "b.txt"
    assert (await obs.get("b.txt")).data == b"alpha"  # the same chunks under the new name
    with pytest.raises(ObjectNotFoundError):
        await obs.get_info("a.txt")
    await obs.put("c.txt", b"c")
    with pytest.raises(ObjectStoreError, match="exists"):
        await obs.update_meta("b.txt", new_name="c.txt")
    await obs.delete("c.txt")
    async with await obs.watch(ignore_deletes=True) as w:
        assert [i.name for i in await w._initial()] == ["b.txt"]
    async with await obs.watch(include_history=True) as w:
        # Metadata is written with a rollup: one version per object is kept.
        got = [(i.name, i.deleted) for i in await w._initial()]
    assert got == [("b.txt", False), ("c.txt", True)]
    async with await obs.watch(updates_only=True) as w:
        await obs.put("d.txt", b"d")
        seen = await w.next(2)
        assert seen is not None and seen.name == "d.txt"


async def test_links(ajs: nats_anyio.JetStream) -> None:
    src = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    dst = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    target = await src.put("data.bin", b"linked bytes")
    here = await src.add_link("alias", target)
    assert here.link is not None and (here.link.bucket, here.link.name) == (src.bucket, "data.bin")
    assert (await src.get("alias")).data == b"linked bytes"
    await dst.add_link("remote", target)  # a link into another bucket
    assert (await dst.get("remote")).data == b"linked bytes"
    whole = await dst.add_bucket_link("everything", src)
    assert whole.link is not None and whole.link.name is None
    with pytest.raises(ObjectStoreError, match="bucket"):
        await dst.get("everything")
    with pytest.raises(ObjectStoreError, match="link"):
        await dst.add_link("chain", here)  # not to a link
    with pytest.raises(ObjectStoreError, match="exists"):
        await src.add_link("data.bin", target)  # not over an object
    info = await dst.get_info("remote")
    assert info.link is not None and info.size == 0


async def test_round_trip(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("O")
    obs = await ajs.create_object_store(bucket=bucket, storage="memory")
    assert await obs.list() == []
    data = b"z" * 300_000
    await obs.put("big", data, chunk_size=100_000)
    assert (await obs.get("big")).data == data
    again = await ajs.object_store(bucket)
    assert (await again.get_info("big")).chunks == 3
    await again.delete("big")
    with pytest.raises(ObjectNotFoundError):
        await obs.get("big")
    await ajs.delete_object_store(bucket)
