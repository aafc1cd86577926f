"""The blocking client through its transport seam: ``transport_factory=`` and the
in-process ``nats_sync.MemoryServer`` (a socket pair per dial, so the client's
real read and write paths run), with the fault scenarios the async client's
in-memory tests have: a cut mid-payload, garbage, unanswered PINGs, a refused
dial, a silent server, an -ERR in the handshake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import nats_sync
from nats_core import ServerAddress
from nats_core.errors import (
    AuthorizationError,
    ConnectError,
    NatsTimeoutError,
    RemoteProtocolError,
    StaleConnectionError,
)
from nats_sync import MemoryServer, MemoryServerConnection, TCPTransport, Transport
from sync_helpers import wait_until

URL = "nats://memory:4222"


class Recorder:
    """Connection callbacks, recorded in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()

    def _add(self, name: str) -> None:
        with self._cond:
            self.events.append(name)
            self._cond.notify_all()

    def options(self) -> dict[str, Any]:
        return {
            "disconnected_cb": lambda: self._add("disconnected"),
            "reconnected_cb": lambda: self._add("reconnected"),
            "error_cb": self.errors.append,
        }

    def wait_for(self, name: str, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: name in self.events, timeout), self.events


@contextmanager
def memory_client(
    mem: MemoryServer | None = None, **opts: Any
) -> Iterator[tuple[nats_sync.Client, MemoryServer, MemoryServerConnection]]:
    """A blocking client connected to a scripted in-process server."""
    mem = mem or MemoryServer()
    accepted: list[MemoryServerConnection] = []

    def first() -> None:
        conn = mem.accept()
        accepted.append(conn)
        conn.handshake()

    t = threading.Thread(target=first, daemon=True)
    t.start()
    kw = {"reconnect_time_wait": 0.01, "reconnect_jitter": 0, "transport_factory": mem.connect}
    nc = nats_sync.connect(URL, **{**kw, **opts})
    try:
        t.join(5)
        yield nc, mem, accepted[0]
    finally:
        nc.close()
        mem.close()


def test_handshake_and_the_write_path() -> None:
    with memory_client(name="fake") as (nc, _, srv):
        assert nc.is_connected and nc.server_info is not None
        assert nc.server_info.server_id == "MEMORY"
        nc.subscribe("foo", queue="q")
        assert srv.expect(b"\r\n") == b"SUB foo q 1\r\n"
        nc.publish("foo", b"hi")
        assert srv.expect(b"hi\r\n") == b"PUB foo 2\r\nhi\r\n"


def test_server_closes_mid_payload_then_reconnect() -> None:
    rec = Recorder()
    with memory_client(**rec.options()) as (nc, mem, srv):
        sub = nc.subscribe("foo")
        srv.expect(b"SUB foo 1\r\n")
        srv.send(b"MSG foo 1 10\r\nhel")  # cut short
        srv.close()
        rec.wait_for("disconnected")
        second = mem.accept()
        second.handshake()
        assert second.expect(b"\r\n") == b"SUB foo 1\r\n"  # replayed
        rec.wait_for("reconnected")
        second.send(b"MSG foo 1 5\r\nhello\r\n")
        assert sub.next_msg(timeout=2).data == b"hello"
        assert sub.delivered == 1  # the partial one never surfaced
        assert nc.stats.reconnects == 1 and nc.is_connected
        assert rec.events == ["disconnected", "reconnected"]


def test_garbage_reports_an_error_and_reconnects() -> None:
    rec = Recorder()
    with memory_client(**rec.options()) as (nc, mem, srv):
        srv.send(b"GARBAGE FROM THE SERVER\r\n")
        rec.wait_for("disconnected")
        wait_until(lambda: any(isinstance(e, RemoteProtocolError) for e in rec.errors))
        assert isinstance(nc.last_error, RemoteProtocolError)
        second = mem.accept()
        second.handshake()
        rec.wait_for("reconnected")
        assert nc.is_connected


def test_unanswered_pings_mark_the_connection_stale() -> None:
    rec = Recorder()
    with memory_client(ping_interval=0.2, **rec.options()) as (nc, mem, srv):
        srv.expect(b"PING\r\n")  # liveness pings arrive, never answered
        rec.wait_for("disconnected")
        assert isinstance(nc.last_error, StaleConnectionError)
        second = mem.accept()
        second.handshake()
        second.serve_pings()
        rec.wait_for("reconnected")
        assert nc.is_connected


def test_refused_and_silent_and_refusing_servers() -> None:
    mem = MemoryServer()
    mem.refuse = True
    with pytest.raises(ConnectError, match="refused"):
        nats_sync.connect(URL, transport_factory=mem.connect, max_reconnect_attempts=0)
    assert mem.dials == 1
    mem.refuse = False
    with pytest.raises(NatsTimeoutError, match="handshake"):  # nobody answers
        nats_sync.connect(URL, transport_factory=mem.connect, connect_timeout=0.3)
    assert mem.accept().receive(timeout=1) == b""  # the client gave up and closed

    def refuse_auth() -> None:
        conn = mem.accept()
        conn.send(MemoryServer.info_line())
        conn.expect(b"PING\r\n")
        conn.send(b"-ERR 'Authorization Violation'\r\n")

    t = threading.Thread(target=refuse_auth, daemon=True)
    t.start()
    with pytest.raises(AuthorizationError):
        nats_sync.connect(URL, transport_factory=mem.connect, max_reconnect_attempts=0)
    t.join(5)
    mem.close()


def test_a_factory_of_your_own_sees_every_dial() -> None:
    mem = MemoryServer()
    dialed: list[str] = []

    def factory(server: ServerAddress, timeout: float) -> Transport:
        dialed.append(server.url)
        t = mem.connect(server, timeout)
        assert isinstance(t, TCPTransport)
        return t

    with memory_client(mem, transport_factory=factory) as (nc, _, srv):
        srv.close()
        second = mem.accept()
        second.handshake()
        wait_until(lambda: nc.is_connected and nc.stats.reconnects == 1)
    assert dialed == [URL, URL]


def test_the_readme_example_runs() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Transports of your own") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    nc = scope["nc"]
    try:
        wait_until(lambda: nc.stats.reconnects >= 1)  # the cut connection was replaced
        assert scope["sub"].pending_msgs == 0  # the partial message never surfaced
    finally:
        nc.close()
        scope["mem"].close()
