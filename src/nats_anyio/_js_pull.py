"""Pull consumers for the async client: :class:`Consumer` (fetch, next, an endless
:class:`MessagesContext` iterator, a :class:`ConsumeContext` callback) and
the :class:`MessageBatch` a fetch returns.

The core's state machines (:class:`~nats_core.jetstream.pull.FetchState`,
:class:`~nats_core.jetstream.pull.PullConsumeState`) say what to send and
when; this module waits for messages, watches the connection and does it. The
ordered consumer (``_js_ordered``) runs on the same iterator.

It waits, sleeps, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream.errors import JetStreamError
from nats_core.jetstream.models import ConsumerInfo
from nats_core.jetstream.ordered import OrderedConsumerState, ResetPlan
from nats_core.jetstream.pull import (
    DEFAULT_EXPIRES,
    FetchState,
    PinState,
    PullConsumeState,
    PullOutcome,
    PullRequest,
    check_priority_pull,
    next_request,
)

from ._compat import Event, call_maybe_async, now, spawn
from ._js_manage import ErrorCallback, JetStreamManager
from ._msg import Msg

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._subscription import Subscription

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

#: Longest wait between looks at the connection (a reconnect means pulling again).
_POLL = 0.25

_SAME, _DOWN, _UP = 0, 1, 2


class Reordering(Protocol):
    """What :class:`MessagesContext` asks of an ordered consumer
    (``_js_ordered.OrderedConsumer``): its state, the plan of its next consumer,
    and the creation of that consumer."""

    @property
    def _state(self) -> OrderedConsumerState: ...

    def _plan(self, reason: str) -> ResetPlan: ...

    async def _create(self, plan: ResetPlan, error_cb: ErrorCallback | None) -> None: ...


class _ConnWatch:
    """Notices that the connection dropped or came back (a pull must then be renewed)."""

    __slots__ = ("_down", "_nc", "_reconnects")

    def __init__(self, nc: BaseClient) -> None:
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


async def _send_pull(
    js: JetStreamManager, stream: str, consumer: str, req: PullRequest, inbox: str
) -> None:
    jr = next_request(stream, consumer, req, api=js._api)
    await js._nc.publish(jr.subject, jr.payload, reply=inbox)


async def _act(
    js: JetStreamManager,
    out: PullOutcome,
    stream: str,
    consumer: str,
    inbox: str,
) -> None:
    if out.respond_to:
        await js._nc.publish(out.respond_to, b"")
    if out.pull is not None:
        await _send_pull(js, stream, consumer, out.pull, inbox)


async def fetch_batch(
    js: JetStreamManager,
    stream: str,
    consumer: str,
    state: FetchState,
    ordered: OrderedConsumerState | None,
) -> MessageBatch:
    """Run one pull request to completion (see :class:`FetchState`)."""
    nc = js._nc
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    batch = MessageBatch()
    watch = _ConnWatch(nc)
    try:
        await _send_pull(js, stream, consumer, state.request, inbox)
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
        :class:`~nats_core.jetstream.MissedHeartbeatError`...).

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
        got = await self.fetch(
            1,
            max_wait=timeout,
            group=group,
            min_pending=min_pending,
            min_ack_pending=min_ack_pending,
            priority=priority,
        )
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
        with :class:`~nats_core.jetstream.ConsumerDeletedError`. Other
        warnings go to ``error_cb`` (default: the client's error callback).
        After a reconnect it pulls again. Stop it with :meth:`MessagesContext.stop`,
        or use it as ``async with c.messages() as it:``. Priority groups
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
        """Hand every message to ``cb`` in the background until :meth:`ConsumeContext.stop`.

        Options as for :meth:`messages` (priority groups too); every error
        (missed heartbeats included, and what ``cb`` raises) goes to
        ``error_cb`` (default: the client's error callback). A terminal error
        ends the consume.
        """
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
        return await ConsumeContext._start(self._js, it, cb, error_cb)


class MessagesContext:
    """The iterator :meth:`Consumer.messages` returns: ``async for msg in it``
    or ``await it.next(timeout)``; :meth:`stop` ends it, and so does the end of
    ``async with c.messages() as it:``.

    Nothing is sent before the first message is asked for.
    """

    def __init__(
        self,
        js: JetStreamManager,
        stream: str,
        name: str | None,
        opts: dict[str, Any],
        error_cb: ErrorCallback | None,
        ordered: Reordering | None,
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
        await _send_pull(self._js, self._stream, self._name, pull.start(now()), self._inbox)
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
                await _send_pull(js, self._stream, self._name, again, self._inbox)
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
            await _act(js, out, self._stream, self._name, self._inbox)
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
        await _act(js, out, self._stream, self._name, self._inbox)
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
        js: JetStreamManager,
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
        js: JetStreamManager,
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


def first_msg(batch: MessageBatch, source: str, timeout: float) -> Msg:
    """The one message ``next()`` fetched, or a timeout naming ``source``."""
    if not batch:
        raise NatsTimeoutError(f"no message from {source} within {timeout} s")
    return batch[0]
