"""JetStream for the async client: streams, consumers, publish, pull consumers.

Get a context with ``js = nc.jetstream()`` from a :class:`nats_anyio.Client`.
Every call builds its request with :mod:`nats_core.jetstream`, sends it on the
client and parses the reply there; the long flows (fetch, continuous consume,
ordered consumer, async publish) feed the core's state machines and do what
they say.

It waits, sleeps, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from nats_core import HeadersInput
from nats_core.errors import NatsTimeoutError, NoRespondersError, SubscriptionClosedError
from nats_core.jetstream import requests as _req
from nats_core.jetstream.api import DEFAULT_API_PREFIX, JSApi
from nats_core.jetstream.errors import (
    APIError,
    JetStreamError,
    JetStreamNotEnabledError,
    NoStreamResponseError,
    StreamNotFoundError,
    TooManyPendingError,
)
from nats_core.jetstream.kv import (
    BucketNotFoundError,
    KeyValueConfig,
    check_bucket,
    kv_stream_config,
    kv_stream_name,
)
from nats_core.jetstream.models import (
    AccountInfo,
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPauseResponse,
    DeliverPolicy,
    PubAck,
    ReplayPolicy,
    StoredMsg,
    StreamConfig,
    StreamInfo,
)
from nats_core.jetstream.objectstore import (
    ObjectStoreConfig,
    obj_stream_config,
    obj_stream_name,
)
from nats_core.jetstream.ordered import (
    DEFAULT_INACTIVE_THRESHOLD,
    OrderedConsumerState,
    ResetPlan,
)
from nats_core.jetstream.publish import (
    DEFAULT_MAX_PENDING,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_WAIT,
    AsyncPublishTracker,
    PendingPublish,
    parse_pub_ack,
    publish_headers,
)
from nats_core.jetstream.pull import (
    DEFAULT_EXPIRES,
    FetchState,
    PullConsumeState,
    PullOutcome,
    PullRequest,
    next_request,
)

from ._compat import (
    Event,
    Future,
    Lister,
    StateLock,
    call_maybe_async,
    now,
    resolve,
    sleep,
    spawn,
)
from ._kv import KeyValue
from ._msg import Msg
from ._objectstore import ObjectStore
from ._subscription import Subscription

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "ConsumeContext",
    "Consumer",
    "JetStream",
    "MessageBatch",
    "MessagesContext",
    "OrderedConsumer",
]

_M = TypeVar("_M", StreamConfig, ConsumerConfig, KeyValueConfig, ObjectStoreConfig)

#: Longest wait between looks at the connection (a reconnect means pulling again).
_POLL = 0.25
#: How often the async publish reaper expires overdue acks.
_REAP_INTERVAL = 0.25
#: Seconds the best-effort delete of a replaced ordered consumer may take.
_DELETE_TIMEOUT = 2.0

_SAME, _DOWN, _UP = 0, 1, 2

ErrorCallback = Callable[[BaseException], object]


def _with_fields(cls: type[_M], config: _M | None, fields: dict[str, Any]) -> _M:
    """``config`` with ``fields`` replaced, or a new ``cls(**fields)``."""
    if config is None:
        return cls(**fields)
    if not isinstance(config, cls):
        raise TypeError(f"expected a {cls.__name__}, not {type(config).__name__}")
    return dataclasses.replace(config, **fields) if fields else config


class _ConnWatch:
    """Notices that the connection dropped or came back (a pull must then be renewed)."""

    __slots__ = ("_down", "_nc", "_reconnects")

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._reconnects = nc.stats.reconnects
        self._down = not nc.is_connected

    def poll(self) -> int:
        """``_DOWN`` once after a disconnect, ``_UP`` once after a reconnect, else ``_SAME``."""
        nc = self._nc
        if not nc.is_connected:
            if self._down:
                return _SAME
            self._down = True
            return _DOWN
        count = nc.stats.reconnects
        if count != self._reconnects or self._down:
            self._reconnects = count
            self._down = False
            return _UP
        return _SAME


async def _next_or_none(sub: Subscription, timeout: float) -> Msg | None:
    try:
        return await sub.next_msg(timeout=max(timeout, 0.0))
    except NatsTimeoutError:
        return None


async def _unsubscribe_quietly(sub: Subscription | None) -> None:
    if sub is not None and not sub.is_closed:
        try:
            await sub.unsubscribe()
        except Exception:  # the connection may be closed already
            pass


class MessageBatch(list[Msg]):
    """The messages one fetch returned, in order.

    ``error`` says why the fetch ended early when it still returned messages
    (a fetch that ends with an error and no message raises it instead).
    """

    __slots__ = ("error",)

    def __init__(self, msgs: Sequence[Msg] = (), error: JetStreamError | None = None) -> None:
        super().__init__(msgs)
        self.error = error


# ==================================================================== context


class JetStream:
    """A JetStream context: management API, publish, and consumer handles.

    Get one with ``nc.jetstream(domain=None, api_prefix=None, timeout=5.0)``.
    ``domain`` reaches the JetStream of another domain (``$JS.<domain>.API``),
    ``api_prefix`` an imported API; ``timeout`` bounds each API request.
    ``publish_async_max_pending`` caps the async publishes awaiting an ack
    (``publish_async`` waits for room), ``publish_async_timeout`` fails an
    async publish whose ack is that many seconds late (``None``: never).
    """

    def __init__(
        self,
        client: Client,
        *,
        domain: str | None = None,
        api_prefix: str | None = None,
        timeout: float = 5.0,
        publish_async_max_pending: int = DEFAULT_MAX_PENDING,
        publish_async_timeout: float | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self._nc = client
        self._api = JSApi(api_prefix or DEFAULT_API_PREFIX, domain=domain)
        self._timeout = timeout
        self._lock = StateLock()
        self._pa_max_pending = publish_async_max_pending
        self._pa_timeout = publish_async_timeout
        if publish_async_max_pending < 1:
            raise ValueError("publish_async_max_pending must be at least 1")
        if publish_async_timeout is not None and publish_async_timeout <= 0:
            raise ValueError("publish_async_timeout must be positive (or None)")
        self._pa: AsyncPublishTracker | None = None
        self._pa_futs: dict[str, Future[PubAck]] = {}
        self._pa_event: Event | None = None
        self._pa_waiting = False  # someone waits on _pa_event
        self._pa_sub: Subscription | None = None

    def __repr__(self) -> str:
        return f"<JetStream {self._api.prefix}>"

    @property
    def client(self) -> Client:
        """The connection this context uses."""
        return self._nc

    @property
    def api(self) -> JSApi:
        """The API subjects in use (prefix and domain)."""
        return self._api

    @property
    def timeout(self) -> float:
        """Seconds each API request may take."""
        return self._timeout

    # ------------------------------------------------------------ requests

    async def _request(self, req: _req.JSRequest, timeout: float | None = None) -> Msg:
        """Send an API request; no responders means JetStream is not there."""
        try:
            return await self._nc.request(
                req.subject,
                req.payload,
                timeout=self._timeout if timeout is None else timeout,
                headers=req.headers,
            )
        except NoRespondersError:
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for the jetstream api request on {req.subject!r}: JetStream "
                "is not enabled, or the domain or api prefix is wrong",
            ) from None

    # ------------------------------------------------------------- account

    async def account_info(self) -> AccountInfo:
        """The account's JetStream usage, limits and API statistics."""
        return _req.parse_account_info(await self._request(_req.account_info(api=self._api)))

    # ------------------------------------------------------------- streams

    async def create_stream(self, config: StreamConfig | None = None, **fields: Any) -> StreamInfo:
        """Create a stream from ``config`` or fields (``name="ORDERS", subjects=["orders.>"]``).

        Creating a stream that exists with the same configuration succeeds;
        with another, raises :class:`~nats_core.jetstream.StreamNameInUseError`.
        """
        cfg = _with_fields(StreamConfig, config, fields)
        reply = await self._request(_req.add_stream(cfg, api=self._api))
        return _req.parse_stream_info(reply)

    async def update_stream(self, config: StreamConfig | None = None, **fields: Any) -> StreamInfo:
        """Update a stream's configuration (:class:`~nats_core.jetstream.StreamNotFoundError`
        when it does not exist)."""
        cfg = _with_fields(StreamConfig, config, fields)
        reply = await self._request(_req.update_stream(cfg, api=self._api))
        return _req.parse_stream_info(reply)

    async def create_or_update_stream(
        self, config: StreamConfig | None = None, **fields: Any
    ) -> StreamInfo:
        """Update the stream, or create it when it does not exist."""
        cfg = _with_fields(StreamConfig, config, fields)
        try:
            return await self.update_stream(cfg)
        except StreamNotFoundError:
            return await self.create_stream(cfg)

    async def stream_info(
        self, name: str, *, subjects_filter: str | None = None, deleted_details: bool = False
    ) -> StreamInfo:
        """A stream's configuration and state.

        ``subjects_filter`` (a subject, wildcards allowed) fills
        ``state.subjects`` with message counts per subject, every page of
        them; ``deleted_details`` fills ``state.deleted`` with the deleted
        sequences.
        """
        req = _req.stream_info(
            name, subjects_filter=subjects_filter, deleted_details=deleted_details, api=self._api
        )
        info, paging = _req.parse_stream_info_page(await self._request(req))
        if subjects_filter is None:
            return info
        subjects = dict(info.state.subjects or {})
        offset = paging.next_offset(len(info.state.subjects or {}))
        while offset is not None:
            req = _req.stream_info(
                name,
                subjects_filter=subjects_filter,
                deleted_details=deleted_details,
                offset=offset,
                api=self._api,
            )
            page, paging = _req.parse_stream_info_page(await self._request(req))
            got = page.state.subjects or {}
            subjects.update(got)
            offset = paging.next_offset(len(got))
        info.state.subjects = subjects
        return info

    async def delete_stream(self, name: str) -> bool:
        """Delete a stream and every message in it."""
        return _req.parse_delete(await self._request(_req.delete_stream(name, api=self._api)))

    async def purge_stream(
        self,
        name: str,
        *,
        subject: str | None = None,
        seq: int | None = None,
        keep: int | None = None,
    ) -> int:
        """Remove messages; return how many.

        All of them, or only those on ``subject``; up to (not including)
        ``seq``, or all but the last ``keep``.
        """
        req = _req.purge_stream(name, subject=subject, seq=seq, keep=keep, api=self._api)
        return _req.parse_purge(await self._request(req))

    async def stream_names(self, *, subject: str | None = None) -> Lister[str]:
        """Every stream's name (only those capturing ``subject`` if given), page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.stream_names(offset=offset, subject=subject, api=self._api)
            page = _req.parse_stream_names(await self._request(req))
            for name in page.names:
                yield name
            offset = page.next_offset()

    async def list_streams(self, *, subject: str | None = None) -> Lister[StreamInfo]:
        """Every stream's info (only those capturing ``subject`` if given), page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.stream_list(offset=offset, subject=subject, api=self._api)
            page = _req.parse_stream_list(await self._request(req))
            for info in page.streams:
                yield info
            offset = page.next_offset()

    async def find_stream_by_subject(self, subject: str) -> str:
        """The name of the stream that captures ``subject``
        (:class:`~nats_core.jetstream.StreamNotFoundError` when none does)."""
        reply = await self._request(_req.find_stream_by_subject(subject, api=self._api))
        return _req.parse_find_stream(reply, subject)

    stream_name_by_subject = find_stream_by_subject

    # ------------------------------------------------------------ messages

    async def get_msg(
        self,
        stream: str,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
        direct: bool = False,
    ) -> StoredMsg:
        """Read one stored message: by ``seq``, the last one on ``last_by_subject``,
        or the first on ``next_by_subject`` at or after ``seq``.

        ``direct`` uses the direct get API (the stream needs ``allow_direct``;
        any replica answers). A missing message raises
        :class:`~nats_core.jetstream.MsgNotFoundError`.
        """
        if not direct:
            req = _req.get_msg(
                stream,
                seq,
                last_by_subject=last_by_subject,
                next_by_subject=next_by_subject,
                api=self._api,
            )
            return _req.parse_stored_msg(await self._request(req))
        req = _req.direct_get(
            stream,
            seq,
            last_by_subject=last_by_subject,
            next_by_subject=next_by_subject,
            api=self._api,
        )
        try:
            reply = await self._nc.request(
                req.subject, req.payload, timeout=self._timeout, headers=req.headers
            )
        except NoRespondersError:
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for direct get on stream {stream!r}: "
                "does it allow direct gets (allow_direct)?",
            ) from None
        return _req.parse_direct_get(reply)

    async def get_last_msg_for_subject(
        self, stream: str, subject: str, *, direct: bool = False
    ) -> StoredMsg:
        """The last message stored on ``subject`` (see :meth:`get_msg`)."""
        return await self.get_msg(stream, last_by_subject=subject, direct=direct)

    async def delete_msg(self, stream: str, seq: int, *, secure_erase: bool = False) -> bool:
        """Delete the message ``seq``; ``secure_erase`` also overwrites its data on disk."""
        req = _req.delete_msg(stream, seq, secure_erase=secure_erase, api=self._api)
        return _req.parse_delete(await self._request(req))

    async def secure_delete_msg(self, stream: str, seq: int) -> bool:
        """:meth:`delete_msg` with ``secure_erase=True``."""
        return await self.delete_msg(stream, seq, secure_erase=True)

    # ----------------------------------------------------------- consumers

    async def _add_consumer(
        self, stream: str, config: ConsumerConfig | None, fields: dict[str, Any], action: str
    ) -> Consumer:
        cfg = _with_fields(ConsumerConfig, config, fields)
        reply = await self._request(_req.add_consumer(stream, cfg, action, api=self._api))
        return Consumer(self, stream, _req.parse_consumer_info(reply))

    async def create_consumer(
        self, stream: str, config: ConsumerConfig | None = None, **fields: Any
    ) -> Consumer:
        """Create a pull consumer and return its handle.

        ``config`` or fields (``durable_name="worker", filter_subjects=[...]``);
        without a name or durable name the consumer is ephemeral. Raises
        :class:`~nats_core.jetstream.ConsumerAlreadyExistsError` when one of
        that name exists with another configuration.
        """
        return await self._add_consumer(stream, config, fields, _req.ConsumerAction.CREATE)

    async def update_consumer(
        self, stream: str, config: ConsumerConfig | None = None, **fields: Any
    ) -> Consumer:
        """Update an existing consumer
        (:class:`~nats_core.jetstream.ConsumerDoesNotExistError` if there is none)."""
        return await self._add_consumer(stream, config, fields, _req.ConsumerAction.UPDATE)

    async def create_or_update_consumer(
        self, stream: str, config: ConsumerConfig | None = None, **fields: Any
    ) -> Consumer:
        """Create the consumer, or update it when it exists."""
        return await self._add_consumer(
            stream,
            config,
            fields,
            _req.ConsumerAction.CREATE_OR_UPDATE,
        )

    async def consumer(self, stream: str, name: str) -> Consumer:
        """The handle of an existing consumer
        (:class:`~nats_core.jetstream.ConsumerNotFoundError` if there is none)."""
        return Consumer(self, stream, await self.consumer_info(stream, name))

    async def consumer_info(self, stream: str, name: str) -> ConsumerInfo:
        """A consumer's configuration and state."""
        reply = await self._request(_req.consumer_info(stream, name, api=self._api))
        return _req.parse_consumer_info(reply)

    async def delete_consumer(self, stream: str, name: str) -> bool:
        """Delete a consumer."""
        reply = await self._request(_req.delete_consumer(stream, name, api=self._api))
        return _req.parse_delete(reply)

    async def consumer_names(self, stream: str) -> Lister[str]:
        """Every consumer's name on ``stream``, page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.consumer_names(stream, offset=offset, api=self._api)
            page = _req.parse_consumer_names(await self._request(req))
            for name in page.names:
                yield name
            offset = page.next_offset()

    async def list_consumers(self, stream: str) -> Lister[ConsumerInfo]:
        """Every consumer's info on ``stream``, page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.consumer_list(stream, offset=offset, api=self._api)
            page = _req.parse_consumer_list(await self._request(req))
            for info in page.consumers:
                yield info
            offset = page.next_offset()

    async def pause_consumer(
        self,
        stream: str,
        name: str,
        until: datetime,
    ) -> ConsumerPauseResponse:
        """Stop delivering from the consumer until ``until`` (server 2.11+)."""
        reply = await self._request(_req.pause_consumer(stream, name, until, api=self._api))
        return _req.parse_pause(reply)

    async def resume_consumer(self, stream: str, name: str) -> ConsumerPauseResponse:
        """Resume a paused consumer now (server 2.11+)."""
        reply = await self._request(_req.pause_consumer(stream, name, None, api=self._api))
        return _req.parse_pause(reply)

    async def ordered_consumer(
        self,
        stream: str,
        *,
        filter_subjects: str | Sequence[str] | None = None,
        deliver_policy: DeliverPolicy | str = DeliverPolicy.ALL,
        opt_start_seq: int | None = None,
        opt_start_time: datetime | None = None,
        replay_policy: ReplayPolicy | str | None = None,
        inactive_threshold: timedelta | float = DEFAULT_INACTIVE_THRESHOLD,
        headers_only: bool = False,
        max_reset_attempts: int | None = None,
    ) -> OrderedConsumer:
        """An ordered consumer of ``stream``: every message once, in stream order,
        with no consumer to manage.

        It runs on ephemeral consumers (ack none, memory, one replica) that it
        recreates from the last stream sequence + 1 after a gap, missed
        heartbeats, a deleted consumer or a reconnect. ``max_reset_attempts``
        bounds the failed recreations in a row (``None``: no bound).
        """
        state = OrderedConsumerState(
            stream,
            name_prefix=self._nc.new_inbox().rpartition(".")[2],
            filter_subjects=filter_subjects,
            deliver_policy=DeliverPolicy(deliver_policy),
            opt_start_seq=opt_start_seq,
            opt_start_time=opt_start_time,
            replay_policy=None if replay_policy is None else ReplayPolicy(replay_policy),
            inactive_threshold=inactive_threshold,
            headers_only=headers_only,
            max_reset_attempts=max_reset_attempts,
            api=self._api,
        )
        return OrderedConsumer(self, state)

    # ----------------------------------------------------------- key-value

    async def create_key_value(
        self,
        config: KeyValueConfig | None = None,
        **fields: Any,
    ) -> KeyValue:
        """Create a Key-Value bucket from ``config`` or fields (``bucket="config",
        history=5``); the same configuration again succeeds, another raises
        :class:`~nats_core.jetstream.StreamNameInUseError`."""
        cfg = _with_fields(KeyValueConfig, config, fields)
        info = await self.create_stream(kv_stream_config(cfg))
        return KeyValue(self, cfg.bucket, info)

    async def update_key_value(
        self,
        config: KeyValueConfig | None = None,
        **fields: Any,
    ) -> KeyValue:
        """Change a bucket's configuration
        (:class:`~nats_core.jetstream.kv.BucketNotFoundError` when there is none)."""
        cfg = _with_fields(KeyValueConfig, config, fields)
        try:
            info = await self.update_stream(kv_stream_config(cfg))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {cfg.bucket!r} not found") from None
        return KeyValue(self, cfg.bucket, info)

    async def key_value(self, bucket: str) -> KeyValue:
        """The bucket ``bucket`` (:class:`~nats_core.jetstream.kv.BucketNotFoundError`
        when it does not exist)."""
        try:
            info = await self.stream_info(kv_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {bucket!r} not found") from None
        return KeyValue(self, bucket, info)

    async def key_value_store_names(self) -> Lister[str]:
        """Every Key-Value bucket's name, page by page."""
        async for name in self.stream_names(subject="$KV.>"):
            if name.startswith("KV_"):
                yield name[3:]

    async def delete_key_value(self, bucket: str) -> bool:
        """Delete the bucket and everything in it."""
        try:
            return await self.delete_stream(kv_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {bucket!r} not found") from None

    # -------------------------------------------------------- object store

    async def create_object_store(
        self,
        config: ObjectStoreConfig | None = None,
        **fields: Any,
    ) -> ObjectStore:
        """Create an Object Store bucket from ``config`` or fields (``bucket="files"``)."""
        cfg = _with_fields(ObjectStoreConfig, config, fields)
        info = await self.create_stream(obj_stream_config(cfg))
        return ObjectStore(self, cfg.bucket, info)

    async def object_store(self, bucket: str) -> ObjectStore:
        """The bucket ``bucket`` (:class:`~nats_core.jetstream.kv.BucketNotFoundError`
        when it does not exist)."""
        try:
            info = await self.stream_info(obj_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"object store {bucket!r} not found") from None
        return ObjectStore(self, bucket, info)

    async def object_store_names(self) -> Lister[str]:
        """Every Object Store bucket's name, page by page."""
        async for name in self.stream_names(subject="$O.>"):
            if name.startswith("OBJ_"):
                yield name[4:]

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete the bucket and every object in it."""
        try:
            return await self.delete_stream(obj_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"object store {bucket!r} not found") from None

    # ------------------------------------------------------------- publish

    async def publish(
        self,
        subject: str,
        data: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_msg_id: str | None = None,
        ttl: timedelta | float | str | None = None,
        timeout: float | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        retry_wait: float = DEFAULT_RETRY_WAIT,
    ) -> PubAck:
        """Publish to a stream and wait for its acknowledgement.

        ``msg_id`` deduplicates within the stream's duplicate window (the ack
        says ``duplicate``); the ``expected_*`` options make the publish fail
        unless the stream's state matches; ``ttl`` (seconds, timedelta or
        ``"never"``) is a per-message TTL (the stream needs
        ``allow_msg_ttl``, server 2.11+). When no stream answers (503) the
        publish is retried ``retry_attempts`` times ``retry_wait`` seconds
        apart, then raises :class:`~nats_core.jetstream.NoStreamResponseError`.
        """
        hdrs = publish_headers(
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_msg_id=expected_last_msg_id,
            ttl=ttl,
        )
        wait = self._timeout if timeout is None else timeout
        attempt = 0
        while True:
            try:
                reply = await self._nc.request(subject, data, timeout=wait, headers=hdrs)
            except NoRespondersError:
                if attempt >= retry_attempts:
                    raise NoStreamResponseError(subject) from None
                attempt += 1
                await sleep(retry_wait)
                continue
            return parse_pub_ack(reply, subject=subject)

    async def _pa_tracker(self) -> AsyncPublishTracker:
        with self._lock:
            # The subscribe below queues SUB at once (nothing to wait for in
            # the task flavour), so no other caller can slip in here.
            tracker = self._pa
            if tracker is None:
                tracker = AsyncPublishTracker(
                    self._nc.new_inbox() + ".",
                    max_pending=self._pa_max_pending,
                    ack_timeout=self._pa_timeout,
                )
                self._pa_event = Event()
                self._pa_sub = await self._nc.subscribe(
                    tracker.subscription_subject,
                    cb=self._on_pub_ack,
                )
                self._pa = tracker
                spawn(self._nc, self._pa_reaper, tracker, name="nats-js-publish-async")
        return tracker

    def _pa_changed(self) -> None:
        """Wake whoever waits for room or for completion (call with the lock held)."""
        if self._pa_waiting:
            self._pa_waiting = False
            event, self._pa_event = self._pa_event, Event()
            if event is not None:
                event.set()

    async def _on_pub_ack(self, msg: Msg) -> None:
        tracker = self._pa
        if tracker is None:
            return
        with self._lock:
            out = tracker.on_reply(msg, now())
            if out is None:
                return
            fut = None if out.retry is not None else self._pa_futs.pop(out.token, None)
            if out.retry is None:
                self._pa_changed()
        if out.retry is not None:
            spawn(self._nc, self._pa_republish, out.retry, name="nats-js-publish-retry")
        elif fut is not None:
            resolve(fut, out.ack, out.error)

    async def _pa_republish(self, pending: PendingPublish) -> None:
        tracker = self._pa
        await sleep(DEFAULT_RETRY_WAIT if tracker is None else tracker.retry_wait)
        await self._nc.publish(
            pending.subject, pending.payload, reply=pending.reply, headers=pending.headers
        )

    async def _pa_reaper(self, tracker: AsyncPublishTracker) -> None:
        """Fails overdue acks; once the client closes, fails every pending publish."""
        try:
            while not self._nc.is_closed:
                await sleep(_REAP_INTERVAL)
                with self._lock:
                    outs = tracker.expire(now())
                    done = [(self._pa_futs.pop(o.token, None), o) for o in outs]
                    if outs:
                        self._pa_changed()
                for fut, out in done:
                    if fut is not None:
                        resolve(fut, None, out.error)
        finally:
            with self._lock:
                outs = tracker.fail_all(
                    JetStreamError("the connection closed before the publish was acknowledged")
                )
                done = [(self._pa_futs.pop(o.token, None), o) for o in outs]
                self._pa_changed()
            for fut, out in done:
                if fut is not None:
                    resolve(fut, None, out.error)

    async def publish_async(
        self,
        subject: str,
        data: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_msg_id: str | None = None,
        ttl: timedelta | float | str | None = None,
        stall_timeout: float | None = None,
    ) -> Future[PubAck]:
        """Publish to a stream without waiting for the ack; return a future of the
        :class:`~nats_core.jetstream.PubAck` (it raises the publish's error instead).

        At most ``publish_async_max_pending`` publishes wait for their acks: past
        that, this call waits for room, up to ``stall_timeout`` seconds when
        given (then :class:`~nats_core.jetstream.TooManyPendingError`). Options
        as for :meth:`publish`; 503 (no stream) is retried like there.
        """
        hdrs = publish_headers(
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_msg_id=expected_last_msg_id,
            ttl=ttl,
        )
        tracker = await self._pa_tracker()
        deadline = None if stall_timeout is None else now() + stall_timeout
        while True:
            with self._lock:
                if not tracker.is_full:
                    pending = tracker.track(subject, data, hdrs, now=now())
                    fut: Future[PubAck] = Future()
                    self._pa_futs[pending.token] = fut
                    break
                self._pa_waiting = True
                event = self._pa_event
            left = None if deadline is None else deadline - now()
            if left is not None and left <= 0:
                raise TooManyPendingError(
                    f"{tracker.pending_count} async publishes still wait for their acks after "
                    f"{stall_timeout} s (max_pending={tracker.max_pending})"
                )
            if event is not None:
                await event.wait(left)
        try:
            await self._nc.publish(subject, data, reply=pending.reply, headers=hdrs)
        except BaseException:
            with self._lock:
                tracker.forget(pending.token)
                self._pa_futs.pop(pending.token, None)
                self._pa_changed()
            raise
        return fut

    @property
    def publish_async_pending(self) -> int:
        """Async publishes awaiting their acks."""
        return 0 if self._pa is None else self._pa.pending_count

    async def publish_async_complete(self, timeout: float | None = None) -> None:
        """Wait until every async publish is acknowledged (or failed).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when some are still
        pending after ``timeout`` seconds (``None``: wait as long as it takes).
        """
        deadline = None if timeout is None else now() + timeout
        while True:
            with self._lock:
                tracker = self._pa
                if tracker is None or tracker.all_done:
                    return
                self._pa_waiting = True
                event = self._pa_event
            left = None if deadline is None else deadline - now()
            if left is not None and left <= 0:
                raise NatsTimeoutError(
                    f"{tracker.pending_count} async publishes still wait for their acks "
                    f"after {timeout} s",
                )
            if event is not None:
                await event.wait(left)

    # ------------------------------------------------------------- helpers

    async def _send_pull(self, stream: str, consumer: str, req: PullRequest, inbox: str) -> None:
        jr = next_request(stream, consumer, req, api=self._api)
        await self._nc.publish(jr.subject, jr.payload, reply=inbox)

    async def _act(self, out: PullOutcome, stream: str, consumer: str, inbox: str) -> None:
        if out.respond_to:
            await self._nc.publish(out.respond_to, b"")
        if out.pull is not None:
            await self._send_pull(stream, consumer, out.pull, inbox)

    async def _report(self, error_cb: ErrorCallback | None, error: BaseException) -> None:
        if error_cb is not None:
            try:
                await call_maybe_async(error_cb, error)
            except Exception as exc:
                self._nc._report_error(exc)
        else:
            self._nc._report_error(error)

    async def _delete_consumer_quietly(self, stream: str, name: str) -> None:
        try:
            await self._request(_req.delete_consumer(stream, name, api=self._api), _DELETE_TIMEOUT)
        except Exception:  # best effort: it goes away by itself when inactive
            pass

    async def _fetch(
        self, stream: str, consumer: str, state: FetchState, ordered: OrderedConsumerState | None
    ) -> MessageBatch:
        """Run one pull request to completion (see :class:`FetchState`)."""
        nc = self._nc
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        batch = MessageBatch()
        watch = _ConnWatch(nc)
        try:
            await self._send_pull(stream, consumer, state.request, inbox)
            while not state.done:
                t = now()
                deadline = state.deadline
                wait = _POLL if deadline is None else min(_POLL, deadline - t)
                msg = await _next_or_none(sub, wait)
                if msg is None:
                    state.check(now())
                else:
                    out = state.on_msg(msg, now())
                    if out.respond_to:
                        await nc.publish(out.respond_to, b"")
                    if out.deliver:
                        if ordered is not None:
                            verdict = ordered.on_msg(msg)
                            if verdict.reset is not None:
                                state.stop()  # a gap: the next fetch starts after the last good one
                                break
                            if not verdict.deliver:
                                continue
                        batch.append(msg)
                if watch.poll() == _UP:
                    again = state.on_reconnect(now())
                    if again is not None:
                        await self._send_pull(stream, consumer, again, inbox)
        finally:
            await _unsubscribe_quietly(sub)
        if state.error is not None and not batch:
            raise state.error
        batch.error = state.error
        return batch


# ================================================================== consumers


def _consume_options(
    max_messages: int | None,
    max_bytes: int | None,
    expires: timedelta | float,
    idle_heartbeat: timedelta | float | None,
    threshold_messages: int | None,
    threshold_bytes: int | None,
    ordered: bool,
) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "max_messages": max_messages,
        "max_bytes": max_bytes,
        "expires": expires,
        "idle_heartbeat": idle_heartbeat,
        "threshold_messages": threshold_messages,
        "threshold_bytes": threshold_bytes,
        "ordered": ordered,
    }
    PullConsumeState(**opts)  # raise InvalidOptionError now rather than on the first message
    return opts


class Consumer:
    """A pull consumer: :meth:`fetch` batches, :meth:`next` one message,
    :meth:`messages` an endless iterator, :meth:`consume` a callback.

    Get one from :meth:`JetStream.create_consumer` (and friends) or
    :meth:`JetStream.consumer`.
    """

    __slots__ = ("_info", "_js", "_name", "_stream")

    def __init__(self, js: JetStream, stream: str, info: ConsumerInfo) -> None:
        self._js = js
        self._stream = stream
        self._name = info.name
        self._info = info

    def __repr__(self) -> str:
        return f"<Consumer {self._stream}/{self._name}>"

    @property
    def name(self) -> str:
        """The consumer's name."""
        return self._name

    @property
    def stream(self) -> str:
        """The stream it consumes."""
        return self._stream

    @property
    def cached_info(self) -> ConsumerInfo:
        """The info from when the handle was made or last refreshed by :meth:`info`."""
        return self._info

    async def info(self) -> ConsumerInfo:
        """Ask the server for the consumer's current info."""
        self._info = await self._js.consumer_info(self._stream, self._name)
        return self._info

    async def fetch(
        self,
        batch: int = 1,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
    ) -> MessageBatch:
        """Up to ``batch`` messages, waiting up to ``max_wait`` seconds (default 30)
        for them; returns what came (maybe nothing) once the batch is full or
        the wait is over. A fetch that fails before any message arrives raises
        (:class:`~nats_core.jetstream.ConsumerDeletedError`,
        :class:`~nats_core.jetstream.MissedHeartbeatError`...).
        """
        state = FetchState(batch, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now())
        return await self._js._fetch(self._stream, self._name, state, None)

    async def fetch_bytes(
        self,
        max_bytes: int,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
    ) -> MessageBatch:
        """Messages up to ``max_bytes`` bytes in all (as the server counts them), waiting
        up to ``max_wait`` seconds; see :meth:`fetch`."""
        state = FetchState(
            max_bytes=max_bytes, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now()
        )
        return await self._js._fetch(self._stream, self._name, state, None)

    async def fetch_no_wait(self, batch: int = 1) -> MessageBatch:
        """Up to ``batch`` messages that are available now; empty when there is none."""
        state = FetchState(batch, no_wait=True, now=now())
        return await self._js._fetch(self._stream, self._name, state, None)

    async def next(self, timeout: float = DEFAULT_EXPIRES) -> Msg:
        """The next message, waiting up to ``timeout`` seconds
        (:class:`~nats_core.errors.NatsTimeoutError` when none came)."""
        got = await self.fetch(1, max_wait=timeout)
        return _first(got, f"consumer {self._name!r}", timeout)

    def messages(
        self,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        expires: timedelta | float = DEFAULT_EXPIRES,
        idle_heartbeat: timedelta | float | None = None,
        threshold_messages: int | None = None,
        threshold_bytes: int | None = None,
        error_cb: ErrorCallback | None = None,
    ) -> MessagesContext:
        """An endless iterator of the consumer's messages (ADR-37 consume).

        It keeps up to ``max_messages`` (default 500) or ``max_bytes`` pulled
        ahead, pulling more when fewer than the thresholds (default half)
        remain; each pull lasts ``expires`` seconds on the server with idle
        heartbeats (default half of it, at most 30 s). Two missed heartbeats
        raise :class:`~nats_core.jetstream.MissedHeartbeatError` from the
        iterator (it pulls again; keep iterating); a deleted consumer ends it
        with :class:`~nats_core.jetstream.ConsumerDeletedError`. Other
        warnings go to ``error_cb`` (default: the client's error callback).
        After a reconnect it pulls again. Stop it with :meth:`MessagesContext.stop`,
        or use it as ``async with c.messages() as it:``.
        """
        opts = _consume_options(
            max_messages,
            max_bytes,
            expires,
            idle_heartbeat,
            threshold_messages,
            threshold_bytes,
            ordered=False,
        )
        return MessagesContext(self._js, self._stream, self._name, opts, error_cb, None)

    async def consume(
        self,
        cb: Callable[[Msg], object],
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        expires: timedelta | float = DEFAULT_EXPIRES,
        idle_heartbeat: timedelta | float | None = None,
        threshold_messages: int | None = None,
        threshold_bytes: int | None = None,
        error_cb: ErrorCallback | None = None,
    ) -> ConsumeContext:
        """Hand every message to ``cb`` in the background until :meth:`ConsumeContext.stop`.

        Options as for :meth:`messages`; every error (missed heartbeats
        included, and what ``cb`` raises) goes to ``error_cb`` (default: the
        client's error callback). A terminal error ends the consume.
        """
        it = self.messages(
            max_messages=max_messages,
            max_bytes=max_bytes,
            expires=expires,
            idle_heartbeat=idle_heartbeat,
            threshold_messages=threshold_messages,
            threshold_bytes=threshold_bytes,
            error_cb=error_cb,
        )
        return await ConsumeContext._start(self._js, it, cb, error_cb)


class OrderedConsumer:
    """An ordered consumer (see :meth:`JetStream.ordered_consumer`): the same
    :meth:`fetch`, :meth:`next`, :meth:`messages` and :meth:`consume` as
    :class:`Consumer`, one at a time.
    """

    __slots__ = ("_info", "_js", "_live", "_state")

    def __init__(self, js: JetStream, state: OrderedConsumerState) -> None:
        self._js = js
        self._state = state
        self._live: str | None = None  # the consumer that exists on the server
        self._info: ConsumerInfo | None = None

    def __repr__(self) -> str:
        return f"<OrderedConsumer {self._state.stream} ({self._live or 'not started'})>"

    @property
    def stream(self) -> str:
        """The stream it consumes."""
        return self._state.stream

    @property
    def name(self) -> str | None:
        """The name of the consumer in use now (it changes on each reset)."""
        return self._live

    @property
    def stream_seq(self) -> int:
        """The stream sequence of the last message delivered (0 before the first)."""
        return self._state.stream_seq

    @property
    def cached_info(self) -> ConsumerInfo | None:
        """The info of the consumer in use, as it was created (``None`` before the first)."""
        return self._info

    async def info(self) -> ConsumerInfo:
        """Ask the server for the info of the consumer in use."""
        if self._live is None:
            raise JetStreamError("the ordered consumer has not started: fetch or consume first")
        self._info = await self._js.consumer_info(self._state.stream, self._live)
        return self._info

    def _plan(self, reason: str) -> ResetPlan:
        state = self._state
        return state.start() if state.name is None else state.reset(reason)

    async def _create(self, plan: ResetPlan, error_cb: ErrorCallback | None) -> None:
        """Create the consumer of ``plan`` (retrying while the server is busy);
        the one it replaces is deleted in the background."""
        js = self._js
        old, self._live = self._live, None
        if old is not None and old != plan.name:
            spawn(
                js._nc,
                js._delete_consumer_quietly,
                self._state.stream,
                old,
                name="nats-js-ordered-delete",
            )
        attempt = 0
        while True:
            try:
                reply = await js._request(plan.create)
                self._info = _req.parse_consumer_info(reply)
            except (APIError, NatsTimeoutError) as exc:
                retry = isinstance(exc, NatsTimeoutError) or exc.code >= 500
                attempt += 1
                delay = self._state.reset_delay(attempt) if retry else None
                if delay is None:
                    raise
                await js._report(error_cb, exc)
                await sleep(delay)
                continue
            self._live = plan.name
            return

    async def _fetch(self, state: FetchState) -> MessageBatch:
        plan = self._state.begin_fetch() if self._state.name is not None else self._state.start()
        await self._create(plan, None)
        return await self._js._fetch(self._state.stream, plan.name, state, self._state)

    async def fetch(
        self,
        batch: int = 1,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
    ) -> MessageBatch:
        """Up to ``batch`` next messages in order (see :meth:`Consumer.fetch`)."""
        state = FetchState(batch, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now())
        return await self._fetch(state)

    async def fetch_bytes(
        self,
        max_bytes: int,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
    ) -> MessageBatch:
        """Next messages up to ``max_bytes`` bytes (see :meth:`Consumer.fetch_bytes`)."""
        state = FetchState(
            max_bytes=max_bytes, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now()
        )
        return await self._fetch(state)

    async def fetch_no_wait(self, batch: int = 1) -> MessageBatch:
        """Up to ``batch`` next messages available now."""
        return await self._fetch(FetchState(batch, no_wait=True, now=now()))

    async def next(self, timeout: float = DEFAULT_EXPIRES) -> Msg:
        """The next message in order (:class:`~nats_core.errors.NatsTimeoutError` if none)."""
        got = await self.fetch(1, max_wait=timeout)
        return _first(got, "the ordered consumer", timeout)

    def messages(
        self,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        expires: timedelta | float = DEFAULT_EXPIRES,
        idle_heartbeat: timedelta | float | None = None,
        threshold_messages: int | None = None,
        threshold_bytes: int | None = None,
        error_cb: ErrorCallback | None = None,
    ) -> MessagesContext:
        """An endless iterator of the stream's messages, in order (see
        :meth:`Consumer.messages`). Gaps, missed heartbeats, a deleted
        consumer and reconnects recreate the consumer instead of raising;
        they are reported to ``error_cb``.
        """
        opts = _consume_options(
            max_messages,
            max_bytes,
            expires,
            idle_heartbeat,
            threshold_messages,
            threshold_bytes,
            ordered=True,
        )
        return MessagesContext(self._js, self._state.stream, None, opts, error_cb, self)

    async def consume(
        self,
        cb: Callable[[Msg], object],
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
        expires: timedelta | float = DEFAULT_EXPIRES,
        idle_heartbeat: timedelta | float | None = None,
        threshold_messages: int | None = None,
        threshold_bytes: int | None = None,
        error_cb: ErrorCallback | None = None,
    ) -> ConsumeContext:
        """Hand every message, in order, to ``cb`` in the background (see
        :meth:`Consumer.consume`)."""
        it = self.messages(
            max_messages=max_messages,
            max_bytes=max_bytes,
            expires=expires,
            idle_heartbeat=idle_heartbeat,
            threshold_messages=threshold_messages,
            threshold_bytes=threshold_bytes,
            error_cb=error_cb,
        )
        return await ConsumeContext._start(self._js, it, cb, error_cb)


# ================================================================== consuming


class MessagesContext:
    """The iterator :meth:`Consumer.messages` returns: ``async for msg in it``
    or ``await it.next(timeout)``; :meth:`stop` ends it, and so does the end of
    ``async with c.messages() as it:``.

    Nothing is sent before the first message is asked for.
    """

    def __init__(
        self,
        js: JetStream,
        stream: str,
        name: str | None,
        opts: dict[str, Any],
        error_cb: ErrorCallback | None,
        ordered: OrderedConsumer | None,
    ) -> None:
        self._js = js
        self._stream = stream
        self._name = name or ""
        self._opts = opts
        self._error_cb = error_cb
        self._ordered = ordered
        self._sub: Subscription | None = None
        self._inbox = ""
        self._pull: PullConsumeState | None = None
        self._watch: _ConnWatch | None = None
        self._stopped = False
        self._error: Exception | None = None

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<MessagesContext {self._stream}/{self._name or '-'} {state}>"

    @property
    def is_stopped(self) -> bool:
        """True once stopped, or ended by a terminal error."""
        return self._stopped

    async def _open(self, plan: ResetPlan | None) -> None:
        """(Re)start pulling: a new subscription, a new pull state, a new pull
        (and for an ordered consumer, the new consumer of ``plan`` first)."""
        nc = self._js._nc
        await _unsubscribe_quietly(self._sub)
        self._sub = None
        oc = self._ordered
        if oc is not None:
            if plan is None:
                plan = oc._plan("start")
            try:
                await oc._create(plan, self._error_cb)
            except Exception as exc:
                self._fail(exc)
                raise
            self._name = plan.name
        pull = self._pull = PullConsumeState(**self._opts)
        self._inbox = nc.new_inbox()
        self._sub = await nc.subscribe(self._inbox)
        self._watch = _ConnWatch(nc)
        await self._js._send_pull(self._stream, self._name, pull.start(now()), self._inbox)
        if self._stopped:  # stopped from elsewhere meanwhile
            await self.stop()

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._stopped = True
        if self._pull is not None:
            self._pull.stop()

    async def _recover(self, error: JetStreamError) -> bool:
        """For an ordered consumer, recreate it if ``error`` calls for it."""
        oc = self._ordered
        if oc is None:
            return False
        plan = oc._state.on_error(error)
        if plan is None:
            return False
        await self._js._report(self._error_cb, error)
        await self._open(plan)
        return True

    async def _step(self, deadline: float | None) -> Msg | None:
        """Wait once (briefly) and act on what came; a message to deliver, or ``None``."""
        js, pull, sub, watch = self._js, self._pull, self._sub, self._watch
        assert pull is not None and sub is not None and watch is not None
        change = watch.poll()
        if change == _DOWN:
            pull.on_disconnect()
        elif change == _UP:
            if self._ordered is not None:
                await self._open(self._ordered._state.on_reconnect())
                return None
            pull.on_disconnect()
            again = pull.on_reconnect(now())
            if again is not None:
                await js._send_pull(self._stream, self._name, again, self._inbox)
        t = now()
        wait = _POLL
        due = pull.deadline  # missed heartbeats, or the time to pull again after a lost pull
        if due is not None:
            wait = min(wait, due - t)
        if deadline is not None:
            wait = min(wait, deadline - t)
        msg = None if due is not None and due <= t else await _next_or_none(sub, wait)
        if msg is None:
            out = pull.check(now())
            if out is None:
                return None
            if out.error is not None and await self._recover(out.error):
                return None
            await js._act(out, self._stream, self._name, self._inbox)
            if out.error is not None:
                raise out.error  # missed heartbeats: pulled again, the caller may go on
            return None
        out = pull.on_msg(msg, now())
        if out.done:
            error = out.error or JetStreamError("the consume ended")
            if await self._recover(error):
                return None
            self._fail(error)
            await _unsubscribe_quietly(sub)
            raise error
        if out.error is not None and await self._recover(out.error):
            return None
        await js._act(out, self._stream, self._name, self._inbox)
        if out.error is not None:
            await js._report(self._error_cb, out.error)
        if not out.deliver:
            return None
        if self._ordered is not None:
            verdict = self._ordered._state.on_msg(msg)
            if verdict.reset is not None:
                await self._open(verdict.reset)
                return None
            if not verdict.deliver:
                return None
        return msg

    async def next(self, timeout: float | None = None) -> Msg:
        """The next message, waiting up to ``timeout`` seconds (None: as long as it takes).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when none came,
        :class:`~nats_core.jetstream.MissedHeartbeatError` after two missed
        heartbeats (not terminal), the terminal error that ended the consume,
        or :class:`~nats_core.errors.SubscriptionClosedError` once stopped
        (or the connection closed).
        """
        deadline = None if timeout is None else now() + timeout
        while True:
            if self._error is not None:
                raise self._error
            if self._stopped:
                raise SubscriptionClosedError("the message iterator was stopped")
            try:
                if self._sub is None:
                    await self._open(None)
                msg = await self._step(deadline)
            except SubscriptionClosedError:
                if self._error is None and not self._stopped:
                    self._stopped = True
                    raise
                continue
            if msg is not None:
                return msg
            if deadline is not None and now() >= deadline:
                raise NatsTimeoutError(f"no message from {self._stream!r} within {timeout} s")

    async def stop(self) -> None:
        """Stop pulling; messages already pulled and not read are dropped
        (an explicit-ack consumer redelivers them after its ack wait)."""
        self._stopped = True
        if self._pull is not None:
            self._pull.stop()
        sub, self._sub = self._sub, None
        await _unsubscribe_quietly(sub)

    def __aiter__(self) -> MessagesContext:
        return self

    async def __anext__(self) -> Msg:
        try:
            return await self.next()
        except SubscriptionClosedError:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> MessagesContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class ConsumeContext:
    """A running :meth:`Consumer.consume`: :meth:`stop` it, :meth:`wait_closed` for its end."""

    def __init__(
        self,
        js: JetStream,
        it: MessagesContext,
        cb: Callable[[Msg], object],
        error_cb: ErrorCallback | None,
    ) -> None:
        self._js = js
        self._it = it
        self._cb = cb
        self._error_cb = error_cb
        self._closed = Event()
        #: The error that ended the consume, if one did.
        self.error: BaseException | None = None

    @classmethod
    async def _start(
        cls,
        js: JetStream,
        it: MessagesContext,
        cb: Callable[[Msg], object],
        error_cb: ErrorCallback | None,
    ) -> ConsumeContext:
        ctx = cls(js, it, cb, error_cb)
        spawn(js._nc, ctx._run, name="nats-js-consume")
        return ctx

    async def _run(self) -> None:
        it = self._it
        try:
            while True:
                try:
                    msg = await it.next()
                except SubscriptionClosedError:
                    return
                except Exception as exc:
                    await self._js._report(self._error_cb, exc)
                    if it.is_stopped or not isinstance(exc, JetStreamError):
                        self.error = exc
                        await it.stop()
                        return
                    continue  # missed heartbeats: it pulled again
                try:
                    await call_maybe_async(self._cb, msg)
                except Exception as exc:
                    await self._js._report(self._error_cb, exc)
        finally:
            self._closed.set()

    @property
    def is_closed(self) -> bool:
        """True once the consume ended (stopped, or a terminal error)."""
        return self._closed.is_set()

    async def stop(self) -> None:
        """Stop consuming; returns at once (see :meth:`wait_closed`)."""
        await self._it.stop()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the consume ended; ``False`` if it still runs after ``timeout`` seconds."""
        return await self._closed.wait(timeout)

    async def __aenter__(self) -> ConsumeContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        await self.wait_closed(5.0)


def _first(batch: MessageBatch, source: str, timeout: float) -> Msg:
    """The one message ``next()`` fetched, or a timeout naming ``source``."""
    if not batch:
        raise NatsTimeoutError(f"no message from {source} within {timeout} s")
    return batch[0]
