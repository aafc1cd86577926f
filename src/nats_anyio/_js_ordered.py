"""The ordered consumer for the async client: every message of a stream once, in
order, on ephemeral consumers it recreates after a gap, missed heartbeats, a
deleted consumer or a reconnect (the plans come from the core's
:class:`~nats_core.jetstream.ordered.OrderedConsumerState`).

It runs on the pull machinery of ``_js_pull`` and ``_js_consume`` (its
``messages()`` and ``consume()`` contexts drain as a plain consumer's do).
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from nats_core.errors import NatsTimeoutError
from nats_core.jetstream import requests as _req
from nats_core.jetstream.errors import APIError, JetStreamError
from nats_core.jetstream.models import ConsumerInfo
from nats_core.jetstream.ordered import OrderedConsumerState, ResetPlan
from nats_core.jetstream.pull import DEFAULT_EXPIRES, FetchState

from ._compat import now, sleep, spawn
from ._js_consume import ConsumeContext, MessagesContext
from ._js_manage import ErrorCallback, JetStreamManager
from ._js_pull import MessageBatch, consume_options, fetch_batch, first_msg
from ._msg import Msg

__all__ = ["OrderedConsumer"]

#: Seconds the best-effort delete of a replaced ordered consumer may take.
_DELETE_TIMEOUT = 2.0


async def _delete_quietly(js: JetStreamManager, stream: str, name: str) -> None:
    try:
        await js._request(_req.delete_consumer(stream, name, api=js._api), _DELETE_TIMEOUT)
    except Exception:  # best effort: it goes away by itself when inactive
        pass


class OrderedConsumer:
    """An ordered consumer (see :meth:`JetStream.ordered_consumer`): the same
    :meth:`fetch`, :meth:`next`, :meth:`messages` and :meth:`consume` as
    :class:`Consumer`, one at a time.
    """

    __slots__ = ("_info", "_js", "_live", "_state")

    def __init__(self, js: JetStreamManager, state: OrderedConsumerState) -> None:
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
                _delete_quietly,
                js,
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
        return await fetch_batch(self._js, self._state.stream, plan.name, state, self._state)

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
        return first_msg(got, "the ordered consumer", timeout)

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
        opts = consume_options(
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
