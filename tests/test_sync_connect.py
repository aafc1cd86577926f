"""nats_sync against a real nats-server: connecting, closing, options, authentication."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

import nats_sync
from nats_core.errors import (
    AuthorizationError,
    ConnectionClosedError,
    NatsError,
    NatsTimeoutError,
    ServerError,
)
from nats_sync import ConnectError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from sync_helpers import wait_until

# --------------------------------------------------------------- basic lifecycle


def test_connect_and_close(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    try:
        assert nc.is_connected
        assert not nc.is_closed
        assert not nc.is_reconnecting
        assert nc.status == "connected"
    finally:
        nc.close()
    assert nc.is_closed
    assert not nc.is_connected
    assert nc.status == "closed"
    assert nc.connected_url is None
    nc.close()  # a second close is harmless
    assert nc.status == "closed"


def test_context_manager_closes(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as nc:
        assert nc.status == "connected"
        nc.flush(timeout=2)
    assert nc.status == "closed"
    with pytest.raises(ConnectionClosedError):
        nc.publish("foo", b"x")


def test_context_manager_closes_on_exception(nats_server: NatsServer) -> None:
    with pytest.raises(RuntimeError, match="boom"), nats_sync.connect(nats_server.url) as nc:
        raise RuntimeError("boom")
    assert nc.is_closed


def test_reader_threads_end_after_close(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    threads = list(nc._threads)
    names = {t.name for t in threads}
    assert {"nats-reader", "nats-writer"} <= names
    nc.close()
    wait_until(
        lambda: not any(t.is_alive() for t in threads), what="client threads to end after close"
    )


def test_server_info_and_properties(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as nc:
        info = nc.server_info
        assert info is not None
        assert info.version == nats_server.version
        assert info.port == nats_server.port
        assert info.headers is True
        assert info.server_id
        assert nc.connected_url == nats_server.url
        assert nc.max_payload == info.max_payload == 1024 * 1024
        assert isinstance(nc.client_id, int) and nc.client_id > 0
        assert nc.servers == [nats_server.url]
        assert nats_server.url in repr(nc)


def test_client_ids_differ(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as a, nats_sync.connect(nats_server.url) as b:
        assert a.client_id != b.client_id


def test_max_payload_from_server_config(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config="max_payload: 1024")
    with nats_sync.connect(server.url) as nc:
        assert nc.max_payload == 1024


def test_connect_accepts_a_server_list(nats_server: NatsServer) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    with nats_sync.connect([dead, nats_server.url], dont_randomize=True) as nc:
        assert nc.connected_url == nats_server.url
    with nats_sync.connect(f"{dead}, {nats_server.url}", dont_randomize=True) as nc:
        assert nc.connected_url == nats_server.url


def test_status_transitions_through_reconnect(nats_server: NatsServer) -> None:
    seen: list[str] = []
    closed = threading.Event()
    nc = nats_sync.connect(
        nats_server.url,
        reconnect_time_wait=0.1,
        disconnected_cb=lambda: seen.append("disconnected"),
        reconnected_cb=lambda: seen.append("reconnected"),
        closed_cb=closed.set,
    )
    try:
        assert nc.status == "connected"
        nats_server.stop()  # the port is kept for the restart
        wait_until(lambda: nc.status == "reconnecting", what="status reconnecting")
        assert nc.is_reconnecting
        assert not nc.is_connected
        assert nc.connected_url is None
        nats_server.start()
        wait_until(lambda: nc.status == "connected", what="status connected again")
        assert not nc.is_reconnecting
        wait_until(lambda: seen == ["disconnected", "reconnected"], what=f"callbacks ({seen})")
    finally:
        nc.close()
    assert nc.status == "closed"
    assert closed.wait(5)


# ----------------------------------------------------------------- failures


def test_connect_to_closed_port_fails_fast() -> None:
    port = free_port()
    start = time.monotonic()
    with pytest.raises(ConnectError) as info:
        nats_sync.connect(f"nats://127.0.0.1:{port}", connect_timeout=5)
    assert time.monotonic() - start < 2.0
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, NatsError)
    assert str(port) in str(info.value)


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A loopback TCP listener that accepts connections and never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(conn)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"nats://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in accepted:
        c.close()
    srv.close()


def test_connect_timeout_when_server_sends_nothing(silent_listener: str) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        nats_sync.connect(silent_listener, connect_timeout=0.3)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, NatsTimeoutError)
    assert 0.25 <= elapsed < 2.0


def test_connect_rejects_unknown_option(nats_server: NatsServer) -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        nats_sync.connect(nats_server.url, no_such_option=True)


# ------------------------------------------------------------- authentication

USER_AUTH = "authorization { user: a, password: b }"
TOKEN_AUTH = "authorization { token: s3cr3t }"


def _roundtrip(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("auth.check")
    nc.publish("auth.check", b"ok")
    assert sub.next_msg(timeout=2).data == b"ok"


def test_user_password_options(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=USER_AUTH)
    with nats_sync.connect(server.url, user="a", password="b") as nc:
        assert nc.server_info is not None and nc.server_info.auth_required
        _roundtrip(nc)


def test_user_password_in_url(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=USER_AUTH)
    with nats_sync.connect(f"nats://a:b@127.0.0.1:{server.port}") as nc:
        _roundtrip(nc)
        # the credentials never show in the URL the client reports
        assert nc.connected_url == server.url
        assert "b@" not in repr(nc)


def test_token_option(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=TOKEN_AUTH)
    with nats_sync.connect(server.url, token="s3cr3t") as nc:
        _roundtrip(nc)


def test_token_callable_option(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=TOKEN_AUTH)
    with nats_sync.connect(server.url, token=lambda: "s3cr3t") as nc:
        _roundtrip(nc)


def test_token_in_url(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=TOKEN_AUTH)
    with nats_sync.connect(f"nats://s3cr3t@127.0.0.1:{server.port}") as nc:
        _roundtrip(nc)


@pytest.mark.parametrize(
    ("config", "creds"),
    [
        (USER_AUTH, {"user": "a", "password": "wrong"}),
        (USER_AUTH, {"user": "nobody", "password": "b"}),
        (USER_AUTH, {}),
        (TOKEN_AUTH, {"token": "wrong"}),
        (TOKEN_AUTH, {}),
    ],
    ids=["bad-password", "bad-user", "no-user", "bad-token", "no-token"],
)
def test_wrong_credentials_raise_authorization_error(
    nats_server_factory: NatsServerFactory, config: str, creds: dict[str, str]
) -> None:
    server = nats_server_factory(config=config)
    start = time.monotonic()
    with pytest.raises(AuthorizationError) as info:
        nats_sync.connect(server.url, connect_timeout=3, **creds)
    assert time.monotonic() - start < 2.0
    assert isinstance(info.value, ServerError)
    assert info.value.fatal
    assert "authorization" in str(info.value).lower()


def test_wrong_credentials_in_url_raise(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=USER_AUTH)
    with pytest.raises(AuthorizationError):
        nats_sync.connect(f"nats://a:nope@127.0.0.1:{server.port}")


def test_url_credentials_win_over_options(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=USER_AUTH)
    with nats_sync.connect(f"nats://a:b@127.0.0.1:{server.port}", user="a", password="wrong") as nc:
        _roundtrip(nc)


def test_connect_to_a_server_with_a_long_info_line(
    nats_server_factory: NatsServerFactory,
) -> None:
    # INFO may exceed the 4096-byte cap of other control lines (large clusters)
    server = nats_server_factory(server_name="n" * 5000)
    with nats_sync.connect(server.url, connect_timeout=2) as nc:
        assert nc.server_info is not None
        assert nc.server_info.server_name == "n" * 5000
