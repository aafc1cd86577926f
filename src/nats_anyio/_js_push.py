"""Push consumers for the async client: ``js.subscribe()`` / ``js.queue_subscribe()``
and the :class:`PushSubscription` they return (nats.go's ``js.Subscribe``).

The core (:mod:`nats_core.jetstream.push`) plans the subscription, checks a
consumer to bind to, and follows the messages (flow control, idle heartbeats,
the ordered consumer's gaps); this module sends the requests, subscribes to
the deliver subject and waits. A subscription without a callback does its
work while the application reads (``next_msg``, iteration); one with a
callback runs a background loop that does the same and calls it.

It waits, locks and runs background work only through ``._compat``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Unpack

from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import requests as _req
from nats_core.jetstream.errors import ConsumerNotFoundError, MsgAlreadyAckedError
from nats_core.jetstream.models import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats_core.jetstream.ordered import ResetPlan
from nats_core.jetstream.push import (
    PushOutcome,
    PushSubscribePlan,
    PushSubscriptionState,
    build_push_subscribe,
)
from nats_core.jetstream.typed import PushSubscribeOptions

from ._compat import Event, StateLock, call_maybe_async, now, opens, spawn
from ._js_manage import ErrorCallback, JetStreamManager
from ._js_pull import _DOWN, _POLL, _UP, _ConnWatch, _next_or_none, _unsubscribe_quietly
from ._msg import Msg

if TYPE_CHECKING:
    from ._subscription import Subscription

__all__ = ["PushSubscriber", "PushSubscription"]


class PushSubscription:
    """A subscription to a push consumer (see :meth:`PushSubscriber.subscribe`).

    It reads like a core subscription: ``await sub.next_msg(timeout)`` or
    ``async for msg in sub``, or the ``cb`` given at subscribe; ``unsubscribe()``
    and ``drain()`` end it (deleting the consumer when this subscription
    created it). Flow control requests are answered once the messages before
    them were handed over, stalled-consumer heartbeats at once; missed idle
    heartbeats go to ``error_cb`` (default: the client's error callback). An
    ordered subscription recreates its consumer after a gap, missed
    heartbeats or a reconnect. Use it as ``async with`` to unsubscribe at
    the end of the block.
    """

    def __init__(
        self,
        js: JetStreamManager,
        plan: PushSubscribePlan,
        stream: str,
        cb: Callable[[Msg], object] | None,
        error_cb: ErrorCallback | None,
        pending_msgs_limit: int | None,
        pending_bytes_limit: int | None,
    ) -> None:
        self._js = js
        self._plan = plan
        self._stream = stream
        self._cb = cb
        self._error_cb = error_cb
        self._limits = (pending_msgs_limit, pending_bytes_limit)
        self._lock = StateLock()
        self._state: PushSubscriptionState | None = None
        self._sub: Subscription | None = None
        self._watch = _ConnWatch(js._nc)
        self._created = False  # this subscription made the consumer: delete it at the end
        self._auto_ack = False
        self._closed = False
        self._error: BaseException | None = None
        self._done = Event()  # the callback loop ended
        self._info: ConsumerInfo | None = None

    def __repr__(self) -> str:
        name = self._state.consumer if self._state is not None else None
        return f"<PushSubscription {self._stream}/{name} subject={self._plan.subject!r}>"

    # ------------------------------------------------------------ start

    async def _listen(self, subject: str, queue: str | None) -> Subscription:
        msgs, size = self._limits
        return await self._js._nc.subscribe(
            subject, queue or "", pending_msgs_limit=msgs, pending_bytes_limit=size
        )

    async def _start(self) -> None:
        try:
            if self._plan.ordered:
                await self._start_ordered()
            else:
                await self._bind()
        except BaseException:
            await _unsubscribe_quietly(self._sub)
            raise
        if self._cb is not None:
            spawn(self._js._nc, self._run, name="nats-js-push")
        else:
            self._done.set()

    async def _start_ordered(self) -> None:
        js, plan = self._js, self._plan
        prefix = js._nc.new_inbox().rpartition(".")[2]
        state = PushSubscriptionState.for_ordered(
            plan, self._stream, name_prefix=prefix, now=now(), api=js._api
        )
        self._state = state
        first = state.start()
        self._sub = await self._listen(first.config.deliver_subject or "", None)
        self._info = _req.parse_consumer_info(await js._request(first.create))

    async def _bind(self) -> None:
        js, plan, stream = self._js, self._plan, self._stream
        info: ConsumerInfo | None = None
        if plan.lookup is not None:
            try:
                info = await js.consumer_info(stream, plan.lookup)
            except ConsumerNotFoundError:
                if plan.bind:
                    raise
        created = False
        if info is None:
            self._sub = await self._listen(plan.config.deliver_subject or "", plan.queue)
            try:
                info = _req.parse_consumer_info(
                    await js._request(plan.create_request(stream, api=js._api))
                )
                created = True
            except Exception as exc:
                name = plan.lookup_after_create_error(exc)
                if name is None:
                    raise
                info = await js.consumer_info(stream, name)  # made meanwhile (a queue member)
        binding = plan.binding(info, created=created)
        self._info = info
        self._created = created
        self._auto_ack = self._cb is not None and binding.auto_ack
        sub = self._sub
        if sub is None or sub.subject != binding.deliver_subject:
            await _unsubscribe_quietly(sub)
            sub = self._sub = await self._listen(binding.deliver_subject, binding.queue)
        most = binding.max_ack_pending or 0
        if self._limits[0] is None and 0 < sub.pending_msgs_limit < most:
            sub.set_pending_limits(most, sub.pending_bytes_limit)  # as nats.go raises them
        self._state = PushSubscriptionState.for_binding(binding, now=now())

    # ------------------------------------------------------------ work

    async def _reset(self, plan: ResetPlan) -> None:
        """Re-create the ordered consumer: a new deliver subscription, the old
        consumer's delete sent without waiting, then the new consumer."""
        js, nc = self._js, self._js._nc
        old, self._sub = self._sub, None
        await _unsubscribe_quietly(old)
        if self._closed:
            return
        if plan.delete is not None:
            d = plan.delete  # best effort: an ordered consumer also goes away when inactive
            await nc.publish(d.subject, d.payload, reply=nc.new_inbox(), headers=d.headers)
        self._sub = await self._listen(plan.config.deliver_subject or "", None)
        try:
            self._info = _req.parse_consumer_info(await js._request(plan.create))
        except Exception as exc:
            if not PushSubscriptionState.is_retryable_reset_error(exc):
                self._error = exc  # the subscription ends with it
                with self._lock:
                    if self._state is not None:
                        self._state.stop()
            await js._report(self._error_cb, exc)  # retryable: again at the next missed heartbeats

    async def _act(self, out: PushOutcome) -> None:
        if out.respond_to:
            await self._js._nc.publish(out.respond_to, b"")
        if out.error is not None:
            await self._js._report(self._error_cb, out.error)
        if out.reset is not None:
            await self._reset(out.reset)

    async def _step(self, until: float | None) -> Msg | None:
        """Wait once (briefly) and act on what came; a message to hand over, or ``None``."""
        state, sub = self._state, self._sub
        if self._error is not None:
            raise self._error
        if state is None or sub is None:
            raise SubscriptionClosedError("the push subscription is closed")
        change = self._watch.poll()
        if change == _DOWN:
            with self._lock:
                state.on_disconnect()
        elif change == _UP:
            with self._lock:
                plan = state.on_reconnect(now())
            if plan is not None:
                await self._reset(plan)
                return None
        t = now()
        wait = _POLL
        due = state.deadline
        if due is not None:
            wait = min(wait, due - t)
        if until is not None:
            wait = min(wait, until - t)
        msg = await _next_or_none(sub, wait)
        with self._lock:
            out = state.check(now()) if msg is None else state.on_message(msg, now())
        if out is not None:
            await self._act(out)
        return msg if out is not None and out.deliver else None

    async def _delivered(self) -> None:
        """One message was handed over: send the flow control replies now due."""
        state = self._state
        if state is None:
            return
        with self._lock:
            due = state.on_delivered()
        for reply in due:
            await self._js._nc.publish(reply, b"")

    async def _run(self) -> None:
        """The callback loop: each message to ``cb`` in order, then auto-ack."""
        cb = self._cb
        assert cb is not None
        try:
            while True:
                try:
                    msg = await self._step(None)
                except SubscriptionClosedError:
                    return
                except Exception as exc:
                    if exc is not self._error:
                        await self._js._report(self._error_cb, exc)
                    self._error = exc
                    return
                if msg is None:
                    continue
                try:
                    await call_maybe_async(cb, msg)
                except Exception as exc:  # not acked: redelivered after the ack wait
                    await self._js._report(self._error_cb, exc)
                else:
                    if self._auto_ack and msg.reply.startswith("$JS.ACK."):
                        try:
                            await msg.ack()
                        except MsgAlreadyAckedError:
                            pass
                await self._delivered()
        finally:
            self._done.set()

    # ------------------------------------------------------------ reading

    async def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """The next message, waiting up to ``timeout`` seconds (None: forever).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when none came,
        :class:`~nats_core.errors.SubscriptionClosedError` once the subscription
        ended and nothing is left, or the error that ended an ordered
        subscription (its consumer could not be recreated).
        """
        if self._cb is not None:
            raise SubscriptionClosedError("next_msg() is not for a callback subscription")
        until = None if timeout is None else now() + timeout
        while True:
            msg = await self._step(until)
            if msg is not None:
                await self._delivered()
                return msg
            if until is not None and now() >= until:
                subject = self._plan.subject or self._stream
                raise NatsTimeoutError(f"no message on {subject!r} within {timeout} s")

    def __aiter__(self) -> PushSubscription:
        return self

    async def __anext__(self) -> Msg:
        """The next message; stops when the subscription ends and nothing is left."""
        try:
            return await self.next_msg(None)
        except SubscriptionClosedError:
            raise StopAsyncIteration from None

    # ------------------------------------------------------------ state

    @property
    def subject(self) -> str:
        """The subject subscribed to (the consumer's filter)."""
        return self._plan.subject

    @property
    def queue(self) -> str | None:
        """The queue group (the consumer's deliver group), if any."""
        return self._plan.queue

    @property
    def stream(self) -> str:
        """The stream of the consumer."""
        return self._stream

    @property
    def consumer(self) -> str | None:
        """The consumer's name (an ordered subscription's changes on each reset)."""
        return None if self._state is None else self._state.consumer

    @property
    def deliver_subject(self) -> str | None:
        """Where the consumer delivers now."""
        return None if self._state is None else self._state.deliver_subject

    @property
    def cached_info(self) -> ConsumerInfo | None:
        """The consumer's info as found or created (see :meth:`consumer_info`)."""
        return self._info

    @property
    def pending_msgs(self) -> int:
        """Messages received and not yet handed over (idle heartbeats included)."""
        return 0 if self._sub is None else self._sub.pending_msgs

    @property
    def pending_bytes(self) -> int:
        """Payload bytes of :attr:`pending_msgs`."""
        return 0 if self._sub is None else self._sub.pending_bytes

    @property
    def is_closed(self) -> bool:
        """True once unsubscribed, drained, or ended by an error."""
        return self._closed or self._error is not None

    async def consumer_info(self) -> ConsumerInfo:
        """Ask the server for the consumer's current info."""
        name = self.consumer
        if name is None:
            raise SubscriptionClosedError("the push subscription has no consumer")
        self._info = await self._js.consumer_info(self._stream, name)
        return self._info

    # ------------------------------------------------------------ end

    async def _delete_consumer(self) -> None:
        """Delete the consumer if this subscription made it (as nats.go does)."""
        name = self.consumer
        if name is None or not (self._created or self._plan.ordered):
            return
        self._created = False
        try:
            await self._js.delete_consumer(self._stream, name)
        except ConsumerNotFoundError:
            pass

    async def unsubscribe(self) -> None:
        """Stop now; messages not read yet are dropped. A consumer this
        subscription created is deleted; one it bound to stays."""
        self._closed = True
        with self._lock:
            if self._state is not None:
                self._state.stop()
        await _unsubscribe_quietly(self._sub)
        await self._delete_consumer()

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop interest, hand over what already arrived (to the callback, or to
        the reader), then delete a consumer this subscription created.

        Raises :class:`~nats_core.errors.NatsTimeoutError` when the server's
        confirmation and the callback take longer than ``timeout`` seconds.
        """
        until = now() + timeout
        self._closed = True
        sub = self._sub
        if sub is not None and not sub.is_closed:
            await sub.drain(timeout)
        if not await self._done.wait(max(until - now(), 0.0)):
            raise NatsTimeoutError(f"draining the push subscription took longer than {timeout} s")
        await self._delete_consumer()

    async def __aenter__(self) -> PushSubscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.unsubscribe()


class PushSubscriber(JetStreamManager):
    """The push consumer calls of a JetStream context (see :class:`~nats_anyio.JetStream`)."""

    @opens
    async def subscribe(
        self,
        subject: str,
        cb: Callable[[Msg], object] | None = None,
        *,
        queue: str | None = None,
        durable: str | None = None,
        stream: str | None = None,
        consumer: str | None = None,
        deliver_policy: DeliverPolicy | str | None = None,
        opt_start_seq: int | None = None,
        opt_start_time: datetime | None = None,
        ack_policy: AckPolicy | str | None = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        idle_heartbeat: timedelta | float | None = None,
        flow_control: bool = False,
        headers_only: bool = False,
        inactive_threshold: timedelta | float | None = None,
        config: ConsumerConfig | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
        error_cb: ErrorCallback | None = None,
    ) -> PushSubscription:
        """Subscribe to ``subject`` through a push consumer (nats.go's ``js.Subscribe``).

        The stream is the one capturing ``subject`` unless ``stream`` is given.
        Without ``durable`` or ``consumer`` an ephemeral consumer is created
        (deliver all, explicit acks); ``durable`` is bound to when it exists,
        created otherwise; ``stream`` + ``consumer`` bind to an existing
        consumer only. A consumer bound to is checked first
        (:class:`~nats_core.jetstream.ConsumerBindError`: another filter, a pull
        consumer, a deliver group that does not match ``queue``, a consumer
        already bound, settings that differ). ``config`` gives any other
        consumer setting; keywords override it.

        With ``cb`` (a plain or async function) each message is handed to it
        in order, one at a time, and acked when it returns (not when it raises)
        unless ``manual_ack`` or the ack policy is ``none``. Without, read with
        ``await sub.next_msg()`` or ``async for``. ``queue``: a deliver group
        whose members share the messages (and the durable, named after the
        queue unless given). ``ordered_consumer``: every message once, in
        order, on ephemeral consumers recreated as needed (heartbeats every
        5 s unless ``idle_heartbeat``). ``flow_control`` needs
        ``idle_heartbeat``. ``pending_*_limit``: the client-side queue's limits.
        Errors while running (missed heartbeats, a callback's exception) go to
        ``error_cb`` (default: the client's error callback).

        ``sub = await js.subscribe(...)``, or ``async with js.subscribe(...) as
        sub:`` to unsubscribe at the end of the block.
        """
        plan = build_push_subscribe(
            subject,
            deliver_subject=self._nc.new_inbox(),
            queue=queue,
            durable=durable,
            stream=stream,
            consumer=consumer,
            deliver_policy=deliver_policy,
            opt_start_seq=opt_start_seq,
            opt_start_time=opt_start_time,
            ack_policy=ack_policy,
            manual_ack=manual_ack,
            ordered_consumer=ordered_consumer,
            idle_heartbeat=idle_heartbeat,
            flow_control=flow_control,
            headers_only=headers_only or None,
            inactive_threshold=inactive_threshold,
            config=config,
        )
        name = plan.stream or await self.find_stream_by_subject(plan.subject)
        sub = PushSubscription(
            self, plan, name, cb, error_cb, pending_msgs_limit, pending_bytes_limit
        )
        await sub._start()
        return sub

    @opens
    async def queue_subscribe(
        self,
        subject: str,
        queue: str,
        cb: Callable[[Msg], object] | None = None,
        **options: Unpack[PushSubscribeOptions],
    ) -> PushSubscription:
        """:meth:`subscribe` in queue group ``queue`` (the consumer's deliver group):
        each message goes to one member. The members share a durable consumer,
        named ``queue`` unless ``durable`` says otherwise. Options as for
        :meth:`subscribe` but ``queue`` (see
        :class:`~nats_core.jetstream.typed.PushSubscribeOptions`)."""
        return await self.subscribe(subject, cb, queue=queue, **options)
