"""The message class a client delivers, with the calls that answer and acknowledge it.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from nats_core import HeadersInput
from nats_core import Msg as _CoreMsg
from nats_core.errors import LocalProtocolError
from nats_core.jetstream.errors import MsgAlreadyAckedError
from nats_core.jetstream.msg import (
    ACK,
    IN_PROGRESS,
    MsgMetadata,
    ack_subject,
    nak_payload,
    parse_metadata,
    term_payload,
)

__all__ = ["Msg", "MsgClient"]


class MsgClient(Protocol):
    """What a message needs of the client that received it."""

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> None: ...

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        headers: HeadersInput | None = None,
    ) -> object: ...

    async def _publish_now(
        self,
        subject: str,
        payload: bytes,
        headers: HeadersInput | None,
    ) -> None: ...


class Msg(_CoreMsg):
    """A received message: ``subject``, ``reply``, ``data`` (bytes), ``headers``."""

    __slots__ = ("_ackd",)
    _client: MsgClient

    async def respond(self, data: bytes = b"", headers: HeadersInput | None = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply:
            raise LocalProtocolError(f"message on {self.subject!r} has no reply subject")
        # A reply is latency-bound: write it now rather than leave it to the background writer.
        await self._client._publish_now(self.reply, data, headers)

    # ------------------------------------------------ JetStream messages

    @property
    def metadata(self) -> MsgMetadata:
        """Stream, consumer, sequences, delivery count, pending count and timestamp
        of a JetStream message (from its ``$JS.ACK`` reply subject).

        Raises :class:`~nats_core.jetstream.NotJetStreamMessageError` otherwise.
        """
        return parse_metadata(self.reply)

    def _ack_to(self) -> str:
        if getattr(self, "_ackd", False):
            raise MsgAlreadyAckedError(f"message on {self.subject!r} was already acknowledged")
        return ack_subject(self.reply)

    async def _send_ack(self, payload: bytes, final: bool = True) -> None:
        subject = self._ack_to()
        await self._client.publish(subject, payload)
        if final:
            self._ackd = True

    async def ack(self) -> None:
        """Acknowledge a JetStream message: it is processed (``+ACK``)."""
        await self._send_ack(ACK)

    async def ack_sync(self, timeout: float = 5.0) -> None:
        """Acknowledge and wait until the server confirms it (double ack).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when no confirmation
        comes within ``timeout`` seconds (then the ack may or may not have
        been applied).
        """
        subject = self._ack_to()
        await self._client.request(subject, ACK, timeout=timeout)
        self._ackd = True

    async def nak(self, delay: timedelta | float | None = None) -> None:
        """Negative ack: redeliver the message, after ``delay`` (seconds or timedelta) if given."""
        await self._send_ack(nak_payload(delay))

    async def in_progress(self) -> None:
        """Tell the server the message is still being worked on: its ack timer restarts."""
        await self._send_ack(IN_PROGRESS, final=False)

    async def term(self, reason: str | None = None) -> None:
        """Terminate: never redeliver this message (``reason`` shows in the server's advisory)."""
        await self._send_ack(term_payload(reason))
