"""Object Store buckets (ADR-20) for the async client: put, get, info, delete,
list, status and seal, on the JetStream layer.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
Names, the bucket's stream, metadata and digests come from
``nats_core.jetstream.objectstore``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO, Protocol

from nats_core.jetstream.errors import MsgNotFoundError
from nats_core.jetstream.kv import ROLLUP
from nats_core.jetstream.models import StreamInfo
from nats_core.jetstream.objectstore import (
    DEFAULT_CHUNK_SIZE,
    DigestMismatchError,
    ObjectInfo,
    ObjectLink,
    ObjectNotFoundError,
    ObjectStoreError,
    ObjectStoreStatus,
    chunk_subject,
    digest_of,
    meta_subject,
    new_hash,
    obj_stream_name,
    status_from_info,
)

from ._kv import Bucket, BucketContext, Watcher, _never

if TYPE_CHECKING:
    from ._msg import Msg

__all__ = ["ObjectResult", "ObjectStore", "ObjectStoreContext"]

log = logging.getLogger(__name__)

_ROLLUP_SUBJECT = {ROLLUP: "sub"}


def _info_of(msg: Msg) -> ObjectInfo:
    return ObjectInfo.from_json(msg.data, msg.metadata.timestamp)


def _is_deleted(info: ObjectInfo) -> bool:
    return info.deleted


@dataclass(frozen=True)
class ObjectResult:
    """An object read with :meth:`ObjectStore.get`: its metadata and its bytes."""

    info: ObjectInfo
    data: bytes


class ObjectStoreContext(BucketContext, Protocol):
    """The calls an Object Store makes on its JetStream context: a bucket's, and
    opening the bucket a link points to."""

    async def object_store(self, bucket: str) -> ObjectStore: ...


class ObjectStore(Bucket):
    """An Object Store bucket; from :meth:`JetStream.create_object_store` or
    :meth:`JetStream.object_store`."""

    _js: ObjectStoreContext

    def __init__(self, js: ObjectStoreContext, bucket: str, info: StreamInfo | None = None) -> None:
        super().__init__(js, bucket, obj_stream_name(bucket), info)

    async def put(
        self,
        name: str,
        data: bytes | BinaryIO,
        *,
        description: str | None = None,
        headers: dict[str, list[str]] | None = None,
        metadata: dict[str, str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> ObjectInfo:
        """Store ``data`` (bytes, or a binary file read to its end) as ``name``,
        in chunks of ``chunk_size`` bytes; an object of that name is replaced
        (its old chunks purged once the new metadata is stored)."""
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        if isinstance(data, str) or not (
            isinstance(data, bytes | bytearray | memoryview) or hasattr(data, "read")
        ):
            raise TypeError(
                f"object data must be bytes or a binary file, not {type(data).__name__}"
            )
        meta = meta_subject(self._bucket, name)
        try:
            old: ObjectInfo | None = await self.get_info(name, show_deleted=True)
        except ObjectNotFoundError:
            old = None
        nuid = self._js.client.new_inbox().rpartition(".")[2]
        chunks_at = chunk_subject(self._bucket, nuid)
        sha = new_hash()
        size = count = 0
        try:
            buffer = isinstance(data, bytes | bytearray | memoryview)
            view = memoryview(data).cast("B") if buffer else None  # type: ignore[arg-type]
            while True:
                if view is not None:
                    chunk = bytes(view[size : size + chunk_size])
                else:
                    chunk = data.read(chunk_size)  # type: ignore[union-attr]
                    if not isinstance(chunk, bytes | bytearray):
                        raise TypeError(
                            f"{name!r}: the file gave {type(chunk).__name__}, not bytes"
                        )
                if not chunk:
                    break
                sha.update(chunk)
                await self._js.publish(chunks_at, chunk)
                size += len(chunk)
                count += 1
            info = ObjectInfo(
                name=name,
                bucket=self._bucket,
                nuid=nuid,
                size=size,
                chunks=count,
                digest=digest_of(sha),
                description=description,
                headers=headers,
                metadata=metadata,
                max_chunk_size=chunk_size,
            )
            await self._js.publish(meta, info.to_json(), headers=_ROLLUP_SUBJECT)
        except BaseException:
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

    async def get(self, name: str) -> ObjectResult:
        """The object's metadata and bytes; the bytes are checked against its size
        and digest (:class:`~nats_core.jetstream.objectstore.DigestMismatchError`).
        A link is followed to its object."""
        info = await self.get_info(name)
        if info.link is not None:
            if info.link.name is None:
                raise ObjectStoreError(f"{name!r} links to a bucket, not to an object")
            target = self if info.link.bucket == self._bucket else None
            if target is None:
                target = await self._js.object_store(info.link.bucket)
            return await target.get(info.link.name)
        if info.chunks == 0:
            data = b""
        else:
            oc = await self._js.ordered_consumer(
                self._stream, filter_subjects=chunk_subject(self._bucket, info.nuid)
            )
            parts: list[bytes] = []
            async with oc.messages() as it:
                while len(parts) < info.chunks:
                    msg = await it.next(self._js.timeout)
                    parts.append(msg.data)
            data = b"".join(parts)
        sha = new_hash()
        sha.update(data)
        if len(data) != info.size or (info.digest and digest_of(sha) != info.digest):
            raise DigestMismatchError(
                f"object {name!r} in {self._bucket!r}: read {len(data)} bytes with digest "
                f"{digest_of(sha)}, its metadata says {info.size} bytes, {info.digest}"
            )
        return ObjectResult(info, data)

    async def delete(self, name: str) -> ObjectInfo:
        """Delete the object: its metadata says deleted, its chunks are purged."""
        info = await self.get_info(name)
        gone = ObjectInfo(
            name=info.name,
            bucket=self._bucket,
            nuid=info.nuid,
            description=info.description,
            headers=info.headers,
            metadata=info.metadata,
            deleted=True,
        )
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

    async def watch(
        self,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        updates_only: bool = False,
    ) -> Watcher[ObjectInfo]:
        """Watch the objects' metadata: the current ones (every stored version
        with ``include_history``), ``None`` once, then each change (a put, an
        update, a delete). ``ignore_deletes`` skips deleted objects;
        ``updates_only`` starts with the changes."""
        return await self._watch(
            f"$O.{self._bucket}.M.>",
            _info_of,
            _is_deleted if ignore_deletes else _never,
            include_history=include_history,
            updates_only=updates_only,
        )

    async def list(self, *, show_deleted: bool = False) -> list[ObjectInfo]:
        """Every object's metadata (``[]`` when none), in the order they were stored."""
        async with await self.watch(ignore_deletes=not show_deleted) as w:
            return await w._initial()

    async def status(self) -> ObjectStoreStatus:
        """The bucket's state and configuration."""
        return status_from_info(self._bucket, await self._js.stream_info(self._stream))

    async def seal(self) -> ObjectStoreStatus:
        """Seal the bucket: no more puts or deletes."""
        cfg = (await self._js.stream_info(self._stream)).config
        cfg.sealed = True
        return status_from_info(self._bucket, await self._js.update_stream(cfg))
