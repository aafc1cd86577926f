"""Pull consumers for the async client: :class:`Consumer` (fetch, next, an endless
:class:`MessagesContext` iterator, a :class:`ConsumeContext` callback) and
the :class:`MessageBatch` a fetch returns.

The core's state machines (:class:`~nats_core.jetstream.pull.FetchState`,
:class:`~nats_core.jetstream.pull.PullConsumeState`) say what to send and
when; this module waits for messages, watches the connection and does it. The
iterator and the callback runner live in ``_js_consume`` (the ordered
consumer, ``_js_ordered``, runs on them too).

It waits, sleeps, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from nats_core.errors import NatsTimeoutError
from nats_core.jetstream.errors import JetStreamError
from nats_core.jetstream.models import ConsumerInfo
from nats_core.jetstream.ordered import OrderedConsumerState
from nats_core.jetstream.pull import (
    DEFAULT_EXPIRES,
    FetchState,
    PinState,
    PullConsumeState,
    check_priority_pull,
)

from ._compat import clock, now

# (the push consumer, ``_js_push``, takes the connection plumbing from here too)
from ._js_consume import _DOWN as _DOWN
from ._js_consume import _POLL as _POLL
from ._js_consume import _UP as _UP
from ._js_consume import (
    ConsumeContext,
    MessagesContext,
    Reordering,
    _consumer_gone,
    _send_pull,
)
from ._js_consume import _ConnWatch as _ConnWatch
from ._js_consume import _next_or_none as _next_or_none
from ._js_consume import _unsubscribe_quietly as _unsubscribe_quietly
from ._js_manage import ErrorCallback, JetStreamManager
from ._msg import Msg

__all__ = [
    "ConsumeContext",
    "Consumer",
    "MessageBatch",
    "MessagesContext",
    "Reordering",
    "consume_options",
    "fetch_batch",
    "first_msg",
]


class MessageBatch(list[Msg]):
    """The messages one fetch returned, in order.

    ``error`` says why the fetch ended early when it still returned messages
    (a fetch that ends with an error and no message raises it instead).
    """

    __slots__ = ("error",)

    def __init__(self, msgs: Sequence[Msg] = (), error: JetStreamError | None = None) -> None:
        super().__init__(msgs)
        self.error = error


async def _check_fetch(js: JetStreamManager, stream: str, consumer: str, state: FetchState) -> None:
    """A fetch that failed as a missing consumer would: fail with what the server
    says of the consumer, if it does not exist."""
    gone = await _consumer_gone(js, stream, consumer)
    if gone is not None:
        state.consumer_gone(gone)


async def fetch_batch(
    js: JetStreamManager,
    stream: str,
    consumer: str,
    state: FetchState,
    ordered: OrderedConsumerState | None,
    kind: str = "fetch",
) -> MessageBatch:
    """Run one pull request to completion (see :class:`FetchState`), between the
    instrumentation's receive hooks (``kind``: ``fetch``, or ``next`` for one message)."""
    instr = js._nc._instr
    if instr is None:
        return await _fetch_batch(js, stream, consumer, state, ordered)
    token = instr.on_receive_start(kind, stream, consumer)
    try:
        batch = await _fetch_batch(js, stream, consumer, state, ordered)
    except BaseException as exc:
        instr.on_receive_end(token, (), exc)
        raise
    instr.on_receive_end(token, batch, None)
    return batch


async def _fetch_batch(
    js: JetStreamManager,
    stream: str,
    consumer: str,
    state: FetchState,
    ordered: OrderedConsumerState | None,
) -> MessageBatch:
    nc = js._nc
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    batch = MessageBatch()
    watch = _ConnWatch(nc)
    clk = clock()  # read twice a message
    try:
        await _send_pull(js, stream, consumer, state.request, inbox)
        while not state.done:
            t = clk()
            deadline = state.deadline
            wait = _POLL if deadline is None else min(_POLL, deadline - t)
            msg = await _next_or_none(sub, wait)
            if msg is None:
                out = state.check(clk())
                if out is not None and out.check_consumer and ordered is None:
                    await _check_fetch(js, stream, consumer, state)  # heartbeats stopped
            else:
                out = state.on_msg(msg, clk())
                if out.check_consumer and ordered is None:  # a 503: is there a consumer?
                    await _check_fetch(js, stream, consumer, state)
                if out.respond_to:
                    await nc.publish(out.respond_to, b"")
                if out.pull is not None:  # a 423: pulled again without the stale pin
                    await _send_pull(js, stream, consumer, out.pull, inbox)
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
                    await _send_pull(js, stream, consumer, again, inbox)
    finally:
        await _unsubscribe_quietly(sub)
    if state.error is not None and not batch:
        raise state.error
    batch.error = state.error
    return batch


def consume_options(
    max_messages: int | None,
    max_bytes: int | None,
    expires: timedelta | float,
    idle_heartbeat: timedelta | float | None,
    threshold_messages: int | None,
    threshold_bytes: int | None,
    ordered: bool,
    **priority: Any,
) -> dict[str, Any]:
    """The options of a :class:`~nats_core.jetstream.pull.PullConsumeState`, checked."""
    opts: dict[str, Any] = {
        "max_messages": max_messages,
        "max_bytes": max_bytes,
        "expires": expires,
        "idle_heartbeat": idle_heartbeat,
        "threshold_messages": threshold_messages,
        "threshold_bytes": threshold_bytes,
        "ordered": ordered,
        **priority,
    }
    PullConsumeState(**opts)  # raise InvalidOptionError now rather than on the first message
    return opts


class Consumer:
    """A pull consumer: :meth:`fetch` batches, :meth:`next` one message,
    :meth:`messages` an endless iterator, :meth:`consume` a callback.

    Get one from :meth:`JetStream.create_consumer` (and friends) or
    :meth:`JetStream.consumer`.
    """

    __slots__ = ("_info", "_js", "_name", "_pin", "_stream")

    def __init__(self, js: JetStreamManager, stream: str, info: ConsumerInfo) -> None:
        self._js = js
        self._stream = stream
        self._name = info.name
        self._info = info
        self._pin = PinState()

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

    @property
    def pin_id(self) -> str | None:
        """The pin id this handle holds in a ``pinned_client`` priority group (from
        the ``Nats-Pin-Id`` of its messages), or ``None`` when it is not pinned."""
        return self._pin.pin_id

    async def unpin(self, group: str) -> None:
        """Unpin the pinned client of priority ``group`` (ADR-42, server 2.11+): the
        server pins another waiting pull (see :meth:`JetStream.unpin_consumer`)."""
        await self._js.unpin_consumer(self._stream, self._name, group)

    def _priority(
        self,
        group: str | None,
        min_pending: int | None,
        min_ack_pending: int | None,
        priority: int | None,
    ) -> dict[str, Any]:
        """The priority-group options of a pull, checked against the consumer's config."""
        check_priority_pull(
            self._info.config,
            group,
            min_pending=min_pending,
            min_ack_pending=min_ack_pending,
            priority=priority,
        )
        if group is None:
            return {}
        return {
            "group": group,
            "min_pending": min_pending,
            "min_ack_pending": min_ack_pending,
            "priority": priority,
            "pin": self._pin,
        }

    async def fetch(
        self,
        batch: int = 1,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> MessageBatch:
        """Up to ``batch`` messages, waiting up to ``max_wait`` seconds (default 30)
        for them; returns what came (maybe nothing) once the batch is full or
        the wait is over. A fetch that fails before any message arrives raises
        (:class:`~nats_core.jetstream.ConsumerDeletedError`,
        :class:`~nats_core.jetstream.ConsumerNotFoundError` when the consumer
        does not exist, :class:`~nats_core.jetstream.MissedHeartbeatError`...).

        For a consumer with priority groups (ADR-42) give its ``group``, and
        for policy ``overflow`` optionally ``min_pending`` / ``min_ack_pending``
        (served only past those counts), for ``prioritized`` a ``priority``
        (0-9, lower first). For ``pinned_client`` the handle keeps the pin id
        (:attr:`pin_id`) and sends it; a stale one is dropped and the fetch goes
        on as a standby.
        """
        prio = self._priority(group, min_pending, min_ack_pending, priority)
        state = FetchState(
            batch, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now(), **prio
        )
        return await fetch_batch(self._js, self._stream, self._name, state, None)

    async def fetch_bytes(
        self,
        max_bytes: int,
        *,
        max_wait: timedelta | float | None = None,
        idle_heartbeat: timedelta | float | None = None,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> MessageBatch:
        """Messages up to ``max_bytes`` bytes in all (as the server counts them), waiting
        up to ``max_wait`` seconds; see :meth:`fetch` (priority groups too)."""
        prio = self._priority(group, min_pending, min_ack_pending, priority)
        state = FetchState(
            max_bytes=max_bytes, expires=max_wait, idle_heartbeat=idle_heartbeat, now=now(), **prio
        )
        return await fetch_batch(self._js, self._stream, self._name, state, None)

    async def fetch_no_wait(
        self,
        batch: int = 1,
        *,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> MessageBatch:
        """Up to ``batch`` messages that are available now; empty when there is none.
        Priority groups: see :meth:`fetch`."""
        prio = self._priority(group, min_pending, min_ack_pending, priority)
        state = FetchState(batch, no_wait=True, now=now(), **prio)
        return await fetch_batch(self._js, self._stream, self._name, state, None)

    async def next(
        self,
        timeout: float = DEFAULT_EXPIRES,
        *,
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> Msg:
        """The next message, waiting up to ``timeout`` seconds
        (:class:`~nats_core.errors.NatsTimeoutError` when none came).
        Priority groups: see :meth:`fetch`."""
        prio = self._priority(group, min_pending, min_ack_pending, priority)
        state = FetchState(1, expires=timeout, now=now(), **prio)
        got = await fetch_batch(self._js, self._stream, self._name, state, None, "next")
        return first_msg(got, f"consumer {self._name!r}", timeout)

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
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> MessagesContext:
        """An endless iterator of the consumer's messages (ADR-37 consume).

        It keeps up to ``max_messages`` (default 500) or ``max_bytes`` pulled
        ahead, pulling more when fewer than the thresholds (default half)
        remain; each pull lasts ``expires`` seconds on the server with idle
        heartbeats (default half of it, at most 30 s). Two missed heartbeats
        raise :class:`~nats_core.jetstream.MissedHeartbeatError` from the
        iterator (it pulls again; keep iterating); a deleted consumer ends it
        with :class:`~nats_core.jetstream.ConsumerDeletedError`, a missing one
        (no answer to a pull and no such consumer, from the first pull on, or
        after missed heartbeats) with
        :class:`~nats_core.jetstream.ConsumerNotFoundError`. Other
        warnings go to ``error_cb`` (default: the client's error callback).
        After a reconnect it pulls again. Stop it with :meth:`MessagesContext.stop`
        (at once) or :meth:`MessagesContext.drain` (after the messages already
        pulled), or use it as ``async with c.messages() as it:``. Priority groups
        (``group``, ``min_pending``, ``min_ack_pending``, ``priority``): see
        :meth:`fetch`; every pull carries them, and a stale pin id is dropped
        without an error.
        """
        opts = consume_options(
            max_messages,
            max_bytes,
            expires,
            idle_heartbeat,
            threshold_messages,
            threshold_bytes,
            ordered=False,
            **self._priority(group, min_pending, min_ack_pending, priority),
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
        group: str | None = None,
        min_pending: int | None = None,
        min_ack_pending: int | None = None,
        priority: int | None = None,
    ) -> ConsumeContext:
        """Hand every message to ``cb`` in the background until
        :meth:`ConsumeContext.stop` or :meth:`ConsumeContext.drain`.

        Raises :class:`~nats_core.jetstream.ConsumerNotFoundError` at once
        when the consumer does not exist (it asks for its info first).
        Options as for :meth:`messages` (priority groups too); every error
        (missed heartbeats included, and what ``cb`` raises) goes to
        ``error_cb`` (default: the client's error callback). A terminal error
        (the consumer deleted, or gone) ends the consume, and stays in
        :attr:`ConsumeContext.error`.
        """
        gone = await _consumer_gone(self._js, self._stream, self._name)
        if gone is not None:
            raise gone
        it = self.messages(
            max_messages=max_messages,
            max_bytes=max_bytes,
            expires=expires,
            idle_heartbeat=idle_heartbeat,
            threshold_messages=threshold_messages,
            threshold_bytes=threshold_bytes,
            error_cb=error_cb,
            group=group,
            min_pending=min_pending,
            min_ack_pending=min_ack_pending,
            priority=priority,
        )
        it._verified = True  # checked above
        return await ConsumeContext._start(self._js, it, cb, error_cb)


def first_msg(batch: MessageBatch, source: str, timeout: float) -> Msg:
    """The one message ``next()`` fetched, or a timeout naming ``source``."""
    if not batch:
        raise NatsTimeoutError(f"no message from {source} within {timeout} s")
    return batch[0]
