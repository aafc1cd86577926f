"""An in-process server for the blocking client's tests and fault injection.

:class:`MemoryServer` is a transport factory: each dial makes a connected
socket pair inside this process (no port, no network) and hands the client's
end to the client as an ordinary :class:`~nats_sync.TCPTransport`, so the
client runs its real read and write paths; the test takes the other end with
:meth:`MemoryServer.accept` and scripts what the server says, or cuts, stalls
and garbles the stream.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from typing import Any

from nats_core import ServerAddress

from ._transport import ConnectError, TCPTransport, Transport

__all__ = ["MemoryServer", "MemoryServerConnection"]


class MemoryServerConnection:
    """The test's end of one connection: script what the server says."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        #: Everything the client sent that :meth:`expect` has not consumed yet.
        self.buffer = b""
        #: True once the client closed its end.
        self.client_closed = False
        self._lock = threading.Lock()  # one reader of the socket at a time

    def send(self, data: bytes) -> None:
        """Send ``data`` to the client (dropped silently if the client is gone)."""
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def receive(self, timeout: float = 5.0) -> bytes:
        """The next bytes the client wrote; ``b""`` once it closed.

        Raises :class:`TimeoutError` when nothing came within ``timeout`` seconds.
        """
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise
        except OSError:
            data = b""
        if not data:
            self.client_closed = True
        return data

    def expect(self, needle: bytes, timeout: float = 5.0) -> bytes:
        """Read until ``needle`` was sent; return the bytes up to and including it.

        Raises :class:`EOFError` if the client closes first, :class:`TimeoutError`
        when it does not come within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while needle not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the client did not send {needle!r} in {timeout} s")
                data = self.receive(left)
                if not data:
                    raise EOFError(f"the client closed before sending {needle!r}")
                self.buffer += data
            i = self.buffer.index(needle) + len(needle)
            found, self.buffer = self.buffer[:i], self.buffer[i:]
        return found

    def handshake(self, info: dict[str, Any] | None = None, timeout: float = 5.0) -> bytes:
        """Send INFO, wait for CONNECT and its PING, answer PONG; return the CONNECT."""
        self.send(MemoryServer.info_line(info))
        got = self.expect(b"PING\r\n", timeout)
        self.send(b"PONG\r\n")
        return got

    def serve_pings(self) -> threading.Thread:
        """Answer every PING with PONG until the client closes, on a thread of its
        own (returned, started)."""

        def serve() -> None:
            while True:
                try:
                    self.expect(b"PING\r\n", timeout=3600)
                except (EOFError, TimeoutError, OSError):
                    return
                self.send(b"PONG\r\n")

        t = threading.Thread(target=serve, name="memory-server-pings", daemon=True)
        t.start()
        return t

    def stop_reading(self) -> None:
        """Stop reading what the client sends: once the socket buffers fill, the
        client's writes block, as with a server that stopped reading."""
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def close(self) -> None:
        """Close the connection as the server would (the client reads end of stream)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class MemoryServer:
    """A scripted stand-in for nats-server, for tests and fault injection.

    Pass :meth:`connect` as ``transport_factory=`` to ``nats_sync.connect``;
    every dial queues a :class:`MemoryServerConnection` that the test takes
    with :meth:`accept` and drives. Set :attr:`refuse` to make dials fail with
    :class:`~nats_core.errors.ConnectError`.
    """

    def __init__(self) -> None:
        self._accepted: queue.Queue[MemoryServerConnection] = queue.Queue()
        self.refuse = False
        #: How many times a client dialed (refused dials included).
        self.dials = 0
        self._conns: list[MemoryServerConnection] = []

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

    def connect(self, server: ServerAddress, timeout: float) -> Transport:
        """The transport factory: the client's end of a new connection."""
        self.dials += 1
        if self.refuse:
            raise ConnectError(f"cannot connect to {server.url}: refused (in-memory server)")
        client_end, server_end = socket.socketpair()
        conn = MemoryServerConnection(server_end)
        self._conns.append(conn)
        self._accepted.put(conn)
        return TCPTransport(client_end)

    def accept(self, timeout: float = 5.0) -> MemoryServerConnection:
        """The server's end of the next connection a client makes.

        Raises :class:`TimeoutError` when no client dials within ``timeout`` seconds.
        """
        try:
            return self._accepted.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no client dialed within {timeout} s") from None

    def close(self) -> None:
        """Close the server's end of every connection made so far."""
        for conn in self._conns:
            conn.close()
