"""nats_sync: nothing published is lost silently when the connection drops, and
protocol errors after connecting reach ``error_cb``.

The connection is cut by a loopback proxy between the client and a real
nats-server. A cut ends only the server-to-client direction (the client reads
the end of the stream, as when the server closes), while every byte the client
writes still reaches the server: so a message the client accepted is either
delivered to a subscriber connected directly to the server, or the publish
raised. Anything else was dropped by the client itself.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import nats_sync
from nats_core.errors import NatsError, RemoteProtocolError, ServerError
from nats_sync import Msg
from nats_sync._transport import TCPTransport
from pynats.server import NatsServer
from sync_helpers import wait_until


class _Pair:
    """One proxied connection: the client's socket and ours to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.cut = False
        self.down_lock = threading.Lock()  # guards writes to the client
        self._done = 0
        self._done_lock = threading.Lock()

    def up(self) -> None:
        """Client to server, until the client closes; then end our half to the server."""
        try:
            while data := self.client.recv(65536):
                self.server.sendall(data)
        except OSError:
            pass
        try:
            self.server.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._finish()

    def down(self) -> None:
        """Server to client until cut; after the cut, read the server's side to its end."""
        try:
            while data := self.server.recv(65536):
                with self.down_lock:
                    if not self.cut:
                        self.client.sendall(data)
        except OSError:
            pass
        self.cut_now()
        self._finish()

    def cut_now(self) -> None:
        with self.down_lock:
            if not self.cut:
                self.cut = True
                try:
                    self.client.shutdown(socket.SHUT_WR)  # the client reads the end
                except OSError:
                    pass

    def inject(self, data: bytes) -> None:
        with self.down_lock:
            if not self.cut:
                self.client.sendall(data)

    def _finish(self) -> None:
        with self._done_lock:
            self._done += 1
            if self._done == 2:
                self.client.close()
                self.server.close()


class CutProxy:
    """A loopback TCP proxy to ``port``; see the module docstring for :meth:`cut`."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"nats://127.0.0.1:{self._listener.getsockname()[1]}"
        self.pairs: list[_Pair] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, fn: Any) -> None:
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                c, _ = self._listener.accept()
            except OSError:
                continue
            c.settimeout(None)
            s = socket.create_connection(("127.0.0.1", self._port))
            pair = _Pair(c, s)
            self.pairs.append(pair)
            self._start(pair.up)
            self._start(pair.down)

    def live(self) -> list[_Pair]:
        return [p for p in self.pairs if not p.cut]

    def cut(self) -> None:
        """End every live connection as seen by the client."""
        for p in self.live():
            p.cut_now()

    def inject(self, data: bytes) -> None:
        """Send ``data`` to every live client as if the server had sent it."""
        for p in self.live():
            p.inject(data)

    def close(self) -> None:
        self._stop.set()
        self.cut()
        for p in self.pairs:
            for s in (p.client, p.server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(5)
        self._listener.close()


@pytest.fixture
def proxy(nats_server: NatsServer) -> Iterator[CutProxy]:
    p = CutProxy(nats_server.port)
    yield p
    p.close()


class Collector:
    """A subscriber on its own connection, straight to the server."""

    def __init__(self, server: NatsServer, subject: str) -> None:
        self.nc = nats_sync.connect(server.url)
        self.got: list[bytes] = []
        self.nc.subscribe(subject, cb=self._on_msg, pending_msgs_limit=0, pending_bytes_limit=0)
        self.nc.flush(timeout=5)

    def _on_msg(self, msg: Msg) -> None:
        self.got.append(msg.data)

    def settle(self, expected: int, timeout: float = 20.0) -> None:
        """Wait for ``expected`` messages, or until none came for a second."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while len(self.got) < expected and time.monotonic() < deadline:
            if len(self.got) != seen:
                seen, since = len(self.got), time.monotonic()
            elif time.monotonic() - since > 1.0:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self.nc.close()


def _reconnected(nc: nats_sync.Client, count: int) -> bool:
    return nc.status == "connected" and nc.stats.reconnects >= count


# ---------------------------------------------- publishes during the loss itself


def test_publishes_while_the_reader_handles_a_loss_are_kept(
    nats_server: NatsServer, proxy: CutProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader pauses while it drops the dead transport (status already
    "reconnecting"); what another thread publishes then is delivered after the
    reconnect or raises, never dropped."""
    paused = threading.Event()
    resume = threading.Event()
    close = TCPTransport.close

    def slow_close(self: TCPTransport) -> None:
        if threading.current_thread().name == "nats-reader" and not paused.is_set():
            paused.set()
            resume.wait(5)
        close(self)

    collector = Collector(nats_server, "window")
    nc = nats_sync.connect(proxy.url, reconnect_time_wait=0.05, max_reconnect_attempts=-1)
    try:
        nc.publish("window", b"before")
        nc.flush(timeout=5)
        monkeypatch.setattr(TCPTransport, "close", slow_close)
        proxy.cut()
        assert paused.wait(5), "the reader never dropped the transport"
        assert nc.status == "reconnecting"
        sent: list[bytes] = []
        failed: list[bytes] = []

        def publish() -> None:
            for i in range(50):
                for data, headers in ((b"plain-%d" % i, None), (b"hdr-%d" % i, {"K": "v"})):
                    try:
                        nc.publish("window", data, headers=headers)
                        sent.append(data)
                    except NatsError:
                        failed.append(data)

        t = threading.Thread(target=publish)
        t.start()
        t.join(5)
        assert len(sent) + len(failed) == 100
        resume.set()
        wait_until(lambda: _reconnected(nc, 1), what="the reconnect")
        nc.flush(timeout=5)
        collector.settle(1 + len(sent))
        assert collector.got == [b"before", *sent]
    finally:
        resume.set()
        nc.close()
        collector.close()


@pytest.mark.parametrize("cut", ["server side", "force_reconnect"])
def test_lock_free_publishes_from_many_threads_across_losses(
    nats_server: NatsServer, proxy: CutProxy, cut: str
) -> None:
    """Several threads publish without the client's lock (``try_publish``) with a
    tiny GIL switch interval while the connection is cut (or force_reconnect()
    drops it) and restored again and again: published = delivered + reported as
    failed, nothing twice."""
    collector = Collector(nats_server, "hammer")
    nc = nats_sync.connect(
        proxy.url,
        reconnect_time_wait=0.02,
        reconnect_jitter=0,
        max_reconnect_attempts=-1,
        reconnect_buf_size=16 * 1024,  # small: some publishes while reconnecting fail
    )
    stop = threading.Event()
    sent: list[list[bytes]] = [[] for _ in range(4)]
    failed: list[list[bytes]] = [[] for _ in range(4)]

    def hammer(tid: int) -> None:
        i = 0
        while not stop.is_set() and i < 100_000:
            data = b"%d:%d" % (tid, i)
            i += 1
            try:
                nc.publish("hammer", data)
                sent[tid].append(data)
            except NatsError:
                failed[tid].append(data)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for n in range(1, 6):
            want = 2000 * n
            wait_until(lambda want=want: sum(map(len, sent)) > want, timeout=20, what="publishes")
            if cut == "force_reconnect":
                nc.force_reconnect()
            else:
                proxy.cut()
            wait_until(lambda n=n: _reconnected(nc, n), timeout=20, what=f"reconnect {n}")
        stop.set()
        for t in threads:
            t.join(20)
    finally:
        stop.set()
        sys.setswitchinterval(interval)
    try:
        nc.flush(timeout=10)
        published = [m for msgs in sent for m in msgs]
        collector.settle(len(published))
        counts = Counter(collector.got)
        assert not [m for m, c in counts.items() if c > 1], "delivered twice"
        assert set(counts) == set(published), (
            f"{len(set(published) - set(counts))} accepted messages were lost"
        )
        assert all(f not in counts for msgs in failed for f in msgs)
        # (Order is not checked: what was queued at the loss is written to the old
        # connection, as nats.go does, and may reach the server after the new one's.)
        assert nc.stats.reconnects >= 5
    finally:
        nc.close()
        collector.close()


# ------------------------------------------- protocol errors after connecting


def test_protocol_errors_after_connect_go_to_error_cb(
    nats_server: NatsServer, proxy: CutProxy
) -> None:
    errors: list[BaseException] = []
    nc = nats_sync.connect(
        proxy.url, error_cb=errors.append, reconnect_time_wait=0.05, max_reconnect_attempts=-1
    )
    try:
        proxy.inject(b"-ERR 'Invalid Subject'\r\n")  # not fatal: the connection stays
        wait_until(lambda: errors, what="the -ERR in error_cb")
        assert isinstance(errors[0], ServerError) and not errors[0].fatal
        assert nc.status == "connected"
        proxy.inject(b"NOT NATS AT ALL\r\n")  # the parser refuses it: reconnect
        wait_until(lambda: len(errors) >= 2, what="the protocol error in error_cb")
        assert isinstance(errors[1], RemoteProtocolError)
        assert nc.last_error is errors[1]
        wait_until(lambda: _reconnected(nc, 1), what="the reconnect")
    finally:
        nc.close()
