"""WebSocket framing for ``ws://`` and ``wss://`` servers, without I/O.

NATS over WebSocket is the same byte stream as over TCP, carried in binary
WebSocket messages (RFC 6455). :class:`WebSocketFramer` wraps a wsproto
client connection (wsproto is itself sans-IO): it makes the HTTP upgrade
request, turns bytes from the socket into NATS bytes, and NATS bytes into
frames. The adapters' WebSocket transports own the socket and call it.

wsproto is an optional dependency (``pip install 'pynats[websocket]'``),
imported when the first framer is made.

With ``compression=True`` the upgrade offers permessage-deflate (RFC 7692) as
nats.go does, with no context takeover either way, so every message is
compressed on its own (zlib, through wsproto's extension: computation, not
I/O). The server may decline; :attr:`WebSocketFramer.compressed` says whether
it accepted.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = ["WebSocketFramer"]

_DEFAULT_PORTS = {False: 80, True: 443}
_W: Any = None  # wsproto's names, loaded by the first framer


def _wsproto() -> Any:
    global _W
    if _W is None:
        try:
            import wsproto
            import wsproto.connection
            import wsproto.events
            import wsproto.extensions
            import wsproto.utilities
        except ImportError:  # pragma: no cover - depends on the environment
            raise LocalProtocolError(
                "ws:// and wss:// URLs need the wsproto package: pip install 'pynats[websocket]'"
            ) from None
        ev = wsproto.events
        _W = SimpleNamespace(
            WSConnection=wsproto.WSConnection,
            ConnectionState=wsproto.connection.ConnectionState,
            ConnectionType=wsproto.connection.ConnectionType,
            PerMessageDeflate=wsproto.extensions.PerMessageDeflate,
            ProtocolError=wsproto.utilities.ProtocolError,
            AcceptConnection=ev.AcceptConnection,
            BytesMessage=ev.BytesMessage,
            CloseConnection=ev.CloseConnection,
            Ping=ev.Ping,
            RejectConnection=ev.RejectConnection,
            Request=ev.Request,
            TextMessage=ev.TextMessage,
        )
    return _W


class WebSocketFramer:
    """The WebSocket side of one client connection.

    Use: send :meth:`handshake`; feed what the server sends to
    :meth:`receive_data` (it returns the NATS bytes it carried, once
    :attr:`accepted`); frame what the NATS core wants written with
    :meth:`send`; write :meth:`data_to_send` (answers to pings, the reply to a
    close) whenever it is not empty.
    """

    def __init__(
        self, host: str, port: int, *, secure: bool, path: str = "/", compression: bool = False
    ) -> None:
        self._w = w = _wsproto()
        self._ws = w.WSConnection(w.ConnectionType.CLIENT)
        shown = f"[{host}]" if ":" in host else host
        self.host = shown if port == _DEFAULT_PORTS[secure] else f"{shown}:{port}"
        self.path = path or "/"
        #: True when the upgrade offers permessage-deflate (``compression=True``).
        self.compression = compression
        #: True once the server accepted permessage-deflate: messages are
        #: compressed both ways.
        self.compressed = False
        self._out = bytearray()
        self._head = b""  # the first bytes of the upgrade answer
        #: True once the server answered the upgrade with 101 Switching Protocols.
        self.accepted = False
        #: True once the server closed the WebSocket (or the stream ended).
        self.closed = False
        #: The server's close code and reason, when it sent a close frame.
        self.close_code: int | None = None
        self.close_reason = ""

    def handshake(self) -> bytes:
        """The HTTP request that upgrades the connection to WebSocket."""
        w = self._w
        extensions = []
        if self.compression:
            # As nats.go asks (and nats-server answers): no context takeover on
            # either side, each message is a deflate stream of its own.
            extensions.append(
                w.PerMessageDeflate(
                    client_no_context_takeover=True, server_no_context_takeover=True
                )
            )
        data: bytes = self._ws.send(
            w.Request(host=self.host, target=self.path, extensions=extensions)
        )
        return data

    def receive_data(self, data: bytes) -> bytes:
        """Feed bytes read from the socket (``b""`` at end of stream); return the
        NATS bytes they completed (possibly none).

        Raises :class:`RemoteProtocolError` when the server refuses the upgrade
        or does not speak WebSocket.
        """
        w = self._w
        if self.closed:
            return b""
        if not self.accepted:
            if not data:
                self.closed = True
                raise RemoteProtocolError("the server closed the connection during the upgrade")
            head = (self._head + data)[:5]
            self._head = head
            if not b"HTTP/".startswith(head) and not head.startswith(b"HTTP/"):
                self.closed = True
                what = (
                    "a NATS port, not a websocket one" if head.startswith(b"INFO") else "not HTTP"
                )
                raise RemoteProtocolError(
                    f"the server did not answer the WebSocket upgrade: it is {what}"
                )
        out = bytearray()
        try:
            self._ws.receive_data(data if data else None)
            for ev in self._ws.events():
                if isinstance(ev, w.BytesMessage):
                    out += ev.data
                elif isinstance(ev, w.TextMessage):
                    out += ev.data.encode()
                elif isinstance(ev, w.Ping):
                    self._out += self._ws.send(ev.response())
                elif isinstance(ev, w.AcceptConnection):
                    self.accepted = True
                    self.compressed = any(isinstance(x, w.PerMessageDeflate) for x in ev.extensions)
                elif isinstance(ev, w.CloseConnection):
                    self.closed = True
                    self.close_code = ev.code
                    self.close_reason = ev.reason or ""
                    if self._ws.state is w.ConnectionState.REMOTE_CLOSING:
                        self._out += self._ws.send(ev.response())
                elif isinstance(ev, w.RejectConnection):
                    self.closed = True
                    raise RemoteProtocolError(
                        f"the server refused the WebSocket upgrade (HTTP {ev.status_code})"
                    )
        except w.ProtocolError as e:
            self.closed = True
            raise RemoteProtocolError(f"the server broke the WebSocket protocol: {e}") from None
        return bytes(out)

    def send(self, data: bytes) -> bytes:
        """``data`` framed as one binary message (masked, as a client must;
        compressed when :attr:`compressed`)."""
        if self.closed or not self.accepted:
            raise LocalProtocolError("the WebSocket connection is not open")
        frame: bytes = self._ws.send(self._w.BytesMessage(data=data))
        return frame

    def data_to_send(self) -> bytes:
        """Control frames owed to the server (pongs, the close reply); may be empty."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def close(self, code: int = 1000) -> bytes:
        """A close frame to send before dropping the socket (empty if already closed)."""
        if self.closed or not self.accepted:
            return b""
        self.closed = True
        try:
            data: bytes = self._ws.send(self._w.CloseConnection(code=code))
        except Exception:  # the state changed under us: nothing to say
            return b""
        return data
