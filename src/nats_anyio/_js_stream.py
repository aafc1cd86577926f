"""Stream handles for the async client, as nats.go's ``jetstream.Stream``:
``stream = await js.stream("ORDERS")`` gives a :class:`Stream` whose calls are
those of the JetStream context with the stream's name filled in.

Every method delegates to the context (a :class:`~nats_anyio.JetStream`); the
handle only keeps the name and the last :class:`~nats_core.jetstream.StreamInfo`.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol, Unpack

from nats_core.jetstream.models import (
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPauseResponse,
    StoredMsg,
    StreamInfo,
)
from nats_core.jetstream.typed import ConsumerConfigFields, OrderedConsumerOptions

from ._compat import Listing

if TYPE_CHECKING:
    from ._js_ordered import OrderedConsumer
    from ._js_pull import Consumer

__all__ = ["Stream", "StreamContext"]


class StreamContext(Protocol):
    """The calls a stream handle makes on its JetStream context (a
    :class:`~nats_anyio.JetStream`)."""

    async def stream_info(
        self, name: str, *, subjects_filter: str | None = None, deleted_details: bool = False
    ) -> StreamInfo: ...

    async def purge_stream(
        self,
        name: str,
        *,
        subject: str | None = None,
        seq: int | None = None,
        keep: int | None = None,
    ) -> int: ...

    async def get_msg(
        self,
        stream: str,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
        direct: bool = False,
    ) -> StoredMsg: ...

    async def get_last_msg_for_subject(
        self, stream: str, subject: str, *, direct: bool = False
    ) -> StoredMsg: ...

    async def delete_msg(self, stream: str, seq: int, *, secure_erase: bool = False) -> bool: ...

    async def secure_delete_msg(self, stream: str, seq: int) -> bool: ...

    async def create_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer: ...

    async def update_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer: ...

    async def create_or_update_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer: ...

    async def consumer(self, stream: str, name: str) -> Consumer: ...

    async def consumer_info(self, stream: str, name: str) -> ConsumerInfo: ...

    async def delete_consumer(self, stream: str, name: str) -> bool: ...

    def consumer_names(self, stream: str) -> Listing[str]: ...

    def list_consumers(self, stream: str) -> Listing[ConsumerInfo]: ...

    async def ordered_consumer(
        self, stream: str, **opts: Unpack[OrderedConsumerOptions]
    ) -> OrderedConsumer: ...

    async def pause_consumer(
        self,
        stream: str,
        name: str,
        until: datetime,
    ) -> ConsumerPauseResponse: ...

    async def resume_consumer(self, stream: str, name: str) -> ConsumerPauseResponse: ...

    async def unpin_consumer(self, stream: str, name: str, group: str) -> None: ...


class Stream:
    """A handle on one stream (get it with ``await js.stream(name)``).

    Its methods are the JetStream context's stream, stored-message and
    consumer calls without the stream argument. :meth:`info` asks the server
    and remembers the answer; :attr:`cached_info` is the last one, without
    a request (a property, as on :class:`~nats_anyio.Consumer`).
    """

    __slots__ = ("_info", "_js", "_name")

    def __init__(self, js: StreamContext, info: StreamInfo) -> None:
        self._js = js
        self._name = info.config.name
        self._info = info

    def __repr__(self) -> str:
        return f"<Stream {self._name}>"

    @property
    def name(self) -> str:
        """The stream's name."""
        return self._name

    # ------------------------------------------------------------- stream

    async def info(
        self, *, subjects_filter: str | None = None, deleted_details: bool = False
    ) -> StreamInfo:
        """The stream's configuration and state, fresh from the server (and
        cached); options as for ``js.stream_info``."""
        info = await self._js.stream_info(
            self._name, subjects_filter=subjects_filter, deleted_details=deleted_details
        )
        self._info = info
        return info

    @property
    def cached_info(self) -> StreamInfo:
        """The info of the last :meth:`info` (or of ``js.stream()``), with no request."""
        return self._info

    async def purge(
        self, *, subject: str | None = None, seq: int | None = None, keep: int | None = None
    ) -> int:
        """Remove messages and return how many: all, or those on ``subject``, up
        to (not including) ``seq`` or all but the last ``keep``."""
        return await self._js.purge_stream(self._name, subject=subject, seq=seq, keep=keep)

    # ----------------------------------------------------------- messages

    def _direct(self, direct: bool | None) -> bool:
        if direct is not None:
            return direct
        return bool(self._info.config.allow_direct)

    async def get_msg(
        self,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
        direct: bool | None = None,
    ) -> StoredMsg:
        """One stored message (see ``js.get_msg``): by ``seq``, the last on
        ``last_by_subject``, or the first on ``next_by_subject`` from ``seq``.

        ``direct=None`` uses the direct get API when the cached info says the
        stream allows it, as nats.go does.
        """
        return await self._js.get_msg(
            self._name,
            seq,
            last_by_subject=last_by_subject,
            next_by_subject=next_by_subject,
            direct=self._direct(direct),
        )

    async def get_last_msg_for_subject(
        self,
        subject: str,
        *,
        direct: bool | None = None,
    ) -> StoredMsg:
        """The last message stored on ``subject`` (``direct`` as for :meth:`get_msg`)."""
        return await self._js.get_last_msg_for_subject(
            self._name,
            subject,
            direct=self._direct(direct),
        )

    async def delete_msg(self, seq: int) -> bool:
        """Delete the message ``seq`` (marked erased, not overwritten)."""
        return await self._js.delete_msg(self._name, seq)

    async def secure_delete_msg(self, seq: int) -> bool:
        """Delete the message ``seq`` and overwrite its data."""
        return await self._js.secure_delete_msg(self._name, seq)

    # ---------------------------------------------------------- consumers

    async def create_consumer(
        self,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer:
        """Create a pull consumer on this stream (see ``js.create_consumer``)."""
        return await self._js.create_consumer(self._name, config, **fields)

    async def update_consumer(
        self,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer:
        """Update an existing consumer of this stream (see ``js.update_consumer``)."""
        return await self._js.update_consumer(self._name, config, **fields)

    async def create_or_update_consumer(
        self, config: ConsumerConfig | None = None, **fields: Unpack[ConsumerConfigFields]
    ) -> Consumer:
        """Create the consumer, or update it when it exists."""
        return await self._js.create_or_update_consumer(self._name, config, **fields)

    async def consumer(self, name: str) -> Consumer:
        """The handle of the existing consumer ``name``
        (:class:`~nats_core.jetstream.ConsumerNotFoundError` if there is none)."""
        return await self._js.consumer(self._name, name)

    async def consumer_info(self, name: str) -> ConsumerInfo:
        """The consumer's configuration and state."""
        return await self._js.consumer_info(self._name, name)

    async def delete_consumer(self, name: str) -> bool:
        """Delete the consumer ``name``."""
        return await self._js.delete_consumer(self._name, name)

    def consumer_names(self) -> Listing[str]:
        """Every consumer's name on this stream, page by page."""
        return self._js.consumer_names(self._name)

    def list_consumers(self) -> Listing[ConsumerInfo]:
        """Every consumer's info on this stream, page by page."""
        return self._js.list_consumers(self._name)

    async def ordered_consumer(self, **opts: Unpack[OrderedConsumerOptions]) -> OrderedConsumer:
        """An ordered consumer of this stream; options as for ``js.ordered_consumer``
        (``filter_subjects``, ``deliver_policy``, ``opt_start_seq``, ...: see
        :class:`~nats_core.jetstream.typed.OrderedConsumerOptions`)."""
        return await self._js.ordered_consumer(self._name, **opts)

    async def pause_consumer(self, name: str, until: datetime) -> ConsumerPauseResponse:
        """Stop delivering from the consumer until ``until`` (server 2.11+)."""
        return await self._js.pause_consumer(self._name, name, until)

    async def resume_consumer(self, name: str) -> ConsumerPauseResponse:
        """Resume a paused consumer now (server 2.11+)."""
        return await self._js.resume_consumer(self._name, name)

    async def unpin_consumer(self, name: str, group: str) -> None:
        """Unpin the pinned client of the consumer's priority ``group`` (server 2.11+)."""
        await self._js.unpin_consumer(self._name, name, group)
