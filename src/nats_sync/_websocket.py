"""The blocking WebSocket transport (``ws://`` and ``wss://``).

A TCP socket (TLS first for ``wss://``), the HTTP upgrade, then every read and
write passes through the core's :class:`~nats_core._websocket.WebSocketFramer`.
It has the interface of :class:`~nats_sync.Transport` and runs over any
transport, so the client drives it like the others.
"""

from __future__ import annotations

import ssl
import threading

from nats_core import ServerAddress, WebSocketFramer
from nats_core.errors import LocalProtocolError, RemoteProtocolError

from ._transport import ConnectError, TCPTransport, Transport, TransportError

__all__ = ["WebSocketTransport"]

_READ_SIZE = 64 * 1024


class WebSocketTransport:
    """NATS over WebSocket on a blocking socket; safe for one reader and one writer."""

    def __init__(self, tcp: Transport, framer: WebSocketFramer, *, secure: bool) -> None:
        self.tcp = tcp
        self._framer = framer
        #: True when the socket is TLS (``wss://``): the NATS handshake needs no upgrade.
        self.secure = secure
        #: True when the server accepted permessage-deflate: messages go compressed.
        self.compressed = framer.compressed
        self._flock = threading.Lock()  # the framer, shared by the reader and the writer
        self._slock = threading.Lock()  # the socket's send side
        self._control = b""  # control frames the reader could not send yet
        self._rest = b""  # NATS bytes read but not returned yet

    @classmethod
    def connect(
        cls,
        server: ServerAddress,
        timeout: float,
        ctx: ssl.SSLContext | None = None,
        hostname: str | None = None,
        *,
        compression: bool = False,
    ) -> WebSocketTransport:
        """Dial ``server``, run TLS when ``ctx`` is given, then the WebSocket upgrade
        (offering permessage-deflate with ``compression``)."""
        return cls.upgrade(
            TCPTransport.connect(server, timeout),
            server,
            timeout,
            ctx,
            hostname,
            compression=compression,
        )

    @classmethod
    def upgrade(
        cls,
        tcp: Transport,
        server: ServerAddress,
        timeout: float,
        ctx: ssl.SSLContext | None = None,
        hostname: str | None = None,
        *,
        compression: bool = False,
    ) -> WebSocketTransport:
        """Run TLS on ``tcp`` when ``ctx`` is given, then the WebSocket upgrade
        (offering permessage-deflate with ``compression``); ``tcp`` is closed if
        that fails."""
        try:
            if ctx is not None:
                tcp.start_tls(ctx, hostname or server.host, timeout)
            framer = WebSocketFramer(
                server.host,
                server.port,
                secure=ctx is not None,
                path=server.path or "/",
                compression=compression,
            )
            tcp.settimeout(timeout)
            tcp.write(framer.handshake())
            early = b""
            while not framer.accepted:
                early += framer.receive_data(tcp.read(_READ_SIZE))
        except TimeoutError:
            tcp.close()
            raise ConnectError(f"WebSocket handshake with {server.url} timed out") from None
        except (RemoteProtocolError, LocalProtocolError) as e:
            tcp.close()
            raise ConnectError(f"WebSocket handshake with {server.url} failed: {e}") from None
        except BaseException:
            tcp.close()
            raise
        t = cls(tcp, framer, secure=ctx is not None)
        t._rest = early
        return t

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` NATS bytes; ``b""`` once the server closed."""
        while not self._rest:
            raw = self.tcp.read(_READ_SIZE)
            try:
                with self._flock:
                    data = self._framer.receive_data(raw)
                    control = self._framer.data_to_send()
            except RemoteProtocolError as e:
                raise TransportError(str(e)) from None
            if control:
                self._send_control(control)
            if data:
                self._rest = data
            elif not raw or self._framer.closed:
                return b""
        data, self._rest = self._rest[:max_bytes], self._rest[max_bytes:]
        return data

    def _send_control(self, control: bytes) -> None:
        # The writer may be blocked on a server that stopped reading: never wait
        # for it here; what cannot go now goes before the next write.
        if self._slock.acquire(blocking=False):
            try:
                self.tcp.write(self._control + control)
                self._control = b""
            except OSError:
                pass
            finally:
                self._slock.release()
        else:
            self._control += control

    def write(self, data: bytes) -> None:
        """Send ``data`` as one binary WebSocket message."""
        with self._slock:
            try:
                with self._flock:
                    frame = self._framer.send(data)
            except LocalProtocolError:
                raise TransportError("the server closed the WebSocket connection") from None
            if self._control:
                frame, self._control = self._control + frame, b""
            self.tcp.write(frame)

    def start_tls(self, ctx: ssl.SSLContext, hostname: str | None, timeout: float) -> None:
        """Always fails: TLS over WebSocket comes from a ``wss://`` URL, before the upgrade."""
        raise ConnectError(
            "the server asks for TLS after the WebSocket upgrade: use a wss:// URL instead"
        )

    def settimeout(self, timeout: float | None) -> None:
        """Bound the next reads and writes of the stream underneath (None: block)."""
        self.tcp.settimeout(timeout)

    def shutdown(self) -> None:
        """Wake a reader blocked in ``read`` (it sees end of stream)."""
        self.tcp.shutdown()

    def close(self) -> None:
        """Send a close frame if the socket takes it at once, then close."""
        with self._flock:
            bye = self._framer.close()
        if bye and self._slock.acquire(blocking=False):
            try:
                self.tcp.settimeout(0.1)
                self.tcp.write(bye)
            except OSError:
                pass
            finally:
                self._slock.release()
        self.tcp.close()
