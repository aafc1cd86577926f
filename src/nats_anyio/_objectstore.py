"""Object Store buckets (ADR-20) for the async client: put, get, info, delete,
list, status and seal, on the JetStream layer.

Objects of any size stream both ways: :meth:`ObjectStore.put` takes bytes, a
binary file, or an iterator of bytes and publishes the chunks with a window
of async publishes in flight; :meth:`ObjectStore.get` returns an
:class:`ObjectResult` that reads the chunks as the ordered consumer brings
them, checking the size and digest at the end.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
Names, the bucket's stream, metadata, chunking and digests come from
``nats_core.jetstream.objectstore``; what differs per flavour (waiting for an
ack, files) from ``._objectstore_io``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from nats_core import HeadersInput
from nats_core.errors import BadPayloadError
from nats_core.jetstream.errors import MsgNotFoundError
from nats_core.jetstream.kv import ROLLUP
from nats_core.jetstream.models import PubAck, StreamInfo
from nats_core.jetstream.objectstore import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    ObjectLink,
    ObjectNotFoundError,
    ObjectReader,
    ObjectStoreError,
    ObjectStoreStatus,
    ObjectWriter,
    chunk_subject,
    deleted_info,
    meta_subject,
    obj_stream_name,
    put_window,
    status_from_info,
)

from ._compat import Future, call_maybe_async
from ._kv import Bucket, BucketContext, Watcher, _never
from ._objectstore_io import (
    file_size,
    open_read,
    open_write,
    read_all_now,
    read_some,
    remove_file,
    wait_ack,
    write_some,
)

if TYPE_CHECKING:
    from ._msg import Msg

__all__ = ["ObjectData", "ObjectResult", "ObjectStore", "ObjectStoreContext", "Progress"]

log = logging.getLogger(__name__)

_ROLLUP_SUBJECT = {ROLLUP: "sub"}

Progress = Callable[[int, "int | None"], object]
"""``progress(bytes_done, total)``: called after each chunk a put publishes or a
get reads; ``total`` is the object's size (``None`` for a put whose size is
not known in advance: a file object or an iterator). May be async in the
async client."""


class _Chunks(Protocol):
    """The ordered consumer's message iterator, as a result reads it."""

    async def next(self, timeout: float | None = None) -> Msg: ...

    async def stop(self) -> None: ...


class Readable(Protocol):
    """A binary file-like object: ``read(n)`` gives up to ``n`` bytes, ``b""`` at
    the end (in the async client ``read`` may be a coroutine, as anyio's files)."""

    def read(self, n: int, /) -> Any: ...


BytesLike = bytes | bytearray | memoryview

ObjectData = BytesLike | BinaryIO | Readable | Iterable[BytesLike] | AsyncIterable[BytesLike]
"""What :meth:`ObjectStore.put` stores: bytes, a binary file read to its end, or
an iterator of bytes (an async one too in the async client)."""

_BYTES = (bytes, bytearray, memoryview)


def _info_of(msg: Msg) -> ObjectInfo:
    return ObjectInfo.from_json(msg.data, msg.metadata.timestamp)


def _is_deleted(info: ObjectInfo) -> bool:
    return info.deleted


class ObjectResult:
    """An object being read, from :meth:`ObjectStore.get`: its metadata
    (:attr:`info`) and its bytes, chunk by chunk as they come.

    Iterate it (``async for chunk in result``), :meth:`read` it (``read(n)``, or
    ``read()`` for the rest), :meth:`readinto` a buffer or :meth:`write_to` a
    file. Only the chunks asked for ahead are held, whatever the object's size.
    The size and the SHA-256 digest are checked when the last chunk comes:
    :class:`~nats_core.jetstream.objectstore.DigestMismatchError` instead of it
    when they differ. Use it as ``async with await store.get(name) as result:``
    or :meth:`close` it when not read to the end (reading to the end closes it).
    """

    def __init__(self, store: ObjectStore, info: ObjectInfo, progress: Progress | None) -> None:
        self.info = info
        """The object's metadata (a link's target's, when ``get`` followed a link)."""
        self._store = store
        self._check = ObjectReader(info)
        self._progress = progress
        self._it: _Chunks | None = None
        self._buf = b""  # the unread rest of the current chunk, from _pos
        self._pos = 0
        self._data: bytes | None = None
        self._started = False  # some bytes were handed out
        self._closed = False
        self._eof = False

    def __repr__(self) -> str:
        return f"<ObjectResult {self.info.name!r} {self._check.size}/{self.info.size} bytes>"

    @property
    def bytes_read(self) -> int:
        """Bytes received so far."""
        return self._check.size

    @property
    def data(self) -> bytes:
        """The whole object's bytes (kept once read with :meth:`read`). In the
        blocking client an unread result is read here; in the async client
        ``await result.read()`` first."""
        if self._data is None:
            if self._started:
                raise ObjectStoreError("part of the object was read already: .data is not whole")
            self._data = read_all_now(self)
        return self._data

    async def _next_chunk(self) -> bytes | None:
        """The next chunk, or ``None`` at the end (after the digest check)."""
        check = self._check
        if self._eof or check.done:
            if not self._eof:
                check.finish()  # an object without chunks (empty, deleted)
                self._eof = True
                await self.close()
            return None
        if self._closed:
            raise ObjectStoreError(f"the result of {self.info.name!r} was closed")
        store = self._store
        try:
            if self._it is None:
                oc = await store._js.ordered_consumer(
                    store._stream, filter_subjects=chunk_subject(store.bucket, self.info.nuid)
                )
                self._it = oc.messages(max_messages=check.prefetch())
            msg = await self._it.next(store._js.timeout)
            chunk = msg.data
            check.on_chunk(chunk)
            if check.done:
                check.finish()
                self._eof = True
                await self.close()
        except BaseException:
            await self.close()
            raise
        if self._progress is not None:
            await call_maybe_async(self._progress, check.size, self.info.size)
        return chunk

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (fewer only at the end: ``b""`` there); with no
        ``n`` (or a negative one), the rest of the object."""
        if n is None or n < 0:
            whole = not self._started
            parts = [self._buf[self._pos :]] if self._pos < len(self._buf) else []
            self._buf, self._pos = b"", 0
            self._started = True
            while True:
                chunk = await self._next_chunk()
                if chunk is None:
                    break
                parts.append(chunk)
            data = b"".join(parts)
            if whole:
                self._data = data
            return data
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._buf):
                chunk = await self._next_chunk()
                if chunk is None:
                    break
                if not out and len(chunk) == n:
                    self._started = True
                    return chunk
                self._buf, self._pos = chunk, 0
            take = min(n - len(out), len(self._buf) - self._pos)
            out += self._buf[self._pos : self._pos + take]
            self._pos += take
        self._started = self._started or bool(out)
        return bytes(out)

    async def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read into ``buffer`` (as many bytes as fit, fewer only at the end);
        return how many."""
        view = memoryview(buffer).cast("B")
        got = await self.read(len(view))
        view[: len(got)] = got
        return len(got)

    async def write_to(self, file: Any) -> int:
        """Write the rest of the object to ``file`` (anything with a binary
        ``write``; an async one too in the async client), chunk by chunk;
        return the bytes written."""
        written = 0
        async for chunk in self:
            await write_some(file, chunk)
            written += len(chunk)
        return written

    async def close(self) -> None:
        """Stop reading (the chunks asked for ahead are dropped)."""
        self._closed = True
        it, self._it = self._it, None
        if it is not None:
            await it.stop()

    def __aiter__(self) -> ObjectResult:
        return self

    async def __anext__(self) -> bytes:
        if self._pos < len(self._buf):
            rest, self._buf, self._pos = self._buf[self._pos :], b"", 0
            return rest
        chunk = await self._next_chunk()
        if chunk is None:
            raise StopAsyncIteration
        self._started = True
        return chunk

    async def __aenter__(self) -> ObjectResult:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class ObjectStoreContext(BucketContext, Protocol):
    """The calls an Object Store makes on its JetStream context: a bucket's,
    async publishes for the chunks, and opening the bucket a link points to."""

    async def object_store(self, bucket: str) -> ObjectStore: ...

    async def publish_async(
        self, subject: str, data: bytes = b"", *, headers: HeadersInput | None = None
    ) -> Future[PubAck]: ...


class ObjectStore(Bucket):
    """An Object Store bucket; from :meth:`JetStream.create_object_store` or
    :meth:`JetStream.object_store`."""

    _js: ObjectStoreContext

    def __init__(self, js: ObjectStoreContext, bucket: str, info: StreamInfo | None = None) -> None:
        super().__init__(js, bucket, obj_stream_name(bucket), info)

    async def put(
        self,
        name: str,
        data: ObjectData,
        *,
        description: str | None = None,
        headers: dict[str, list[str]] | None = None,
        metadata: dict[str, str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Store ``data`` as ``name``, in chunks of ``chunk_size`` bytes: bytes, a
        binary file read to its end (``read(n)``), or an iterator of bytes (an
        async iterator too in the async client). An object of that name is
        replaced (its old chunks purged once the new metadata is stored).

        The chunks go out as async publishes, a window of them (8 MiB) awaiting
        their acks, so the memory stays bounded whatever the object's size;
        the digest is computed as they go. When the put fails, the chunks it
        stored are purged. ``progress(bytes_done, total)`` is called after
        each chunk (``total``: ``None`` unless ``data`` is bytes).
        """
        total = len(memoryview(data).cast("B")) if isinstance(data, _BYTES) else None
        return await self._put(
            name,
            data,
            description,
            headers,
            metadata,
            chunk_size,
            progress,
            total,
        )

    async def put_file(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        description: str | None = None,
        headers: dict[str, list[str]] | None = None,
        metadata: dict[str, str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Store the file at ``path`` as ``name`` (default: ``path`` as given), as
        :meth:`put` does; ``progress`` gets the file's size as ``total``."""
        total = await file_size(path)
        async with await open_read(path) as file:
            return await self._put(
                os.fspath(path) if name is None else name,
                file,
                description,
                headers,
                metadata,
                chunk_size,
                progress,
                total,
            )

    async def _put(
        self,
        name: str,
        data: ObjectData,
        description: str | None,
        headers: dict[str, list[str]] | None,
        metadata: dict[str, str] | None,
        chunk_size: int,
        progress: Progress | None,
        total: int | None,
    ) -> ObjectInfo:
        writer = ObjectWriter(chunk_size)
        source: Any = data
        if isinstance(source, str) or not (
            isinstance(source, _BYTES)
            or hasattr(source, "read")
            or hasattr(source, "__aiter__")
            or hasattr(source, "__iter__")
        ):
            raise BadPayloadError(
                "object data must be bytes, a binary file or an iterator of bytes, "
                f"not {type(source).__name__}"
            )
        meta = meta_subject(self._bucket, name)
        try:
            old: ObjectInfo | None = await self.get_info(name, show_deleted=True)
        except ObjectNotFoundError:
            old = None
        nuid = self._js.client.new_inbox().rpartition(".")[2]
        chunks_at = chunk_subject(self._bucket, nuid)
        window: deque[Future[PubAck]] = deque()
        limit = put_window(chunk_size)
        timeout = self._js.timeout

        async def send(chunk: bytes) -> None:
            while window and (len(window) >= limit or window[0].done()):
                await wait_ack(window.popleft(), timeout)
            window.append(await self._js.publish_async(chunks_at, chunk))
            if progress is not None:
                await call_maybe_async(progress, writer.size, total)

        async def feed(piece: object) -> None:
            if not isinstance(piece, _BYTES):
                raise BadPayloadError(f"{name!r}: the data gave {type(piece).__name__}, not bytes")
            for chunk in writer.split(piece):
                await send(chunk)

        try:
            if isinstance(source, _BYTES):
                await feed(source)
            elif hasattr(source, "read"):
                while True:
                    piece = await read_some(source, chunk_size)
                    if isinstance(piece, _BYTES) and not piece:
                        break
                    await feed(piece)
            elif hasattr(source, "__aiter__"):
                async for piece in source:
                    await feed(piece)
            else:
                for piece in source:
                    await feed(piece)
            last = writer.finish()
            if last is not None:
                await send(last)
            while window:
                await wait_ack(window.popleft(), timeout)
            info = writer.info(
                name,
                self._bucket,
                nuid,
                description=description,
                headers=headers,
                metadata=metadata,
            )
            await self._js.publish(meta, info.to_json(), headers=_ROLLUP_SUBJECT)
        except BaseException:
            for fut in window:  # let the chunks in flight land before the purge
                try:
                    await wait_ack(fut, timeout)
                except Exception:
                    pass
            await self._purge_quietly(chunks_at)
            raise
        if old is not None and old.nuid and old.nuid != nuid:
            await self._purge_quietly(chunk_subject(self._bucket, old.nuid))
        info.mtime = datetime.now(UTC)
        return info

    async def _purge_quietly(self, subject: str) -> None:
        try:
            await self._js.purge_stream(self._stream, subject=subject)
        except Exception as e:  # best effort: the caller's outcome stands
            log.warning("object store %r: could not purge %s: %s", self._bucket, subject, e)

    async def get_info(self, name: str, *, show_deleted: bool = False) -> ObjectInfo:
        """The object's metadata (:class:`~nats_core.jetstream.objectstore.ObjectNotFoundError`
        when there is none, or it was deleted and ``show_deleted`` is false)."""
        try:
            sm = await self._js.get_msg(
                self._stream,
                last_by_subject=meta_subject(self._bucket, name),
                direct=self._direct,
            )
        except MsgNotFoundError:
            raise ObjectNotFoundError(f"object {name!r} not found in {self._bucket!r}") from None
        info = ObjectInfo.from_json(sm.data, sm.time)
        if info.deleted and not show_deleted:
            raise ObjectNotFoundError(f"object {name!r} in {self._bucket!r} was deleted")
        return info

    async def add_link(self, name: str, target: ObjectInfo) -> ObjectInfo:
        """Store ``name`` as a link to the object ``target`` (in any bucket);
        :meth:`get` of the link reads the target."""
        if target.deleted or target.link is not None or not target.bucket:
            raise ObjectStoreError(
                f"cannot link to {target.name!r}: a deleted object, a link, or no bucket"
            )
        return await self._put_link(name, ObjectLink(target.bucket, target.name))

    async def add_bucket_link(self, name: str, bucket: ObjectStore) -> ObjectInfo:
        """Store ``name`` as a link to the whole ``bucket``."""
        return await self._put_link(name, ObjectLink(bucket.bucket))

    async def _put_link(self, name: str, link: ObjectLink) -> ObjectInfo:
        try:
            old: ObjectInfo | None = await self.get_info(name)
        except ObjectNotFoundError:
            old = None
        if old is not None and old.link is None:
            raise ObjectStoreError(f"object {name!r} exists already in {self._bucket!r}")
        info = ObjectInfo(
            name=name,
            bucket=self._bucket,
            nuid=self._js.client.new_inbox().rpartition(".")[2],
            link=link,
        )
        await self._js.publish(
            meta_subject(self._bucket, name),
            info.to_json(),
            headers=_ROLLUP_SUBJECT,
        )
        info.mtime = datetime.now(UTC)
        return info

    async def get(
        self, name: str, *, show_deleted: bool = False, progress: Progress | None = None
    ) -> ObjectResult:
        """The object, to read as a stream (:class:`ObjectResult`: its metadata,
        then its bytes chunk by chunk, size and digest checked at the end). A
        link is followed to its object. A deleted object raises
        :class:`~nats_core.jetstream.objectstore.ObjectNotFoundError`, unless
        ``show_deleted``: then its metadata and no bytes.
        ``progress(bytes_done, size)`` is called after each chunk read."""
        info = await self.get_info(name, show_deleted=show_deleted)
        if info.link is not None and not info.deleted:
            if info.link.name is None:
                raise ObjectStoreError(f"{name!r} links to a bucket, not to an object")
            target = self if info.link.bucket == self._bucket else None
            if target is None:
                target = await self._js.object_store(info.link.bucket)
            return await target.get(info.link.name, progress=progress)
        return ObjectResult(self, info, progress)

    async def get_bytes(
        self, name: str, *, show_deleted: bool = False, progress: Progress | None = None
    ) -> bytes:
        """The whole object's bytes (held in memory: :meth:`get` streams them)."""
        async with await self.get(name, show_deleted=show_deleted, progress=progress) as result:
            return await result.read()

    async def get_file(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        show_deleted: bool = False,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Write the object to the file at ``path`` (created or replaced), chunk by
        chunk; return its metadata. When the read fails (a digest mismatch, a
        timeout) the file is removed."""
        async with await self.get(name, show_deleted=show_deleted, progress=progress) as result:
            try:
                async with await open_write(path) as file:
                    await result.write_to(file)
            except BaseException:
                await remove_file(path)
                raise
            return result.info

    async def delete(self, name: str) -> ObjectInfo:
        """Delete the object: its metadata says deleted, its chunks are purged."""
        info = await self.get_info(name)
        gone = deleted_info(info)
        await self._js.publish(
            meta_subject(self._bucket, name),
            gone.to_json(),
            headers=_ROLLUP_SUBJECT,
        )
        await self._js.purge_stream(self._stream, subject=chunk_subject(self._bucket, info.nuid))
        return gone

    async def update_meta(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        headers: dict[str, list[str]] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Rename the object or change its description, headers or metadata (the
        ones given; the bytes stay). Renaming onto an existing object raises
        :class:`~nats_core.jetstream.objectstore.ObjectStoreError`."""
        info = await self.get_info(name)
        target = name if new_name is None else new_name
        if target != name:
            try:
                await self.get_info(target)
            except ObjectNotFoundError:
                pass
            else:
                raise ObjectStoreError(f"object {target!r} exists already in {self._bucket!r}")
        updated = dataclasses.replace(
            info,
            name=target,
            description=info.description if description is None else description,
            headers=info.headers if headers is None else headers,
            metadata=info.metadata if metadata is None else metadata,
            mtime=None,
        )
        await self._js.publish(
            meta_subject(self._bucket, target),
            updated.to_json(),
            headers=_ROLLUP_SUBJECT,
        )
        if target != name:
            await self._js.purge_stream(self._stream, subject=meta_subject(self._bucket, name))
        updated.mtime = datetime.now(UTC)
        return updated

    def watch(
        self,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        updates_only: bool = False,
    ) -> Watcher[ObjectInfo]:
        """Watch the objects' metadata: the current ones (every stored version
        with ``include_history``), ``None`` once, then each change (a put, an
        update, a delete). ``ignore_deletes`` skips deleted objects;
        ``updates_only`` starts with the changes.

        Use it as ``async with obs.watch() as w:`` (the watch starts there), or
        ``w = await obs.watch()`` and :meth:`~Watcher.stop` it, as ``kv.watch``;
        a watch not yet started starts at its first read."""
        return self._watcher(
            f"$O.{self._bucket}.M.>",
            _info_of,
            _is_deleted if ignore_deletes else _never,
            include_history=include_history,
            updates_only=updates_only,
        )

    async def list(self, *, show_deleted: bool = False) -> list[ObjectInfo]:
        """Every object's metadata (``[]`` when none), in the order they were stored."""
        async with self.watch(ignore_deletes=not show_deleted) as w:
            return await w._initial()

    async def status(self) -> ObjectStoreStatus:
        """The bucket's state and configuration."""
        return status_from_info(self._bucket, await self._js.stream_info(self._stream))

    async def seal(self) -> ObjectStoreStatus:
        """Seal the bucket: no more puts or deletes."""
        cfg = (await self._js.stream_info(self._stream)).config
        cfg.sealed = True
        return status_from_info(self._bucket, await self._js.update_stream(cfg))
