"""The message class the blocking client delivers."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Msg"]


class Msg(_CoreMsg):
    """A received message: ``subject``, ``reply``, ``data`` (bytes), ``headers``."""

    __slots__ = ("_ackd",)
    _client: Client

    def respond(self, data: bytes = b"", headers: HeadersInput | None = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply:
            raise LocalProtocolError(f"message on {self.subject!r} has no reply subject")
        # A reply is latency-bound: write it now rather than waking the writer thread.
        self._client._publish_now(self.reply, data, headers)

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

    def _send_ack(self, payload: bytes, final: bool = True) -> None:
        subject = self._ack_to()
        self._client.publish(subject, payload)
        if final:
            self._ackd = True

    def ack(self) -> None:
        """Acknowledge a JetStream message: it is processed (``+ACK``)."""
        self._send_ack(ACK)

    def ack_sync(self, timeout: float = 5.0) -> None:
        """Acknowledge and wait until the server confirms it (double ack).

        Raises :class:`~nats_core.errors.NatsTimeoutError` when no confirmation
        comes within ``timeout`` seconds (then the ack may or may not have
        been applied).
        """
        subject = self._ack_to()
        self._client.request(subject, ACK, timeout=timeout)
        self._ackd = True

    def nak(self, delay: timedelta | float | None = None) -> None:
        """Negative ack: redeliver the message, after ``delay`` (seconds or timedelta) if given."""
        self._send_ack(nak_payload(delay))

    def in_progress(self) -> None:
        """Tell the server the message is still being worked on: its ack timer restarts."""
        self._send_ack(IN_PROGRESS, final=False)

    def term(self, reason: str | None = None) -> None:
        """Terminate: never redeliver this message (``reason`` shows in the server's advisory)."""
        self._send_ack(term_payload(reason))
