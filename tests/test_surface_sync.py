"""The rest of nats.go's connection and subscription surface (#21), blocking client,
against real nats-servers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import nats_sync
from nats_core import Headers
from nats_core.errors import (
    AuthorizationError,
    MaxConnectionsExceededError,
    MaxSubscriptionsExceededError,
    ServerError,
)
from nats_sync import Msg
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from security_helpers import PASSWORD, Certs, make_certs, tls_block
from sync_helpers import wait_until


@pytest.fixture(scope="module")
def server() -> Any:
    with NatsServer(server_name="surface-sync") as srv:
        yield srv


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


# ------------------------------------------------------------ connection


def test_connection_properties(server: NatsServer) -> None:
    with nats_sync.connect(server=server) as nc:
        assert nc.connected_addr == f"127.0.0.1:{server.port}"
        info = nc.server_info
        assert info is not None
        assert nc.connected_server_id == info.server_id and info.server_id
        assert nc.connected_server_name == "surface-sync"
        assert nc.connected_server_version == info.version and info.version
        assert nc.connected_cluster_name is None
        assert nc.discovered_servers == []
        assert nc.tls_connection_state is None
        assert nc.num_subscriptions == 0
        sub = nc.subscribe("p.a")
        nc.subscribe("p.b", cb=lambda m: None)
        with pytest.raises(nats_sync.NoRespondersError):
            nc.request("p.nobody", b"")  # the request inbox is not counted
        assert nc.num_subscriptions == 2
        sub.unsubscribe()
        assert nc.num_subscriptions == 1
        inbox = nc.new_resp_inbox()
        assert inbox.startswith("_INBOX.") and inbox != nc.new_resp_inbox()
        nc.flush()
        assert nc.buffered == 0
    assert nc.connected_addr is None and nc.connected_server_id is None


def test_buffered_while_disconnected() -> None:
    port = free_port()
    with nats_sync.connect(
        f"nats://127.0.0.1:{port}", retry_on_failed_connect=True, reconnect_time_wait=0.05
    ) as nc:
        assert nc.buffered == 0
        nc.publish("b.x", b"12345")
        assert nc.buffered == len(b"PUB b.x 5\r\n12345\r\n")
        with NatsServer(port=port):
            wait_until(lambda: nc.is_connected and nc.buffered == 0, what="the buffer written")


def test_tls_connection_state_and_several_roots(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    srv = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    url = srv.url.replace("nats://", "tls://")
    with nats_sync.connect(url, tls_ca_file=[certs.wrong_ca, certs.ca]) as nc:
        st = nc.tls_connection_state
        assert st is not None
        assert st.version is not None and st.version.startswith("TLS")
        assert st.cipher
        assert st.peer_certificate_der
        subject_alt = st.peer_certificate.get("subjectAltName", ())
        assert ("IP Address", "127.0.0.1") in subject_alt
    with pytest.raises(nats_sync.ConnectError):
        nats_sync.connect(url, tls_ca_file=[certs.wrong_ca], connect_timeout=1)


def test_barrier_waits_for_callbacks(server: NatsServer) -> None:
    handled: list[int] = []
    seen_at_barrier: list[int] = []
    done = threading.Event()
    with nats_sync.connect(server.url) as nc:

        def slow(msg: Msg) -> None:
            time.sleep(0.01)
            handled.append(int(msg.data))

        nc.subscribe("bar.a", cb=slow)
        nc.subscribe("bar.b", cb=slow)
        for i in range(10):
            nc.publish("bar.a" if i % 2 else "bar.b", b"%d" % i)
        nc.flush()

        def fn() -> None:
            seen_at_barrier.append(len(handled))
            done.set()

        nc.barrier(fn)
        assert done.wait(5)
        assert seen_at_barrier == [10]
        done.clear()
        nc.barrier(fn)  # nothing waiting: at once
        assert done.wait(2)


def test_callback_setters_and_status_listeners(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory()
    events: list[str] = []
    statuses: list[str] = []
    only_closed: list[str] = []
    with nats_sync.connect(srv.url, reconnect_time_wait=0.05) as nc:
        nc.set_disconnected_cb(lambda: events.append("disconnected"))
        nc.set_reconnected_cb(lambda: events.append("reconnected"))
        nc.set_closed_cb(lambda: events.append("closed"))
        nc.set_error_cb(lambda e: events.append(f"error {type(e).__name__}"))
        nc.set_discovered_servers_cb(lambda urls: None)
        nc.set_lame_duck_cb(lambda: None)
        nc.set_reconnect_error_cb(lambda e: None)
        nc.status_changed(statuses.append)
        remove = nc.status_changed(only_closed.append, "closed")
        gone: list[str] = []
        nc.status_changed(gone.append)
        nc.remove_status_listener(gone.append)
        with pytest.raises(ValueError):
            nc.status_changed(print, "sleeping")
        srv.restart()
        wait_until(lambda: "reconnected" in events, what="the reconnect")
        remove()
    wait_until(lambda: "closed" in events, what="closed_cb")
    assert events == ["disconnected", "reconnected", "closed"]
    assert statuses == ["disconnected", "reconnecting", "connected", "closed"]
    assert only_closed == [] and gone == []


def test_no_callbacks_after_client_close(server: NatsServer) -> None:
    called: list[str] = []
    nc = nats_sync.connect(
        server.url,
        no_callbacks_after_client_close=True,
        closed_cb=lambda: called.append("closed"),
    )
    sub = nc.subscribe("quiet")
    sub.set_closed_cb(called.append)
    nc.close()
    time.sleep(0.1)
    assert called == []
    nc2 = nats_sync.connect(server.url, closed_cb=lambda: called.append("closed"))
    nc2.close()
    wait_until(lambda: called == ["closed"])


# -------------------------------------------------------------- messages


def test_publish_msg_and_request_msg(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        sub = nc.subscribe("pm.x")
        nc.publish_msg(Msg("pm.x", reply="r.1", data=b"hi", headers=Headers({"Trace": "1"})))
        got = sub.next_msg(timeout=2)
        assert (got.subject, got.reply, got.data) == ("pm.x", "r.1", b"hi")
        assert got.headers is not None and got.headers["Trace"] == "1"

        def echo(m: Msg) -> None:
            assert m.headers is not None
            m.respond(m.data + m.headers["Id"].encode())

        nc.subscribe("pm.echo", cb=echo)
        reply = nc.request_msg(Msg("pm.echo", data=b"q", headers={"Id": "7"}), timeout=2)
        assert reply.data == b"q7"


# ---------------------------------------------------------- subscriptions


def test_subscription_surface(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        sub = nc.subscribe("ss.x")
        assert sub.type == "sync" and sub.is_valid and sub.status == "active"
        assert sub.max_pending == (0, 0)
        for _ in range(5):
            nc.publish("ss.x", b"abc")
        nc.flush()
        wait_until(lambda: sub.pending_msgs == 5)
        assert sub.max_pending == (5, 15)
        for _ in range(5):
            sub.next_msg()
        assert sub.max_pending == (5, 15)
        sub.clear_max_pending()
        assert sub.max_pending == (0, 0)
        closed: list[str] = []
        sub.set_closed_cb(closed.append)
        sub.unsubscribe()
        assert not sub.is_valid and sub.status == "closed"
        wait_until(lambda: closed == ["ss.x"], what="the subscription's closed_cb")

        cb_sub = nc.subscribe("ss.y", cb=lambda m: None)
        assert cb_sub.type == "async"
        cb_sub.set_closed_cb(closed.append)
        cb_sub.drain()
        assert cb_sub.status == "closed"
        wait_until(lambda: closed == ["ss.x", "ss.y"])

        slow = nc.subscribe("ss.z", pending_msgs_limit=2)
        errors: list[BaseException] = []
        nc.set_error_cb(errors.append)
        for _ in range(4):
            nc.publish("ss.z", b"x")
        nc.flush()
        wait_until(lambda: slow.dropped == 2)
        assert slow.status == "slow_consumer"
        assert slow.max_pending == (2, 2)


# ----------------------------------------------------------------- errors


def test_max_connections_exceeded(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config="max_connections: 1\n")
    with _first_connection(srv.url), pytest.raises(MaxConnectionsExceededError) as ei:
        nats_sync.connect(srv.url, connect_timeout=2)
    assert isinstance(ei.value, ServerError)
    assert "maximum connections exceeded" in str(ei.value).lower()


def _first_connection(url: str) -> nats_sync.Client:
    """Connect once the server forgot the connection of its readiness probe."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return nats_sync.connect(url)
        except MaxConnectionsExceededError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_max_subscriptions_exceeded(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config="max_subscriptions: 1\n")
    errors: list[BaseException] = []
    with nats_sync.connect(srv.url, error_cb=errors.append) as nc:
        nc.subscribe("ms.a")
        nc.subscribe("ms.b")
        nc.flush()
        wait_until(lambda: errors, what="the -ERR")
        (err,) = errors
        assert isinstance(err, MaxSubscriptionsExceededError) and not err.fatal
        assert nc.is_connected  # not fatal: the connection stays


# ---------------------------------------------------------------- options


def test_user_and_password_as_callables(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config=f'authorization {{ user: "bob", password: "{PASSWORD}" }}\n')
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return PASSWORD

    with nats_sync.connect(srv.url, user=lambda: "bob", password=password) as nc:
        nc.flush()
    assert asked == [1]
    with nats_sync.connect(srv.url, user_info_cb=lambda: ("bob", PASSWORD)) as nc:
        nc.flush()
    with pytest.raises(AuthorizationError):
        nats_sync.connect(srv.url, user_info_cb=lambda: ("bob", "wrong"))


def test_ignore_auth_error_abort(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config=f'authorization {{ user: "bob", password: "{PASSWORD}" }}\n')
    good = [True]

    def info() -> tuple[str, str]:
        return "bob", PASSWORD if good[0] else "wrong"

    refusals: list[BaseException] = []
    with nats_sync.connect(
        srv.url,
        user_info_cb=info,
        ignore_auth_error_abort=True,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        reconnect_error_cb=refusals.append,
    ) as nc:
        good[0] = False
        srv.restart()
        wait_until(lambda: len(refusals) >= 3, what="three refusals")
        assert not nc.is_closed  # the same auth error twice did not end it
        good[0] = True
        wait_until(lambda: nc.is_connected, what="the reconnect")


def test_options_validated(server: NatsServer) -> None:
    with pytest.raises(nats_sync.ConfigError):
        nats_sync.connect("nats://127.0.0.1:1", flusher_timeout=0)
    with pytest.raises(nats_sync.ConfigError):
        nats_sync.connect("nats://127.0.0.1:1", tls_ca_file=[])
    with pytest.raises(nats_sync.ConfigError):
        nats_sync.connect("nats://127.0.0.1:1", server=object())
    with nats_sync.connect(skip_host_lookup=True, server=_Url(server.url)) as nc:
        assert nc.is_connected


class _Url:
    def __init__(self, url: str) -> None:
        self.url = url
