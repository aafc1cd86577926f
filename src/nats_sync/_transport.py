"""Blocking transports: TCP (with TLS upgrade) behind one small interface."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Protocol

from nats_core import ServerAddress
from nats_core.errors import ConnectError, TransportError

__all__ = [
    "ConnectError",
    "TCPTransport",
    "Transport",
    "TransportError",
    "TransportFactory",
    "make_ssl_context",
]


class Transport(Protocol):
    """What the blocking client needs from a byte stream to one server.

    A ``transport_factory(server, timeout)`` given to :func:`~nats_sync.connect`
    returns one (the default dials TCP: :meth:`TCPTransport.connect`); the
    client reads on its reader thread, writes on its writer thread (and from
    publishing threads, one at a time), and calls :meth:`shutdown` from any
    thread to wake both. Native errors should surface as ``OSError`` (the
    built-in transports raise :class:`~nats_core.errors.TransportError`).
    """

    #: True when the bytes travel encrypted (TLS, or a ``wss://`` WebSocket).
    secure: bool

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the peer closed the stream;
        :class:`TimeoutError` past the timeout set by :meth:`settimeout`."""
        ...

    def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        ...

    def start_tls(self, ctx: ssl.SSLContext, hostname: str | None, timeout: float) -> None:
        """Upgrade the stream to TLS in place."""
        ...

    def settimeout(self, timeout: float | None) -> None:
        """Bound the next reads and writes (None: block)."""
        ...

    def shutdown(self) -> None:
        """Wake a reader or writer blocked on the stream (they see its end)."""
        ...

    def close(self) -> None:
        """Close at once (safe to call twice)."""
        ...


#: ``factory(server, timeout)`` dials ``server`` and returns a transport.
TransportFactory = Callable[[ServerAddress, float], Transport]


#: Bytes read in one go at most.
_READ_BUFFER = 256 * 1024


class TCPTransport:
    """A TCP socket (or any connected stream socket); ``start_tls`` wraps it in place."""

    secure = False

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        # One buffer to read into: recv(n) allocates n bytes per read (for 256 KiB
        # an mmap, mremap and munmap each time); only what was read is copied out.
        self._buf = memoryview(bytearray(_READ_BUFFER))

    @classmethod
    def connect(cls, server: ServerAddress, timeout: float) -> TCPTransport:
        """Dial ``server`` within ``timeout`` seconds."""
        try:
            sock = socket.create_connection((server.host, server.port), timeout=timeout)
        except OSError as e:
            raise ConnectError(f"cannot connect to {server.url}: {e}") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the server closed the stream."""
        buf = self._buf
        try:
            n = self.sock.recv_into(buf, min(max_bytes, len(buf)))
            return buf[:n].tobytes()
        except ssl.SSLError as e:  # e.g. the server refused our client certificate
            raise ConnectError(f"TLS error: {e}") from e
        except TimeoutError:
            raise
        except OSError as e:
            raise TransportError(f"reading from the server failed: {e}") from e

    def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise
        except OSError as e:
            raise TransportError(f"writing to the server failed: {e}") from e

    def start_tls(self, ctx: ssl.SSLContext, hostname: str | None, timeout: float) -> None:
        """Run the TLS handshake within ``timeout`` seconds and use TLS from now on."""
        self.sock.settimeout(timeout)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=hostname)
        except (OSError, ssl.SSLError) as e:
            raise ConnectError(f"TLS handshake failed: {e}") from e
        self.secure = True

    def settimeout(self, timeout: float | None) -> None:
        """Bound the next reads and writes (None: block)."""
        self.sock.settimeout(timeout)

    @property
    def ssl_object(self) -> ssl.SSLSocket | None:
        """The TLS socket after :meth:`start_tls` (its version, cipher, peer
        certificate), else None."""
        return self.sock if isinstance(self.sock, ssl.SSLSocket) else None

    def shutdown(self) -> None:
        """Wake a reader blocked in ``read`` (it sees end of stream)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Close the socket (safe to call twice)."""
        try:
            self.sock.close()
        except OSError:
            pass


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
