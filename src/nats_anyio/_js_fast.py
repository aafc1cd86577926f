"""Fast-ingest batch publish (nats-server 2.14+, stream ``allow_batched``) for the
async client: :class:`FastPublisher`, from ``js.fast_publisher()``. The state
and rules (reply subjects, flow control, pings, timeouts) live in
:mod:`nats_core.jetstream.fast_batch`; this module only subscribes, publishes
and waits.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from nats_core import HeadersInput
from nats_core.errors import ConnectionClosedError, NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream.batch import BatchAck
from nats_core.jetstream.errors import FastBatchGapError, JetStreamError
from nats_core.jetstream.fast_batch import FastBatch, FlowAck, FlowErr, FlowGap

from ._compat import now

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._msg import Msg
    from ._subscription import Subscription

__all__ = ["FastPublisher"]


class FastPublisher:
    """One fast-ingest batch (from ``js.fast_publisher()``): :meth:`add` each
    message (it is persisted as it arrives, not at the commit), then
    :meth:`commit` with a last message, or :meth:`close` without one; both
    return the final :class:`~nats_core.jetstream.batch.BatchAck` (``seq``: the
    stream sequence of the last stored message, ``count``: the batch's size).

    The server paces the publisher: it acknowledges every ``flow`` messages
    (its own, ramping value, at most the ``flow`` given here), and :meth:`add`
    waits once ``flow * max_outstanding_acks`` messages are unacknowledged,
    pinging the server every ``ack_timeout / 3`` seconds so a lost
    acknowledgement is sent again. No progress within ``ack_timeout`` raises
    :class:`~nats_core.jetstream.FastBatchAckTimeoutError`. A lost or refused
    message ends the batch on the server (gap mode ``fail``, the default):
    the next call raises :class:`~nats_core.jetstream.FastBatchEndedError`
    with what was stored. With ``continue_on_gap`` the batch goes on and the
    gaps and per-message errors are reported to ``error_cb`` (and kept in
    :attr:`gaps` / :attr:`errors`).

    ``async with`` closes (commits) the batch at the end of the block if it
    is still open, and gives it up after an exception.
    """

    def __init__(
        self,
        client: BaseClient,
        *,
        flow: int,
        max_outstanding_acks: int,
        ack_timeout: timedelta | float,
        continue_on_gap: bool = False,
        error_cb: Callable[[JetStreamError], object] | None = None,
    ) -> None:
        self._nc = client
        self._fb = FastBatch(
            client.new_inbox(),
            flow=flow,
            max_outstanding_acks=max_outstanding_acks,
            continue_on_gap=continue_on_gap,
            ack_timeout=ack_timeout,
        )
        self._error_cb = error_cb
        self._sub: Subscription | None = None
        #: Flow acknowledgements received (pings answered included).
        self.acks_received = 0
        #: Pings sent to re-request an acknowledgement.
        self.pings_sent = 0

    def __repr__(self) -> str:
        return f"<FastPublisher {self._fb!r}>"

    @property
    def batch_id(self) -> str:
        """The batch id (the last token of the batch's inbox)."""
        return self._fb.batch_id

    @property
    def size(self) -> int:
        """Messages sent so far (the highest batch sequence)."""
        return self._fb.seq

    @property
    def ack_seq(self) -> int:
        """The highest batch sequence the server acknowledged as persisted."""
        return self._fb.ack_seq

    @property
    def flow(self) -> int:
        """The server's current acknowledgement interval, in messages."""
        return self._fb.flow

    @property
    def closed(self) -> bool:
        """Committed, ended by the server, or given up: no more messages."""
        return self._fb.closed

    @property
    def gaps(self) -> list[FlowGap]:
        """The gaps the server reported (messages that never reached it)."""
        return self._fb.gaps

    @property
    def errors(self) -> list[FlowErr]:
        """The per-message errors the server reported."""
        return self._fb.errors

    # ----------------------------------------------------------- sending

    async def add(
        self,
        subject: str,
        data: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_subject_seq_subject: str | None = None,
        ttl: timedelta | float | str | None = None,
    ) -> int:
        """Publish one message of the batch; returns its batch sequence. The
        first call waits for the server's first acknowledgement; later ones
        wait only while too many messages are unacknowledged."""
        fb = self._fb
        if self._sub is None:
            fb.check()
            await self._subscribe()
        reply, hdrs = fb.message(
            subject,
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_subject_seq_subject=expected_last_subject_seq_subject,
            ttl=ttl,
        )
        seq = fb.seq
        await self._nc.publish(subject, data, reply, headers=hdrs)
        sub = self._sub
        if sub is not None and sub.pending_msgs:
            await self._read_queued(sub)
        if fb.waiting:
            await self._wait()
        if fb.cause is not None:
            fb.check()
        return seq

    async def commit(
        self,
        subject: str,
        data: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        expected_stream: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_subject_seq_subject: str | None = None,
        ttl: timedelta | float | str | None = None,
    ) -> BatchAck:
        """Publish the last message and commit: the final
        :class:`~nats_core.jetstream.batch.BatchAck`, or the typed error."""
        fb = self._fb
        if self._sub is None:
            fb.check()
            await self._subscribe()
        reply, hdrs = fb.message(
            subject,
            headers,
            commit=True,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_subject_seq_subject=expected_last_subject_seq_subject,
            ttl=ttl,
        )
        await self._nc.publish(subject, data, reply, headers=hdrs)
        return await self._finish()

    async def close(self) -> BatchAck:
        """Commit the messages added so far without one more (an end-of-batch
        operation, not stored): the final :class:`~nats_core.jetstream.batch.BatchAck`."""
        subject, reply = self._fb.end_marker()
        await self._nc.publish(subject, b"", reply)
        return await self._finish()

    async def discard(self) -> None:
        """Stop without committing (idempotent). What was acknowledged stays
        stored; the server forgets the batch after 10 s without a message."""
        fb = self._fb
        if not fb.closed:
            fb.closed = True
        await self._unsubscribe()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and not self._fb.closed and self._fb.seq:
            await self.close()
        await self.discard()

    # ----------------------------------------------------------- internals

    async def _subscribe(self) -> None:
        self._sub = await self._nc.subscribe(self._fb.subscribe_subject)

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except ConnectionClosedError:
                pass

    async def _finish(self) -> BatchAck:
        try:
            await self._wait()
            return self._fb.result()
        finally:
            await self._unsubscribe()

    async def _read_queued(self, sub: Subscription) -> None:
        """Hand the replies already queued to the core, without waiting."""
        fb = self._fb
        while sub.pending_msgs:
            self._on_reply(await sub.next_msg(timeout=0), fb)

    def _on_reply(self, msg: Msg, fb: FastBatch) -> None:
        event = fb.on_reply(msg, now())
        if isinstance(event, FlowAck):
            self.acks_received += 1
        elif isinstance(event, FlowGap | FlowErr):
            self._report(event)

    def _report(self, event: FlowGap | FlowErr) -> None:
        cb = self._error_cb
        if cb is None:
            return
        if isinstance(event, FlowErr):
            cb(event.error)
        else:
            cb(
                FastBatchGapError(
                    f"fast batch {self._fb.batch_id}: messages {event.last_seq} to "
                    f"{event.seq - 1} never reached the stream",
                    seq=self._fb.seq,
                    ack_seq=self._fb.ack_seq,
                    first=event.last_seq,
                    last=event.seq - 1,
                )
            )

    async def _wait(self) -> None:
        """Read replies until the core needs none, pinging and timing out as it says."""
        fb = self._fb
        sub = self._sub
        fb.start_wait(now())
        while fb.waiting:
            if sub is None:
                fb.check()
                return
            try:
                msg = await sub.next_msg(timeout=max(0.0, fb.wake_at - now()))
            except NatsTimeoutError:
                ping = fb.on_timeout(now())
                if ping is not None:
                    self.pings_sent += 1
                    await self._nc.publish(ping[0], b"", ping[1])
                continue
            except SubscriptionClosedError:
                self._sub = None
                fb.closed = True
                raise
            self._on_reply(msg, fb)
