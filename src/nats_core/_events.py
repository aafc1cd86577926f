"""Events the core emits from :meth:`Connection.receive_data` and friends.

Events are small slotted classes. A delivered message is one :class:`Msg`.
"""

from __future__ import annotations

from typing import Any

from ._headers import STATUS_NO_RESPONDERS, Headers, decode_headers
from ._info import ServerInfo
from .errors import ServerError

__all__ = [
    "Connected",
    "Disconnected",
    "Event",
    "InfoUpdated",
    "LameDuckMode",
    "Msg",
    "Pong",
    "Response",
    "ServerErrorEvent",
    "StartTLS",
    "SubscriptionEnded",
]


class Event:
    """Base class of every event."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in names)
        return f"{type(self).__name__}({fields})"


class Msg(Event):
    """A message delivered to a subscription.

    ``data`` is the payload as ``bytes``; ``headers`` is ``None`` when the
    message carried none. Adapters subclass this to add ``respond()``; the core
    builds messages of whatever class it was given as ``msg_class``.
    """

    __slots__ = ("_client", "_headers", "data", "reply", "sid", "subject")

    def __init__(
        self,
        subject: str,
        reply: str = "",
        data: bytes = b"",
        headers: Headers | bytes | None = None,
        sid: int = 0,
        client: Any = None,
    ) -> None:
        self.subject = subject
        self.reply = reply
        self.data = data
        self._headers = headers  # raw header block bytes are decoded on first read
        self.sid = sid
        self._client = client

    @property
    def headers(self) -> Headers | None:
        """The message's headers, or None. Decoded from the wire on first access."""
        h = self._headers
        if type(h) is bytes:
            h = self._headers = decode_headers(h)
        return h  # type: ignore[return-value]

    @headers.setter
    def headers(self, value: Headers | None) -> None:
        self._headers = value

    @property
    def is_no_responders(self) -> bool:
        """True when this is the server's 503 "no responders" status message."""
        h = self.headers
        return h is not None and h.status == STATUS_NO_RESPONDERS and not self.data

    @property
    def status(self) -> int | None:
        """The inline header status (100, 404, 408, 409, 503...), if any."""
        return None if self.headers is None else self.headers.status

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return (
            self.subject == other.subject
            and self.reply == other.reply
            and self.data == other.data
            and self.headers == other.headers
            and self.sid == other.sid
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 64 else self.data[:64] + b"..."
        return (
            f"{type(self).__name__}(subject={self.subject!r}, reply={self.reply!r}, "
            f"data={data!r}, headers={self.headers!r}, sid={self.sid})"
        )


class Connected(Event):
    """The handshake finished (CONNECT answered by PONG); the client is usable.

    ``reconnected`` is true when this is not the first connection.
    """

    __slots__ = ("info", "reconnected")

    def __init__(self, info: ServerInfo, reconnected: bool) -> None:
        self.info = info
        self.reconnected = reconnected


class StartTLS(Event):
    """The server requires TLS: the adapter upgrades, then calls ``tls_started()``."""

    __slots__ = ("info",)

    def __init__(self, info: ServerInfo) -> None:
        self.info = info


class InfoUpdated(Event):
    """The server sent INFO after the handshake (cluster change, lame duck...).

    ``added`` and ``removed`` list discovered server URLs that changed.
    """

    __slots__ = ("added", "info", "removed")

    def __init__(self, info: ServerInfo, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        self.info = info
        self.added = added
        self.removed = removed


class LameDuckMode(Event):
    """The server entered lame duck mode and will close connections soon (ADR-5)."""

    __slots__ = ("info",)

    def __init__(self, info: ServerInfo) -> None:
        self.info = info


class Pong(Event):
    """The PONG answering the ping numbered ``ping_id`` (see ``Connection.ping``)."""

    __slots__ = ("ping_id",)

    def __init__(self, ping_id: int) -> None:
        self.ping_id = ping_id


class Response(Event):
    """A reply to the request ``token`` (see ``Connection.request``)."""

    __slots__ = ("msg", "token")

    def __init__(self, token: str, msg: Msg) -> None:
        self.token = token
        self.msg = msg


class ServerErrorEvent(Event):
    """The server sent ``-ERR``; ``error.fatal`` says whether it closes the connection.

    ``sid`` is set when the error ended one subscription (a permissions violation).
    """

    __slots__ = ("error", "sid")

    def __init__(self, error: ServerError, sid: int | None = None) -> None:
        self.error = error
        self.sid = sid


class SubscriptionEnded(Event):
    """A subscription is gone from the table; no more messages will come for ``sid``.

    ``reason`` is ``"max_msgs"`` (auto-unsubscribe reached), ``"drained"``,
    ``"permissions"`` (the server refused it) or ``"unsubscribed"``.
    """

    __slots__ = ("reason", "sid")

    def __init__(self, sid: int, reason: str) -> None:
        self.sid = sid
        self.reason = reason


class Disconnected(Event):
    """The transport is gone; ``error`` is why, when known."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
