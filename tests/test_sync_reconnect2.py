"""nats_sync and a real nats-server: force_reconnect(), requests in flight during
a reconnect, drain and close while reconnecting, the status at every step, and
the reconnect delay callback."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nats_sync
from nats_core.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NatsTimeoutError,
)
from pynats.server import NatsServer
from sync_helpers import wait_until


class Events:
    """Connection callbacks in order, and the status the client had in each."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self.discos: list[BaseException | None] = []
        self.reconnected = threading.Event()
        self.closed = threading.Event()
        self.nc: nats_sync.Client | None = None

    def options(self) -> dict[str, Any]:
        def disconnected() -> None:
            self.seen.append("disconnected")
            if self.nc is not None:
                self.discos.append(self.nc.last_error)

        def reconnected() -> None:
            self.seen.append("reconnected")
            self.reconnected.set()

        def closed() -> None:
            self.seen.append("closed")
            self.closed.set()

        return {
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": self.errors.append,
        }


def connect(server: NatsServer, ev: Events, **opts: Any) -> nats_sync.Client:
    nc = nats_sync.connect(server.url, **{**ev.options(), **opts})
    ev.nc = nc
    return nc


@pytest.fixture
def freeze(nats_server: NatsServer) -> Iterator[Callable[[], None]]:
    """``freeze()`` stops the server with SIGSTOP: it still accepts TCP connections
    (the kernel does) but never answers. It is resumed at teardown."""
    if not hasattr(signal, "SIGSTOP"):
        pytest.skip("needs POSIX signals")
    assert nats_server.pid is not None
    pid = nats_server.pid
    yield lambda: os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signal.SIGCONT)


# ------------------------------------------------------------ force_reconnect


def test_force_reconnect_reconnects_at_once(nats_server: NatsServer) -> None:
    ev = Events()
    # a wait far longer than the test: only a forced reconnect skips it
    nc = connect(nats_server, ev, reconnect_time_wait=30)
    watcher = nats_sync.connect(nats_server.url)
    try:
        seen = watcher.subscribe("forced")
        watcher.flush(timeout=2)
        sub = nc.subscribe("forced")
        nc.publish("forced", b"before")  # queued before the call: written first
        start = time.monotonic()
        nc.force_reconnect()
        assert nc.status == "reconnecting"
        assert ev.reconnected.wait(5), ev.seen
        assert time.monotonic() - start < 2
        assert ev.seen == ["disconnected", "reconnected"]
        assert ev.discos == [None]  # asked for: no error
        assert nc.last_error is None
        assert nc.stats.reconnects == 1
        assert nc.status == "connected"
        nc.publish("forced", b"after")
        # resubscribed; "before" may or may not have reached us on the old connection
        got = sub.next_msg(timeout=2).data
        if got == b"before":
            got = sub.next_msg(timeout=2).data
        assert got == b"after"
        assert [seen.next_msg(timeout=2).data for _ in range(2)] == [b"before", b"after"]
    finally:
        watcher.close()
        nc.close()


def test_force_reconnect_while_reconnecting_ends_the_wait(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=30, max_reconnect_attempts=-1)
    try:
        nats_server.stop()
        wait_until(lambda: "disconnected" in ev.seen, what="the disconnect")
        assert nc.status == "reconnecting"  # and waiting 30 s before dialing again
        nats_server.start()
        start = time.monotonic()
        nc.force_reconnect()
        assert ev.reconnected.wait(5), ev.seen
        assert time.monotonic() - start < 2
        assert nc.is_connected
    finally:
        nc.close()


def test_force_reconnect_after_close_raises(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    nc.close()
    with pytest.raises(ConnectionClosedError):
        nc.force_reconnect()


# ------------------------------------------------------------ requests in flight


def test_request_in_flight_is_answered_after_a_reconnect(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.05)
    resp_ev = Events()
    responder = connect(nats_server, resp_ev, reconnect_time_wait=0.05)
    held = threading.Event()
    release = threading.Event()

    def respond(msg: nats_sync.Msg) -> None:
        held.set()
        release.wait(10)  # answer only once both clients are back
        msg.respond(b"re:" + msg.data)

    try:
        responder.subscribe("svc.hold", cb=respond)
        responder.flush(timeout=2)
        result: list[bytes] = []
        t = threading.Thread(
            target=lambda: result.append(nc.request("svc.hold", b"q", timeout=8).data)
        )
        t.start()
        assert held.wait(5)
        nats_server.restart()
        assert ev.reconnected.wait(5) and resp_ev.reconnected.wait(5)
        nc.flush(timeout=2)  # the inbox is subscribed again on the new server
        release.set()
        t.join(5)
        assert result == [b"re:q"]
    finally:
        release.set()
        responder.close()
        nc.close()


def test_request_in_flight_without_reply_waits_for_its_timeout(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.05)
    try:
        asked = threading.Event()
        nc.subscribe("svc.mute", cb=lambda m: asked.set())  # never answers
        errors: list[BaseException] = []
        took: list[float] = []

        def ask() -> None:
            start = time.monotonic()
            try:
                nc.request("svc.mute", b"?", timeout=1.5)
            except BaseException as e:
                errors.append(e)
            took.append(time.monotonic() - start)

        t = threading.Thread(target=ask)
        t.start()
        assert asked.wait(5)
        nats_server.restart()
        assert ev.reconnected.wait(5)
        t.join(5)
        assert len(errors) == 1 and isinstance(errors[0], NatsTimeoutError), errors
        assert took[0] >= 1.4  # it waited for its timeout, not for the reconnect
        assert nc.is_connected
    finally:
        nc.close()


def test_request_made_while_disconnected_is_sent_after_the_reconnect(
    nats_server: NatsServer,
) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.05, max_reconnect_attempts=-1)
    try:
        nc.subscribe("svc.echo", cb=lambda m: m.respond(b"re:" + m.data))
        nats_server.stop()
        wait_until(lambda: nc.status == "reconnecting", what="reconnecting")
        result: list[bytes] = []
        t = threading.Thread(
            target=lambda: result.append(nc.request("svc.echo", b"late", timeout=8).data)
        )
        t.start()
        wait_until(lambda: nc._conn.pending_bytes > 0, what="the request in the buffer")
        assert not result
        nats_server.start()
        t.join(8)
        assert result == [b"re:late"]
        assert nc.stats.reconnects == 1
    finally:
        nc.close()


# ----------------------------------------------------- drain / close / status


def test_drain_while_reconnecting_closes_and_says_so(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.5, max_reconnect_attempts=-1)
    sub = nc.subscribe("d")
    nats_server.stop()
    wait_until(lambda: nc.status == "reconnecting", what="reconnecting")
    nc.publish("d", b"buffered")
    start = time.monotonic()
    with pytest.raises(ConnectionReconnectingError, match="while reconnecting"):
        nc.drain(timeout=5)
    assert time.monotonic() - start < 2
    assert nc.status == "closed" and nc.is_closed
    assert ev.closed.wait(3)
    assert sub.is_closed
    assert "reconnected" not in ev.seen
    nc.drain()  # once closed, drain has nothing to do
    nc.close()


def test_close_during_a_hanging_handshake_returns_promptly(
    nats_server: NatsServer, freeze: Callable[[], None]
) -> None:
    ev = Events()
    nc = connect(nats_server, ev, connect_timeout=20)
    first = nc._dialing
    freeze()
    nc.force_reconnect()  # dials the frozen server at once: TCP connects, INFO never comes
    wait_until(lambda: nc._dialing is not first, what="a dial to the frozen server")
    time.sleep(0.1)
    assert nc.status == "reconnecting"
    start = time.monotonic()
    nc.close()
    assert time.monotonic() - start < 2, "close() waited for the handshake"
    assert nc.status == "closed"
    assert ev.closed.wait(3)


def test_status_through_a_reconnect_a_drain_and_close(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.05, max_reconnect_attempts=-1)
    seen = [nc.status]
    nats_server.stop()
    wait_until(lambda: nc.status == "reconnecting", what="reconnecting")
    seen.append(nc.status)
    nats_server.start()
    assert ev.reconnected.wait(5)
    seen.append(nc.status)
    release = threading.Event()
    sub = nc.subscribe("slow", cb=lambda m: release.wait(5))
    nc.publish("slow", b"1")
    nc.flush(timeout=2)
    wait_until(lambda: sub.delivered == 1, what="the message")
    drainer = threading.Thread(target=nc.drain)
    drainer.start()
    wait_until(lambda: nc.status == "draining", what="draining")
    seen.append(nc.status)
    release.set()
    drainer.join(5)
    seen.append(nc.status)
    assert seen == ["connected", "reconnecting", "connected", "draining", "closed"]


def test_connection_lost_during_drain_closes_and_says_so(nats_server: NatsServer) -> None:
    ev = Events()
    nc = connect(nats_server, ev, reconnect_time_wait=0.05)
    release = threading.Event()
    nc.subscribe("slow", cb=lambda m: release.wait(5))
    nc.publish("slow", b"1")
    nc.flush(timeout=2)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            nc.drain(timeout=5)
        except BaseException as e:
            errors.append(e)

    drainer = threading.Thread(target=drain)
    drainer.start()
    wait_until(lambda: nc.status == "draining", what="draining")
    nats_server.stop()
    wait_until(lambda: nc.is_closed, what="the client to close")
    release.set()
    drainer.join(5)
    assert not drainer.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ConnectionClosedError), errors
    assert "lost during the drain" in str(errors[0])
    assert ev.closed.wait(3)
    assert "reconnected" not in ev.seen


def test_reconnect_delay_callback(nats_server: NatsServer) -> None:
    ev = Events()
    calls: list[int] = []

    def delay(n: int) -> float:
        calls.append(n)
        return 0.02

    nc = connect(nats_server, ev, reconnect_delay_cb=delay, max_reconnect_attempts=-1)
    try:
        nats_server.stop()
        wait_until(lambda: len(calls) >= 3, what="three waits")
        nats_server.start()
        assert ev.reconnected.wait(5)
        assert calls[:3] == [1, 2, 3]  # the count of waits in this reconnect
        assert not ev.errors
    finally:
        nc.close()
