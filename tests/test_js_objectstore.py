"""Object Store buckets, sans-IO: names, the bucket's stream, object metadata,
and the chunking and checks of streamed puts and gets.
(Against a real nats-server: tests/test_js_objectstore_anyio.py, and
tests/test_js_objectstore_sync.py generated from it.)"""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core.jetstream import (
    DigestMismatchError,
    InvalidNameError,
    ObjectInfo,
    ObjectStoreConfig,
    ObjectStoreError,
)
from nats_core.jetstream.objectstore import (
    ObjectReader,
    ObjectWriter,
    deleted_info,
    meta_subject,
    obj_stream_config,
    put_window,
)

# ------------------------------------------------------------------ sans-IO


def test_names_config_and_metadata() -> None:
    sc = obj_stream_config(ObjectStoreConfig("files", ttl=60, storage="memory"))
    assert sc.name == "OBJ_files"
    assert sc.subjects == ["$O.files.C.>", "$O.files.M.>"]
    assert sc.max_age == timedelta(seconds=60)
    assert sc.allow_rollup_hdrs and sc.allow_direct
    assert meta_subject("files", "a/b c.txt") == "$O.files.M.YS9iIGMudHh0"
    assert meta_subject("files", "ab") == "$O.files.M.YWI="  # padded, as nats.go
    with pytest.raises(InvalidNameError):
        meta_subject("files", "")
    info = ObjectInfo("n", "files", "NUID", 3, 1, "SHA-256=x", metadata={"k": "v"})
    back = ObjectInfo.from_json(info.to_json())
    assert (back.name, back.nuid, back.size, back.chunks, back.metadata) == (
        "n",
        "NUID",
        3,
        1,
        {"k": "v"},
    )


# ------------------------------------------------- streaming put and get (#14)


def _put(
    pieces: list[bytes] | list[memoryview], chunk_size: int
) -> tuple[list[bytes], ObjectWriter]:
    writer = ObjectWriter(chunk_size)
    chunks = [c for piece in pieces for c in writer.split(piece)]
    last = writer.finish()
    if last is not None:
        chunks.append(last)
    return chunks, writer


@given(st.binary(max_size=3000), st.integers(1, 700), st.lists(st.integers(0, 3000)))
def test_writer_chunks_do_not_depend_on_the_split(data: bytes, size: int, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    chunks, writer = _put(pieces, size)
    assert chunks == [data[i : i + size] for i in range(0, len(data), size)]
    assert (writer.size, writer.chunks) == (len(data), len(chunks))
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
    info = writer.info("n", "b", "NUID", description="d")
    assert (info.digest, info.size, info.chunks, info.max_chunk_size) == (
        "SHA-256=" + digest,
        len(data),
        len(chunks),
        size,
    )
    reader = ObjectReader(info)
    for chunk in chunks:
        assert not reader.done
        reader.on_chunk(chunk)
    assert reader.done
    reader.finish()


def test_writer_rules() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        ObjectWriter(0)
    with pytest.raises(ValueError, match="chunk_size"):
        ObjectWriter(True)
    writer = ObjectWriter(4)
    with pytest.raises(TypeError, match="bytes-like"):
        list(writer.split("text"))  # type: ignore[arg-type]
    assert list(writer.split(b"abc")) == []  # held: one partial chunk at most
    with pytest.raises(ObjectStoreError, match="finish"):
        writer.info("n", "b", "N")
    assert writer.finish() == b"abc"
    with pytest.raises(ObjectStoreError, match="finished"):
        writer.split(b"more")
    wide = memoryview(bytes(range(8))).cast("H")  # any bytes-like: its raw bytes
    assert _put([wide], 3)[0] == [b"\x00\x01\x02", b"\x03\x04\x05", b"\x06\x07"]
    empty, w = _put([], 5)
    assert empty == [] and w.info("e", "b", "N").chunks == 0
    assert put_window(128 * 1024) == 64 and put_window(1 << 30) == 2


def test_reader_checks_size_count_and_digest() -> None:
    chunks, writer = _put([b"0123456789"], 4)
    info = writer.info("n", "b", "N")
    too_many = ObjectReader(info)
    for chunk in chunks:
        too_many.on_chunk(chunk)
    with pytest.raises(DigestMismatchError, match="read 11 bytes"):
        too_many.on_chunk(b"x")
    bad = ObjectReader(info)
    for chunk in [b"0123", b"4567", b"8X"]:
        bad.on_chunk(chunk)
    with pytest.raises(DigestMismatchError, match="digest"):
        bad.finish()
    short = ObjectReader(info)
    short.on_chunk(b"0123")
    with pytest.raises(ObjectStoreError, match="1 of 3 chunks"):
        short.finish()
    # an unpadded digest (another client's spelling) is the same digest
    unpadded = ObjectReader(ObjectInfo.from_json(info.to_json()))
    unpadded.info.digest = unpadded.info.digest.rstrip("=")
    for chunk in chunks:
        unpadded.on_chunk(chunk)
    unpadded.finish()
    # a deleted object has nothing to read
    gone = ObjectReader(deleted_info(info))
    assert gone.done and gone.expected_chunks == 0
    gone.finish()
    assert deleted_info(info).to_json().count(b'"deleted":true') == 1
    # read ahead: about 8 MiB of chunks, at least 2, at most the object's
    assert ObjectReader(info).prefetch() == 3
    big = ObjectInfo("n", "b", "N", size=1 << 30, chunks=8192, max_chunk_size=128 * 1024)
    assert ObjectReader(big).prefetch() == 64
    nats_go = ObjectInfo("n", "b", "N", size=10 << 20, chunks=80)  # no max_chunk_size
    assert ObjectReader(nats_go).prefetch() == 64
