"""Batch direct get (nats-server 2.11+) and atomic batch publish (2.12+) for the
async client: :class:`BatchGet` (from ``js.get_batch()`` and
``js.get_last_msgs_for()``) and :class:`AtomicBatchPublisher` (from
``js.batch_publish()``). The rules live in :mod:`nats_core.jetstream.batch`;
this module only subscribes, publishes and waits.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

import random
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from nats_core import NUID, HeadersInput
from nats_core.errors import (
    ConnectionClosedError,
    NatsTimeoutError,
    NoRespondersError,
    SubscriptionClosedError,
)
from nats_core.jetstream.batch import (
    AtomicBatch,
    BatchAck,
    DirectBatch,
    check_staged,
    parse_batch_ack,
)
from nats_core.jetstream.errors import NoStreamResponseError
from nats_core.jetstream.models import StoredMsg
from nats_core.jetstream.requests import JSRequest

from ._compat import now

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._subscription import Subscription

__all__ = ["AtomicBatchPublisher", "BatchGet"]

_ids = NUID(random.SystemRandom())


class BatchGet:
    """The messages of one batch direct get, as they arrive: ``async with
    js.get_batch("S", 100) as msgs: async for m in msgs: ...`` (or
    ``await msgs.collect()``). Each is a :class:`~nats_core.jetstream.StoredMsg`.

    The iteration ends on the server's end-of-batch marker; then
    :attr:`num_pending` says how many more messages match. A batch cut off
    before its marker raises :class:`~nats_core.jetstream.BatchGetIncompleteError`
    (:class:`~nats_core.jetstream.BatchGetTimeoutError` when no reply came
    within ``timeout`` seconds), never a silent end.
    """

    def __init__(self, client: BaseClient, req: JSRequest, stream: str, timeout: float) -> None:
        self._nc = client
        self._req = req
        self._timeout = timeout
        self._db = DirectBatch(stream, timeout=timeout, now=0.0)
        self._sub: Subscription | None = None
        self._started = False

    def __repr__(self) -> str:
        return f"<BatchGet {self._db.stream} received={self._db.received} done={self._db.done}>"

    @property
    def num_pending(self) -> int | None:
        """After the end: messages that match beyond this batch (``None`` before)."""
        return self._db.num_pending

    @property
    def last_seq(self) -> int | None:
        """The stream sequence of the last message received."""
        return self._db.last_seq

    @property
    def up_to_seq(self) -> int | None:
        """After a multi-subject get's end: the stream sequence the answer holds for."""
        return self._db.up_to_seq

    @property
    def received(self) -> int:
        """Messages handed over so far."""
        return self._db.received

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(inbox)
        self._db = DirectBatch(self._db.stream, timeout=self._timeout, now=now())
        try:
            await self._nc.publish(self._req.subject, self._req.payload, inbox)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop reading and unsubscribe (idempotent)."""
        self._db.done = True
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except ConnectionClosedError:
                pass

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StoredMsg:
        await self._start()
        db = self._db
        while not db.done:
            sub = self._sub
            if sub is None:
                break
            try:
                msg = await sub.next_msg(timeout=max(0.0, db.deadline - now()))
            except NatsTimeoutError:
                error = db.expired()
                await self.close()
                raise error from None
            except SubscriptionClosedError:
                self._sub = None
                raise db.lost() from None
            try:
                stored = db.on_reply(msg, now())
            except BaseException:
                await self.close()
                raise
            if stored is not None:
                return stored
        await self.close()
        raise StopAsyncIteration

    async def collect(self) -> list[StoredMsg]:
        """Every message of the batch, in a list."""
        out: list[StoredMsg] = []
        async with self:
            async for msg in self:
                out.append(msg)
        return out


class AtomicBatchPublisher:
    """One atomic batch (ADR-50, from ``js.batch_publish()``): :meth:`add` the
    messages, then :meth:`commit` the last one (or :meth:`close` to commit
    without one, server 2.14+). The stream stores all of them or none.

    The first message is sent as a request (``ack_first``), so a stream
    without ``allow_atomic`` fails there; every ``ack_every`` messages another
    one waits for the server (flow control). Errors are typed: see
    :class:`~nats_core.jetstream.BatchIncompleteError`,
    :class:`~nats_core.jetstream.BatchTooLargeError`,
    :class:`~nats_core.jetstream.AtomicPublishDisabledError`,
    :class:`~nats_core.jetstream.WrongLastSequenceError` and their kin.
    """

    def __init__(
        self,
        client: BaseClient,
        timeout: float,
        *,
        ack_first: bool = True,
        ack_every: int = 0,
        batch_id: str | None = None,
    ) -> None:
        self._nc = client
        self._timeout = timeout
        self._batch = AtomicBatch(
            batch_id if batch_id is not None else _ids.next(),
            ack_first=ack_first,
            ack_every=ack_every,
        )

    def __repr__(self) -> str:
        return repr(self._batch)

    @property
    def batch_id(self) -> str:
        """The batch's ``Nats-Batch-Id``."""
        return self._batch.batch_id

    @property
    def size(self) -> int:
        """Messages sent so far (the commit included)."""
        return self._batch.size

    @property
    def closed(self) -> bool:
        """Committed or discarded."""
        return self._batch.closed

    async def _send(self, subject: str, data: bytes, headers: HeadersInput, wants: bool) -> None:
        if not wants:
            await self._nc.publish(subject, data, headers=headers)
            return
        try:
            reply = await self._nc.request(subject, data, timeout=self._timeout, headers=headers)
            check_staged(reply, subject=subject)
        except NoRespondersError:
            self._batch.closed = True
            raise NoStreamResponseError(subject) from None
        except BaseException:
            self._batch.closed = True
            raise

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
    ) -> None:
        """Send one message of the batch (stored only when the batch commits).
        ``expected_last_seq`` is allowed on the first message only; the
        expectations are checked at the commit, against the stream as it was
        before the batch."""
        hdrs, wants = self._batch.message(
            subject,
            headers,
            msg_id=msg_id,
            expected_stream=expected_stream,
            expected_last_seq=expected_last_seq,
            expected_last_subject_seq=expected_last_subject_seq,
            expected_last_subject_seq_subject=expected_last_subject_seq_subject,
            ttl=ttl,
        )
        await self._send(subject, data, hdrs, wants)

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
        timeout: float | None = None,
    ) -> BatchAck:
        """Send the last message and commit: the :class:`~nats_core.jetstream.batch.BatchAck`
        (``seq`` of the last stored message, ``count`` stored), or the typed
        error of a batch the stream refused (then nothing of it is stored)."""
        hdrs, _ = self._batch.message(
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
        return await self._commit(subject, data, hdrs, self._batch.size, timeout)

    async def close(self, timeout: float | None = None) -> BatchAck:
        """Commit the messages added so far without one more (an ``eob`` marker,
        not stored; nats-server 2.14+)."""
        subject, hdrs = self._batch.end_marker()
        return await self._commit(subject, b"", hdrs, self._batch.size, timeout)

    async def _commit(
        self, subject: str, data: bytes, hdrs: HeadersInput, count: int, timeout: float | None
    ) -> BatchAck:
        try:
            reply = await self._nc.request(
                subject,
                data,
                timeout=self._timeout if timeout is None else timeout,
                headers=hdrs,
            )
        except NoRespondersError:
            raise NoStreamResponseError(subject) from None
        return parse_batch_ack(reply, self._batch.batch_id, count, subject=subject)

    def discard(self) -> None:
        """Give the batch up without committing: nothing of it is stored (the
        server drops it after its idle timeout, 10 s by default)."""
        self._batch.discard()
