"""nats_anyio over ws:// and wss:// (asyncio and Trio) against nats-server's
websocket listener, and over the in-memory transport."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

import nats_anyio
from nats_anyio import ConnectError, MemoryServer
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from security_helpers import TOKEN, Certs, make_certs, websocket_block

pytest.importorskip("wsproto")
pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    pytest.importorskip("trustme")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def ws_server() -> Iterator[tuple[NatsServer, str]]:
    port = free_port()
    with NatsServer(config=websocket_block(port)) as server:
        yield server, f"ws://127.0.0.1:{port}"


async def test_pub_sub_request_over_ws(ws_server: tuple[NatsServer, str]) -> None:
    _, url = ws_server
    async with nats_anyio.connect(url) as nc:
        assert nc.connected_url == url
        sub = await nc.subscribe("ws.>")
        await nc.publish("ws.a", b"hello", headers={"K": "v"})
        msg = await sub.next_msg(timeout=2)
        assert (msg.subject, msg.data, msg.headers["K"]) == ("ws.a", b"hello", "v")
        big = bytes(range(256)) * 2048  # 512 KiB: many frames and reads
        await nc.publish("ws.big", big)
        assert (await sub.next_msg(timeout=5)).data == big

        async def echo(m: nats_anyio.Msg) -> None:
            await m.respond(m.data.upper())

        await nc.subscribe("svc.echo", cb=echo)
        assert (await nc.request("svc.echo", b"over ws", timeout=2)).data == b"OVER WS"


async def test_ws_url_with_a_path(ws_server: tuple[NatsServer, str]) -> None:
    _, url = ws_server
    async with nats_anyio.connect(url + "/nats/ws?tenant=a") as nc:
        assert nc.connected_url == url + "/nats/ws?tenant=a"
        assert await nc.rtt() > 0


async def test_ws_and_tcp_clients_talk(nats_server_factory: NatsServerFactory) -> None:
    port = free_port()
    config = websocket_block(port) + f'authorization {{ token: "{TOKEN}" }}\n'
    server = nats_server_factory(config=config)
    async with (
        nats_anyio.connect(f"ws://127.0.0.1:{port}", token=TOKEN) as ws_nc,
        nats_anyio.connect(server.url, token=TOKEN) as tcp_nc,
    ):
        from_tcp = await ws_nc.subscribe("to.ws")
        from_ws = await tcp_nc.subscribe("to.tcp")
        await ws_nc.flush(timeout=2)
        await tcp_nc.flush(timeout=2)
        await tcp_nc.publish("to.ws", b"from tcp")
        await ws_nc.publish("to.tcp", b"from ws")
        assert (await from_tcp.next_msg(timeout=2)).data == b"from tcp"
        assert (await from_ws.next_msg(timeout=2)).data == b"from ws"


async def test_wss(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    port = free_port()
    nats_server_factory(config=websocket_block(port, certs))
    async with nats_anyio.connect(f"wss://127.0.0.1:{port}", tls_ca_file=certs.ca) as nc:
        sub = await nc.subscribe("secure.ws")
        await nc.publish("secure.ws", b"over wss")
        assert (await sub.next_msg(timeout=2)).data == b"over wss"
    with pytest.raises(ConnectError, match="certificate verify failed"):
        async with nats_anyio.connect(f"wss://127.0.0.1:{port}", tls_ca_file=certs.wrong_ca):
            pass


async def test_ws_url_on_a_nats_port_fails_clearly(ws_server: tuple[NatsServer, str]) -> None:
    server, _ = ws_server
    with pytest.raises(ConnectError, match=r"WebSocket handshake.*a NATS port"):
        async with nats_anyio.connect(server.url.replace("nats://", "ws://")):
            pass


async def test_ws_reconnects_after_a_server_restart(
    nats_server_factory: NatsServerFactory,
) -> None:
    port = free_port()
    server = nats_server_factory(config=websocket_block(port))
    reconnected = anyio.Event()
    async with nats_anyio.connect(
        f"ws://127.0.0.1:{port}", reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    ) as nc:
        sub = await nc.subscribe("again")
        server.restart()
        with anyio.fail_after(5):
            await reconnected.wait()
        await nc.publish("again", b"after restart")
        assert (await sub.next_msg(timeout=2)).data == b"after restart"


async def test_websocket_over_a_custom_transport() -> None:
    # The WebSocket transport runs over whatever the transport factory dials:
    # here the in-memory one, with a scripted server answering the upgrade.
    wsproto = pytest.importorskip("wsproto")
    from wsproto.events import AcceptConnection, BytesMessage, Request

    mem = MemoryServer()

    async def serve() -> None:
        conn = await mem.accept()
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        got = b""
        while True:
            ws.receive_data(await conn.receive())
            for ev in ws.events():
                if isinstance(ev, Request):
                    info = MemoryServer.info_line()
                    await conn.send(ws.send(AcceptConnection()) + ws.send(BytesMessage(data=info)))
                elif isinstance(ev, BytesMessage):
                    got += bytes(ev.data)
            if b"PING\r\n" in got:
                assert got.startswith(b"CONNECT ")
                await conn.send(ws.send(BytesMessage(data=b"PONG\r\n")))
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        async with nats_anyio.connect(
            "ws://memory:8080", transport_factory=mem.connect, connect_timeout=2
        ) as nc:
            assert nc.is_connected
            assert nc.connected_url == "ws://memory:8080"
