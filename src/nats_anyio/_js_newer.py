"""Newer-server JetStream for the async client: the :class:`NewerJetStream`
mixin of :class:`~nats_anyio.JetStream` with batch direct get (nats-server
2.11+), atomic batch publish, counters and message schedules (2.12+), fast-ingest
batch publish (2.14+).

The handles are in ``_js_batch`` (:class:`BatchGet`,
:class:`AtomicBatchPublisher`), ``_js_counters`` (:class:`Counter`) and
``_js_fast`` (:class:`FastPublisher`); the rules in
:mod:`nats_core.jetstream.batch`, ``.counters``, ``.schedules`` and ``.fast_batch``.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from nats_core import HeadersInput
from nats_core.errors import NoRespondersError
from nats_core.jetstream.batch import batch_get_request, last_msgs_for_request
from nats_core.jetstream.errors import JetStreamError, NoStreamResponseError
from nats_core.jetstream.models import PubAck
from nats_core.jetstream.publish import parse_pub_ack
from nats_core.jetstream.schedules import (
    Schedule,
    schedule_from_msg,
    schedule_headers,
    schedule_pattern,
)

from ._js_batch import AtomicBatchPublisher, BatchGet
from ._js_counters import Counter
from ._js_fast import FastPublisher
from ._js_manage import JetStreamManager

if TYPE_CHECKING:
    from ._msg import Msg

__all__ = ["NewerJetStream"]


class NewerJetStream(JetStreamManager):
    """The newer-server calls of :class:`~nats_anyio.JetStream` (a mixin)."""

    # ------------------------------------------------------ batch direct get

    def get_batch(
        self,
        stream: str,
        batch: int,
        *,
        seq: int | None = None,
        start_time: datetime | None = None,
        subject: str | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> BatchGet:
        """Up to ``batch`` stored messages of ``stream`` from ``seq`` (default 1)
        or ``start_time``, on ``subject`` (wildcards allowed) if given, stopping
        at ``max_bytes``: a :class:`BatchGet` to iterate (``async with`` /
        ``async for``) or ``await ....collect()``. Needs nats-server 2.11+ and a
        stream with ``allow_direct``. ``timeout`` bounds the wait for each reply."""
        req = batch_get_request(
            stream,
            batch,
            seq=seq,
            start_time=start_time,
            subject=subject,
            max_bytes=max_bytes,
            api=self._api,
        )
        return BatchGet(self._nc, req, stream, self._timeout if timeout is None else timeout)

    def get_last_msgs_for(
        self,
        stream: str,
        subjects: str | Sequence[str],
        *,
        up_to_seq: int | None = None,
        up_to_time: datetime | None = None,
        batch: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> BatchGet:
        """The last message of every subject matching ``subjects`` (wildcards
        allowed; at most 1024 subjects may match, else status 413), as of
        ``up_to_seq`` or ``up_to_time`` when given: a :class:`BatchGet`. Nothing
        matching gives an empty batch. Needs 2.11+ and ``allow_direct``."""
        req = last_msgs_for_request(
            stream,
            [subjects] if isinstance(subjects, str) else subjects,
            up_to_seq=up_to_seq,
            up_to_time=up_to_time,
            batch=batch,
            max_bytes=max_bytes,
            api=self._api,
        )
        return BatchGet(self._nc, req, stream, self._timeout if timeout is None else timeout)

    # -------------------------------------------------- atomic batch publish

    def batch_publish(
        self,
        *,
        ack_first: bool = True,
        ack_every: int = 0,
        timeout: float | None = None,
        batch_id: str | None = None,
    ) -> AtomicBatchPublisher:
        """A new atomic batch (:class:`AtomicBatchPublisher`; the stream needs
        ``allow_atomic``, nats-server 2.12+)."""
        return AtomicBatchPublisher(
            self._nc,
            self._timeout if timeout is None else timeout,
            ack_first=ack_first,
            ack_every=ack_every,
            batch_id=batch_id,
        )

    # ------------------------------------------- fast-ingest batch publish

    def fast_publisher(
        self,
        *,
        flow: int = 100,
        max_outstanding_acks: int = 2,
        ack_timeout: float | None = None,
        continue_on_gap: bool = False,
        error_cb: Callable[[JetStreamError], object] | None = None,
    ) -> FastPublisher:
        """A new fast-ingest batch (:class:`FastPublisher`, orbit.go's
        ``NewFastPublisher``; the stream needs ``allow_batched``, nats-server
        2.14+): each message is persisted as it is added, the server
        acknowledges every ``flow`` messages at most and the publisher waits
        past ``flow * max_outstanding_acks`` unacknowledged ones.
        ``ack_timeout`` defaults to the JetStream timeout."""
        return FastPublisher(
            self._nc,
            flow=flow,
            max_outstanding_acks=max_outstanding_acks,
            ack_timeout=self._timeout if ack_timeout is None else ack_timeout,
            continue_on_gap=continue_on_gap,
            error_cb=error_cb,
        )

    # -------------------------------------------------------------- counters

    async def counter(self, stream: str) -> Counter:
        """The counters of ``stream`` (a :class:`Counter`); raises
        :class:`~nats_core.jetstream.MsgCounterDisabledError` unless the stream
        has ``allow_msg_counter`` (nats-server 2.12+)."""
        return Counter(self, await self.stream_info(stream))

    # ------------------------------------------------------------- schedules

    async def publish_schedule(
        self,
        subject: str,
        data: bytes = b"",
        *,
        target: str,
        at: datetime | None = None,
        delay: timedelta | float | None = None,
        every: timedelta | float | None = None,
        cron: str | None = None,
        ttl: timedelta | float | str | None = None,
        source: str | None = None,
        time_zone: str | None = None,
        rollup: str | None = None,
        headers: HeadersInput | None = None,
        timeout: float | None = None,
    ) -> PubAck:
        """Store a schedule on ``subject`` that publishes ``data`` (and
        ``headers``) to ``target`` at a time (``at``, or ``delay`` from now),
        every interval (``every``), or on a ``cron`` expression; ``ttl`` is the
        produced messages' TTL. One schedule per subject: this replaces the
        previous one. ``@at`` needs nats-server 2.12+, the rest 2.14+; the
        stream needs ``allow_msg_schedules``."""
        pattern = schedule_pattern(
            at=at, delay=delay, every=every, cron=cron, now=datetime.now(UTC)
        )
        hdrs = schedule_headers(
            subject,
            pattern,
            target,
            headers=headers,
            ttl=ttl,
            source=source,
            time_zone=time_zone,
            rollup=rollup,
        )
        reply = await self._publish_request(subject, data, hdrs, timeout)
        return parse_pub_ack(reply, subject=subject)

    async def list_schedules(
        self,
        stream: str,
        subjects: str | Sequence[str] = ">",
        *,
        timeout: float | None = None,
    ) -> list[Schedule]:
        """The schedules stored in ``stream`` on ``subjects`` (wildcards allowed;
        default: all), one per subject, read with a multi-subject direct get of
        the last message of every matching subject (needs ``allow_direct`` and
        nats-server 2.11+; at most 1024 subjects may match, else status 413:
        narrow ``subjects``). Messages without ``Nats-Schedule`` are skipped."""
        msgs = await self.get_last_msgs_for(stream, subjects, timeout=timeout).collect()
        return [s for s in map(schedule_from_msg, msgs) if s is not None]

    async def cancel_schedule(self, stream: str, subject: str) -> bool:
        """Cancel the schedule stored on ``subject`` (purge the subject): true if
        there was one."""
        return await self.purge_stream(stream, subject=subject) > 0

    async def _publish_request(
        self, subject: str, data: bytes, headers: HeadersInput, timeout: float | None
    ) -> Msg:
        try:
            return await self._nc.request(
                subject,
                data,
                timeout=self._timeout if timeout is None else timeout,
                headers=headers,
            )
        except NoRespondersError:
            raise NoStreamResponseError(subject) from None
