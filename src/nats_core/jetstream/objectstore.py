"""Object Store buckets on JetStream (ADR-20), sans-IO: names and subjects, the
bucket's stream configuration, object metadata, the digest, and the errors.

A bucket ``B`` is the stream ``OBJ_B``: an object's bytes are chunks on
``$O.B.C.<nuid>`` and its metadata (JSON) the last message on
``$O.B.M.<base64url(name)>``, written with a rollup so only the newest stays.
The adapters' ``ObjectStore`` classes publish and read with these pieces.

Objects of any size stream through two small state machines: an
:class:`ObjectWriter` cuts whatever pieces it is fed into chunks of one size
(the same chunks however the input is split) and hashes them as they go; an
:class:`ObjectReader` checks the chunks read back, one at a time, against the
metadata (size, chunk count, digest). Neither holds more than one chunk.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import BadPayloadError
from .errors import InvalidNameError, InvalidOptionError, JetStreamError
from .kv import BucketNotFoundError, check_bucket
from .models import DiscardPolicy, StorageType, StoreCompression, StreamConfig, StreamInfo

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "GET_PREFETCH_BYTES",
    "PUT_WINDOW_BYTES",
    "DigestMismatchError",
    "ObjectInfo",
    "ObjectLink",
    "ObjectNotFoundError",
    "ObjectReader",
    "ObjectStoreConfig",
    "ObjectStoreError",
    "ObjectStoreNotFoundError",
    "ObjectStoreStatus",
    "ObjectWriter",
    "chunk_subject",
    "deleted_info",
    "digest_of",
    "meta_subject",
    "obj_stream_config",
    "obj_stream_name",
    "put_window",
    "status_from_info",
]

DEFAULT_CHUNK_SIZE = 128 * 1024
#: The chunk bytes a put keeps in flight (published, not yet acknowledged).
PUT_WINDOW_BYTES = 8 * 1024 * 1024
#: The chunk bytes a get asks the server for ahead of the reader.
GET_PREFETCH_BYTES = 8 * 1024 * 1024
DIGEST_PREFIX = "SHA-256="


class ObjectStoreError(JetStreamError):
    """An Object Store operation failed."""


class ObjectStoreNotFoundError(ObjectStoreError, BucketNotFoundError):
    """The bucket (its ``OBJ_<bucket>`` stream) does not exist.

    Also a :class:`~nats_core.jetstream.kv.BucketNotFoundError` (the class a
    missing Object Store bucket raised before), so ``except BucketNotFoundError``
    catches a missing bucket of either kind.
    """


class ObjectNotFoundError(ObjectStoreError, KeyError):
    """No such object (never put, or deleted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "object not found"


class DigestMismatchError(ObjectStoreError):
    """The bytes read do not match the object's size or SHA-256 digest."""


def obj_stream_name(bucket: str) -> str:
    """The stream behind ``bucket``."""
    return "OBJ_" + bucket


def meta_subject(bucket: str, name: str) -> str:
    """The subject of object ``name``'s metadata (its name in padded base64url)."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"invalid object name {name!r}: a non-empty string")
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def chunk_subject(bucket: str, nuid: str) -> str:
    """The subject of an object's chunks."""
    return f"$O.{bucket}.C.{nuid}"


def digest_of(sha256: Any) -> str:
    """The digest field for a finished ``hashlib.sha256()``."""
    return DIGEST_PREFIX + base64.urlsafe_b64encode(sha256.digest()).decode()


def new_hash() -> Any:
    """A SHA-256 to feed the chunks to."""
    return hashlib.sha256()


@dataclass
class ObjectStoreConfig:
    """A bucket's configuration: ``ttl`` (seconds or a timedelta, 0: for ever),
    ``max_bytes`` (-1: no limit), ``storage`` (``"file"`` or ``"memory"``)."""

    bucket: str
    description: str | None = None
    ttl: timedelta | float = 0
    max_bytes: int = -1
    storage: StorageType | str = StorageType.FILE
    replicas: int = 1
    compression: bool = False
    metadata: dict[str, str] | None = None


def obj_stream_config(cfg: ObjectStoreConfig) -> StreamConfig:
    """The stream configuration of a bucket (ADR-20)."""
    check_bucket(cfg.bucket)
    ttl = cfg.ttl if isinstance(cfg.ttl, timedelta) else timedelta(seconds=cfg.ttl)
    return StreamConfig(
        name=obj_stream_name(cfg.bucket),
        description=cfg.description,
        subjects=[f"$O.{cfg.bucket}.C.>", f"$O.{cfg.bucket}.M.>"],
        max_age=ttl,
        max_bytes=cfg.max_bytes,
        storage=StorageType(cfg.storage),
        num_replicas=cfg.replicas,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        allow_direct=True,
        metadata=cfg.metadata,
        compression=StoreCompression.S2 if cfg.compression else None,
    )


@dataclass(frozen=True)
class ObjectLink:
    """Where a link points: an object (``name``) or a whole bucket (``name`` None)."""

    bucket: str
    name: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The link in an object's ``options``."""
        return (
            {"bucket": self.bucket}
            if self.name is None
            else {
                "bucket": self.bucket,
                "name": self.name,
            }
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ObjectLink:
        """A link from an object's ``options``."""
        return cls(str(raw.get("bucket", "")), raw.get("name") or None)


@dataclass
class ObjectInfo:
    """An object's metadata: ``size`` bytes in ``chunks`` chunks on
    ``$O.<bucket>.C.<nuid>``, their ``digest``; ``mtime`` is when the metadata
    was stored. ``deleted`` objects keep only this."""

    name: str
    bucket: str
    nuid: str = ""
    size: int = 0
    chunks: int = 0
    digest: str = ""
    description: str | None = None
    headers: dict[str, list[str]] | None = None
    metadata: dict[str, str] | None = None
    max_chunk_size: int | None = None
    link: ObjectLink | None = None
    deleted: bool = False
    mtime: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The metadata message's payload."""
        out: dict[str, Any] = dict(self.extra)
        out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.headers:
            out["headers"] = self.headers
        if self.metadata:
            out["metadata"] = self.metadata
        opts: dict[str, Any] = {}
        if self.link is not None:
            opts["link"] = self.link.to_dict()
        if self.max_chunk_size:
            opts["max_chunk_size"] = self.max_chunk_size
        if opts:
            out["options"] = opts
        out.update(
            bucket=self.bucket,
            nuid=self.nuid,
            size=self.size,
            chunks=self.chunks,
            mtime="0001-01-01T00:00:00Z",  # the message's time is the real one
        )
        if self.digest:
            out["digest"] = self.digest
        if self.deleted:
            out["deleted"] = True
        return json.dumps(out, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, mtime: datetime | None = None) -> ObjectInfo:
        """Metadata from its message (``mtime``: the message's time)."""
        try:
            raw = json.loads(data)
        except ValueError as e:
            raise ObjectStoreError(f"object metadata is not JSON: {e}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ObjectStoreError("object metadata without a name")
        known = {
            "name",
            "bucket",
            "nuid",
            "size",
            "chunks",
            "digest",
            "description",
            "headers",
            "metadata",
            "options",
            "deleted",
            "mtime",
        }
        opts = raw.get("options") or {}
        raw_link = opts.get("link") if isinstance(opts, dict) else None
        return cls(
            name=raw["name"],
            bucket=raw.get("bucket", ""),
            nuid=raw.get("nuid", ""),
            size=int(raw.get("size") or 0),
            chunks=int(raw.get("chunks") or 0),
            digest=raw.get("digest") or "",
            description=raw.get("description") or None,
            headers=raw.get("headers") or None,
            metadata=raw.get("metadata") or None,
            max_chunk_size=opts.get("max_chunk_size") if isinstance(opts, dict) else None,
            link=ObjectLink.from_dict(raw_link) if isinstance(raw_link, dict) else None,
            deleted=bool(raw.get("deleted")),
            mtime=mtime,
            extra={k: v for k, v in raw.items() if k not in known},
        )


@dataclass(frozen=True)
class ObjectStoreStatus:
    """A bucket's state: ``size`` in bytes, ``sealed``, ``ttl``, and the stream's info."""

    bucket: str
    description: str | None
    ttl: timedelta
    storage: StorageType | None
    replicas: int
    sealed: bool
    size: int
    stream_info: StreamInfo
    backing_store: str = "JetStream"


def status_from_info(bucket: str, info: StreamInfo) -> ObjectStoreStatus:
    """The status of ``bucket`` from its stream's info."""
    cfg, state = info.config, info.state
    return ObjectStoreStatus(
        bucket=bucket,
        description=cfg.description,
        ttl=cfg.max_age or timedelta(0),
        storage=cfg.storage,
        replicas=cfg.num_replicas or 1,
        sealed=bool(cfg.sealed),
        size=state.bytes if state is not None else 0,
        stream_info=info,
    )


def deleted_info(info: ObjectInfo) -> ObjectInfo:
    """The metadata that marks ``info``'s object deleted (no size, chunks or digest)."""
    return ObjectInfo(
        name=info.name,
        bucket=info.bucket,
        nuid=info.nuid,
        description=info.description,
        headers=info.headers,
        metadata=info.metadata,
        deleted=True,
    )


def put_window(chunk_size: int, window_bytes: int = PUT_WINDOW_BYTES) -> int:
    """How many chunks of ``chunk_size`` a put keeps unacknowledged (at least 2)."""
    return max(2, window_bytes // max(chunk_size, 1))


def _as_bytes_view(data: Any) -> memoryview:
    if isinstance(data, str) or not isinstance(data, bytes | bytearray | memoryview):
        raise BadPayloadError(f"object data must be bytes-like, not {type(data).__name__}")
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


class ObjectWriter:
    """The chunks of an object being put: :meth:`split` takes the input in pieces
    of any size and yields whole chunks of ``chunk_size`` bytes as they fill;
    :meth:`finish` gives the last, shorter one. Every chunk is hashed and
    counted as it is yielded; :meth:`info` is the metadata to store at the end.

    At most one partial chunk is buffered, so the memory is one chunk whatever
    the object's size, and the chunks are the same however the input is split.
    """

    __slots__ = ("_done", "_pending", "_sha", "chunk_size", "chunks", "size")

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise InvalidOptionError(f"chunk_size must be a positive int, not {chunk_size!r}")
        self.chunk_size = chunk_size
        self.size = 0
        """Bytes in the chunks yielded so far."""
        self.chunks = 0
        """Chunks yielded so far."""
        self._sha = new_hash()
        self._pending = bytearray()
        self._done = False

    def _emit(self, chunk: bytes) -> bytes:
        self._sha.update(chunk)
        self.size += len(chunk)
        self.chunks += 1
        return chunk

    def split(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The whole chunks ``data`` completes, lazily (consume the iterator
        before the next call); the rest waits for more input. Any bytes-like
        ``data`` is taken as its raw bytes."""
        if self._done:
            raise ObjectStoreError("the object is finished: no more data")
        view = _as_bytes_view(data)
        return self._split(view)

    def _split(self, view: memoryview) -> Iterator[bytes]:
        size = self.chunk_size
        pos = 0
        pending = self._pending
        if pending:
            take = min(size - len(pending), len(view))
            pending += view[:take]
            pos = take
            if len(pending) < size:
                return
            chunk = bytes(pending)
            pending.clear()
            yield self._emit(chunk)
        end = len(view)
        while end - pos >= size:
            yield self._emit(bytes(view[pos : pos + size]))
            pos += size
        if pos < end:
            pending += view[pos:]

    def finish(self) -> bytes | None:
        """The last chunk (shorter than ``chunk_size``), or ``None`` when the
        input ended on a chunk boundary; after this the writer takes no more."""
        self._done = True
        if not self._pending:
            return None
        chunk = bytes(self._pending)
        self._pending.clear()
        return self._emit(chunk)

    @property
    def digest(self) -> str:
        """The digest field of the bytes yielded so far."""
        return digest_of(self._sha.copy())

    def info(
        self,
        name: str,
        bucket: str,
        nuid: str,
        *,
        description: str | None = None,
        headers: dict[str, list[str]] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """The metadata of the finished object."""
        if not self._done or self._pending:
            raise ObjectStoreError("finish() the object before its metadata")
        return ObjectInfo(
            name=name,
            bucket=bucket,
            nuid=nuid,
            size=self.size,
            chunks=self.chunks,
            digest=self.digest,
            description=description,
            headers=headers,
            metadata=metadata,
            max_chunk_size=self.chunk_size,
        )


class ObjectReader:
    """Checks an object's chunks as they are read: :meth:`on_chunk` for each
    (it raises :class:`DigestMismatchError` as soon as there are more bytes or
    chunks than the metadata says), :attr:`done` once every chunk came, then
    :meth:`finish` compares the size and the SHA-256 digest. A deleted object
    (``show_deleted``) or an empty one has no chunks to read."""

    __slots__ = ("_sha", "chunks", "info", "size")

    def __init__(self, info: ObjectInfo) -> None:
        self.info = info
        self.size = 0
        """Bytes read so far."""
        self.chunks = 0
        """Chunks read so far."""
        self._sha = new_hash()

    @property
    def expected_chunks(self) -> int:
        """How many chunks the object has (none for a deleted object)."""
        return 0 if self.info.deleted else self.info.chunks

    @property
    def done(self) -> bool:
        """Every chunk was read."""
        return self.chunks >= self.expected_chunks

    def prefetch(self, window_bytes: int = GET_PREFETCH_BYTES) -> int:
        """How many chunks to ask for ahead of the reader (at least 2): about
        ``window_bytes`` of them, by the object's chunk size."""
        info = self.info
        chunk = info.max_chunk_size or (
            -(-info.size // info.chunks) if info.chunks else DEFAULT_CHUNK_SIZE
        )
        return max(2, min(window_bytes // max(int(chunk), 1), max(self.expected_chunks, 2)))

    def _mismatch(self, what: str) -> DigestMismatchError:
        info = self.info
        return DigestMismatchError(
            f"object {info.name!r} in {info.bucket!r}: {what}; its metadata says "
            f"{info.size} bytes in {info.chunks} chunks, {info.digest or 'no digest'}"
        )

    def on_chunk(self, data: bytes) -> None:
        """Account for the next chunk read."""
        self._sha.update(data)
        self.size += len(data)
        self.chunks += 1
        if self.chunks > self.expected_chunks or self.size > self.info.size:
            raise self._mismatch(f"read {self.size} bytes in {self.chunks} chunks")

    def finish(self) -> None:
        """Check the whole object once :attr:`done`
        (:class:`DigestMismatchError` when the size or the digest differ)."""
        if self.info.deleted:
            return
        if not self.done:
            raise ObjectStoreError(
                f"object {self.info.name!r}: {self.chunks} of {self.expected_chunks} chunks read"
            )
        got = digest_of(self._sha)
        want = self.info.digest
        if self.size != self.info.size or (want and _digest_bytes(want) != self._sha.digest()):
            raise self._mismatch(f"read {self.size} bytes with digest {got}")


def _digest_bytes(digest: str) -> bytes | None:
    """The SHA-256 in a digest field (``SHA-256=`` and base64url, padded or not)."""
    prefix, sep, value = digest.partition("=")
    if not sep or prefix.upper() != "SHA-256":
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
