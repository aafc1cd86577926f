"""Continuous pull consumes for the async client: the :class:`MessagesContext`
iterator and the :class:`ConsumeContext` callback runner that
:meth:`Consumer.messages` / :meth:`Consumer.consume` (and the ordered
consumer's) return, and the plumbing they share with ``fetch`` (``_js_pull``):
the connection watch, sending a pull, checking that a consumer still exists.

The core's :class:`~nats_core.jetstream.pull.PullConsumeState` says what to
send and when, and when a drain is over; this module waits and does it.

It waits, sleeps, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from nats_core import State
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.instrument import GuardedInstrumentation
from nats_core.jetstream import requests as _req
from nats_core.jetstream.errors import (
    ConsumerNotFoundError,
    JetStreamError,
    StreamNotFoundError,
)
from nats_core.jetstream.ordered import OrderedConsumerState, ResetPlan
from nats_core.jetstream.pull import PullConsumeState, PullOutcome, PullRequest, next_request

from ._compat import Event, call_maybe_async, clock, now, spawn
from ._js_manage import ErrorCallback, JetStreamManager
from ._msg import Msg

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._subscription import Subscription

__all__ = ["ConsumeContext", "MessagesContext", "Reordering"]

#: Longest wait between looks at the connection (a reconnect means pulling again).
_POLL = 0.25

_SAME, _DOWN, _UP = 0, 1, 2
_CONNECTED = State.CONNECTED


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

    __slots__ = ("_conn", "_down", "_nc", "_reconnects", "_stats")

    def __init__(self, nc: BaseClient) -> None:
        self._nc = nc
        self._conn = nc._conn  # the client's one connection, across reconnects
        self._stats = nc.stats
        self._reconnects = nc.stats.reconnects
        self._down = not nc.is_connected

    def poll(self) -> int:
        """``_DOWN`` once after a disconnect, ``_UP`` once after a reconnect, else ``_SAME``."""
        nc = self._nc
        if (
            self._conn.state is _CONNECTED
            and not self._down
            and nc._transport is not None
            and self._stats.reconnects == self._reconnects
        ):
            return _SAME  # the usual answer, once a message (is_connected costs a microsecond)
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


#: Seconds the check that a consumer still exists may take (after a 503 or missed heartbeats).
_CHECK_TIMEOUT = 2.0


async def _consumer_gone(js: JetStreamManager, stream: str, consumer: str) -> JetStreamError | None:
    """The error that says ``consumer`` (or its ``stream``) does not exist, or ``None``
    when it does, or when the server does not say (no leader, a timeout...)."""
    try:
        reply = await js._request(_req.consumer_info(stream, consumer, api=js._api), _CHECK_TIMEOUT)
        _req.parse_consumer_info(reply)
    except (ConsumerNotFoundError, StreamNotFoundError) as exc:
        return exc
    except Exception:  # no answer, or another error: the consumer may well be there
        return None
    return None


class MessagesContext:
    """The iterator :meth:`Consumer.messages` returns: ``async for msg in it``
    or ``await it.next(timeout)``; :meth:`stop` ends it at once, :meth:`drain`
    after the messages already pulled, and the end of ``async with
    c.messages() as it:`` stops it.

    Nothing is sent before the first message is asked for. A consumer that
    does not exist, or stops existing, ends it with
    :class:`~nats_core.jetstream.ConsumerNotFoundError` (or
    :class:`~nats_core.jetstream.ConsumerDeletedError` when the server says
    so): raised from the iterator, and kept in :attr:`error`.
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
        self._draining = False
        self._error: Exception | None = None
        self._checking = False  # a check that the consumer exists runs in the background
        self._verified = ordered is not None  # the consumer was seen to exist at the start
        self._gone_error: JetStreamError | None = None  # what that check found
        self._clock = now  # the loop's own clock once pulling (read twice a message)
        #: The receive hooks of :meth:`next` (``consume()`` clears it: it has process hooks).
        self._instr: GuardedInstrumentation | None = js._nc._instr

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "draining" if self._draining else "running"
        return f"<MessagesContext {self._stream}/{self._name or '-'} {state}>"

    @property
    def is_stopped(self) -> bool:
        """True once stopped, drained, or ended by a terminal error."""
        return self._stopped

    @property
    def is_draining(self) -> bool:
        """True once :meth:`drain` was called (also after the drain is over)."""
        return self._draining

    @property
    def error(self) -> Exception | None:
        """The terminal error that ended the iterator (a deleted or missing
        consumer...), or ``None``."""
        return self._error

    async def _open(self, plan: ResetPlan | None) -> None:
        """(Re)start pulling: a new subscription, a new pull state, a new pull
        (and for an ordered consumer, the new consumer of ``plan`` first)."""
        nc = self._js._nc
        await _unsubscribe_quietly(self._sub)
        self._sub = None
        oc = self._ordered
        if not self._verified:  # the first pull: a missing consumer would not answer it
            self._verified = True
            gone = await _consumer_gone(self._js, self._stream, self._name)
            if gone is not None:
                self._fail(gone)
                raise gone
        if oc is not None:
            if plan is None:
                plan = oc._plan("start")
            try:
                await oc._create(plan, self._error_cb)
            except Exception as exc:
                self._fail(exc)
                raise
            self._name = plan.name
        self._clock = clock()
        self._inbox = nc.new_inbox()
        self._sub = await nc.subscribe(self._inbox)
        self._watch = _ConnWatch(nc)
        pull = self._pull = PullConsumeState(**self._opts)
        await _send_pull(self._js, self._stream, self._name, pull.start(now()), self._inbox)
        if self._stopped:  # stopped from elsewhere meanwhile
            await self.stop()
        elif self._draining:  # drained from elsewhere meanwhile: this pull is the last
            await self._drain_state()

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._stopped = True
        if self._pull is not None:
            self._pull.stop()

    async def _finish(self) -> None:
        """The drain is over: end the iteration (nothing more can come)."""
        self._stopped = True
        sub, self._sub = self._sub, None
        await _unsubscribe_quietly(sub)

    async def _recover(self, error: JetStreamError) -> bool:
        """For an ordered consumer, recreate it if ``error`` calls for it (not
        while draining: then the drain is over)."""
        oc = self._ordered
        if oc is None:
            return False
        if self._draining:
            await self._finish()
            return True
        plan = oc._state.on_error(error)
        if plan is None:
            return False
        await self._js._report(self._error_cb, error)
        await self._open(plan)
        return True

    def _check_soon(self, out: PullOutcome) -> None:
        """If ``out`` asks, check in the background that the consumer still exists
        (the iterator goes on meanwhile: a consumer without a leader may take a
        while to answer); :meth:`_step` ends it if not."""
        if not out.check_consumer or self._ordered is not None or self._checking:
            return  # an ordered consumer makes a new consumer instead
        self._checking = True
        spawn(self._js._nc, self._check, self._name, name="nats-js-consumer-check")

    async def _check(self, name: str) -> None:
        try:
            gone = await _consumer_gone(self._js, self._stream, name)
            if gone is not None and name == self._name:
                self._gone_error = gone
        finally:
            self._checking = False

    async def _reopen(self) -> None:
        """The connection is back: pull again (an ordered consumer: a new consumer)."""
        pull = self._pull
        assert pull is not None
        if self._ordered is not None and not self._draining:
            await self._open(self._ordered._state.on_reconnect())
            return
        pull.on_disconnect()
        again = pull.on_reconnect(now())
        if again is not None:
            await _send_pull(self._js, self._stream, self._name, again, self._inbox)

    async def _step(self, deadline: float | None) -> Msg | None:
        """Wait once (briefly) and act on what came; a message to deliver, or ``None``."""
        js, pull, sub, watch = self._js, self._pull, self._sub, self._watch
        assert pull is not None and sub is not None and watch is not None
        gone = self._gone_error
        if gone is not None:  # the consumer does not exist (any more)
            pull.consumer_gone(gone)
            self._fail(gone)
            await _unsubscribe_quietly(sub)
            raise gone
        change = watch.poll()
        if change == _DOWN:
            pull.on_disconnect()
        elif change == _UP:
            await self._reopen()
            if self._ordered is not None and not self._draining:
                return None
        if pull.drained:  # a disconnect ended the drain
            await self._finish()
            return None
        clk = self._clock
        t = clk()
        wait = _POLL
        due = pull.deadline  # missed heartbeats, or the time to pull again after a lost pull
        if due is not None:
            wait = min(wait, due - t)
        if deadline is not None:
            wait = min(wait, deadline - t)
        msg = None if due is not None and due <= t else await _next_or_none(sub, wait)
        if msg is None:
            out = pull.check(clk())
            if out is None:
                return None
            if out.done:  # missed heartbeats while draining: over
                await self._finish()
                return None
            self._check_soon(out)
            if out.error is not None and await self._recover(out.error):
                return None
            await _act(js, out, self._stream, self._name, self._inbox)
            if out.error is not None:
                raise out.error  # missed heartbeats: pulled again, the caller may go on
            return None
        out = pull.on_msg(msg, clk())
        if (
            out.deliver
            and not out.done
            and out.error is None
            and out.pull is None
            and not out.respond_to
            and not out.check_consumer
        ):  # the usual message: nothing to send, check or report
            if self._ordered is None:
                return msg
            return await self._in_order(msg)
        if out.done and out.error is None and pull.drained:
            await self._finish()  # the drain is over; this message may be its last
            if not out.deliver:
                return None
        elif out.done:
            error = out.error or JetStreamError("the consume ended")
            if await self._recover(error):
                return None
            self._fail(error)
            await _unsubscribe_quietly(sub)
            raise error
        self._check_soon(out)
        if out.error is not None and await self._recover(out.error):
            return None
        await _act(js, out, self._stream, self._name, self._inbox)
        if out.error is not None:
            await js._report(self._error_cb, out.error)
        if not out.deliver:
            return None
        if self._ordered is not None:
            return await self._in_order(msg)
        return msg

    async def _in_order(self, msg: Msg) -> Msg | None:
        """``msg`` if it is the ordered consumer's next; else ``None`` (an old
        consumer's message, or a gap: the consumer is made again from there)."""
        assert self._ordered is not None
        verdict = self._ordered._state.on_msg(msg)
        if verdict.reset is not None:
            if self._draining:
                await self._finish()  # a gap while draining: nothing after it is next
            else:
                await self._open(verdict.reset)
            return None
        return msg if verdict.deliver else None

    async def next(self, timeout: float | None = None) -> Msg:
        """The next message, waiting up to ``timeout`` seconds (None: as long as it takes).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when none came,
        :class:`~nats_core.jetstream.MissedHeartbeatError` after two missed
        heartbeats (not terminal), the terminal error that ended the consume
        (:class:`~nats_core.jetstream.ConsumerNotFoundError`,
        :class:`~nats_core.jetstream.ConsumerDeletedError`...),
        or :class:`~nats_core.errors.SubscriptionClosedError` once stopped or
        drained (or the connection closed).
        """
        instr = self._instr
        token = None if instr is None else instr.on_receive_start("next", self._stream, self._name)
        deadline = None if timeout is None else now() + timeout
        try:
            while True:
                if self._error is not None:
                    raise self._error
                if self._stopped:
                    raise SubscriptionClosedError("the message iterator was stopped")
                try:
                    if self._sub is None:
                        await self._open(None)
                        continue
                    msg = await self._step(deadline)
                except SubscriptionClosedError:
                    if self._error is None and not self._stopped:
                        self._stopped = True
                        raise
                    continue
                if msg is not None:
                    if instr is not None:
                        instr.on_receive_end(token, (msg,), None)
                    return msg
                if deadline is not None and now() >= deadline:
                    raise NatsTimeoutError(f"no message from {self._stream!r} within {timeout} s")
        except BaseException as exc:
            if instr is not None:
                instr.on_receive_end(token, (), exc)
            raise

    async def stop(self) -> None:
        """Stop pulling; messages already pulled and not read are dropped
        (an explicit-ack consumer redelivers them after its ack wait)."""
        self._stopped = True
        if self._pull is not None:
            self._pull.stop()
        sub, self._sub = self._sub, None
        await _unsubscribe_quietly(sub)

    async def drain(self) -> None:
        """Stop pulling, but go on handing out what the pulls already sent bring:
        the messages delivered and not read yet, and those still arriving until
        each pull in flight ends (it is filled, it expires, the server ends
        it, or it is lost: a disconnect, missed heartbeats). Then the iteration
        ends (:class:`~nats_core.errors.SubscriptionClosedError` from
        :meth:`next`). Returns at once; no pull is sent after it. Before the
        first message was asked for, the same as :meth:`stop`.
        """
        if self._stopped or self._draining:
            return
        self._draining = True
        if self._pull is None:  # never started: nothing is in flight
            await self.stop()
            return
        await self._drain_state()

    async def _drain_state(self) -> None:
        pull = self._pull
        assert pull is not None
        out = pull.drain()
        if out.done and out.error is None:
            await self._finish()  # nothing was in flight

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
    """A running :meth:`Consumer.consume`: :meth:`stop` it (at once) or
    :meth:`drain` it (after the messages already pulled), :meth:`wait_closed`
    for its end; :attr:`error` says what ended it, if an error did."""

    def __init__(
        self,
        js: JetStreamManager,
        it: MessagesContext,
        cb: Callable[[Msg], object],
        error_cb: ErrorCallback | None,
    ) -> None:
        self._js = js
        self._it = it
        it._instr = None  # process spans around the callback instead of receive spans
        self._cb = cb
        self._error_cb = error_cb
        self._closed = Event()
        #: The error that ended the consume, if one did (a deleted or missing
        #: consumer: :class:`~nats_core.jetstream.ConsumerDeletedError`,
        #: :class:`~nats_core.jetstream.ConsumerNotFoundError`...).
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
                instr = self._js._nc._instr
                if instr is not None:
                    await self._run_instrumented(instr, msg)
                    continue
                try:
                    await call_maybe_async(self._cb, msg)
                except Exception as exc:
                    await self._js._report(self._error_cb, exc)
        finally:
            self._closed.set()

    async def _run_instrumented(self, instr: GuardedInstrumentation, msg: Msg) -> None:
        """The callback on ``msg``, between the instrumentation's process hooks."""
        token = instr.on_process_start(msg, "jetstream", self._it._name)
        error: BaseException | None = None
        try:
            await call_maybe_async(self._cb, msg)
        except Exception as exc:
            error = exc
            await self._js._report(self._error_cb, exc)
        except BaseException as exc:  # cancelled: told, and on its way
            error = exc
            raise
        finally:
            instr.on_process_end(token, error)

    @property
    def is_closed(self) -> bool:
        """True once the consume ended (stopped, drained, or a terminal error)."""
        return self._closed.is_set()

    @property
    def is_draining(self) -> bool:
        """True once :meth:`drain` was called."""
        return self._it.is_draining

    async def stop(self) -> None:
        """Stop consuming; returns at once (see :meth:`wait_closed`); messages
        pulled and not handed to the callback yet are dropped."""
        await self._it.stop()

    async def drain(self) -> None:
        """Stop pulling; the callback still gets the messages already pulled and
        those of the pulls in flight (see :meth:`MessagesContext.drain`), then
        the consume ends. Returns at once: :meth:`wait_closed` waits for the end."""
        await self._it.drain()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the consume ended; ``False`` if it still runs after ``timeout`` seconds."""
        return await self._closed.wait(timeout)

    async def __aenter__(self) -> ConsumeContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        await self.wait_closed(5.0)
