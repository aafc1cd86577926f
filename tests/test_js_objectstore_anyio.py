"""Object Store buckets against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(The sans-IO parts: tests/test_js_objectstore.py.)
"""

from __future__ import annotations

import array
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

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
from nats_core.jetstream.objectstore import ObjectInfo, put_window

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
    assert await got.read() == blob and got.data == blob
    assert (got.info.description, got.info.metadata) == ("bytes", {"k": "v"})
    assert got.info.mtime is not None
    small = await obs.put("dir/blob.bin", io.BytesIO(b"short"), chunk_size=2)  # a file object
    assert (small.chunks, await obs.get_bytes("dir/blob.bin")) == (3, b"short")
    st = await obs.status()
    assert st.size < len(blob)  # the old chunks were purged
    empty = await obs.put("empty", b"")
    assert empty.chunks == 0 and await obs.get_bytes("empty") == b""
    assert sorted(i.name for i in await obs.list()) == ["dir/blob.bin", "empty"]
    await obs.delete("empty")
    with pytest.raises(ObjectNotFoundError):
        await obs.get("empty")
    assert (await obs.get_info("empty", show_deleted=True)).deleted
    assert [i.name for i in await obs.list()] == ["dir/blob.bin"]
    assert len(await obs.list(show_deleted=True)) == 2
    with pytest.raises(ObjectNotFoundError):
        await obs.get_info("never")
    with pytest.raises(TypeError, match="bytes, a binary file or an iterator"):
        await obs.put("text", "a str")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        await obs.put("zero", b"x", chunk_size=0)
    with pytest.raises(TypeError, match="not bytes"):
        await obs.put("text", io.StringIO("a text file"))
    wide = memoryview(array.array("H", range(1000)))  # not bytes-shaped: stored as its bytes
    assert (await obs.put("wide", wide, chunk_size=300)).size == 2000
    assert await obs.get_bytes("wide") == wide.tobytes()
    assert bucket in [n async for n in ajs.object_store_names()]


async def test_digest_is_checked_and_seal(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("O")
    obs = await ajs.create_object_store(ObjectStoreConfig(bucket, storage="memory"))
    info = await obs.put("x", b"payload")
    # Chunks that no longer match the metadata (written behind the store's back).
    await ajs.publish(f"$O.{bucket}.C.{info.nuid}", b"tampered")
    await ajs.purge_stream(f"OBJ_{bucket}", subject=f"$O.{bucket}.C.{info.nuid}", keep=1)
    with pytest.raises(DigestMismatchError):
        await obs.get_bytes("x")
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
    assert await obs.get_bytes("b.txt") == b"alpha"  # the same chunks under the new name
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
    assert await src.get_bytes("alias") == b"linked bytes"
    await dst.add_link("remote", target)  # a link into another bucket
    assert await dst.get_bytes("remote") == b"linked bytes"
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
    assert await obs.get_bytes("big") == data
    again = await ajs.object_store(bucket)
    assert (await again.get_info("big")).chunks == 3
    await again.delete("big")
    with pytest.raises(ObjectNotFoundError):
        await obs.get("big")
    await ajs.delete_object_store(bucket)


# ------------------------------------------------------------ any size (#14)

_MIB = 1024 * 1024


def _blob(size: int) -> bytes:
    """``size`` bytes that are not one repeated pattern (a chunk out of place shows)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d" % counter).digest()
        counter += 1
    return bytes(out[:size])


async def test_stream_multi_mib_both_ways(ajs: nats_anyio.JetStream) -> None:
    obs = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    blob = _blob(5 * _MIB + 12_345)
    chunk = 64 * 1024
    in_flight: list[int] = []
    put_seen: list[tuple[int, int | None]] = []

    def put_progress(done: int, total: int | None) -> None:
        put_seen.append((done, total))
        in_flight.append(ajs.publish_async_pending)

    async def pieces() -> AsyncIterator[bytes]:
        # Uneven pieces: the chunks do not depend on how the input is split.
        pos, step = 0, 1
        while pos < len(blob):
            yield blob[pos : pos + step]
            pos += step
            step = step * 7 % 300_001 + 1

    info = await obs.put("big", pieces(), chunk_size=chunk, progress=put_progress)
    assert (info.size, info.chunks) == (len(blob), -(-len(blob) // chunk))
    digest = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).decode()
    assert info.digest == "SHA-256=" + digest
    assert put_seen[-1] == (len(blob), None) and len(put_seen) == info.chunks
    assert max(in_flight) <= put_window(chunk)  # the window bounds the chunks in flight
    assert max(in_flight) > 1  # and more than one is in flight

    got_seen: list[tuple[int, int | None]] = []
    sha = hashlib.sha256()
    sizes = []
    async with await obs.get("big", progress=lambda d, t: got_seen.append((d, t))) as result:
        assert result.info.size == len(blob)
        async for part in result:
            sizes.append(len(part))
            sha.update(part)
    assert sha.digest() == hashlib.sha256(blob).digest()
    assert max(sizes) == chunk and len(sizes) == info.chunks
    assert got_seen[-1] == (len(blob), len(blob)) and len(got_seen) == info.chunks

    # read(n) across chunk boundaries, readinto, then the rest
    async with await obs.get("big") as result:
        head = await result.read(100_000)
        buf = bytearray(70_000)
        assert await result.readinto(buf) == 70_000
        rest = await result.read()
        assert await result.read(10) == b""
    assert head + bytes(buf) + rest == blob
    with pytest.raises(ObjectStoreError, match="not whole"):
        _ = result.data

    # from a file object, and a plain iterator, to a file object
    await obs.put("from-file", io.BytesIO(blob), chunk_size=100_000)
    sink = io.BytesIO()
    async with await obs.get("from-file") as result:
        assert await result.write_to(sink) == len(blob)
    assert sink.getvalue() == blob
    cut = 3 * _MIB
    parts: list[bytes | bytearray] = [blob[:10], b"", blob[10:cut], bytearray(blob[cut:])]
    await obs.put("from-iter", iter(parts))
    assert await obs.get_bytes("from-iter") == blob


async def test_put_from_iterators_and_bad_input(ajs: nats_anyio.JetStream) -> None:
    obs = await ajs.create_object_store(bucket=uniq("O"), storage="memory")

    pieces: list[bytes | bytearray] = [b"ab", bytearray(b"cdef"), b"g"]
    assert (await obs.put("plain", iter(pieces), chunk_size=3)).chunks == 3  # a plain iterator
    assert await obs.get_bytes("plain") == b"abcdefg"

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 300_000  # three chunks published...
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        await obs.put("broken", broken())
    with pytest.raises(ObjectNotFoundError):
        await obs.get_info("broken")
    st = await obs.status()
    assert st.stream_info.state is not None
    # "plain": its chunks and its metadata; nothing of "broken" is left
    assert st.stream_info.state.messages == 4

    async def texts() -> AsyncIterator[bytes]:
        yield "text"  # type: ignore[misc]

    with pytest.raises(TypeError, match="not bytes"):
        await obs.put("text", texts())
    with pytest.raises(TypeError, match="iterator of bytes"):
        await obs.put("num", 42)  # type: ignore[arg-type]


async def test_corrupted_digest_raises_at_the_end(
    ajs: nats_anyio.JetStream,
    tmp_path: Path,
) -> None:
    bucket = uniq("O")
    obs = await ajs.create_object_store(bucket=bucket, storage="memory")
    blob = _blob(1_000_000)
    info = await obs.put("x", blob)
    wrong = ObjectInfo.from_json(info.to_json())
    wrong.digest = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(b"other").digest()).decode()
    await ajs.publish(f"$O.{bucket}.M.eA==", wrong.to_json(), headers={"Nats-Rollup": "sub"})
    got = 0
    result = await obs.get("x")
    with pytest.raises(DigestMismatchError, match="digest"):
        async for part in result:
            got += len(part)
    await result.close()
    assert 0 < got < len(blob)  # the chunks before the last came; the last raised
    with pytest.raises(DigestMismatchError):
        await obs.get_bytes("x")
    out = tmp_path / "x.bin"
    with pytest.raises(DigestMismatchError):
        await obs.get_file("x", out)
    assert not out.exists()  # a file that failed its check is removed


async def test_show_deleted(ajs: nats_anyio.JetStream) -> None:
    obs = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    await obs.put("gone", b"x" * 1000, description="was here")
    await obs.delete("gone")
    with pytest.raises(ObjectNotFoundError):
        await obs.get("gone")
    async with await obs.get("gone", show_deleted=True) as result:
        assert result.info.deleted and result.info.description == "was here"
        assert await result.read() == b""
    assert await obs.get_bytes("gone", show_deleted=True) == b""


async def test_put_file_get_file(ajs: nats_anyio.JetStream, tmp_path: Path) -> None:
    obs = await ajs.create_object_store(bucket=uniq("O"), storage="memory")
    blob = _blob(2 * _MIB + 3)
    src = tmp_path / "in.bin"
    src.write_bytes(blob)
    seen: list[tuple[int, int | None]] = []
    info = await obs.put_file(src, progress=lambda d, t: seen.append((d, t)))
    assert info.name == str(src) and info.size == len(blob)
    assert seen[-1] == (len(blob), len(blob))  # a file's size is known
    named = await obs.put_file(str(src), "named.bin", description="a file", chunk_size=_MIB)
    assert (named.name, named.chunks, named.description) == ("named.bin", 3, "a file")
    out = tmp_path / "out.bin"
    got = await obs.get_file("named.bin", out)
    assert got.size == len(blob) and out.read_bytes() == blob
    await obs.get_file(str(src), str(out))  # replaces the file
    assert out.read_bytes() == blob
    with pytest.raises(ObjectNotFoundError):
        await obs.get_file("missing", tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


async def test_update_and_list_object_stores(ajs: nats_anyio.JetStream) -> None:
    bucket = uniq("O")
    with pytest.raises(BucketNotFoundError):
        await ajs.update_object_store(bucket=bucket, storage="memory")
    obs = await ajs.create_or_update_object_store(bucket=bucket, storage="memory")
    assert (await obs.status()).description is None
    await obs.put("kept", b"kept bytes")
    again = await ajs.create_or_update_object_store(
        bucket=bucket,
        storage="memory",
        description="second",
    )
    assert (await again.status()).description == "second"
    upd = await ajs.update_object_store(
        ObjectStoreConfig(bucket, description="third", storage="memory", max_bytes=10 * _MIB)
    )
    st = await upd.status()
    assert (st.description, st.stream_info.config.max_bytes) == ("third", 10 * _MIB)
    assert await upd.get_bytes("kept") == b"kept bytes"
    statuses = [s async for s in ajs.object_stores()]
    mine = [s for s in statuses if s.bucket == bucket]
    assert len(mine) == 1 and mine[0].description == "third" and mine[0].size > 0
    assert all(s.stream_info.config.name == "OBJ_" + s.bucket for s in statuses)
