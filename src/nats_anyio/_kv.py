"""Key-Value buckets (ADR-8, ADR-48) for the async client: get, put, create,
update, delete, purge, keys, history, watch and status, on the JetStream layer.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
The names, the bucket's stream and the entries come from ``nats_core.jetstream.kv``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from nats_core import HeadersInput
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream.api import JSApi
from nats_core.jetstream.errors import (
    InvalidOptionError,
    MsgNotFoundError,
    WrongLastSequenceError,
)
from nats_core.jetstream.kv import (
    KeyDeletedError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValueEntry,
    KeyValueOp,
    KeyValueStatus,
    check_key,
    entry_from_msg,
    entry_from_stored,
    kv_headers,
    kv_stream_name,
    kv_subjects,
    status_from_info,
    watch_start,
)
from nats_core.jetstream.models import DeliverPolicy, PubAck, StoredMsg, StreamConfig, StreamInfo

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._js_ordered import OrderedConsumer
    from ._js_pull import MessagesContext
    from ._msg import Msg

__all__ = ["Bucket", "BucketContext", "KeyLister", "KeyValue", "KeyWatcher", "Watcher"]

T = TypeVar("T")

_COLLECT_WAIT = 5.0  # seconds keys() and history() wait for the end of the initial values


class BucketContext(Protocol):
    """The calls a bucket makes on its JetStream context (a :class:`~nats_anyio.JetStream`)."""

    @property
    def api(self) -> JSApi: ...

    @property
    def client(self) -> BaseClient: ...

    @property
    def timeout(self) -> float: ...

    async def stream_info(self, name: str) -> StreamInfo: ...

    async def update_stream(self, config: StreamConfig | None = None) -> StreamInfo: ...

    async def purge_stream(
        self, name: str, *, subject: str | None = None, keep: int | None = None
    ) -> int: ...

    async def get_msg(
        self,
        stream: str,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        direct: bool = False,
    ) -> StoredMsg: ...

    async def publish(
        self,
        subject: str,
        data: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        expected_last_subject_seq: int | None = None,
    ) -> PubAck: ...

    async def ordered_consumer(
        self,
        stream: str,
        *,
        filter_subjects: str | Sequence[str] | None = None,
        deliver_policy: DeliverPolicy | str = DeliverPolicy.ALL,
        opt_start_seq: int | None = None,
        headers_only: bool = False,
    ) -> OrderedConsumer: ...


class Bucket:
    """What a Key-Value bucket and an Object Store share: a name, the stream
    behind it, and whether that stream answers direct gets."""

    def __init__(
        self, js: BucketContext, bucket: str, stream: str, info: StreamInfo | None
    ) -> None:
        self._js = js
        self._bucket = bucket
        self._stream = stream
        cfg = info.config if info is not None else None
        self._direct = bool(cfg.allow_direct) if cfg is not None else False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} bucket={self._bucket!r}>"

    @property
    def bucket(self) -> str:
        """The bucket's name."""
        return self._bucket

    def _watcher(
        self,
        subjects: str | list[str],
        convert: Callable[[Msg], T],
        skip: Callable[[T], bool],
        *,
        include_history: bool,
        updates_only: bool,
        headers_only: bool = False,
        resume_from_revision: int | None = None,
    ) -> Watcher[T]:
        """A watch of ``subjects`` on an ordered consumer, not started yet: the
        last item of each subject (every kept one with ``include_history``, none
        with ``updates_only``, all from a stream sequence with
        ``resume_from_revision``), then the changes."""
        start = watch_start(
            include_history=include_history,
            updates_only=updates_only,
            resume_from_revision=resume_from_revision,
        )
        what = f"{type(self).__name__} {self._bucket!r}"
        return Watcher(
            self._js,
            self._stream,
            subjects,
            convert,
            skip,
            what,
            policy=start.deliver_policy,
            start_seq=start.opt_start_seq,
            headers_only=headers_only,
            updates_only=updates_only,
        )


class KeyValue(Bucket):
    """A Key-Value bucket; from :meth:`JetStream.create_key_value` or
    :meth:`JetStream.key_value`.

    Through a context with a JetStream domain or an API prefix, writes go to
    ``<api prefix>.$KV.<bucket>.<key>`` (which reaches the bucket of that
    domain, also across a leaf node); reads and watches use the bucket's
    stream. A mirror bucket reads its origin's keys and writes to its origin.

    With ``limit_marker_ttl`` (nats-server 2.11+) a key may have its own TTL
    (:meth:`create`, :meth:`purge`), and a value that ages out leaves a marker
    that :meth:`get`, :meth:`watch`, :meth:`history` and :meth:`keys` read as a
    purge (``Nats-Marker-Reason: MaxAge`` or ``Purge``) or a delete (``Remove``).
    """

    def __init__(self, js: BucketContext, bucket: str, info: StreamInfo | None = None) -> None:
        super().__init__(js, bucket, kv_stream_name(bucket), info)
        mirror = info.config.mirror if info is not None else None
        self._subjects = kv_subjects(bucket, js.api.prefix, mirror=mirror)

    async def get(self, key: str, revision: int | None = None) -> KeyValueEntry:
        """The key's entry (at ``revision``, when given).

        Raises :class:`~nats_core.jetstream.kv.KeyNotFoundError` when the key has
        no value, :class:`~nats_core.jetstream.kv.KeyDeletedError` (a subclass)
        when its entry is a delete or purge.
        """
        subject = self._subjects.key(check_key(key))
        try:
            if revision is None:
                sm = await self._js.get_msg(
                    self._stream,
                    last_by_subject=subject,
                    direct=self._direct,
                )
            else:
                sm = await self._js.get_msg(self._stream, revision, direct=self._direct)
        except MsgNotFoundError:
            raise KeyNotFoundError(self._missing(key, revision)) from None
        if sm.subject != subject:  # the revision is another key's
            raise KeyNotFoundError(self._missing(key, revision))
        entry = entry_from_stored(self._bucket, sm, self._subjects)
        if entry.operation is not KeyValueOp.PUT:
            raise KeyDeletedError(self._missing(key, revision) + " (deleted)", entry)
        return entry

    def _missing(self, key: str, revision: int | None) -> str:
        at = "" if revision is None else f" at revision {revision}"
        return f"key {key!r} not found in bucket {self._bucket!r}{at}"

    async def put(self, key: str, value: bytes) -> int:
        """Set the key's value; returns its new revision.

        A put takes no TTL (ADR-48: an older revision would come back when a
        newer one expired); give a new key one with :meth:`create`."""
        ack = await self._js.publish(self._subjects.put(check_key(key)), value)
        return ack.seq

    async def create(
        self,
        key: str,
        value: bytes,
        *,
        ttl: timedelta | float | str | None = None,
    ) -> int:
        """Set the key only when it has no value (never set, deleted or purged);
        else raises :class:`~nats_core.jetstream.kv.KeyExistsError`.

        ``ttl`` (seconds or a timedelta, at least 1 s; ``"never"``) is the key's
        own lifetime: then it is gone, with a purge marker left (the bucket needs
        ``limit_marker_ttl``, else the server refuses with
        :class:`~nats_core.jetstream.MsgTTLDisabledError`)."""
        try:
            return await self._write(key, value, kv_headers(ttl=ttl, last=0), 0)
        except KeyExistsError as exists:
            try:
                await self.get(key)
            except KeyDeletedError as gone:  # a delete marker: create over it
                last = gone.entry.revision
                return await self._write(key, value, kv_headers(ttl=ttl, last=last), last)
            except KeyNotFoundError:
                pass
            raise exists

    async def update(self, key: str, value: bytes, last: int) -> int:
        """Set the key only when its revision is ``last`` (0: no value yet); else
        raises :class:`~nats_core.jetstream.kv.KeyExistsError`."""
        return await self._write(key, value, kv_headers(last=last), last)

    async def delete(self, key: str, last: int | None = None) -> int:
        """Delete the key (a delete marker; history is kept); with ``last``, only
        at that revision. Returns the marker's revision."""
        return await self._write(key, b"", kv_headers(KeyValueOp.DEL, last=last), last)

    async def purge(
        self,
        key: str,
        last: int | None = None,
        *,
        ttl: timedelta | float | str | None = None,
    ) -> int:
        """Delete the key and its history (a purge marker that rolls the older
        entries up); with ``last``, only at that revision. With ``ttl`` (at
        least 1 s; the bucket needs ``limit_marker_ttl``) the marker itself goes
        after that long, and the key with it. Returns the marker's revision."""
        hdrs = kv_headers(KeyValueOp.PURGE, ttl=ttl, last=last)
        return await self._write(key, b"", hdrs, last)

    async def _write(
        self,
        key: str,
        value: bytes,
        headers: HeadersInput | None,
        last: int | None,
    ) -> int:
        subject = self._subjects.put(check_key(key))
        try:
            ack = await self._js.publish(subject, value, headers=headers)
        except WrongLastSequenceError as e:
            raise KeyExistsError(
                f"key {key!r} in bucket {self._bucket!r} is not at revision {last}: {e}", e
            ) from None
        return ack.seq

    def watch(
        self,
        keys: str | Sequence[str] = ">",
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        meta_only: bool = False,
        updates_only: bool = False,
        resume_from_revision: int | None = None,
    ) -> Watcher[KeyValueEntry]:
        """Watch ``keys`` (one pattern or several; ``*`` and ``>`` allowed): first
        the current entries (every kept one with ``include_history``), then
        ``None`` once, then each change as it happens. ``ignore_deletes`` skips
        delete and purge markers, ``meta_only`` leaves the values out,
        ``updates_only`` starts with the changes (no current entries, no
        ``None``), ``resume_from_revision`` starts with every entry from that
        revision on (then ``None``, then the changes).

        Use it as ``async with kv.watch(...) as w:``, or ``w = await
        kv.watch(...)`` and :meth:`Watcher.stop` it; the watch starts there (or
        at the first read), so changes from then on are seen.
        """
        patterns = [keys] if isinstance(keys, str) else list(keys)
        if not patterns:
            raise InvalidOptionError("watch needs at least one key pattern")
        subjects = [self._subjects.key(check_key(k, wildcards=True)) for k in patterns]
        bucket, names = self._bucket, self._subjects
        return self._watcher(
            subjects,
            lambda msg: entry_from_msg(bucket, msg, names),
            _is_marker if ignore_deletes else _never,
            include_history=include_history,
            updates_only=updates_only,
            headers_only=meta_only,
            resume_from_revision=resume_from_revision,
        )

    def watch_all(
        self,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        meta_only: bool = False,
        updates_only: bool = False,
        resume_from_revision: int | None = None,
    ) -> Watcher[KeyValueEntry]:
        """:meth:`watch` of every key."""
        return self.watch(
            ">",
            include_history=include_history,
            ignore_deletes=ignore_deletes,
            meta_only=meta_only,
            updates_only=updates_only,
            resume_from_revision=resume_from_revision,
        )

    async def keys(self, pattern: str | Sequence[str] = ">") -> list[str]:
        """The keys that have a value now (``[]`` when none), in stream order;
        one pattern or several. :meth:`list_keys` gives them one by one."""
        async with self.watch(pattern, ignore_deletes=True, meta_only=True) as w:
            return [e.key for e in await w._initial()]

    def list_keys(self, pattern: str | Sequence[str] = ">") -> KeyLister:
        """The keys that have a value now, one at a time as the server sends them
        (nats.go's ``ListKeys``): ``async for key in kv.list_keys():``, in
        ``async with`` to stop early. A key written meanwhile may come twice."""
        return KeyLister(self.watch(pattern, ignore_deletes=True, meta_only=True))

    async def history(self, key: str) -> list[KeyValueEntry]:
        """Every kept entry of ``key``, oldest first (deletes and purges included);
        raises :class:`~nats_core.jetstream.kv.KeyNotFoundError` when there is none."""
        async with self.watch(check_key(key), include_history=True) as w:
            entries = await w._initial()
        if not entries:
            raise KeyNotFoundError(self._missing(key, None))
        return entries

    async def purge_deletes(self, older_than: timedelta | float = 1800.0) -> int:
        """Drop delete and purge markers: those older than ``older_than`` (seconds
        or a timedelta; negative: every one) with the key's history, the newer ones
        keeping only themselves. Returns how many messages went."""
        limit = older_than if isinstance(older_than, timedelta) else timedelta(seconds=older_than)
        async with self.watch_all() as w:
            markers = [e for e in await w._initial() if e.operation is not KeyValueOp.PUT]
        cutoff = datetime.now(UTC) - limit
        removed = 0
        for e in markers:
            old = limit < timedelta(0) or e.created is None or e.created <= cutoff
            removed += await self._js.purge_stream(
                self._stream,
                subject=self._subjects.key(e.key),
                keep=0 if old else 1,
            )
        return removed

    async def status(self) -> KeyValueStatus:
        """The bucket's state and configuration."""
        return status_from_info(self._bucket, await self._js.stream_info(self._stream))


class Watcher(Generic[T]):
    """Items of a watch, in stream order: the current ones, ``None`` once they are
    all delivered, then every change. Iterate it, or call :meth:`next`;
    :meth:`stop` (or leaving ``async with``) ends it.

    Its ordered consumer is made on ``await watcher``, on entering ``async
    with``, or at the first read, whichever comes first.
    """

    def __init__(
        self,
        js: BucketContext,
        stream: str,
        subjects: str | list[str],
        convert: Callable[[Msg], T],
        skip: Callable[[T], bool],
        what: str,
        *,
        policy: DeliverPolicy,
        start_seq: int | None = None,
        headers_only: bool = False,
        updates_only: bool = False,
    ) -> None:
        self._js = js
        self._stream = stream
        self._subjects = subjects
        self._policy = policy
        self._start_seq = start_seq
        self._headers_only = headers_only
        self._updates_only = updates_only
        self._oc: OrderedConsumer | None = None
        self._msgs: MessagesContext | None = None
        self._convert = convert
        self._skip = skip
        self._what = what
        self._init_done = updates_only
        self._marker_due = False
        self._stopped = False

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running" if self._msgs else "not started"
        return f"<Watcher {self._what} {state}>"

    async def _start(self) -> MessagesContext:
        """Make the ordered consumer (once): its pending count tells whether
        there are current items at all."""
        if self._stopped:
            raise SubscriptionClosedError(f"{self._what}: the watch is stopped")
        if self._msgs is not None:
            return self._msgs
        oc = await self._js.ordered_consumer(
            self._stream,
            filter_subjects=self._subjects,
            deliver_policy=self._policy,
            opt_start_seq=self._start_seq,
            headers_only=self._headers_only,
        )
        msgs = oc.messages()
        self._oc, self._msgs = oc, msgs
        await msgs._open(None)  # creates the consumer: its pending count is known
        info = oc.cached_info
        if not self._updates_only and info is not None and info.num_pending == 0:
            self._marker_due = True
        return msgs

    async def _started(self) -> Watcher[T]:
        await self._start()
        return self

    def __await__(self) -> Generator[Any, None, Watcher[T]]:
        """``w = await kv.watch(...)``: the watch, started."""
        return self._started().__await__()

    async def next(self, timeout: float | None = None) -> T | None:
        """The next item (``None``: the end of the current ones), waiting up to
        ``timeout`` seconds (None: as long as it takes); raises
        :class:`~nats_core.errors.NatsTimeoutError` when none came."""
        msgs = await self._start()
        while True:
            if self._marker_due:
                self._marker_due = False
                self._init_done = True
                return None
            msg = await msgs.next(timeout)
            item = self._convert(msg)
            if not self._init_done and msg.metadata.num_pending == 0:
                self._marker_due = True  # the last of the current items
            if self._skip(item):
                continue
            return item

    async def _initial(self) -> list[T]:
        """The current items, up to the end-of-current marker."""
        out: list[T] = []
        while True:
            item = await self._next_initial()
            if item is None:
                return out
            out.append(item)

    async def _next_initial(self) -> T | None:
        """The next of the current items (``None``: no more), within
        ``_COLLECT_WAIT`` seconds."""
        try:
            return await self.next(_COLLECT_WAIT)
        except NatsTimeoutError:
            raise NatsTimeoutError(
                f"{self._what}: the current entries did not all arrive within {_COLLECT_WAIT} s"
            ) from None

    async def stop(self) -> None:
        """Stop watching (the consumer goes with it)."""
        self._stopped = True
        if self._msgs is not None:
            await self._msgs.stop()

    def __aiter__(self) -> Watcher[T]:
        return self

    async def __anext__(self) -> T | None:
        try:
            return await self.next()
        except SubscriptionClosedError:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Watcher[T]:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class KeyLister:
    """The keys of :meth:`KeyValue.list_keys`, one at a time: ``async for key in
    kv.list_keys():``. It ends after the keys that had a value when it started;
    :meth:`stop` (or leaving ``async with``) ends it early."""

    def __init__(self, watcher: Watcher[KeyValueEntry]) -> None:
        self._watcher = watcher
        self._done = False

    def __repr__(self) -> str:
        return f"<KeyLister {self._watcher._what}>"

    async def stop(self) -> None:
        """Stop listing (the consumer goes with it)."""
        self._done = True
        await self._watcher.stop()

    def __aiter__(self) -> KeyLister:
        return self

    async def __anext__(self) -> str:
        if self._done:
            raise StopAsyncIteration
        entry = await self._watcher._next_initial()
        if entry is None:
            await self.stop()
            raise StopAsyncIteration
        return entry.key

    async def __aenter__(self) -> KeyLister:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _never(_item: object) -> bool:
    return False


def _is_marker(entry: KeyValueEntry) -> bool:
    return entry.operation is not KeyValueOp.PUT


KeyWatcher = Watcher[KeyValueEntry]
"""What :meth:`KeyValue.watch` returns (nats.go's ``KeyWatcher``)."""
