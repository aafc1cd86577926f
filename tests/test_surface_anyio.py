"""The rest of nats.go's connection and subscription surface (#21), async client on
asyncio and on Trio, against real nats-servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio
import pytest

import nats_anyio
from nats_anyio import Msg
from nats_core import Headers
from nats_core.errors import (
    MaxConnectionsExceededError,
    MaxSubscriptionsExceededError,
    NatsTimeoutError,
)
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from security_helpers import PASSWORD, Certs, make_certs, tls_block

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(server_name="surface-anyio") as srv:
        yield srv


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


async def until(cond: Callable[[], object], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.005)


async def test_connection_properties(server: NatsServer) -> None:
    async with nats_anyio.connect(server=server) as nc:
        assert nc.connected_addr == f"127.0.0.1:{server.port}"
        info = nc.server_info
        assert info is not None
        assert nc.connected_server_id == info.server_id
        assert nc.connected_server_name == "surface-anyio"
        assert nc.connected_server_version == info.version
        assert nc.connected_cluster_name is None
        assert nc.discovered_servers == []
        assert nc.tls_connection_state is None
        sub = await nc.subscribe("p.a")
        await nc.subscribe("p.b", cb=lambda m: None)
        assert nc.num_subscriptions == 2
        await sub.unsubscribe()
        assert nc.num_subscriptions == 1
        assert nc.new_resp_inbox().startswith("_INBOX.")
        await nc.flush()
        assert nc.buffered == 0
    assert nc.connected_addr is None


async def test_buffered_while_disconnected() -> None:
    port = free_port()
    async with nats_anyio.connect(
        f"nats://127.0.0.1:{port}", retry_on_failed_connect=True, reconnect_time_wait=0.05
    ) as nc:
        await nc.publish("b.x", b"12345")
        assert nc.buffered == len(b"PUB b.x 5\r\n12345\r\n")


async def test_tls_connection_state(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    srv = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    url = srv.url.replace("nats://", "tls://")
    async with nats_anyio.connect(url, tls_ca_file=[certs.wrong_ca, certs.ca]) as nc:
        st = nc.tls_connection_state
        assert st is not None
        assert st.version is not None and st.version.startswith("TLS")
        assert st.cipher and st.peer_certificate_der
        assert ("IP Address", "127.0.0.1") in st.peer_certificate.get("subjectAltName", ())


async def test_barrier(server: NatsServer) -> None:
    handled: list[int] = []
    seen: list[int] = []
    async with nats_anyio.connect(server.url) as nc:

        async def slow(msg: Msg) -> None:
            await anyio.sleep(0.005)
            handled.append(int(msg.data))

        await nc.subscribe("bar.a", cb=slow)
        await nc.subscribe("bar.b", cb=slow)
        for i in range(10):
            await nc.publish("bar.a" if i % 2 else "bar.b", b"%d" % i)
        await nc.flush()
        nc.barrier(lambda: seen.append(len(handled)))
        await until(lambda: seen)
        assert seen == [10]


async def test_setters_and_status(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory()
    events: list[str] = []
    statuses: list[str] = []
    async with nats_anyio.connect(srv.url, reconnect_time_wait=0.05) as nc:
        nc.set_disconnected_cb(lambda: events.append("disconnected"))
        nc.set_reconnected_cb(lambda: events.append("reconnected"))
        nc.set_closed_cb(lambda: events.append("closed"))
        remove = nc.status_changed(statuses.append)
        await anyio.to_thread.run_sync(srv.restart)
        await until(lambda: "reconnected" in events)
        assert statuses == ["disconnected", "reconnecting", "connected"]
        remove()
    await until(lambda: "closed" in events)
    assert statuses == ["disconnected", "reconnecting", "connected"]


async def test_no_callbacks_after_client_close(server: NatsServer) -> None:
    called: list[str] = []
    async with nats_anyio.connect(
        server.url, no_callbacks_after_client_close=True, closed_cb=lambda: called.append("x")
    ) as nc:
        sub = await nc.subscribe("quiet")
        sub.set_closed_cb(called.append)
    assert called == []


async def test_publish_msg_and_request_msg(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        sub = await nc.subscribe("pm.x")
        await nc.publish_msg(Msg("pm.x", reply="r.1", data=b"hi", headers=Headers({"T": "1"})))
        got = await sub.next_msg(timeout=2)
        assert (got.reply, got.data) == ("r.1", b"hi")
        assert got.headers is not None and got.headers["T"] == "1"

        async def echo(m: Msg) -> None:
            assert m.headers is not None
            await m.respond(m.data + m.headers["Id"].encode())

        await nc.subscribe("pm.echo", cb=echo)
        reply = await nc.request_msg(Msg("pm.echo", data=b"q", headers={"Id": "7"}), timeout=2)
        assert reply.data == b"q7"


async def test_subscription_surface(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("ss.x")
        assert (sub.type, sub.is_valid, sub.status) == ("sync", True, "active")
        for _ in range(5):
            await nc.publish("ss.x", b"abc")
        await nc.flush()
        await until(lambda: sub.pending_msgs == 5)
        assert sub.max_pending == (5, 15)
        for _ in range(5):
            await sub.next_msg()
        assert sub.max_pending == (5, 15)
        sub.clear_max_pending()
        assert sub.max_pending == (0, 0)
        closed: list[str] = []
        sub.set_closed_cb(closed.append)
        await sub.unsubscribe()
        assert not sub.is_valid and sub.status == "closed"
        cb_sub = await nc.subscribe("ss.y", cb=lambda m: None)
        assert cb_sub.type == "async"
        cb_sub.set_closed_cb(closed.append)
        await cb_sub.drain()
        await until(lambda: closed == ["ss.x", "ss.y"])
        slow = await nc.subscribe("ss.z", pending_msgs_limit=2)
        for _ in range(4):
            await nc.publish("ss.z", b"x")
        await nc.flush()
        await until(lambda: slow.dropped == 2)
        assert slow.status == "slow_consumer" and slow.max_pending == (2, 2)


async def test_max_connections_exceeded(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config="max_connections: 1\n")
    with anyio.fail_after(5):
        while True:  # the server may still count its readiness probe
            try:
                async with nats_anyio.connect(srv.url):
                    with pytest.raises(MaxConnectionsExceededError):
                        async with nats_anyio.connect(srv.url):
                            pass
                break
            except MaxConnectionsExceededError:
                await anyio.sleep(0.05)


async def test_max_subscriptions_exceeded(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config="max_subscriptions: 1\n")
    errors: list[BaseException] = []
    async with nats_anyio.connect(srv.url, error_cb=errors.append) as nc:
        await nc.subscribe("ms.a")
        await nc.subscribe("ms.b")
        await nc.flush()
        await until(lambda: errors)
        assert isinstance(errors[0], MaxSubscriptionsExceededError)
        assert nc.is_connected


async def test_user_and_password_as_callables(nats_server_factory: NatsServerFactory) -> None:
    srv = nats_server_factory(config=f'authorization {{ user: "bob", password: "{PASSWORD}" }}\n')
    async with nats_anyio.connect(srv.url, user=lambda: "bob", password=lambda: PASSWORD) as nc:
        await nc.flush()


async def test_flusher_timeout_option_validated() -> None:
    with pytest.raises(nats_anyio.ConfigError):
        async with nats_anyio.connect("nats://127.0.0.1:1", flusher_timeout=-1):
            pass
    assert issubclass(NatsTimeoutError, TimeoutError)
