"""nats_sync over ws:// and wss:// against nats-server's websocket listener."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

import nats_sync
from nats_core.errors import NatsError
from nats_sync import ConnectError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from security_helpers import TOKEN, Certs, make_certs, websocket_block

pytest.importorskip("wsproto")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    pytest.importorskip("trustme")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def ws_server() -> Iterator[tuple[NatsServer, str]]:
    port = free_port()
    with NatsServer(config=websocket_block(port)) as server:
        yield server, f"ws://127.0.0.1:{port}"


def test_pub_sub_request_over_ws(ws_server: tuple[NatsServer, str]) -> None:
    _, url = ws_server
    with nats_sync.connect(url) as nc:
        assert nc.connected_url == url
        sub = nc.subscribe("ws.>")
        nc.publish("ws.a", b"hello", headers={"K": "v"})
        msg = sub.next_msg(timeout=2)
        assert (msg.subject, msg.data, msg.headers["K"]) == ("ws.a", b"hello", "v")
        big = bytes(range(256)) * 2048  # 512 KiB: many frames and reads
        nc.publish("ws.big", big)
        assert sub.next_msg(timeout=5).data == big
        nc.subscribe("svc.echo", cb=lambda m: m.respond(m.data.upper()))
        assert nc.request("svc.echo", b"over ws", timeout=2).data == b"OVER WS"


def test_ws_url_path_reaches_the_server(ws_server: tuple[NatsServer, str]) -> None:
    # What the client asks for: a listener that records the request line.
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    lines: list[bytes] = []

    def accept_one() -> None:
        conn, _ = lsock.accept()
        with conn:
            lines.append(conn.recv(4096).split(b"\r\n")[0])

    t = threading.Thread(target=accept_one)
    t.start()
    with pytest.raises((ConnectError, NatsError)):
        nats_sync.connect(f"ws://127.0.0.1:{port}/nats/ws?tenant=a", connect_timeout=2)
    t.join(5)
    lsock.close()
    assert lines == [b"GET /nats/ws?tenant=a HTTP/1.1"]
    # nats-server's websocket listener takes any path
    _, url = ws_server
    with nats_sync.connect(url + "/nats/ws") as nc:
        assert nc.connected_url == url + "/nats/ws"
        assert nc.rtt() > 0


def test_ws_and_tcp_clients_talk(nats_server_factory: NatsServerFactory) -> None:
    port = free_port()
    config = websocket_block(port) + f'authorization {{ token: "{TOKEN}" }}\n'
    server = nats_server_factory(config=config)
    with (
        nats_sync.connect(f"ws://{TOKEN}@127.0.0.1:{port}") as ws_nc,
        nats_sync.connect(server.url, token=TOKEN) as tcp_nc,
    ):
        assert TOKEN not in repr(ws_nc) + repr(ws_nc.servers)
        from_tcp = ws_nc.subscribe("to.ws")
        from_ws = tcp_nc.subscribe("to.tcp")
        ws_nc.flush(timeout=2)
        tcp_nc.flush(timeout=2)
        tcp_nc.publish("to.ws", b"from tcp")
        ws_nc.publish("to.tcp", b"from ws")
        assert from_tcp.next_msg(timeout=2).data == b"from tcp"
        assert from_ws.next_msg(timeout=2).data == b"from ws"
        tcp_nc.subscribe("tcp.svc", cb=lambda m: m.respond(b"tcp answers"))
        tcp_nc.flush(timeout=2)
        assert ws_nc.request("tcp.svc", b"?", timeout=2).data == b"tcp answers"


def test_wss(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    port = free_port()
    nats_server_factory(config=websocket_block(port, certs))
    with nats_sync.connect(f"wss://127.0.0.1:{port}", tls_ca_file=certs.ca) as nc:
        sub = nc.subscribe("secure.ws")
        nc.publish("secure.ws", b"over wss")
        assert sub.next_msg(timeout=2).data == b"over wss"
        nc.subscribe("svc", cb=lambda m: m.respond(b"ok"))
        assert nc.request("svc", b"", timeout=2).data == b"ok"
    # A TLS option makes a ws:// URL use TLS too (as nats.go does).
    with nats_sync.connect(f"ws://127.0.0.1:{port}", tls_ca_file=certs.ca) as nc:
        nc.flush(timeout=2)
        assert nc.is_connected
    with pytest.raises(ConnectError, match="certificate verify failed"):
        nats_sync.connect(f"wss://127.0.0.1:{port}", tls_ca_file=certs.wrong_ca)
    with pytest.raises(ConnectError, match="certificate verify failed"):
        nats_sync.connect(f"wss://127.0.0.1:{port}")  # verification is on by default


def test_ws_url_on_a_nats_port_fails_clearly(ws_server: tuple[NatsServer, str]) -> None:
    server, _ = ws_server
    with pytest.raises(ConnectError, match=r"WebSocket handshake.*a NATS port"):
        nats_sync.connect(server.url.replace("nats://", "ws://"))


def test_ws_reconnects_after_a_server_restart(nats_server_factory: NatsServerFactory) -> None:
    port = free_port()
    server = nats_server_factory(config=websocket_block(port))
    reconnected = threading.Event()
    with nats_sync.connect(
        f"ws://127.0.0.1:{port}", reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    ) as nc:
        sub = nc.subscribe("again")
        server.restart()
        assert reconnected.wait(5)
        nc.publish("again", b"after restart")
        assert sub.next_msg(timeout=2).data == b"after restart"
        assert nc.connected_url == f"ws://127.0.0.1:{port}"
