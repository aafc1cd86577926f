"""nats_sync against a real nats-server: reconnecting after a server restart, giving
up, and permission violations reported by the server."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import nats_sync
from nats_core.errors import (
    AuthorizationError,
    ConnectionClosedError,
    PermissionsError,
    ReconnectBufferFullError,
    ServerError,
    StaleConnectionError,
    SubscriptionClosedError,
)
from nats_sync import ConnectError, Msg
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from sync_helpers import wait_until


class Events:
    """Records the connection callbacks in order, with the thread they ran on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()
        self.reconnected = threading.Event()

    def _note(self, what: str) -> None:
        self.seen.append(what)
        self.threads.add(threading.current_thread().name)

    def options(self) -> dict[str, object]:
        return {
            "disconnected_cb": lambda: self._note("disconnected"),
            "reconnected_cb": self._on_reconnected,
            "closed_cb": self._on_closed,
            "error_cb": self._on_error,
        }

    def _on_reconnected(self) -> None:
        self._note("reconnected")
        self.reconnected.set()

    def _on_closed(self) -> None:
        self._note("closed")
        self.closed.set()

    def _on_error(self, err: BaseException) -> None:
        self.errors.append(err)


# ------------------------------------------------------------------ reconnect


def test_reconnect_after_server_restart(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        plain = nc.subscribe("re.plain")
        got: list[bytes] = []
        nc.subscribe("re.cb", cb=lambda m: got.append(m.data))
        nc.publish("re.plain", b"before")
        assert plain.next_msg(timeout=2).data == b"before"

        nats_server.restart()  # same port
        assert ev.reconnected.wait(5), ev.seen
        assert ev.seen == ["disconnected", "reconnected"]
        assert "nats-reader" not in ev.threads
        assert nc.is_connected
        assert nc.status == "connected"
        assert nc.connected_url == nats_server.url
        assert nc.stats.reconnects == 1

        # subscriptions were re-sent: messages published now arrive
        nc.publish("re.plain", b"after")
        nc.publish("re.cb", b"after-cb")
        assert plain.next_msg(timeout=2).data == b"after"
        wait_until(lambda: got == [b"after-cb"], what="callback after reconnect")

        # and a different client sees our resubscribed interest too
        with nats_sync.connect(nats_server.url) as other:
            other.publish("re.plain", b"from-other")
            other.flush(timeout=2)
        assert plain.next_msg(timeout=2).data == b"from-other"
        assert not ev.errors
    finally:
        nc.close()
    assert ev.closed.wait(3)
    assert ev.seen == ["disconnected", "reconnected", "closed"]


def test_publishes_while_disconnected_are_sent_after_reconnect(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        sub = nc.subscribe("buffered")
        nc.flush(timeout=2)
        nats_server.stop()
        wait_until(lambda: nc.is_reconnecting, what="the client to notice the loss")
        assert not nc.is_connected
        for i in range(10):
            nc.publish("buffered", str(i).encode())  # kept in the reconnect buffer
        assert nc._conn.pending_bytes > 0
        nats_server.start()
        assert ev.reconnected.wait(5), ev.seen
        got = [int(sub.next_msg(timeout=2).data) for _ in range(10)]
        assert got == list(range(10))
        assert nc._conn.pending_bytes == 0
        assert nc.stats.reconnects == 1
    finally:
        nc.close()


def test_flush_while_disconnected_completes_after_reconnect(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        nats_server.stop()
        wait_until(lambda: nc.is_reconnecting, what="the client to notice the loss")
        done = threading.Event()
        errors: list[BaseException] = []

        def do_flush() -> None:
            try:
                nc.flush(timeout=5)
                done.set()
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=do_flush)
        t.start()
        nats_server.start()
        t.join(6)
        assert done.is_set(), errors
    finally:
        nc.close()


def test_request_after_reconnect(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        nc.subscribe("svc.re", cb=lambda m: m.respond(b"r:" + m.data))
        assert nc.request("svc.re", b"1", timeout=2).data == b"r:1"
        nats_server.restart()
        assert ev.reconnected.wait(5)
        # the shared reply inbox was resubscribed too
        assert nc.request("svc.re", b"2", timeout=2).data == b"r:2"
    finally:
        nc.close()


def test_two_restarts_count_two_reconnects(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        sub = nc.subscribe("twice")
        for round_ in (1, 2):
            ev.reconnected.clear()
            nats_server.restart()
            assert ev.reconnected.wait(5), (round_, ev.seen)
            assert nc.stats.reconnects == round_
            nc.publish("twice", b"%d" % round_)
            assert sub.next_msg(timeout=2).data == b"%d" % round_
        assert ev.seen == ["disconnected", "reconnected"] * 2
    finally:
        nc.close()


def test_gives_up_after_max_reconnect_attempts(nats_server: NatsServer) -> None:
    ev = Events()
    attempts: list[BaseException] = []
    nc = nats_sync.connect(
        nats_server.url,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=1,
        reconnect_error_cb=attempts.append,
        **ev.options(),
    )
    sub = nc.subscribe("gone")
    nats_server.stop()
    assert ev.closed.wait(5), ev.seen
    wait_until(lambda: nc.status == "closed", what="status closed")
    assert nc.is_closed
    assert not nc.is_reconnecting
    assert ev.seen == ["disconnected", "closed"]
    assert sub.is_closed
    with pytest.raises(SubscriptionClosedError):
        sub.next_msg(timeout=0.1)
    with pytest.raises(ConnectionClosedError):
        nc.publish("gone", b"x")
    assert nc.stats.reconnects == 0
    # every failed attempt was reported (one per attempt: here the only server, once)
    assert len(attempts) == 1 and isinstance(attempts[0], OSError), attempts
    nc.close()  # harmless


def test_allow_reconnect_false_closes_on_loss(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, allow_reconnect=False, **ev.options())
    nats_server.stop()
    assert ev.closed.wait(5), ev.seen
    assert nc.is_closed
    assert "reconnected" not in ev.seen


def test_close_while_reconnecting(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(
        nats_server.url, reconnect_time_wait=0.5, max_reconnect_attempts=-1, **ev.options()
    )
    nats_server.stop()
    wait_until(lambda: nc.is_reconnecting, what="reconnecting")
    start = time.monotonic()
    nc.close()
    assert time.monotonic() - start < 3
    assert nc.status == "closed"
    assert ev.closed.wait(3)
    assert "reconnected" not in ev.seen


def test_retry_on_failed_connect(nats_server_factory: NatsServerFactory) -> None:
    port = free_port()
    ev = Events()
    nc = nats_sync.connect(
        f"nats://127.0.0.1:{port}",
        retry_on_failed_connect=True,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=-1,
        **ev.options(),
    )
    try:
        assert not nc.is_connected
        sub = nc.subscribe("late.start")
        nc.publish("late.start", b"queued")
        nats_server_factory(port=port)
        wait_until(lambda: nc.is_connected, what="the first connection")
        assert sub.next_msg(timeout=2).data == b"queued"
        assert nc.stats.reconnects == 0  # the first connection is not a reconnect
    finally:
        nc.close()


def test_without_retry_on_failed_connect_raises(nats_server: NatsServer) -> None:
    nats_server.stop()
    with pytest.raises(ConnectError):
        nats_sync.connect(nats_server.url)


# --------------------------------------------------------------- permissions

PERMISSIONS = """
authorization {
  users = [
    {
      user: limited, password: pw,
      permissions: { publish: { deny: "secret.>" }, subscribe: { deny: "hidden.>" } }
    }
  ]
}
"""


@pytest.fixture
def limited_server(nats_server_factory: NatsServerFactory) -> NatsServer:
    return nats_server_factory(config=PERMISSIONS)


def test_publish_permission_violation(limited_server: NatsServer) -> None:
    ev = Events()
    with nats_sync.connect(limited_server.url, user="limited", password="pw", **ev.options()) as nc:
        sub = nc.subscribe("open.x")
        nc.publish("secret.x", b"nope")
        nc.flush(timeout=2)
        wait_until(lambda: ev.errors, what="the permissions error")
        err = ev.errors[0]
        assert isinstance(err, PermissionsError)
        assert isinstance(err, ServerError)
        assert not err.fatal
        assert err.operation == "publish"
        assert err.subject == "secret.x"
        assert "secret.x" in str(err)
        # the connection stays up and usable
        assert nc.is_connected
        nc.publish("open.x", b"fine")
        assert sub.next_msg(timeout=2).data == b"fine"
        assert "disconnected" not in ev.seen


def test_subscribe_permission_violation(limited_server: NatsServer) -> None:
    ev = Events()
    with nats_sync.connect(limited_server.url, user="limited", password="pw", **ev.options()) as nc:
        hidden = nc.subscribe("hidden.x")
        ok = nc.subscribe("open.y")
        nc.flush(timeout=2)
        wait_until(lambda: ev.errors, what="the permissions error")
        err = ev.errors[0]
        assert isinstance(err, PermissionsError)
        assert err.operation == "subscribe"
        assert err.subject == "hidden.x"
        assert "hidden.x" in str(err)
        wait_until(lambda: hidden.is_closed, what="the denied subscription to end")
        with pytest.raises(SubscriptionClosedError):
            hidden.next_msg(timeout=0.5)
        assert list(hidden) == []
        assert not ok.is_closed
        nc.publish("open.y", b"fine")
        assert ok.next_msg(timeout=2).data == b"fine"
        assert nc.is_connected


def test_subscribe_permission_violation_ends_callback_and_iteration(
    limited_server: NatsServer,
) -> None:
    ev = Events()
    with nats_sync.connect(limited_server.url, user="limited", password="pw", **ev.options()) as nc:
        hidden = nc.subscribe("hidden.deep.>")
        done = threading.Event()

        def consume() -> None:
            for _ in hidden:
                pass
            done.set()

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        got: list[Msg] = []
        cb_sub = nc.subscribe("hidden.cb", cb=got.append)
        assert done.wait(5), "iteration did not end"
        wait_until(lambda: cb_sub.is_closed, what="the callback subscription to end")
        wait_until(lambda: len(ev.errors) == 2, what="two permissions errors")
        subjects = sorted(e.subject for e in ev.errors if isinstance(e, PermissionsError))
        assert subjects == ["hidden.cb", "hidden.deep.>"]
        assert nc.is_connected


# ------------------------------------------------- a server that stops answering


@pytest.fixture
def frozen() -> Iterator[Callable[[NatsServer], None]]:
    """``freeze(server)`` stops the server process (SIGSTOP); it is resumed at teardown."""
    if not hasattr(signal, "SIGSTOP"):
        pytest.skip("needs POSIX signals")
    frozen_pids: list[int] = []

    def freeze(server: NatsServer) -> None:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        frozen_pids.append(server.pid)

    yield freeze
    for pid in frozen_pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _thaw(server: NatsServer) -> None:
    assert server.pid is not None
    os.kill(server.pid, signal.SIGCONT)


def _fill_socket_buffers(nc: nats_sync.Client, stop: threading.Event) -> threading.Thread:
    """Publish from a thread until ``stop`` or an error: backs up a frozen server's socket."""

    def run() -> None:
        chunk = b"x" * 65536
        try:
            while not stop.is_set():
                nc.publish("backlog", chunk)
        except Exception:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _wait_writer_stuck(nc: nats_sync.Client) -> None:
    """Wait until the bytes sent stop growing for half a second while more are
    queued or being written: a write is stuck (the writer's, or publish's own
    past 1 MiB)."""
    seen = [-1, time.monotonic()]

    def stuck() -> bool:
        if not nc.is_connected:
            return True
        out = nc.stats.out_bytes
        now = time.monotonic()
        if out != seen[0]:
            seen[:] = [out, now]
            return False
        return out > 0 and now - seen[1] > 0.5

    wait_until(stuck, timeout=10, what="the writes to get stuck")


def test_stale_connection_is_detected(
    nats_server: NatsServer, frozen: Callable[[NatsServer], None]
) -> None:
    ev = Events()
    why: list[BaseException | None] = []
    opts = ev.options()
    on_disconnect = opts["disconnected_cb"]
    assert callable(on_disconnect)

    def disconnected() -> None:
        why.append(nc.last_error)  # before a reconnect attempt replaces it
        on_disconnect()

    opts["disconnected_cb"] = disconnected
    nc = nats_sync.connect(
        nats_server.url,
        ping_interval=0.1,
        max_pings_outstanding=2,
        connect_timeout=1.0,
        reconnect_time_wait=0.05,
        **opts,
    )
    try:
        sub = nc.subscribe("stale")
        nc.flush(timeout=2)
        frozen(nats_server)
        wait_until(lambda: "disconnected" in ev.seen, what="stale detection")
        assert isinstance(why[0], StaleConnectionError), why
        _thaw(nats_server)
        assert ev.reconnected.wait(5), ev.seen
        nc.publish("stale", b"back")
        assert sub.next_msg(timeout=2).data == b"back"
    finally:
        _thaw(nats_server)
        nc.close()


def test_stale_connection_is_detected_while_writes_are_blocked(
    nats_server: NatsServer, frozen: Callable[[NatsServer], None]
) -> None:
    ev = Events()
    nc = nats_sync.connect(
        nats_server.url,
        ping_interval=0.1,
        max_pings_outstanding=2,
        connect_timeout=0.3,
        reconnect_time_wait=0.05,
        reconnect_buf_size=-1,  # publishes fail fast once disconnected
        **ev.options(),
    )
    stop = threading.Event()
    try:
        frozen(nats_server)
        publisher = _fill_socket_buffers(nc, stop)
        _wait_writer_stuck(nc)
        wait_until(lambda: "disconnected" in ev.seen, timeout=3, what="stale detection")
        stop.set()
        publisher.join(3)
        assert not publisher.is_alive()
        _thaw(nats_server)
        assert ev.reconnected.wait(5), ev.seen
    finally:
        stop.set()
        _thaw(nats_server)
        nc.close()


def test_close_does_not_hang_on_a_server_that_stopped_reading(
    nats_server: NatsServer, frozen: Callable[[NatsServer], None]
) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, **ev.options())
    stop = threading.Event()
    try:
        frozen(nats_server)
        publisher = _fill_socket_buffers(nc, stop)
        _wait_writer_stuck(nc)
        closer = threading.Thread(target=nc.close, daemon=True)
        start = time.monotonic()
        closer.start()
        closer.join(4)
        assert not closer.is_alive(), "close() hangs while the server does not read"
        assert time.monotonic() - start < 4
        assert nc.is_closed
        assert ev.closed.wait(3)
        stop.set()
        publisher.join(3)
        assert not publisher.is_alive()
    finally:
        stop.set()
        _thaw(nats_server)
        nc.close()


# -------------------------------------------------- more reconnect situations


def test_reconnect_buffer_limit(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(
        nats_server.url, reconnect_time_wait=0.1, reconnect_buf_size=300, **ev.options()
    )
    try:
        sub = nc.subscribe("rb")
        nc.flush(timeout=2)
        nats_server.stop()
        wait_until(lambda: nc.is_reconnecting, what="reconnecting")
        nc.publish("rb", b"a" * 100)
        nc.publish("rb", b"b" * 100)
        with pytest.raises(ReconnectBufferFullError):
            nc.publish("rb", b"c" * 100)
        nats_server.start()
        assert ev.reconnected.wait(5), ev.seen
        nc.publish("rb", b"d")
        got = [sub.next_msg(timeout=2).data for _ in range(3)]
        assert got == [b"a" * 100, b"b" * 100, b"d"]
    finally:
        nc.close()


def test_authorization_error_on_reconnect_gives_up(
    nats_server: NatsServer, nats_server_factory: NatsServerFactory
) -> None:
    ev = Events()
    nc = nats_sync.connect(
        nats_server.url,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        **ev.options(),
    )
    port = nats_server.port
    nats_server.stop()
    wait_until(lambda: nc.is_reconnecting, what="reconnecting")
    # the same address now wants credentials the client does not have
    nats_server_factory(port=port, config="authorization { user: a, password: b }")
    assert ev.closed.wait(5), (ev.seen, ev.errors)
    auth = [e for e in ev.errors if isinstance(e, AuthorizationError)]
    assert auth, ev.errors
    assert nc.is_closed
    assert "reconnected" not in ev.seen


def test_failover_to_a_discovered_cluster_member(nats_server_factory: NatsServerFactory) -> None:
    a = nats_server_factory(cluster_name="c1", server_name="a")
    assert a.cluster_url is not None
    ev = Events()
    discovered = threading.Event()
    nc = nats_sync.connect(
        a.url,
        reconnect_time_wait=0.05,
        discovered_servers_cb=lambda added: discovered.set(),
        **ev.options(),
    )
    try:
        assert nc.connected_url == a.url
        assert nc.servers == [a.url]
        b = nats_server_factory(cluster_name="c1", server_name="b", routes=[a.cluster_url])
        # the route forms and server a tells the client about b
        assert discovered.wait(5)
        wait_until(lambda: b.url in nc.servers, what=f"{b.url} in {nc.servers}")
        sub = nc.subscribe("cluster.x")
        nc.flush(timeout=2)
        a.stop()
        assert ev.reconnected.wait(5), ev.seen
        assert nc.connected_url == b.url
        assert nc.server_info is not None and nc.server_info.port == b.port
        with nats_sync.connect(b.url) as other:
            other.publish("cluster.x", b"via b")
            other.flush(timeout=2)
        assert sub.next_msg(timeout=2).data == b"via b"
    finally:
        nc.close()


def test_lame_duck_mode_callback(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(
        config='lame_duck_duration: "30s"\nlame_duck_grace_period: "100ms"'
    )
    if not hasattr(signal, "SIGUSR2"):
        pytest.skip("needs POSIX signals")
    ldm = threading.Event()
    nc = nats_sync.connect(server.url, lame_duck_cb=ldm.set)
    try:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGUSR2)  # enter lame duck mode
        assert ldm.wait(5)
        assert nc.server_info is not None and nc.server_info.ldm
    finally:
        nc.close()


def test_auto_unsubscribe_survives_a_reconnect(nats_server: NatsServer) -> None:
    ev = Events()
    nc = nats_sync.connect(nats_server.url, reconnect_time_wait=0.1, **ev.options())
    try:
        sub = nc.subscribe("auto.re", max_msgs=5)
        nc.publish("auto.re", b"0")
        nc.publish("auto.re", b"1")
        nc.flush(timeout=2)
        nats_server.restart()
        assert ev.reconnected.wait(5), ev.seen
        for i in range(2, 10):
            nc.publish("auto.re", b"%d" % i)
        nc.flush(timeout=2)
        # the server was told to stop after the 3 messages still owed
        assert [m.data for m in sub] == [b"0", b"1", b"2", b"3", b"4"]
        assert sub.is_closed
    finally:
        nc.close()


def test_queue_subscribe_permission_violation(limited_server: NatsServer) -> None:
    ev = Events()
    with nats_sync.connect(limited_server.url, user="limited", password="pw", **ev.options()) as nc:
        plain_ok = nc.subscribe("hidden_not.x", queue="grp")
        denied = nc.subscribe("hidden.q", queue="grp")
        nc.flush(timeout=2)
        wait_until(lambda: ev.errors, what="the permissions error")
        err = ev.errors[0]
        assert isinstance(err, PermissionsError)
        assert (err.operation, err.subject, err.queue) == ("subscribe", "hidden.q", "grp")
        wait_until(lambda: denied.is_closed, what="the denied queue subscription to end")
        assert not plain_ok.is_closed
        assert nc.is_connected


def test_request_to_a_denied_subject_reports_and_times_out(limited_server: NatsServer) -> None:
    ev = Events()
    with nats_sync.connect(limited_server.url, user="limited", password="pw", **ev.options()) as nc:
        with pytest.raises(TimeoutError):
            nc.request("secret.svc", b"?", timeout=0.5)
        wait_until(lambda: ev.errors, what="the permissions error")
        err = ev.errors[0]
        assert isinstance(err, PermissionsError)
        assert (err.operation, err.subject) == ("publish", "secret.svc")
        nc.subscribe("open.svc", cb=lambda m: m.respond(b"ok"))
        assert nc.request("open.svc", timeout=2).data == b"ok"
