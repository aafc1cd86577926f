"""Async transports: TCP (with TLS) on anyio, and an in-memory pair for tests.

A transport is a byte stream with ``read``/``write``/``start_tls``/``close``.
Native errors (``OSError``, ``ssl.SSLError``, anyio's and Trio's stream
errors) are mapped at this boundary to :class:`TransportError` (and
:class:`ConnectError` when dialing), so the client handles one family.
"""

from __future__ import annotations

import json
import math
import os
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.abc import ByteStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from anyio.streams.tls import TLSAttribute, TLSStream

from nats_core import ServerAddress
from nats_core.errors import ConnectError, NatsError, TransportError

__all__ = [
    "ConnectError",
    "MemoryServer",
    "MemoryServerConnection",
    "MemoryTransport",
    "StreamTransport",
    "TCPTransport",
    "Transport",
    "TransportError",
    "TransportFactory",
    "make_ssl_context",
]


class Transport(Protocol):
    """What the async client needs from a byte stream to one server.

    The client has one path for every transport: it hands bytes over with
    :meth:`try_write` where that needs no waiting (the rest, and everything
    while the transport pushes back, goes through :meth:`write` in the client's
    flusher task), reads through :meth:`run`, and asks :attr:`secure` whether
    the stream is encrypted already. :class:`StreamTransport` gives a transport
    that only reads and writes the defaults for the rest.
    """

    #: True when the bytes travel encrypted (TLS, or a ``wss://`` WebSocket).
    secure: bool

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the peer closed the stream."""
        ...

    async def run(self, receive: Callable[[bytes], object]) -> None:
        """Hand every chunk read to ``receive`` until the stream ends; return at end
        of stream, raise what ended it otherwise."""
        ...

    def try_write(self, data: bytes) -> memoryview | None:
        """Hand over what can go without waiting; return the part not taken (to be
        passed to :meth:`write` before anything else), or None when all was."""
        ...

    @property
    def must_drain(self) -> bool:
        """True while the transport's own buffer is full: :meth:`drain` first."""
        ...

    async def drain(self, everything: bool = False) -> None:
        """Wait until buffered bytes are below the high-water mark (``everything``:
        until none are left)."""
        ...

    async def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        ...

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        """Upgrade the stream to TLS in place."""
        ...

    async def close(self) -> None:
        """Close at once (never blocks for long; safe to call twice)."""
        ...


class StreamTransport:
    """A base for transports that only read, write, start TLS and close: the
    rest of :class:`Transport` as a plain byte stream does it (reads in a loop,
    no write without waiting, no buffer of its own)."""

    secure = False

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the peer closed the stream."""
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        raise NotImplementedError

    async def run(self, receive: Callable[[bytes], object]) -> None:
        """Read in a loop and hand each chunk to ``receive`` until end of stream."""
        while True:
            data = await self.read(_READ_SIZE)
            if not data:
                return
            receive(data)

    def try_write(self, data: bytes) -> memoryview | None:
        """Nothing goes without waiting: all of ``data`` is left for :meth:`write`."""
        return memoryview(data)

    @property
    def must_drain(self) -> bool:
        """Never: the stream has no buffer of its own."""
        return False

    async def drain(self, everything: bool = False) -> None:
        """Nothing to wait for."""


T = TypeVar("T")

#: Bytes a transport reads in one go at most.
_READ_SIZE = 256 * 1024

#: ``await factory(server, timeout)`` dials ``server`` and returns a transport.
TransportFactory = Callable[[ServerAddress, float], Awaitable[Transport]]


def _native_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (
        OSError,
        ssl.SSLError,
        anyio.BrokenResourceError,
        anyio.ClosedResourceError,
        anyio.BusyResourceError,
    )
    trio = sys.modules.get("trio")
    if trio is not None:  # only when running on Trio; never imported here
        errors += (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError)
    return errors


@contextmanager
def _mapped(what: str, error: type[TransportError] = TransportError) -> Iterator[None]:
    """Turn native stream errors raised inside the block into ``error``."""
    try:
        yield
    except NatsError:
        raise
    except _native_errors() as e:
        detail = str(e) or type(e).__name__
        raise error(f"{what}: {detail}") from e


async def dial_within(server: ServerAddress, timeout: float, dial: Awaitable[T]) -> T:
    """Await ``dial`` for at most ``timeout`` seconds; failures (a timeout, a
    refusal, an unknown host) become :class:`ConnectError` naming ``server``."""
    try:
        with _mapped(f"cannot connect to {server.url}", ConnectError):
            with anyio.fail_after(timeout):
                return await dial
    except ConnectError as e:
        if isinstance(e.__cause__, TimeoutError):
            raise ConnectError(
                f"cannot connect to {server.url}: timed out after {timeout} s"
            ) from None
        raise


class TCPTransport(StreamTransport):
    """TCP to a server.

    Plain TCP runs on a non-blocking socket the transport owns: a write that
    fits in the kernel's buffer is one ``send`` with no trip through the event
    loop, and a read waits (``anyio.wait_readable``) only when nothing is there.
    After ``start_tls`` the socket becomes an anyio stream wrapped in TLS.
    """

    def __init__(self, sock: socket.socket, url: str = "") -> None:
        self._sock: socket.socket | None = sock
        self.stream: ByteStream | None = None
        self.url = url
        self._hot = 0  # 1 when the last read found data without waiting
        self._buf = memoryview(bytearray(256 * 1024))

    @classmethod
    async def connect(cls, server: ServerAddress, timeout: float) -> TCPTransport:
        """Dial ``server`` within ``timeout`` seconds (raises :class:`ConnectError`)."""
        sock = await dial_within(server, timeout, _dial(server.host, server.port))
        return cls(sock, server.url)

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the server closed the stream."""
        sock = self._sock
        if sock is None:
            with _mapped(f"reading from {self.url or 'the server'} failed"):
                if self.stream is None:
                    raise anyio.ClosedResourceError
                try:
                    return await self.stream.receive(max_bytes)
                except anyio.EndOfStream:
                    return b""
        try:  # the hot path: no context manager, no string built
            if self._hot:  # the last read found data at once: let the other tasks run
                # first (a callback task takes what that read queued: with a pause
                # only every 8 reads, Trio's reader ran 16 reads ahead of a callback,
                # 110,000 messages of 16 B; the pause costs nothing measurable)
                self._hot = 0
                await anyio.lowlevel.checkpoint()
            buf = self._buf  # one buffer to read into: see nats_sync's transport
            while True:
                try:
                    n = sock.recv_into(buf, min(max_bytes, len(buf)))
                except BlockingIOError:
                    self._hot = 0
                    await anyio.wait_readable(sock)
                    continue
                self._hot = 1
                return buf[:n].tobytes()
        except Exception as e:
            if isinstance(e, NatsError) or not isinstance(e, _native_errors()):
                raise
            detail = str(e) or type(e).__name__
            raise TransportError(f"reading from {self.url or 'the server'} failed: {detail}") from e

    def try_write(self, data: bytes) -> memoryview | None:
        """Send what the kernel takes now, without waiting; return the rest, or None
        when all was sent (after ``start_tls`` nothing is sent: all is the rest)."""
        sock = self._sock
        if sock is None:
            return memoryview(data)
        try:
            sent = sock.send(data)
        except BlockingIOError:
            return memoryview(data)
        except OSError as e:
            raise TransportError(f"writing to {self.url or 'the server'} failed: {e}") from e
        return memoryview(data)[sent:] if sent < len(data) else None

    async def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        sock = self._sock
        with _mapped(f"writing to {self.url or 'the server'} failed"):
            if sock is None:
                if self.stream is None:
                    raise anyio.ClosedResourceError
                await self.stream.send(data)
                return
            view = memoryview(data)
            while view:
                try:
                    sent = sock.send(view)
                except BlockingIOError:
                    await anyio.wait_writable(sock)
                    continue
                view = view[sent:]

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        """Run the TLS handshake over the current stream and use TLS from now on."""
        with _mapped("TLS handshake failed", ConnectError):
            if self._sock is not None:
                sock, self._sock = self._sock, None
                self.stream = await anyio.abc.SocketStream.from_socket(sock)
            assert self.stream is not None
            self.stream = await TLSStream.wrap(
                self.stream,
                server_side=False,
                hostname=hostname,
                ssl_context=ctx,
                standard_compatible=False,
            )
        self.secure = True

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS object after :meth:`start_tls` (version, cipher, peer certificate)."""
        if self.stream is None:
            return None
        obj: ssl.SSLObject | None = self.stream.extra(TLSAttribute.ssl_object, None)
        return obj

    async def close(self) -> None:
        """Close at once, without a TLS closing handshake (safe to call twice)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            anyio.notify_closing(sock)  # wakes a task waiting to read or write
            sock.close()
        if self.stream is not None:
            await anyio.aclose_forcefully(self.stream)


async def _dial(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket (tries every address of ``host``)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, type_, proto, _name, addr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            sock.setblocking(False)
            try:
                sock.connect(addr)
            except BlockingIOError:
                await anyio.wait_writable(sock)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code)) from None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as e:
            sock.close()
            error = e
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address for {host}")


def make_ssl_context(
    ca_file: str | Sequence[str] | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """A verifying client context, optionally trusting ``ca_file`` (one CA file, or
    several: nats.go's RootCAs) and presenting a client certificate (mutual TLS)."""
    cas = [ca_file] if isinstance(ca_file, str) else list(ca_file or ())
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cas[0] if cas else None)
    for ca in cas[1:]:
        ctx.load_verify_locations(ca)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


# ---------------------------------------------------------------- in memory


class MemoryTransport(StreamTransport):
    """The client's end of an in-memory connection (see :class:`MemoryServer`).

    Writes take the client's one write path as the socket transports do: a
    write that fits is handed over at once (:meth:`try_write`)."""

    def __init__(
        self, send: MemoryObjectSendStream[bytes], receive: MemoryObjectReceiveStream[bytes]
    ) -> None:
        self._send = send
        self._receive = receive
        self._rest = b""

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes the server sent; ``b""`` once it closed."""
        if not self._rest:
            try:
                with _mapped("reading from the in-memory server failed"):
                    self._rest = await self._receive.receive()
            except anyio.EndOfStream:
                return b""
        data, self._rest = self._rest[:max_bytes], self._rest[max_bytes:]
        return data

    def try_write(self, data: bytes) -> memoryview | None:
        """Hand ``data`` to the server's end at once unless its buffer is full."""
        with _mapped("writing to the in-memory server failed"):
            try:
                self._send.send_nowait(data)
            except anyio.WouldBlock:
                return memoryview(data)
        return None

    async def write(self, data: bytes) -> None:
        """Hand ``data`` to the server's end."""
        with _mapped("writing to the in-memory server failed"):
            await self._send.send(data)

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        """Always fails: there is no TLS in memory."""
        raise ConnectError("the in-memory transport cannot do TLS")

    async def close(self) -> None:
        """Close both directions (the server's end reads end of stream)."""
        self._send.close()
        self._receive.close()


class MemoryServerConnection:
    """The test's end of one in-memory connection: script what the server says."""

    def __init__(
        self, send: MemoryObjectSendStream[bytes], receive: MemoryObjectReceiveStream[bytes]
    ) -> None:
        self._send = send
        self._receive = receive
        #: Everything the client sent that :meth:`expect` has not consumed yet.
        self.buffer = b""
        #: True once the client closed its end.
        self.client_closed = False

    async def send(self, data: bytes) -> None:
        """Send ``data`` to the client (dropped silently if the client is gone)."""
        try:
            await self._send.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    async def receive(self) -> bytes:
        """The next chunk the client wrote; ``b""`` once it closed."""
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.client_closed = True
            return b""

    async def expect(self, needle: bytes) -> bytes:
        """Read until ``needle`` was sent; return the bytes up to and including it.

        Raises :class:`EOFError` if the client closes first.
        """
        while needle not in self.buffer:
            data = await self.receive()
            if not data:
                raise EOFError(f"the client closed before sending {needle!r}")
            self.buffer += data
        i = self.buffer.index(needle) + len(needle)
        found, self.buffer = self.buffer[:i], self.buffer[i:]
        return found

    async def handshake(self, info: dict[str, Any] | None = None) -> bytes:
        """Send INFO, wait for CONNECT and its PING, answer PONG; return the CONNECT."""
        await self.send(MemoryServer.info_line(info))
        got = await self.expect(b"PING\r\n")
        await self.send(b"PONG\r\n")
        return got

    async def serve_pings(self) -> None:
        """Answer every PING with PONG until the client closes (run it in a task)."""
        while True:
            try:
                await self.expect(b"PING\r\n")
            except EOFError:
                return
            await self.send(b"PONG\r\n")

    async def stop_reading(self) -> None:
        """Stop reading what the client sends: its next write fails (a broken pipe)."""
        self._receive.close()

    async def close(self) -> None:
        """Close the connection as the server would (the client reads end of stream)."""
        self._send.close()
        self._receive.close()


class MemoryServer:
    """A scripted stand-in for nats-server, for tests and fault injection.

    Pass :meth:`connect` as the client's transport factory; every dial queues a
    :class:`MemoryServerConnection` that the test takes with :meth:`accept` and
    drives. Set :attr:`refuse` to make dials fail with :class:`ConnectError`.
    """

    def __init__(self) -> None:
        send, receive = anyio.create_memory_object_stream[MemoryServerConnection](math.inf)
        self._accept_send = send
        self._accept_receive = receive
        self.refuse = False
        #: How many times a client dialed (refused dials included).
        self.dials = 0

    @staticmethod
    def info_line(info: dict[str, Any] | None = None) -> bytes:
        """An ``INFO`` line with sensible defaults, updated with ``info``."""
        data: dict[str, Any] = {
            "server_id": "MEMORY",
            "server_name": "memory",
            "version": "2.14.0",
            "proto": 1,
            "headers": True,
            "max_payload": 1048576,
            "client_id": 1,
        }
        data.update(info or {})
        return b"INFO " + json.dumps(data).encode() + b"\r\n"

    async def connect(self, server: ServerAddress, timeout: float) -> Transport:
        """The transport factory: returns the client's end of a new connection."""
        self.dials += 1
        if self.refuse:
            raise ConnectError(f"cannot connect to {server.url}: refused (in-memory server)")
        to_server_send, to_server_receive = anyio.create_memory_object_stream[bytes](math.inf)
        to_client_send, to_client_receive = anyio.create_memory_object_stream[bytes](math.inf)
        await self._accept_send.send(MemoryServerConnection(to_client_send, to_server_receive))
        return MemoryTransport(to_server_send, to_client_receive)

    async def accept(self) -> MemoryServerConnection:
        """The server's end of the next connection a client makes."""
        return await self._accept_receive.receive()
