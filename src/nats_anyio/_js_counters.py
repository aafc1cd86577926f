"""Counters (ADR-49, nats-server 2.12+) for the async client: ``counter = await
js.counter("COUNTS")`` gives a :class:`Counter` on a stream with
``allow_msg_counter``, whose subjects are all counters.

The rules (the ``Nats-Incr`` header, the ack's ``val``, the stored value and
its per-source breakdown) live in :mod:`nats_core.jetstream.counters`.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from nats_core import HeadersInput
from nats_core.jetstream.counters import (
    CounterEntry,
    check_counter_stream,
    counter_entry,
    counter_headers,
    parse_counter_ack,
)
from nats_core.jetstream.errors import InvalidOptionError
from nats_core.jetstream.models import StoredMsg, StreamInfo

from ._compat import Lister, lister
from ._js_batch import BatchGet

if TYPE_CHECKING:
    from ._msg import Msg

__all__ = ["Counter", "CounterContext"]


class CounterContext(Protocol):
    """The calls a :class:`Counter` makes on its JetStream context."""

    async def _publish_request(
        self, subject: str, data: bytes, headers: HeadersInput, timeout: float | None
    ) -> Msg: ...

    async def get_msg(
        self,
        stream: str,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
        direct: bool = False,
    ) -> StoredMsg: ...

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
    ) -> BatchGet: ...


class Counter:
    """The counters of one stream (``allow_msg_counter``, nats-server 2.12+).

    :meth:`add` changes a counter by any Python int and returns the new total;
    :meth:`get` reads one, :meth:`get_many` several (a batch direct get: the
    stream needs ``allow_direct``), :meth:`entry` / :meth:`entries` with the
    last increment and the per-source breakdown of a sourcing stream.
    """

    def __init__(self, js: CounterContext, info: StreamInfo) -> None:
        check_counter_stream(info)
        self._js = js
        self.info = info
        """The stream's info when the handle was made."""

    def __repr__(self) -> str:
        return f"<Counter {self.name}>"

    @property
    def name(self) -> str:
        """The stream's name."""
        return self.info.config.name

    async def add(self, subject: str, delta: int, *, timeout: float | None = None) -> int:
        """Add ``delta`` (negative to subtract) to the counter ``subject``; the new
        total. 10168 :class:`~nats_core.jetstream.MsgCounterDisabledError` if the
        subject's stream is not a counter stream."""
        hdrs = counter_headers(subject, delta)
        reply = await self._js._publish_request(subject, b"", hdrs, timeout)
        return parse_counter_ack(reply, subject=subject)

    async def increment(self, subject: str) -> int:
        """:meth:`add` of 1."""
        return await self.add(subject, 1)

    async def entry(self, subject: str) -> CounterEntry:
        """The counter ``subject`` with its last increment and sources;
        :class:`~nats_core.jetstream.MsgNotFoundError` if it was never set."""
        direct = bool(self.info.config.allow_direct)
        msg = await self._js.get_msg(self.name, last_by_subject=subject, direct=direct)
        return counter_entry(msg)

    async def get(self, subject: str) -> int:
        """The value of the counter ``subject``
        (:class:`~nats_core.jetstream.MsgNotFoundError` if it was never set)."""
        return (await self.entry(subject)).value

    @lister
    async def entries(self, subjects: str | Sequence[str]) -> Lister[CounterEntry]:
        """Every counter matching ``subjects`` (wildcards allowed), as they
        arrive (one batch direct get; needs ``allow_direct``)."""
        if not self.info.config.allow_direct:
            raise InvalidOptionError(
                f"reading several counters needs direct gets: stream {self.name!r} "
                "has allow_direct off"
            )
        async with self._js.get_last_msgs_for(self.name, subjects) as msgs:
            async for msg in msgs:
                yield counter_entry(msg)

    async def get_many(self, subjects: str | Sequence[str]) -> dict[str, int]:
        """Subject -> value of every counter matching ``subjects`` (wildcards
        allowed; subjects never set are absent)."""
        out: dict[str, int] = {}
        async for entry in self.entries(subjects):
            out[entry.subject] = entry.value
        return out
