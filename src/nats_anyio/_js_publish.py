"""Publishing to streams for the async client: :meth:`~JetStreamPublisher.publish`
waits for the stream's ack; :meth:`~JetStreamPublisher.publish_async` does not,
and a tracker (the core's :class:`~nats_core.jetstream.publish.AsyncPublishTracker`)
matches the acks to the futures it returned while a reaper task fails the late ones.
A failed async publish also goes to an error handler (per call, or the context's
``publish_async_error_cb``) with the message and the error, as nats.go's
``PublishAsyncErrHandler``.

It waits, sleeps, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from nats_core import HeadersInput
from nats_core import Msg as CoreMsg
from nats_core.errors import NatsTimeoutError, NoRespondersError
from nats_core.jetstream.errors import (
    InvalidOptionError,
    JetStreamError,
    NoStreamResponseError,
    TooManyPendingError,
)
from nats_core.jetstream.models import PubAck
from nats_core.jetstream.publish import (
    DEFAULT_MAX_PENDING,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_WAIT,
    AsyncPublishTracker,
    PendingPublish,
    PublishOutcome,
    parse_pub_ack,
    publish_headers,
)

from ._compat import Event, Future, StateLock, call_maybe_async, now, resolve, sleep, spawn
from ._js_manage import JetStreamManager

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._msg import Msg
    from ._subscription import Subscription

__all__ = ["JetStreamPublisher", "PublishAsyncErrorCallback"]

PublishAsyncErrorCallback = Callable[[CoreMsg, BaseException], object]
"""``cb(msg, error)``: an async publish failed. ``msg`` is the publish (a
:class:`nats_core.Msg` with ``subject``, ``data``, ``headers``), ``error`` an
:class:`~nats_core.jetstream.APIError` (a negative ack: wrong last sequence...),
:class:`~nats_core.jetstream.NoStreamResponseError` (no stream after the
retries), :class:`~nats_core.jetstream.AsyncPublishTimeoutError` or a
:class:`~nats_core.jetstream.JetStreamError` (closed before the ack)."""

#: The future, the error handler and the instrumentation's token of an async publish.
_Slot = tuple[Future[PubAck], PublishAsyncErrorCallback | None, object]

#: How often the async publish reaper expires overdue acks.
_REAP_INTERVAL = 0.25


class JetStreamPublisher(JetStreamManager):
    """A JetStream context that also publishes (see :class:`~nats_anyio.JetStream`,
    which is one): ``publish_async_max_pending`` caps the async publishes awaiting
    an ack, ``publish_async_timeout`` fails an async publish whose ack is that
    many seconds late (``None``: never), ``publish_async_error_cb`` (also a
    settable attribute) is called as ``cb(msg, error)`` for each failed async
    publish (see :data:`PublishAsyncErrorCallback`)."""

    def __init__(
        self,
        client: BaseClient,
        *,
        domain: str | None = None,
        api_prefix: str | None = None,
        timeout: float = 5.0,
        publish_async_max_pending: int = DEFAULT_MAX_PENDING,
        publish_async_timeout: float | None = None,
        publish_async_error_cb: PublishAsyncErrorCallback | None = None,
    ) -> None:
        super().__init__(client, domain=domain, api_prefix=api_prefix, timeout=timeout)
        self.publish_async_error_cb = publish_async_error_cb
        """Called as ``cb(msg, error)`` for each failed async publish that has no
        ``error_cb`` of its own; may be a plain or an async function."""
        self._lock = StateLock()
        self._pa_max_pending = publish_async_max_pending
        self._pa_timeout = publish_async_timeout
        if publish_async_max_pending < 1:
            raise InvalidOptionError("publish_async_max_pending must be at least 1")
        if publish_async_timeout is not None and publish_async_timeout <= 0:
            raise InvalidOptionError("publish_async_timeout must be positive (or None)")
        self._pa: AsyncPublishTracker | None = None
        self._pa_event: Event | None = None
        self._pa_waiting = False  # someone waits on _pa_event
        self._pa_sub: Subscription | None = None
        self._instr = client._instr  # the async publishes' hooks (None: no instrumentation)

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
        instr = self._nc._instr
        if instr is None:
            return await self._publish_acked(subject, data, hdrs, wait, retry_attempts, retry_wait)
        sent, token = instr.on_request_start(subject, hdrs, "jetstream.publish")
        try:
            ack = await self._publish_acked(subject, data, sent, wait, retry_attempts, retry_wait)
        except BaseException as exc:
            instr.on_request_end(token, None, exc)
            raise
        instr.on_request_end(token, ack, None)
        return ack

    async def _publish_acked(
        self,
        subject: str,
        data: bytes,
        hdrs: HeadersInput | None,
        wait: float,
        retry_attempts: int,
        retry_wait: float,
    ) -> PubAck:
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
            # the clock only matters for an ack timeout (anyio's costs a backend lookup)
            out = tracker.on_reply(msg, 0.0 if tracker.ack_timeout is None else now())
            if out is None:
                return
            if out.retry is None and self._pa_waiting:
                self._pa_changed()
        if out.retry is not None:
            spawn(self._nc, self._pa_republish, out.retry, name="nats-js-publish-retry")
        elif out.error is None:  # stored: resolve the future, nothing else to tell
            slot: _Slot | None = out.slot
            if slot is not None:
                if self._instr is not None:  # the span ends before the future
                    self._instr.on_publish_async_end(slot[2], out.ack, None)
                resolve(slot[0], out.ack, None)
        else:
            await self._pa_settle(tracker, [out])

    def _pa_take(self, outs: list[PublishOutcome]) -> list[PublishOutcome]:
        """``outs``, once whoever waits was woken (call with the lock held)."""
        if outs:
            self._pa_changed()
        return outs

    async def _pa_settle(self, tracker: AsyncPublishTracker, done: list[PublishOutcome]) -> None:
        """Resolve the futures, call the error handlers, then tell the tracker: a
        waiter of :meth:`publish_async_complete` returns after the handlers."""
        try:
            instr = self._instr
            if instr is not None:  # before the handlers, which may be cancelled
                for out in done:
                    if out.slot is not None:
                        instr.on_publish_async_end(out.slot[2], out.ack, out.error)
            for out in done:
                slot: _Slot | None = out.slot
                fut, error_cb = (None, None) if slot is None else slot[:2]
                if fut is not None:
                    resolve(fut, out.ack, out.error)
                if out.error is None:
                    continue
                handler = error_cb or self.publish_async_error_cb
                if handler is not None and out.msg is not None:
                    try:
                        await call_maybe_async(handler, out.msg, out.error)
                    except Exception as exc:
                        self._nc._report_error(exc)
        finally:
            failed = sum(1 for out in done if out.error is not None)
            if failed:
                with self._lock:
                    tracker.reported(failed)
                    self._pa_changed()

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
                    done = self._pa_take(tracker.expire(now()))
                if done:
                    await self._pa_settle(tracker, done)
        finally:
            with self._lock:
                done = self._pa_take(
                    tracker.fail_all(
                        JetStreamError("the connection closed before the publish was acknowledged")
                    )
                )
                self._pa_changed()
            await self._pa_settle(tracker, done)

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
        error_cb: PublishAsyncErrorCallback | None = None,
    ) -> Future[PubAck]:
        """Publish to a stream without waiting for the ack; return a future of the
        :class:`~nats_core.jetstream.PubAck` (it raises the publish's error instead).

        At most ``publish_async_max_pending`` publishes wait for their acks: past
        that, this call waits for room, up to ``stall_timeout`` seconds when
        given (then :class:`~nats_core.jetstream.TooManyPendingError`). Options
        as for :meth:`publish`; 503 (no stream) is retried like there.

        When the publish fails (a negative ack such as a wrong last sequence,
        no stream after the retries, no ack within ``publish_async_timeout``,
        the connection closed), ``error_cb(msg, error)`` is called, or the
        context's ``publish_async_error_cb`` when this call has none; the
        future raises the same error.
        """
        if (
            headers is None
            and msg_id is None
            and expected_stream is None
            and expected_last_seq is None
            and expected_last_subject_seq is None
            and expected_last_msg_id is None
            and ttl is None
        ):
            hdrs = None
        else:
            hdrs = publish_headers(
                headers,
                msg_id=msg_id,
                expected_stream=expected_stream,
                expected_last_seq=expected_last_seq,
                expected_last_subject_seq=expected_last_subject_seq,
                expected_last_msg_id=expected_last_msg_id,
                ttl=ttl,
            )
        tracker = self._pa
        if tracker is None:
            tracker = await self._pa_tracker()
        fut: Future[PubAck] = Future()
        instr = self._instr
        token: object = None
        if instr is not None:  # a span from now to the ack (the headers carry it)
            hdrs, token = instr.on_publish_async_start(subject, hdrs)
        slot: _Slot = (fut, error_cb, token)
        deadline = None
        try:
            while True:
                with self._lock:
                    if not tracker.is_full:
                        t = 0.0 if tracker.ack_timeout is None else now()
                        pending = tracker.track(subject, data, hdrs, now=t, slot=slot)
                        break
                    self._pa_waiting = True
                    event = self._pa_event
                if deadline is None and stall_timeout is not None:
                    deadline = now() + stall_timeout
                left = None if deadline is None else deadline - now()
                if left is not None and left <= 0:
                    raise TooManyPendingError(
                        f"{tracker.pending_count} async publishes still wait for their acks "
                        f"after {stall_timeout} s (max_pending={tracker.max_pending})"
                    )
                if event is not None:
                    await event.wait(left)
        except BaseException as exc:  # no room (cancelled while waiting included)
            if instr is not None:
                instr.on_publish_async_end(token, None, exc)
            raise
        try:
            await self._nc.publish(subject, data, reply=pending.reply, headers=hdrs)
        except BaseException as exc:
            with self._lock:
                ours = tracker.pending(pending.token) is not None  # else: acked or failed
                tracker.forget(pending.token)
                self._pa_changed()
            if instr is not None and ours:
                instr.on_publish_async_end(token, None, exc)
            raise
        return fut

    @property
    def publish_async_pending(self) -> int:
        """Async publishes awaiting their acks."""
        return 0 if self._pa is None else self._pa.pending_count

    @property
    def publish_async_failed(self) -> int:
        """Async publishes of this context that failed so far (every kind of failure)."""
        return 0 if self._pa is None else self._pa.failed_count

    async def publish_async_complete(self, timeout: float | None = None) -> int:
        """Wait until every async publish is acknowledged or failed (and its error
        handler returned); return how many failed since the previous
        ``publish_async_complete`` returned (the first time: since the start).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when some are still
        pending after ``timeout`` seconds (``None``: wait as long as it takes).
        """
        deadline = None if timeout is None else now() + timeout
        while True:
            with self._lock:
                tracker = self._pa
                if tracker is None:
                    return 0
                if tracker.settled:
                    return tracker.take_failed()
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
