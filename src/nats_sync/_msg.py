"""The message class the blocking client delivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nats_core import HeadersInput
from nats_core import Msg as _CoreMsg
from nats_core.errors import LocalProtocolError

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Msg"]


class Msg(_CoreMsg):
    """A received message: ``subject``, ``reply``, ``data`` (bytes), ``headers``."""

    __slots__ = ()
    _client: Client

    def respond(self, data: bytes = b"", headers: HeadersInput | None = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply:
            raise LocalProtocolError(f"message on {self.subject!r} has no reply subject")
        # A reply is latency-bound: write it now rather than waking the writer thread.
        self._client._publish_now(self.reply, data, headers)
