"""Object Store buckets on JetStream (ADR-20), sans-IO: names and subjects, the
bucket's stream configuration, object metadata, the digest, and the errors.

A bucket ``B`` is the stream ``OBJ_B``: an object's bytes are chunks on
``$O.B.C.<nuid>`` and its metadata (JSON) the last message on
``$O.B.M.<base64url(name)>``, written with a rollup so only the newest stays.
The adapters' ``ObjectStore`` classes publish and read with these pieces.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidNameError, JetStreamError
from .kv import check_bucket
from .models import DiscardPolicy, StorageType, StoreCompression, StreamConfig, StreamInfo

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DigestMismatchError",
    "ObjectInfo",
    "ObjectLink",
    "ObjectNotFoundError",
    "ObjectStoreConfig",
    "ObjectStoreError",
    "ObjectStoreStatus",
    "chunk_subject",
    "digest_of",
    "meta_subject",
    "obj_stream_config",
    "obj_stream_name",
    "status_from_info",
]

DEFAULT_CHUNK_SIZE = 128 * 1024
DIGEST_PREFIX = "SHA-256="


class ObjectStoreError(JetStreamError):
    """An Object Store operation failed."""


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
