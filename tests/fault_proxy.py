"""A loopback TCP proxy that injects faults between a client and a real server.

:class:`FaultProxy` listens on ``127.0.0.1`` (a free port) and forwards every
connection it accepts to an upstream address (a ``nats-server`` started by the
test). It works at the byte level, so it carries TLS as well as plain NATS.

Faults are set per direction and apply to every connection through the proxy,
present and future: :attr:`FaultProxy.down` is server -> client,
:attr:`FaultProxy.up` is client -> server. On each :class:`Direction`:

* ``cut_after(n)``: forward ``n`` more bytes, then close both sides of the
  connection that carried them (once; later connections are not cut).
* ``stall()`` / ``resume()``: stop forwarding, and stop reading, so the sender's
  socket buffers fill up (a server that stopped answering, or stopped reading).
* ``slow(max_chunk, delay)`` / ``fast()``: forward in pieces of 1 to
  ``max_chunk`` bytes with ``delay`` seconds between them.

And on the proxy: ``inject(data)`` sends bytes to every client as if the
server had sent them, ``drop_all()`` closes every connection now, and counters
(``accepted``, ``active``, ``bytes_up``, ``bytes_down``). ``close()`` stops
everything and joins every thread it started (it raises if one is left).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

__all__ = ["Direction", "FaultProxy"]

_CHUNK = 64 * 1024
#: Bytes of the last cut kept in :attr:`Direction.last_cut`.
_KEEP = 1024 * 1024


class Direction:
    """The faults of one direction of every proxied connection (thread-safe)."""

    def __init__(self, name: str, cond: threading.Condition, seed: int) -> None:
        self.name = name
        self._cond = cond  # the proxy's: close() and drops wake waiting pumps
        self._rng = random.Random(seed)
        self._stalled = False
        self._cut_budget: int | None = None
        self._cut_seen = bytearray()
        self._max_chunk = 0
        self._delay = 0.0
        #: Bytes forwarded in this direction, all connections together.
        self.bytes = 0
        #: Separate sends it took (many more than chunks read while :meth:`slow`).
        self.pieces = 0
        #: Connections cut by :meth:`cut_after`.
        self.cuts = 0
        #: What the last cut connection was given between ``cut_after`` and the cut.
        self.last_cut = b""

    def __repr__(self) -> str:
        return (
            f"<Direction {self.name} bytes={self.bytes} stalled={self._stalled} "
            f"cut_budget={self._cut_budget} cuts={self.cuts} slow={self._max_chunk}>"
        )

    def cut_after(self, n: int) -> None:
        """Forward ``n`` more bytes, then close both sides of that connection."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._cond:
            self._cut_budget = n
            self._cut_seen = bytearray()
            self._cond.notify_all()

    def stall(self) -> None:
        """Stop forwarding (and reading) until :meth:`resume`."""
        with self._cond:
            self._stalled = True

    def resume(self) -> None:
        """Forward again after :meth:`stall`."""
        with self._cond:
            self._stalled = False
            self._cond.notify_all()

    @property
    def stalled(self) -> bool:
        return self._stalled

    def slow(self, max_chunk: int, delay: float) -> None:
        """Forward pieces of 1 to ``max_chunk`` bytes, ``delay`` seconds apart."""
        if max_chunk < 1 or delay < 0:
            raise ValueError("max_chunk must be >= 1 and delay >= 0")
        with self._cond:
            self._max_chunk = max_chunk
            self._delay = delay

    def fast(self) -> None:
        """Forward whole chunks again after :meth:`slow`."""
        with self._cond:
            self._max_chunk = 0
            self._delay = 0.0

    # ------------------------------------------------------- used by pumps

    def _next_piece(self, link: _Link, data: memoryview) -> tuple[memoryview, bool, float] | None:
        """Wait while stalled; then (the piece of ``data`` to send, whether to cut
        after it, the delay after it); None when the link closed meanwhile.

        The cut's budget and record are taken here, before the piece is sent:
        whatever a client saw was sent before a ``cut_after`` it prompted.
        """
        with self._cond:
            while self._stalled and not link.closed:
                self._cond.wait()
            if link.closed:
                return None
            n = len(data)
            if self._max_chunk:
                n = min(n, self._rng.randint(1, self._max_chunk))
            cut = False
            budget = self._cut_budget
            if budget is not None:
                if budget <= n:
                    n, cut = budget, True
                    self._cut_budget = None
                else:
                    self._cut_budget = budget - n
                if len(self._cut_seen) < _KEEP:
                    self._cut_seen += data[: min(n, _KEEP - len(self._cut_seen))]
                if cut:
                    self.last_cut = bytes(self._cut_seen)
                    self._cut_seen = bytearray()
            return data[:n], cut, self._delay

    def _forwarded(self, piece: memoryview, cut: bool) -> None:
        with self._cond:
            self.bytes += len(piece)
            self.pieces += 1
            if cut:
                self.cuts += 1
            self._cond.notify_all()


class _Link:
    """One proxied connection: the client's socket and ours to the upstream."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.closed = False
        self.to_client = threading.Lock()  # one writer to the client at a time
        self._lock = threading.Lock()
        self._eofs = 0

    def close(self) -> None:
        """Close both sides now (wakes the pumps: recv ends, sendall fails)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def half_closed(self, dst: socket.socket) -> None:
        """The source of one direction ended: pass the end on; close once both did."""
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with self._lock:
            self._eofs += 1
            both = self._eofs == 2
        if both:
            self.close()


class FaultProxy:
    """A threaded loopback TCP proxy to ``upstream`` with controllable faults.

    Use as a context manager or call :meth:`close`. ``url`` is ``nats://`` or
    ``tls://127.0.0.1:PORT``; :attr:`port` is the port alone.
    """

    def __init__(self, upstream: tuple[str, int], *, scheme: str = "nats", seed: int = 22) -> None:
        host, _ = upstream
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"FaultProxy forwards to loopback only, not {host!r}")
        self.upstream = upstream
        self._cond = threading.Condition()
        self.down = Direction("server->client", self._cond, seed)
        self.up = Direction("client->server", self._cond, seed + 1)
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []
        self._closing = False
        #: Connections accepted so far.
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._spawn(self._accept_loop, "fault-proxy-accept")

    def __repr__(self) -> str:
        return (
            f"<FaultProxy {self.url} -> {self.upstream} accepted={self.accepted} "
            f"active={self.active} {self.up!r} {self.down!r}>"
        )

    # ---------------------------------------------------------- counters

    @property
    def active(self) -> int:
        """Connections open now."""
        with self._cond:
            return sum(not link.closed for link in self._links)

    @property
    def bytes_up(self) -> int:
        """Bytes forwarded client -> server."""
        return self.up.bytes

    @property
    def bytes_down(self) -> int:
        """Bytes forwarded server -> client (injected ones not included)."""
        return self.down.bytes

    # ------------------------------------------------------------ faults

    def inject(self, data: bytes) -> int:
        """Send ``data`` to every connected client, between two forwarded pieces;
        returns the number of clients it was sent to."""
        sent = 0
        for link in self._live_links():
            with link.to_client:
                try:
                    link.client.sendall(data)
                    sent += 1
                except OSError:
                    pass
        return sent

    def drop_all(self) -> int:
        """Close every connection now (both sides); returns how many were open."""
        links = self._live_links()
        for link in links:
            link.close()
        with self._cond:
            self._cond.notify_all()
        return len(links)

    def wait_accepted(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until ``n`` connections were accepted in all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.accepted < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # ------------------------------------------------------------ threads

    def _live_links(self) -> list[_Link]:
        with self._cond:
            return [link for link in self._links if not link.closed]

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        t = threading.Thread(target=target, name=name, args=args, daemon=True)
        with self._cond:
            self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was shut down
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, server)
            with self._cond:
                if self._closing:
                    link.close()
                    return
                self._links = [x for x in self._links if not x.closed]
                self._links.append(link)
                self.accepted += 1
                self._cond.notify_all()
            n = self.accepted
            self._spawn(self._pump, f"fault-proxy-up-{n}", link, "up")
            self._spawn(self._pump, f"fault-proxy-down-{n}", link, "down")

    def _pump(self, link: _Link, which: str) -> None:
        if which == "up":
            src, dst, d, lock = link.client, link.server, self.up, threading.Lock()
        else:
            src, dst, d, lock = link.server, link.client, self.down, link.to_client
        while not link.closed:
            try:
                data = src.recv(_CHUNK)
            except OSError:
                link.close()
                break
            if not data:
                link.half_closed(dst)
                break
            view = memoryview(data)
            pos = 0
            while pos < len(view):
                step = d._next_piece(link, view[pos:])
                if step is None:
                    return
                piece, cut, delay = step
                try:
                    with lock:
                        dst.sendall(piece)
                except OSError:
                    link.close()
                    return
                d._forwarded(piece, cut)
                pos += len(piece)
                if cut:
                    link.close()
                    return
                if delay:
                    time.sleep(delay)

    # ------------------------------------------------------------ closing

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection and join every thread.

        Raises :class:`RuntimeError` if a thread is still alive after ``timeout``.
        """
        with self._cond:
            if self._closing:
                return
            self._closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        for link in self._live_links():
            link.close()
        with self._cond:
            self._cond.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        # a connection accepted while closing started its pumps late
        for link in self._live_links():
            link.close()
        with self._cond:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        left = [t.name for t in threads if t.is_alive()]
        if left:
            raise RuntimeError(f"FaultProxy threads still running after close(): {left}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
