"""TCP (and TLS) on asyncio's own transports, used when the client runs on asyncio.

anyio's portable primitives cost a trip through the event loop and, to wait
for a socket, an ``epoll_ctl`` to add and another to remove it, on every read.
asyncio's protocol/transport pair keeps the socket registered for as long as
the connection lives and hands each chunk read to ``data_received``. This
transport uses that pair in two ways:

* pull: ``read()`` returns what ``data_received`` queued (the handshake and the
  WebSocket upgrade read this way), and
* push: ``run(receiver)`` hands every chunk to ``receiver`` right where asyncio
  read it, with no task switch; the client's reader task only waits for the end.

Writes go to asyncio's write buffer (``try_write``), which sends at once when
the kernel has room and keeps the rest in order: nothing a cancellation could
cut in half, so no lock or shielded scope is needed around them. ``drain()``
waits while the buffer is over its high-water mark.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Callable

from nats_core import ServerAddress

from ._transport import ConnectError, StreamTransport, TransportError, _mapped, dial_within

__all__ = ["AsyncioTransport"]

#: asyncio pauses the writer above this many buffered bytes, resumes below a quarter.
_HIGH_WATER = 256 * 1024
#: Bytes asyncio may read in one go into the connection's buffer.
_READ_BUFFER = 256 * 1024


def _resolve(w: asyncio.Future[None] | None) -> None:
    if w is not None and not w.done():
        w.set_result(None)


class _Protocol(asyncio.BufferedProtocol):
    """The asyncio side: queues or forwards what is read, tracks write pressure.

    A buffered protocol: asyncio reads into one buffer kept for the connection
    (``get_buffer``) rather than allocating the largest possible chunk for every
    read (256 KiB, an mmap, mremap and munmap each time), and only the bytes
    read are copied out.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buf = memoryview(bytearray(_READ_BUFFER))
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.receiver: Callable[[bytes], object] | None = None
        self.ended = False  # EOF or connection lost
        self.error: BaseException | None = None  # why it ended, None for a clean EOF
        self.paused = False
        self.receiver_error: Exception | None = None  # what ``receiver`` raised
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self.end: asyncio.Future[None] = loop.create_future()

    # ----------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buf

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buf[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        receiver = self.receiver
        if receiver is None:
            self.chunks.append(data)
            self._wake_reader()
            return
        try:
            receiver(data)
        except Exception as e:  # a protocol error: the stream is unusable from here
            self.receiver = None
            self.receiver_error = e
            self._end(e)
            if self.transport is not None:
                self.transport.abort()

    def eof_received(self) -> bool:
        self._end(None)
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)
        self._wake_drain()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_drain()

    # --------------------------------------------------------------- helpers

    def _end(self, exc: BaseException | None) -> None:
        if not self.ended:
            self.ended = True
            self.error = exc
            if not self.end.done():
                if exc is None:
                    self.end.set_result(None)
                else:
                    self.end.set_exception(exc)
                    self.end.exception()  # retrieved: no "never retrieved" warning
        self._wake_reader()

    def _wake_reader(self) -> None:
        w, self._read_waiter = self._read_waiter, None
        _resolve(w)

    def _wake_drain(self) -> None:
        w, self._drain_waiter = self._drain_waiter, None
        _resolve(w)

    async def wait_readable(self) -> None:
        w = self._read_waiter = self._loop.create_future()
        await w

    async def wait_drained(self) -> None:
        w = self._drain_waiter
        if w is None:
            w = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(w)  # a cancelled drain must not cancel the others' wait


class AsyncioTransport(StreamTransport):
    """TCP to a server on asyncio's transport (see the module docstring)."""

    def __init__(self, proto: _Protocol, url: str = "") -> None:
        self._proto = proto
        self.url = url
        self._closed = False

    @classmethod
    async def connect(cls, server: ServerAddress, timeout: float) -> AsyncioTransport:
        """Dial ``server`` within ``timeout`` seconds (raises :class:`ConnectError`)."""
        loop = asyncio.get_running_loop()
        proto = _Protocol(loop)
        dial = loop.create_connection(lambda: proto, server.host, server.port)
        await dial_within(server, timeout, dial)
        assert proto.transport is not None
        proto.transport.set_write_buffer_limits(_HIGH_WATER)
        return cls(proto, server.url)

    def _where(self) -> str:
        return self.url or "the server"

    def _lost(self, doing: str) -> TransportError:
        p = self._proto
        if self._closed:
            return TransportError(f"{doing} {self._where()} failed: the transport is closed")
        detail = (str(p.error) or type(p.error).__name__) if p.error else "connection closed"
        return TransportError(f"{doing} {self._where()} failed: {detail}")

    # ------------------------------------------------------------------ pull

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the server closed the stream."""
        p = self._proto
        while not p.chunks:
            if self._closed or (p.ended and p.error is not None):
                raise self._lost("reading from") from p.error
            if p.ended:
                return b""
            await p.wait_readable()
        data = p.chunks.popleft()
        if len(data) > max_bytes:
            p.chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        return data

    # ------------------------------------------------------------------ push

    async def run(self, receiver: Callable[[bytes], object]) -> None:
        """Hand every chunk read to ``receiver`` (called by asyncio as data comes)
        until the stream ends: returns at end of stream, raises what ended it
        otherwise (a :class:`TransportError`, or what ``receiver`` raised)."""
        p = self._proto
        while p.chunks:  # read before the switch (with the handshake's last bytes)
            receiver(p.chunks.popleft())
        if p.ended and p.error is None:
            return
        p.receiver = receiver
        try:
            await asyncio.shield(p.end)
        except Exception as e:
            if e is p.receiver_error:
                raise
            raise self._lost("reading from") from e
        finally:
            p.receiver = None

    # ----------------------------------------------------------------- write

    def try_write(self, data: bytes) -> memoryview | None:
        """Append ``data`` to the write buffer (sent at once when the kernel has
        room): all of it is taken; :attr:`must_drain` says when to wait."""
        p = self._proto
        if self._closed or p.ended or p.transport is None or p.transport.is_closing():
            raise self._lost("writing to")
        p.transport.write(data)
        return None

    @property
    def must_drain(self) -> bool:
        """True while the write buffer is over its high-water mark."""
        return self._proto.paused

    async def drain(self, everything: bool = False) -> None:
        """Wait until the buffer is below its low-water mark (``everything``: empty)."""
        p = self._proto
        tr = p.transport
        if tr is None:
            return
        if everything and tr.get_write_buffer_size():
            tr.set_write_buffer_limits(high=0, low=0)  # pauses now, resumes when empty
        try:
            while p.paused and not p.ended:
                await p.wait_drained()
        finally:
            if everything and not tr.is_closing():
                tr.set_write_buffer_limits(_HIGH_WATER)
        if p.ended and p.error is not None:
            raise self._lost("writing to")

    async def write(self, data: bytes) -> None:
        """Write ``data``; waits while the write buffer is over its high-water mark."""
        self.try_write(data)
        if self._proto.paused:
            await self.drain()

    # ------------------------------------------------------------ TLS, close

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        """Run the TLS handshake over the current stream and use TLS from now on."""
        p = self._proto
        tr = p.transport
        if tr is None or self._closed or p.ended:
            raise ConnectError(f"TLS handshake with {self._where()} failed: connection closed")
        loop = asyncio.get_running_loop()
        with _mapped("TLS handshake failed", ConnectError):
            new = await loop.start_tls(tr, p, ctx, server_hostname=hostname)
        if new is None:
            raise ConnectError(f"TLS handshake with {self._where()} failed: connection closed")
        p.transport = new
        new.set_write_buffer_limits(_HIGH_WATER)
        self.secure = True

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS object after :meth:`start_tls` (version, cipher, peer certificate)."""
        tr = self._proto.transport
        obj: ssl.SSLObject | None = None if tr is None else tr.get_extra_info("ssl_object")
        return obj

    async def close(self) -> None:
        """Close at once, without a TLS closing handshake (safe to call twice)."""
        self._closed = True
        p = self._proto
        if p.transport is not None:
            p.transport.abort()
        p._end(p.error)
        p._wake_drain()
