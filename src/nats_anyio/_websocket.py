"""The async WebSocket transport (``ws://`` and ``wss://``).

It runs over any other :class:`~nats_anyio.Transport` (TCP by default, the
in-memory one in tests): TLS first for ``wss://``, then the HTTP upgrade, then
every read and write passes through the core's
:class:`~nats_core._websocket.WebSocketFramer`.
"""

from __future__ import annotations

import ssl

import anyio

from nats_core import ServerAddress, WebSocketFramer
from nats_core.errors import LocalProtocolError, RemoteProtocolError

from ._transport import ConnectError, StreamTransport, Transport, TransportError

__all__ = ["WebSocketTransport"]

_READ_SIZE = 64 * 1024


class WebSocketTransport(StreamTransport):
    """NATS over WebSocket, on top of another transport."""

    def __init__(self, inner: Transport, framer: WebSocketFramer, *, secure: bool) -> None:
        self.inner = inner
        self._framer = framer
        #: True when the stream is TLS (``wss://``): the NATS handshake needs no upgrade.
        self.secure = secure
        #: True when the server accepted permessage-deflate: messages go compressed.
        self.compressed = framer.compressed
        self._send_lock = anyio.Lock()  # frames go out whole and in order
        self._rest = b""  # NATS bytes read but not returned yet

    @classmethod
    async def upgrade(
        cls,
        inner: Transport,
        server: ServerAddress,
        ctx: ssl.SSLContext | None = None,
        hostname: str | None = None,
        *,
        compression: bool = False,
    ) -> WebSocketTransport:
        """Run TLS on ``inner`` when ``ctx`` is given, then the WebSocket upgrade
        (offering permessage-deflate with ``compression``).

        The caller bounds the time and closes ``inner`` if this fails.
        """
        if ctx is not None:
            await inner.start_tls(ctx, hostname or server.host)
        try:
            framer = WebSocketFramer(
                server.host,
                server.port,
                secure=ctx is not None,
                path=server.path or "/",
                compression=compression,
            )
            await inner.write(framer.handshake())
            early = b""
            while not framer.accepted:
                early += framer.receive_data(await inner.read(_READ_SIZE))
        except (RemoteProtocolError, LocalProtocolError) as e:
            raise ConnectError(f"WebSocket handshake with {server.url} failed: {e}") from None
        t = cls(inner, framer, secure=ctx is not None)
        t._rest = early
        return t

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` NATS bytes; ``b""`` once the server closed."""
        framer = self._framer
        while not self._rest:
            raw = await self.inner.read(_READ_SIZE)
            try:
                data = framer.receive_data(raw)
            except RemoteProtocolError as e:
                raise TransportError(str(e)) from None
            control = framer.data_to_send()
            if control:
                async with self._send_lock:
                    await self.inner.write(control)
            if data:
                self._rest = data
            elif not raw or framer.closed:
                return b""
        data, self._rest = self._rest[:max_bytes], self._rest[max_bytes:]
        return data

    async def write(self, data: bytes) -> None:
        """Send ``data`` as one binary WebSocket message."""
        async with self._send_lock:
            try:
                frame = self._framer.send(data)
            except LocalProtocolError:
                raise TransportError("the server closed the WebSocket connection") from None
            await self.inner.write(frame)

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        """Always fails: TLS over WebSocket comes from a ``wss://`` URL, before the upgrade."""
        raise ConnectError(
            "the server asks for TLS after the WebSocket upgrade: use a wss:// URL instead"
        )

    async def close(self) -> None:
        """Send a close frame if that can be done at once, then close the stream."""
        bye = self._framer.close()
        if bye and not self._send_lock.locked():
            with anyio.move_on_after(0.1, shield=True):
                try:
                    await self.inner.write(bye)
                except OSError:
                    pass
        await self.inner.close()
