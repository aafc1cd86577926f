"""nats_sync against a real nats-server: flush, rtt, statistics, drain, and the
errors of a closed connection, an oversized payload or a bad subject."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import nats_sync
from nats_core.errors import (
    BadSubjectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    LocalProtocolError,
    MaxPayloadError,
    NatsTimeoutError,
    NotConnectedError,
    SubscriptionClosedError,
)
from nats_sync import Msg
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer
from sync_helpers import wait_until

# -------------------------------------------------------------- flush and rtt


def test_flush_makes_publishes_visible_to_another_client(nats_server: NatsServer) -> None:
    with (
        nats_sync.connect(nats_server.url) as pub,
        nats_sync.connect(nats_server.url) as subc,
    ):
        sub = subc.subscribe("flush.x")
        subc.flush(timeout=2)  # the SUB is registered before anything is published
        for i in range(100):
            pub.publish("flush.x", bytes([i]))
        pub.flush(timeout=2)
        got = [sub.next_msg(timeout=2).data[0] for _ in range(100)]
        assert got == list(range(100))


def test_flush_from_many_threads(nc: nats_sync.Client) -> None:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(50):
                nc.flush(timeout=3)
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)

    workers = [threading.Thread(target=run) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert not failures
    assert nc._pong_waiters == {}


def test_rtt(nc: nats_sync.Client) -> None:
    rtt = nc.rtt()
    assert isinstance(rtt, float)
    assert 0 < rtt < 2.0


def test_stats_counters(nats_server: NatsServer) -> None:
    with (
        nats_sync.connect(nats_server.url) as a,
        nats_sync.connect(nats_server.url) as b,
    ):
        sub = b.subscribe("stats")
        b.flush(timeout=2)
        base_a = a.stats.as_dict()
        assert base_a == {
            "in_msgs": 0,
            "in_bytes": 0,
            "out_msgs": 0,
            "out_bytes": 0,
            "reconnects": 0,
        }
        a.publish("stats", b"12345")
        a.publish("stats", b"")
        a.publish("stats", b"abc", headers={"H": "v"})  # out_bytes counts payload only
        a.flush(timeout=2)
        for _ in range(3):
            sub.next_msg(timeout=2)
        assert a.stats.out_msgs == 3
        assert a.stats.out_bytes == 8
        assert a.stats.in_msgs == 0
        assert b.stats.in_msgs == 3
        assert b.stats.in_bytes == 8
        assert b.stats.out_msgs == 0
        assert b.stats.reconnects == 0
        assert "in_msgs" in repr(b.stats)


def test_stats_count_requests_and_replies(nc: nats_sync.Client) -> None:
    nc.subscribe("svc", cb=lambda m: m.respond(b"0123456789"))
    nc.request("svc", b"abc", timeout=2)
    nc.flush(timeout=2)
    # out: the request and the reply; in: the request to the responder and the reply
    assert nc.stats.out_msgs == 2
    assert nc.stats.out_bytes == 13
    assert nc.stats.in_msgs == 2
    assert nc.stats.in_bytes == 13


# -------------------------------------------------------------------- drain


def test_drain_subscription_delivers_everything_to_the_callback(nc: nats_sync.Client) -> None:
    n = 200
    got: list[int] = []

    def slowish(msg: Msg) -> None:
        time.sleep(0.0005)  # keep a backlog so drain has something to wait for
        got.append(int(msg.data))

    sub = nc.subscribe("drain.sub", cb=slowish)
    other = nc.subscribe("drain.sub")
    for i in range(n):
        nc.publish("drain.sub", str(i).encode())
    sub.drain(timeout=5)  # no flush first: the PUBs precede the UNSUB on the wire
    assert got == list(range(n))
    assert sub.is_closed
    # later messages go to the other subscription only
    nc.publish("drain.sub", b"after")
    nc.flush(timeout=2)
    data = [other.next_msg(timeout=2).data for _ in range(n + 1)]
    assert data[-1] == b"after"
    assert got == list(range(n))
    assert nc.is_connected


def test_drain_subscription_without_callback_keeps_messages(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("drain.q")
    for i in range(50):
        nc.publish("drain.q", bytes([i]))
    sub.drain(timeout=5)
    assert sub.is_closed
    assert [m.data[0] for m in sub] == list(range(50))


def test_drain_subscription_twice_is_harmless(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("drain.twice")
    sub.drain(timeout=2)
    sub.drain(timeout=2)
    assert sub.is_closed


def test_drain_subscription_timeout(nc: nats_sync.Client) -> None:
    release = threading.Event()
    sub = nc.subscribe("drain.stuck", cb=lambda m: release.wait(5))
    nc.publish("drain.stuck", b"x")
    nc.publish("drain.stuck", b"y")
    try:
        with pytest.raises(NatsTimeoutError):
            sub.drain(timeout=0.2)
    finally:
        release.set()


def test_drain_subscription_from_its_own_callback(nc: nats_sync.Client) -> None:
    got: list[bytes] = []
    outcome: list[object] = []
    sub: nats_sync.Subscription

    def cb(msg: Msg) -> None:
        got.append(msg.data)
        if msg.data == b"stop":
            start = time.monotonic()
            try:
                sub.drain(timeout=3)
            except Exception as e:  # pragma: no cover - reported below
                outcome.append(e)
            else:
                outcome.append(time.monotonic() - start)

    sub = nc.subscribe("drain.self", cb=cb)
    for data in (b"a", b"stop", b"b", b"c"):
        nc.publish("drain.self", data)
    wait_until(lambda: outcome and len(got) == 4, what=f"the drain and 4 messages ({got})")
    elapsed = outcome[0]
    assert isinstance(elapsed, float), outcome  # no NatsTimeoutError
    assert elapsed < 2.0
    assert got == [b"a", b"stop", b"b", b"c"]  # the rest came after the callback returned
    assert sub.is_closed
    assert nc.is_connected


def test_drain_connection_from_a_callback(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    outcome: list[object] = []

    def cb(msg: Msg) -> None:
        start = time.monotonic()
        try:
            nc.drain(timeout=3)
        except Exception as e:  # pragma: no cover - reported below
            outcome.append(e)
        else:
            outcome.append(time.monotonic() - start)

    try:
        nc.subscribe("drain.conn.cb", cb=cb)
        nc.publish("drain.conn.cb", b"")
        wait_until(lambda: outcome, what="the drain")
        assert isinstance(outcome[0], float), outcome
        assert outcome[0] < 2.0
        assert nc.status == "closed"
    finally:
        nc.close()


def test_drain_connection(nats_server: NatsServer) -> None:
    n = 500
    closed = threading.Event()
    own: list[int] = []
    with nats_sync.connect(nats_server.url) as watcher:
        remote = watcher.subscribe("drain.conn", pending_msgs_limit=0)
        watcher.flush(timeout=2)
        nc = nats_sync.connect(nats_server.url, closed_cb=closed.set)
        nc.subscribe("drain.conn", cb=lambda m: own.append(int(m.data)))
        for i in range(n):
            nc.publish("drain.conn", str(i).encode())
        nc.drain(timeout=5)  # publishes still queued must reach the server
        assert nc.status == "closed"
        assert nc.is_closed
        assert closed.wait(3)
        assert own == list(range(n))  # the local subscription got everything first
        got = [int(remote.next_msg(timeout=2).data) for _ in range(n)]
        assert got == list(range(n))
        with pytest.raises(TimeoutError):
            remote.next_msg(timeout=0.1)
        with pytest.raises(ConnectionClosedError):
            nc.publish("drain.conn", b"late")


def test_drain_connection_waits_for_slow_callbacks(nats_server: NatsServer) -> None:
    n = 200
    fast: list[int] = []
    slow: list[int] = []

    def slowish(into: list[int], pause: float) -> Callable[[Msg], None]:
        def cb(msg: Msg) -> None:
            time.sleep(pause)  # keep a backlog so drain has something to wait for
            into.append(int(msg.data))

        return cb

    nc = nats_sync.connect(nats_server.url)
    try:
        # drain waits for the first subscription while the second one's drain is
        # confirmed by the server; the second still has a backlog to work off
        nc.subscribe("drain.slow", cb=slowish(fast, 0.001))
        nc.subscribe("drain.slow", cb=slowish(slow, 0.003))
        for i in range(n):
            nc.publish("drain.slow", str(i).encode())
        nc.flush(timeout=2)  # all n are on their way before the drain starts
        nc.drain(timeout=5)
        # every callback ran before drain returned
        assert (len(fast), len(slow)) == (n, n)
        assert fast == slow == list(range(n))
        assert nc.is_closed
    finally:
        nc.close()


def test_drain_status_and_refusals_while_draining(nats_server: NatsServer) -> None:
    release = threading.Event()
    entered = threading.Event()

    def hold(msg: Msg) -> None:
        entered.set()
        release.wait(5)

    nc = nats_sync.connect(nats_server.url)
    try:
        nc.subscribe("drain.hold", cb=hold)
        nc.publish("drain.hold", b"x")
        assert entered.wait(3)
        errors: list[BaseException] = []

        def do_drain() -> None:
            try:
                nc.drain(timeout=5)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=do_drain)
        t.start()
        wait_until(lambda: nc.status == "draining", what="status draining")
        assert nc.is_connected
        with pytest.raises(ConnectionDrainingError):
            nc.subscribe("drain.new")
        nc.publish("drain.hold.other", b"publishing is still allowed")
        with pytest.raises(NatsTimeoutError):
            nc.drain(timeout=0.2)  # a second drain waits for the first one to end
        assert nc.status == "draining"  # ... and did not cut it short
        threading.Timer(0.2, release.set).start()
        nc.drain(timeout=5)  # returns once the first drain closed the connection
        assert nc.status == "closed"
        t.join(5)
        assert not t.is_alive()
        assert not errors
        assert nc.status == "closed"
    finally:
        release.set()
        nc.close()


def test_drain_connection_with_request_inbox(nc: nats_sync.Client) -> None:
    nc.subscribe("svc.d", cb=lambda m: m.respond(b"ok"))
    assert nc.request("svc.d", timeout=2).data == b"ok"
    nc.drain(timeout=3)
    assert nc.is_closed


def test_drain_after_close_is_harmless(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    nc.close()
    nc.drain(timeout=1)
    assert nc.is_closed


# ---------------------------------------------------------- closed connection


def test_calls_after_close_raise_connection_closed(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    sub = nc.subscribe("closed.x")
    nc.close()
    assert issubclass(ConnectionClosedError, NotConnectedError)
    with pytest.raises(ConnectionClosedError):
        nc.publish("closed.x", b"x")
    with pytest.raises(ConnectionClosedError):
        nc.subscribe("closed.y")
    with pytest.raises(ConnectionClosedError):
        nc.flush(timeout=1)
    with pytest.raises(ConnectionClosedError):
        nc.rtt(timeout=1)
    assert sub.is_closed
    with pytest.raises(SubscriptionClosedError):
        sub.next_msg(timeout=1)
    sub.unsubscribe()  # harmless


def test_close_ends_iteration_in_another_thread(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    sub = nc.subscribe("closed.iter")
    done = threading.Event()

    def consume() -> None:
        for _ in sub:
            pass
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    nc.close()
    assert done.wait(3)


def test_close_flushes_pending_publishes(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as watcher:
        sub = watcher.subscribe("close.flush")
        watcher.flush(timeout=2)
        nc = nats_sync.connect(nats_server.url)
        for i in range(100):
            nc.publish("close.flush", bytes([i]))
        nc.close()
        assert [sub.next_msg(timeout=2).data[0] for _ in range(100)] == list(range(100))


def test_close_from_a_callback(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    done = threading.Event()

    def cb(msg: Msg) -> None:
        nc.close()
        done.set()

    nc.subscribe("close.cb", cb=cb)
    nc.publish("close.cb", b"")
    assert done.wait(5)
    assert nc.is_closed


# -------------------------------------------------------------- local errors


def test_max_payload_exceeded(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config="max_payload: 1024")
    with nats_sync.connect(server.url) as nc:
        assert nc.max_payload == 1024
        sub = nc.subscribe("mp")
        with pytest.raises(MaxPayloadError) as info:
            nc.publish("mp", b"x" * 1025)
        assert isinstance(info.value, LocalProtocolError)
        assert isinstance(info.value, ValueError)
        assert "1024" in str(info.value)
        with pytest.raises(MaxPayloadError):
            nc.publish("mp", b"x" * 1000, headers={"Pad": "y" * 100})  # headers count
        with pytest.raises(MaxPayloadError):
            nc.request("mp", b"x" * 2000, timeout=1)
        nc.publish("mp", b"x" * 1024)  # exactly the limit is fine
        assert sub.next_msg(timeout=2).data == b"x" * 1024
        assert nc.is_connected
        assert nc.stats.out_msgs == 1  # refused messages were not counted


def test_bad_subject_raises_and_sends_nothing(nc: nats_sync.Client) -> None:
    sub = nc.subscribe(">")
    for subject in ("bad subject", "", "a..b", "x.*"):
        with pytest.raises(BadSubjectError):
            nc.publish(subject, b"x")
    with pytest.raises(BadSubjectError):
        nc.publish("ok", b"x", reply="bad reply")
    with pytest.raises(BadSubjectError):
        nc.request("bad subject", b"x", timeout=1)
    nc.publish("good", b"y")
    assert sub.next_msg(timeout=2).subject == "good"
    with pytest.raises(TimeoutError):
        sub.next_msg(timeout=0.1)
    assert nc.stats.out_msgs == 1


def test_bad_max_msgs(nc: nats_sync.Client) -> None:
    with pytest.raises(LocalProtocolError):
        nc.subscribe("x", max_msgs=-1)
    sub = nc.subscribe("x")
    with pytest.raises(LocalProtocolError):
        sub.auto_unsubscribe(-3)
