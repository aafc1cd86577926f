"""WebSocket compression (permessage-deflate, nats.go's ``Compression(true)``):
the framer in memory against a wsproto server, and both clients against
nats-server's websocket listener with ``compression: true``, the bytes on the
wire counted by a proxy in between."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import nats_anyio
import nats_sync
from fault_proxy import FaultProxy
from nats_core._websocket import WebSocketFramer
from pynats.server import NatsServer, free_port

wsproto = pytest.importorskip("wsproto")
from wsproto import ConnectionType, WSConnection  # noqa: E402
from wsproto.events import AcceptConnection, BytesMessage, Request  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402

#: Text that deflate shrinks many times over.
PAYLOAD = b"the quick brown fox jumps over the lazy dog; " * 2000  # 90 KB


def compressing_block(port: int, compression: bool = True) -> str:
    """A plain websocket listener on ``port``, compressing when the client asks."""
    flag = "true" if compression else "false"
    return f"websocket {{\n  port: {port}\n  no_tls: true\n  compression: {flag}\n}}\n"


@pytest.fixture(scope="module")
def ws_port() -> Iterator[int]:
    port = free_port()
    with NatsServer(config=compressing_block(port)):
        yield port


@pytest.fixture
def proxy(ws_port: int) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", ws_port), scheme="ws") as p:
        yield p


# ------------------------------------------------------------- the framer


def _pair(offer: bool, accept: bool) -> tuple[WebSocketFramer, WSConnection]:
    client = WebSocketFramer("127.0.0.1", 8080, secure=False, compression=offer)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.handshake())
    req = next(server.events())
    assert isinstance(req, Request)
    offered = [e for e in req.extensions if "permessage-deflate" in str(e)]
    assert bool(offered) == offer
    if offered:
        assert "client_no_context_takeover" in str(offered[0])
        assert "server_no_context_takeover" in str(offered[0])
    exts = [PerMessageDeflate()] if accept else []
    assert client.receive_data(server.send(AcceptConnection(extensions=exts))) == b""
    return client, server


def test_framer_offers_and_uses_permessage_deflate() -> None:
    client, server = _pair(offer=True, accept=True)
    assert client.compressed
    frame = client.send(PAYLOAD)
    assert len(frame) < len(PAYLOAD) // 20
    server.receive_data(frame)
    got = b"".join(bytes(e.data) for e in server.events() if isinstance(e, BytesMessage))
    assert got == PAYLOAD
    # every message on its own (no context takeover): the same size again
    assert len(client.send(PAYLOAD)) == len(frame)
    down = server.send(BytesMessage(data=PAYLOAD))
    assert len(down) < len(PAYLOAD) // 20
    assert client.receive_data(down) == PAYLOAD


def test_framer_without_compression_or_when_declined() -> None:
    client, server = _pair(offer=False, accept=False)
    assert not client.compressed
    assert len(client.send(PAYLOAD)) > len(PAYLOAD)
    client, server = _pair(offer=True, accept=False)  # the server declines: plain frames
    assert not client.compressed
    frame = client.send(PAYLOAD)
    assert len(frame) > len(PAYLOAD)
    server.receive_data(frame)
    got = b"".join(bytes(e.data) for e in server.events() if isinstance(e, BytesMessage))
    assert got == PAYLOAD


# --------------------------------------------------------- the blocking client


def _sync_round_trip(url: str, compression: bool) -> None:
    with nats_sync.connect(url, compression=compression) as nc:
        assert nc._transport is not None
        assert getattr(nc._transport, "compressed", None) is compression
        sub = nc.subscribe("z.>")
        for i in range(3):
            nc.publish(f"z.{i}", PAYLOAD, headers={"K": "v"})
        for i in range(3):
            msg = sub.next_msg(timeout=5)
            assert (msg.subject, msg.data, msg.headers["K"]) == (f"z.{i}", PAYLOAD, "v")
        nc.subscribe("svc", cb=lambda m: m.respond(m.data[::-1]))
        assert nc.request("svc", PAYLOAD, timeout=5).data == PAYLOAD[::-1]


def test_sync_compression_round_trip_and_fewer_bytes(ws_port: int) -> None:
    sizes = {}
    for compression in (False, True):
        with FaultProxy(("127.0.0.1", ws_port), scheme="ws") as p:
            _sync_round_trip(p.url, compression)
            sizes[compression] = (p.bytes_up, p.bytes_down)
    (plain_up, plain_down), (z_up, z_down) = sizes[False], sizes[True]
    assert plain_up > 4 * len(PAYLOAD) and plain_down > 4 * len(PAYLOAD)
    assert z_up * 10 < plain_up and z_down * 10 < plain_down, sizes


def test_sync_compression_declined_by_the_server() -> None:
    port = free_port()
    with NatsServer(config=compressing_block(port, compression=False)):
        _sync_round_trip(f"ws://127.0.0.1:{port}", compression=False)
        with nats_sync.connect(f"ws://127.0.0.1:{port}", compression=True) as nc:
            assert getattr(nc._transport, "compressed", None) is False
            sub = nc.subscribe("d")
            nc.publish("d", PAYLOAD)
            assert sub.next_msg(timeout=5).data == PAYLOAD


def test_sync_compression_survives_a_reconnect(proxy: FaultProxy) -> None:
    with nats_sync.connect(proxy.url, compression=True, reconnect_time_wait=0.05) as nc:
        sub = nc.subscribe("r")
        nc.flush()
        proxy.drop_all()
        assert proxy.wait_accepted(2)
        nc.flush(timeout=5)
        assert getattr(nc._transport, "compressed", None) is True
        nc.publish("r", PAYLOAD)
        assert sub.next_msg(timeout=5).data == PAYLOAD


# ------------------------------------------------------------ the async client


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _async_round_trip(url: str, compression: bool) -> None:
    async with nats_anyio.connect(url, compression=compression) as nc:
        assert getattr(nc._transport, "compressed", None) is compression
        sub = await nc.subscribe("z.>")
        for i in range(3):
            await nc.publish(f"z.{i}", PAYLOAD, headers={"K": "v"})
        for i in range(3):
            msg = await sub.next_msg(timeout=5)
            assert (msg.subject, msg.data, msg.headers["K"]) == (f"z.{i}", PAYLOAD, "v")

        async def reverse(m: nats_anyio.Msg) -> None:
            await m.respond(m.data[::-1])

        await nc.subscribe("svc", cb=reverse)
        assert (await nc.request("svc", PAYLOAD, timeout=5)).data == PAYLOAD[::-1]


@pytest.mark.anyio
async def test_anyio_compression_round_trip_and_fewer_bytes(ws_port: int) -> None:
    sizes = {}
    for compression in (False, True):
        with FaultProxy(("127.0.0.1", ws_port), scheme="ws") as p:
            await _async_round_trip(p.url, compression)
            sizes[compression] = (p.bytes_up, p.bytes_down)
    (plain_up, plain_down), (z_up, z_down) = sizes[False], sizes[True]
    assert plain_up > 4 * len(PAYLOAD) and plain_down > 4 * len(PAYLOAD)
    assert z_up * 10 < plain_up and z_down * 10 < plain_down, sizes


@pytest.mark.anyio
async def test_anyio_compression_declined_by_the_server() -> None:
    port = free_port()
    with NatsServer(config=compressing_block(port, compression=False)):
        async with nats_anyio.connect(f"ws://127.0.0.1:{port}", compression=True) as nc:
            assert getattr(nc._transport, "compressed", None) is False
            sub = await nc.subscribe("d")
            await nc.publish("d", PAYLOAD)
            assert (await sub.next_msg(timeout=5)).data == PAYLOAD
