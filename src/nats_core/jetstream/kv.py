"""Key-Value buckets on JetStream (ADR-8), sans-IO: names, the bucket's stream
configuration, entries made from stored or delivered messages, and the errors.

A bucket ``B`` is the stream ``KV_B`` on subjects ``$KV.B.>``; a key ``k`` is the
subject ``$KV.B.k``, its value the payload of the last message there, its
revision that message's stream sequence. A delete or purge is a message with a
``KV-Operation`` header (``DEL``, ``PURGE``); a purge also rolls the key's older
messages up. The adapters' ``KeyValue`` classes do the I/O with these pieces.

Reads and writes may use different subjects (:class:`KeyValueSubjects`): a
context with a JetStream domain or an API prefix writes to
``<api prefix>.$KV.B.k`` (``$JS.<domain>.API.$KV.B.k``), the subject a leaf node
connection between JetStream domains carries and the server maps to the
bucket's stream, while reads and watches keep the stream's own subjects. A
bucket that mirrors another reads its origin's subjects and writes to its
origin (through the mirror's external API prefix when it has one), as nats.go
does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .._headers import Headers
from ..errors import ConfigTypeError
from .api import DEFAULT_API_PREFIX
from .errors import APIError, InvalidNameError, InvalidOptionError, JetStreamError
from .models import (
    DeliverPolicy,
    DiscardPolicy,
    Placement,
    RePublish,
    StorageType,
    StoreCompression,
    StoredMsg,
    StreamConfig,
    StreamInfo,
    StreamSource,
    SubjectTransform,
)
from .publish import EXPECTED_LAST_SUBJECT_SEQ, MSG_TTL, format_ttl

__all__ = [
    "KV_OPERATION",
    "MARKER_REASON",
    "MAX_HISTORY",
    "BucketNotFoundError",
    "KeyDeletedError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValueConfig",
    "KeyValueEntry",
    "KeyValueError",
    "KeyValueOp",
    "KeyValueStatus",
    "KeyValueSubjects",
    "LimitMarkerTTLNotSupportedError",
    "WatchStart",
    "check_bucket",
    "check_key",
    "check_limit_markers",
    "entry_from_msg",
    "entry_from_stored",
    "kv_headers",
    "kv_put_prefix",
    "kv_stream_config",
    "kv_stream_name",
    "kv_subject",
    "kv_subjects",
    "status_from_info",
    "watch_start",
]

KV_OPERATION = "KV-Operation"
MARKER_REASON = "Nats-Marker-Reason"
"""The header of a marker the server writes (ADR-48): ``MaxAge``, ``Purge``, ``Remove``."""
ROLLUP = "Nats-Rollup"
MAX_HISTORY = 64
_MAX_DUPLICATE_WINDOW = timedelta(minutes=2)

_BUCKET_RE = re.compile(r"\A[a-zA-Z0-9_-]+\Z")
_KEY_RE = re.compile(r"\A[-/_=.a-zA-Z0-9]+\Z")
_WATCH_RE = re.compile(r"\A[-/_=.a-zA-Z0-9*>]+\Z")


class KeyValueOp(StrEnum):
    """What an entry records: a value, a delete, or a purge."""

    PUT = "PUT"
    DEL = "DEL"
    PURGE = "PURGE"


class KeyValueError(JetStreamError):
    """A Key-Value operation failed."""


class BucketNotFoundError(KeyValueError):
    """The bucket (its ``KV_<bucket>`` stream) does not exist."""


class KeyNotFoundError(KeyValueError, KeyError):
    """The key has no value: never set, or deleted or purged."""

    def __str__(self) -> str:  # KeyError would print the repr
        return str(self.args[0]) if self.args else "key not found"


class KeyDeletedError(KeyNotFoundError):
    """The key's last entry is a delete or purge (``entry`` is that entry)."""

    def __init__(self, message: str, entry: KeyValueEntry) -> None:
        super().__init__(message)
        self.entry = entry


class KeyExistsError(KeyValueError):
    """``create`` found a value, or ``update`` found another revision than the
    one given (the server's "wrong last sequence", ``error`` keeps it)."""

    def __init__(self, message: str, error: APIError | None = None) -> None:
        super().__init__(message)
        self.error = error


class LimitMarkerTTLNotSupportedError(KeyValueError):
    """``limit_marker_ttl`` needs a server with JetStream API level 1 or more
    (nats-server 2.11+)."""


def check_bucket(bucket: str) -> str:
    """``bucket`` when it is a valid bucket name (letters, digits, ``_`` and ``-``)."""
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket):
        raise InvalidNameError(f"invalid bucket name {bucket!r}: letters, digits, '_' and '-' only")
    return bucket


def check_key(key: str, *, wildcards: bool = False) -> str:
    """``key`` when it is a valid key (``wildcards``: a watch pattern).

    Keys are tokens of letters, digits and ``-/_=`` joined by dots; no empty
    token, no leading or trailing dot, and not starting with ``_kv``.
    """
    pattern = _WATCH_RE if wildcards else _KEY_RE
    if (
        not isinstance(key, str)
        or not pattern.match(key)
        or key.startswith(".")
        or key.endswith(".")
        or ".." in key
        or (not wildcards and key.startswith("_kv"))
    ):
        what = "key pattern" if wildcards else "key"
        raise InvalidNameError(
            f"invalid {what} {key!r}: dot-separated tokens of letters, digits and '-/_='"
            + (" ('*' and '>' as wildcards)" if wildcards else "")
        )
    return key


def kv_stream_name(bucket: str) -> str:
    """The stream behind ``bucket``."""
    return "KV_" + bucket


def kv_subject(bucket: str, key: str) -> str:
    """The subject of ``key`` in ``bucket`` (where the bucket's stream stores it)."""
    return f"$KV.{bucket}.{key}"


def _origin_bucket(mirror: StreamSource) -> str:
    name = mirror.name
    return name[len("KV_") :] if name.startswith("KV_") else name


def _external_api(mirror: StreamSource | None) -> str | None:
    if mirror is None or mirror.external is None:
        return None
    return (mirror.external.api or "").rstrip(".") or None


def kv_put_prefix(
    bucket: str,
    api_prefix: str | None = None,
    *,
    mirror: StreamSource | None = None,
) -> str:
    """The prefix (ending in ``.``) of the subjects that write ``bucket``'s keys.

    ``$KV.<bucket>.`` with the default API prefix (``$JS.API``, or ``None``);
    ``<api_prefix>.$KV.<bucket>.`` with another, such as a JetStream domain's
    ``$JS.<domain>.API``: a publish there reaches the bucket of that domain,
    also through a leaf node connection, which does not carry ``$KV.>``
    between domains. A mirror bucket (``mirror``: its stream's
    ``config.mirror``) has no subjects of its own: its writes go to the
    origin bucket, through the mirror's external API prefix when it has one
    (and then not through ``api_prefix``).
    """
    origin = bucket if mirror is None else _origin_bucket(mirror)
    external = _external_api(mirror)
    if external is not None:
        return f"{external}.$KV.{origin}."
    api = (api_prefix or DEFAULT_API_PREFIX).rstrip(".")
    if api and api != DEFAULT_API_PREFIX:
        return f"{api}.$KV.{origin}."
    return f"$KV.{origin}."


@dataclass(frozen=True, slots=True)
class KeyValueSubjects:
    """Where a bucket's keys are read and where they are written.

    ``prefix`` (``$KV.<bucket>.``) is what the bucket's stream stores, so gets,
    watches, purges and entries use it; ``put_prefix`` is where puts, updates,
    deletes and purge markers are published (see :func:`kv_put_prefix`). Make
    one with :func:`kv_subjects`.
    """

    bucket: str
    prefix: str
    put_prefix: str

    def key(self, key: str) -> str:
        """The stored subject of ``key`` (or of a watch pattern): for reads."""
        return self.prefix + key

    def put(self, key: str) -> str:
        """The subject to publish ``key``'s new value or marker to."""
        return self.put_prefix + key

    def key_of(self, subject: str) -> str:
        """The key a stored subject names (:class:`KeyValueError` when it is
        not one of this bucket's)."""
        if not subject.startswith(self.prefix):
            raise KeyValueError(f"subject {subject!r} is not in bucket {self.bucket!r}")
        return subject[len(self.prefix) :]


def kv_subjects(
    bucket: str,
    api_prefix: str | None = None,
    *,
    mirror: StreamSource | None = None,
) -> KeyValueSubjects:
    """The read and write subjects of ``bucket`` for a JetStream context with
    ``api_prefix`` (``JSApi.prefix``; ``None``: the default), ``mirror`` being
    the bucket's stream's ``config.mirror`` (a mirror stores its origin's
    subjects)."""
    check_bucket(bucket)
    origin = bucket if mirror is None else _origin_bucket(mirror)
    return KeyValueSubjects(
        bucket=bucket,
        prefix=f"$KV.{origin}.",
        put_prefix=kv_put_prefix(bucket, api_prefix, mirror=mirror),
    )


@dataclass
class KeyValueConfig:
    """A bucket's configuration (nats.go's ``KeyValueConfig``).

    ``history``: values kept per key (1 to 64); ``ttl``: how long a value lives
    (seconds or a timedelta, 0 for ever); ``max_value_size`` and ``max_bytes``:
    -1 for no limit; ``storage``: ``"file"`` or ``"memory"``; ``compression``:
    S2 on disk; ``metadata``: the stream's.

    ``limit_marker_ttl`` (seconds or a timedelta, at least 1 s; 0: off) turns
    on per-key TTLs and limit markers (ADR-48, nats-server 2.11+): when a value
    ages out (``ttl`` or a key's own TTL) the server leaves a marker that
    watchers see as a purge, kept that long. It can be turned on for an
    existing bucket, never off.

    ``placement`` and ``republish`` go to the stream as they are. ``mirror``
    makes the bucket a read replica of another (its name: the bucket's or the
    ``KV_`` stream's); ``sources`` copy other buckets' keys into this one (a
    source without subject transforms is taken for a bucket and mapped
    ``$KV.<source>.>`` to ``$KV.<bucket>.>``, as nats.go does; with transforms
    it is used as it is, so any stream can be a source).
    """

    bucket: str
    description: str | None = None
    max_value_size: int = -1
    history: int = 1
    ttl: timedelta | float = 0
    max_bytes: int = -1
    storage: StorageType | str = StorageType.FILE
    replicas: int = 1
    compression: bool = False
    metadata: dict[str, str] | None = None
    limit_marker_ttl: timedelta | float = 0
    placement: Placement | None = None
    republish: RePublish | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One source given alone is a one-item list; a bucket's name is no list of sources.
        if isinstance(self.sources, StreamSource):
            self.sources = [self.sources]
        elif isinstance(self.sources, str):
            raise ConfigTypeError(
                f"KeyValueConfig.sources must be a list of StreamSource, not the string "
                f"{self.sources!r} (sources=[StreamSource(name={self.sources!r})])"
            )


def _seconds(ttl: timedelta | float) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)


def kv_stream_config(cfg: KeyValueConfig) -> StreamConfig:
    """The stream configuration of a bucket (ADR-8); raises on bad options."""
    check_bucket(cfg.bucket)
    if not 1 <= cfg.history <= MAX_HISTORY:
        raise InvalidOptionError(
            f"history of bucket {cfg.bucket!r} must be 1 to {MAX_HISTORY}, not {cfg.history}"
        )
    ttl = _seconds(cfg.ttl)
    if ttl < timedelta(0):
        raise InvalidOptionError(f"ttl of bucket {cfg.bucket!r} must not be negative")
    window = min(ttl, _MAX_DUPLICATE_WINDOW) if ttl else _MAX_DUPLICATE_WINDOW
    markers = _seconds(cfg.limit_marker_ttl)
    if markers and markers < timedelta(seconds=1):
        raise InvalidOptionError(
            f"limit_marker_ttl of bucket {cfg.bucket!r} must be at least 1 second (or 0: off)"
        )
    sc = StreamConfig(
        name=kv_stream_name(cfg.bucket),
        description=cfg.description,
        subjects=[f"$KV.{cfg.bucket}.>"],
        max_msgs_per_subject=cfg.history,
        max_bytes=cfg.max_bytes,
        max_age=ttl,
        max_msg_size=cfg.max_value_size,
        storage=StorageType(cfg.storage),
        num_replicas=cfg.replicas,
        allow_rollup_hdrs=True,
        deny_delete=True,
        allow_direct=True,
        discard=DiscardPolicy.NEW,
        duplicate_window=window,
        metadata=cfg.metadata,
        compression=StoreCompression.S2 if cfg.compression else None,
        placement=cfg.placement,
        republish=cfg.republish,
    )
    if markers:
        sc.allow_msg_ttl = True
        sc.subject_delete_marker_ttl = markers
    if cfg.mirror is not None:
        mirror = replace(cfg.mirror)
        if not mirror.name.startswith("KV_"):
            mirror.name = kv_stream_name(mirror.name)
        sc.mirror = mirror
        sc.mirror_direct = True
        sc.subjects = None  # a mirror stores its origin's subjects
    elif cfg.sources:
        sc.sources = [_kv_source(cfg.bucket, src) for src in cfg.sources]
    sc.extra.update(cfg.extra)
    return sc


def _kv_source(bucket: str, src: StreamSource) -> StreamSource:
    """A source of ``bucket`` as nats.go sets it: one with subject transforms
    as it is; else a bucket (named with or without ``KV_``) whose keys are
    mapped to this bucket's, unless it is this bucket in another domain."""
    if src.subject_transforms:
        return src
    out = replace(src)
    origin = out.name[3:] if out.name.startswith("KV_") else out.name
    out.name = kv_stream_name(origin)
    if out.external is None or origin != bucket:
        out.subject_transforms = [SubjectTransform(src=f"$KV.{origin}.>", dest=f"$KV.{bucket}.>")]
    return out


def check_limit_markers(cfg: KeyValueConfig, api_level: int | None) -> None:
    """Raise :class:`LimitMarkerTTLNotSupportedError` when ``cfg`` asks for limit
    markers and the server's JetStream API level (``AccountInfo.api.level``;
    ``None`` from servers before 2.11) is below 1, as nats.go checks."""
    if _seconds(cfg.limit_marker_ttl) and (api_level or 0) < 1:
        raise LimitMarkerTTLNotSupportedError(
            f"bucket {cfg.bucket!r}: limit_marker_ttl needs nats-server 2.11+ "
            f"(JetStream API level 1; this server has {api_level or 0})"
        )


def kv_headers(
    op: KeyValueOp | None = None,
    *,
    ttl: timedelta | float | str | None = None,
    last: int | None = None,
) -> Headers | None:
    """The headers of a write: ``op`` ``DEL`` or ``PURGE`` makes a marker (a
    purge rolls the key up), ``None`` a value; ``ttl`` (at least 1 s, or
    ``"never"``) the ``Nats-TTL`` of a create or a purge marker (ADR-48: not on
    a delete; the bucket needs ``limit_marker_ttl``); ``last`` the revision the
    key must be at (0: no value yet). ``None`` when there is nothing to send."""
    hdrs = Headers()
    if op is not None and op is not KeyValueOp.PUT:
        hdrs[KV_OPERATION] = op.value
        if op is KeyValueOp.PURGE:
            hdrs[ROLLUP] = "sub"
    if ttl is not None:
        if op is KeyValueOp.DEL:
            raise InvalidOptionError("a delete takes no ttl (purge with a ttl instead)")
        hdrs[MSG_TTL] = format_ttl(ttl)
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            raise InvalidOptionError(f"revision must be a non-negative integer, not {last!r}")
        hdrs[EXPECTED_LAST_SUBJECT_SEQ] = str(last)
    return hdrs if hdrs else None


@dataclass(frozen=True, slots=True)
class WatchStart:
    """Where a watch's ordered consumer starts: its deliver policy and, to
    resume, the first stream sequence."""

    deliver_policy: DeliverPolicy
    opt_start_seq: int | None = None


def watch_start(
    *,
    include_history: bool = False,
    updates_only: bool = False,
    resume_from_revision: int | None = None,
) -> WatchStart:
    """The start of a watch: the last entry of each key (every kept one with
    ``include_history``, none with ``updates_only``), or with
    ``resume_from_revision`` every entry from that revision on (nats.go's
    ``ResumeFromRevision``, which wins over the other two)."""
    if resume_from_revision is not None:
        rev = resume_from_revision
        if isinstance(rev, bool) or not isinstance(rev, int) or rev < 1:
            raise InvalidOptionError(f"resume_from_revision must be 1 or more, not {rev!r}")
        return WatchStart(DeliverPolicy.BY_START_SEQUENCE, rev)
    if updates_only:
        return WatchStart(DeliverPolicy.NEW)
    if include_history:
        return WatchStart(DeliverPolicy.ALL)
    return WatchStart(DeliverPolicy.LAST_PER_SUBJECT)


@dataclass(frozen=True)
class KeyValueEntry:
    """One entry of a key's history: its value (or a delete or purge)."""

    bucket: str
    key: str
    value: bytes
    revision: int
    created: datetime | None
    delta: int = 0  # entries after this one (from a watch or history; 0 from get)
    operation: KeyValueOp = KeyValueOp.PUT


_MARKER_OPS = {
    "MaxAge": KeyValueOp.PURGE,
    "Purge": KeyValueOp.PURGE,
    "Remove": KeyValueOp.DEL,
}


def _operation(headers: Any) -> KeyValueOp:
    """What a stored message records: ``KV-Operation`` when it has one; else a
    server's limit marker (``Nats-Marker-Reason``: ``MaxAge`` and ``Purge`` a
    purge, ``Remove`` a delete, ADR-48); else a value."""
    if not headers:
        return KeyValueOp.PUT
    op = headers.get(KV_OPERATION)
    if op:
        try:
            return KeyValueOp(op)
        except ValueError:
            return KeyValueOp.PUT  # an unknown operation: a plain value, as nats.go reads it
    reason = headers.get(MARKER_REASON)
    if reason:
        return _MARKER_OPS.get(reason, KeyValueOp.PUT)
    return KeyValueOp.PUT


def _key_of(bucket: str, subject: str, subjects: KeyValueSubjects | None) -> str:
    if subjects is None:
        subjects = KeyValueSubjects(bucket, f"$KV.{bucket}.", f"$KV.{bucket}.")
    return subjects.key_of(subject)


def entry_from_stored(
    bucket: str, msg: StoredMsg, subjects: KeyValueSubjects | None = None
) -> KeyValueEntry:
    """The entry a stored message (a get or direct get) is (``subjects``: the
    bucket's, when it stores other subjects than ``$KV.<bucket>.``, as a mirror)."""
    return KeyValueEntry(
        bucket=bucket,
        key=_key_of(bucket, msg.subject, subjects),
        value=msg.data,
        revision=msg.seq,
        created=msg.time,
        operation=_operation(msg.headers),
    )


def entry_from_msg(
    bucket: str, msg: Any, subjects: KeyValueSubjects | None = None
) -> KeyValueEntry:
    """The entry a message delivered by a consumer of the bucket is (its
    metadata gives the revision, time and how many entries follow;
    ``subjects`` as for :func:`entry_from_stored`)."""
    meta = msg.metadata
    return KeyValueEntry(
        bucket=bucket,
        key=_key_of(bucket, msg.subject, subjects),
        value=msg.data,
        revision=meta.sequence.stream,
        created=meta.timestamp,
        delta=meta.num_pending,
        operation=_operation(msg.headers),
    )


@dataclass(frozen=True)
class KeyValueStatus:
    """A bucket's state: ``values`` stored (every kept revision), ``bytes``,
    ``history``, ``ttl``, ``limit_marker_ttl`` (0: no limit markers),
    ``is_compressed``, ``metadata``, and the stream's info behind it."""

    bucket: str
    values: int
    history: int
    ttl: timedelta
    bytes: int
    stream_info: StreamInfo
    backing_store: str = "JetStream"
    limit_marker_ttl: timedelta = timedelta(0)
    is_compressed: bool = False
    metadata: dict[str, str] | None = None

    @property
    def config(self) -> KeyValueConfig:
        """The bucket's configuration, read back from its stream's (nats.go's ``Config``)."""
        cfg = self.stream_info.config
        mirror = cfg.mirror
        if mirror is not None and mirror.name.startswith("KV_"):
            mirror = replace(mirror, name=mirror.name[3:])
        return KeyValueConfig(
            bucket=self.bucket,
            description=cfg.description,
            max_value_size=cfg.max_msg_size if cfg.max_msg_size is not None else -1,
            history=self.history,
            ttl=self.ttl,
            max_bytes=cfg.max_bytes if cfg.max_bytes is not None else -1,
            storage=cfg.storage or StorageType.FILE,
            replicas=cfg.num_replicas or 1,
            compression=self.is_compressed,
            metadata=cfg.metadata,
            limit_marker_ttl=self.limit_marker_ttl,
            placement=cfg.placement,
            republish=cfg.republish,
            mirror=mirror,
            sources=cfg.sources,
        )


def status_from_info(bucket: str, info: StreamInfo) -> KeyValueStatus:
    """The status of ``bucket`` from its stream's info."""
    cfg, state = info.config, info.state
    return KeyValueStatus(
        bucket=bucket,
        values=state.messages if state is not None else 0,
        history=cfg.max_msgs_per_subject or 1,
        ttl=cfg.max_age or timedelta(0),
        bytes=state.bytes if state is not None else 0,
        stream_info=info,
        limit_marker_ttl=cfg.subject_delete_marker_ttl or timedelta(0),
        is_compressed=cfg.compression not in (None, StoreCompression.NONE),
        metadata=cfg.metadata,
    )
