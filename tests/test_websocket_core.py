"""The sans-IO WebSocket framer against a wsproto server, all in memory."""

from __future__ import annotations

import pytest

from nats_core import ServerPool, parse_url
from nats_core._websocket import WebSocketFramer
from nats_core.errors import LocalProtocolError, RemoteProtocolError

wsproto = pytest.importorskip("wsproto")
from wsproto import ConnectionType, WSConnection  # noqa: E402
from wsproto.events import (  # noqa: E402
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
)


def server_side() -> WSConnection:
    return WSConnection(ConnectionType.SERVER)


def open_pair(host: str = "127.0.0.1", port: int = 8080) -> tuple[WebSocketFramer, WSConnection]:
    client = WebSocketFramer(host, port, secure=False)
    server = server_side()
    server.receive_data(client.handshake())
    req = next(server.events())
    assert isinstance(req, Request)
    answer = server.send(AcceptConnection())
    assert client.receive_data(answer) == b""
    assert client.accepted
    return client, server


def server_receives(server: WSConnection, data: bytes) -> bytes:
    server.receive_data(data)
    return b"".join(bytes(e.data) for e in server.events() if isinstance(e, BytesMessage))


def test_handshake_request_names_host_and_port() -> None:
    server = server_side()
    server.receive_data(WebSocketFramer("127.0.0.1", 8080, secure=False).handshake())
    req = next(server.events())
    assert isinstance(req, Request)
    assert (req.host, req.target) == ("127.0.0.1:8080", "/")
    # Default ports are left out of Host, IPv6 hosts are bracketed.
    assert WebSocketFramer("example.org", 443, secure=True).host == "example.org"
    assert WebSocketFramer("example.org", 80, secure=False).host == "example.org"
    assert WebSocketFramer("::1", 8443, secure=True).host == "[::1]:8443"


def test_nats_bytes_round_trip_both_ways() -> None:
    client, server = open_pair()
    nats = b'CONNECT {"verbose":false}\r\nPING\r\n'
    assert server_receives(server, client.send(nats)) == nats
    info = b'INFO {"server_id":"x"}\r\nPONG\r\n'
    assert client.receive_data(server.send(BytesMessage(data=info))) == info


def test_bytes_split_anywhere_and_fragmented_messages() -> None:
    client, server = open_pair()
    wire = server.send(BytesMessage(data=b"MSG a 1 2\r\n", message_finished=False))
    wire += server.send(BytesMessage(data=b"hi\r\n", message_finished=True))
    wire += server.send(BytesMessage(data=b"PING\r\n"))
    got = b"".join(client.receive_data(wire[i : i + 1]) for i in range(len(wire)))
    assert got == b"MSG a 1 2\r\nhi\r\nPING\r\n"


def test_bytes_right_after_the_upgrade_are_kept() -> None:
    client = WebSocketFramer("h", 1, secure=False)
    server = server_side()
    server.receive_data(client.handshake())
    list(server.events())
    wire = server.send(AcceptConnection()) + server.send(BytesMessage(data=b"INFO {}\r\n"))
    assert client.receive_data(wire) == b"INFO {}\r\n"
    assert client.accepted


def test_ping_is_answered_with_pong() -> None:
    client, server = open_pair()
    assert client.receive_data(server.send(Ping(payload=b"p1"))) == b""
    server.receive_data(client.data_to_send())
    events = list(server.events())
    assert len(events) == 1 and isinstance(events[0], Pong) and events[0].payload == b"p1"
    assert client.data_to_send() == b""


def test_server_close_is_answered_and_ends_the_stream() -> None:
    client, server = open_pair()
    wire = server.send(BytesMessage(data=b"last\r\n")) + server.send(
        CloseConnection(code=1001, reason="going away")
    )
    assert client.receive_data(wire) == b"last\r\n"
    assert client.closed
    assert (client.close_code, client.close_reason) == (1001, "going away")
    server.receive_data(client.data_to_send())
    assert any(isinstance(e, CloseConnection) for e in server.events())
    assert client.receive_data(b"more") == b""
    with pytest.raises(LocalProtocolError, match="not open"):
        client.send(b"PING\r\n")


def test_client_close_frame() -> None:
    client, server = open_pair()
    server.receive_data(client.close())
    assert any(isinstance(e, CloseConnection) for e in server.events())
    assert client.close() == b""  # only once


def test_rejected_upgrade_is_a_remote_protocol_error() -> None:
    client = WebSocketFramer("h", 1, secure=False)
    server = server_side()
    server.receive_data(client.handshake())
    list(server.events())
    with pytest.raises(RemoteProtocolError, match=r"refused the WebSocket upgrade.*403"):
        client.receive_data(server.send(RejectConnection(status_code=403)))


def test_a_nats_port_is_not_a_websocket() -> None:
    client = WebSocketFramer("h", 4222, secure=False)
    client.handshake()
    with pytest.raises(RemoteProtocolError, match="a NATS port, not a websocket one"):
        client.receive_data(b'INFO {"server_id":"x"}\r\n')


def test_end_of_stream_during_the_upgrade() -> None:
    client = WebSocketFramer("h", 1, secure=False)
    client.handshake()
    with pytest.raises(RemoteProtocolError, match="during the upgrade"):
        client.receive_data(b"")


def test_send_before_the_upgrade_is_refused() -> None:
    client = WebSocketFramer("h", 1, secure=False)
    with pytest.raises(LocalProtocolError):
        client.send(b"PING\r\n")


def test_websocket_url_path_is_the_upgrade_target() -> None:
    s = parse_url("ws://127.0.0.1:8080/nats/ws?tenant=a")
    assert s.path == "/nats/ws?tenant=a"
    assert s.url == "ws://127.0.0.1:8080/nats/ws?tenant=a"
    assert parse_url("ws://127.0.0.1:8080/").path == ""  # "/" is the default
    assert parse_url("nats://127.0.0.1:4222/ignored").path == ""  # only for WebSocket
    server = server_side()
    server.receive_data(WebSocketFramer(s.host, s.port, secure=False, path=s.path).handshake())
    req = next(server.events())
    assert isinstance(req, Request) and req.target == "/nats/ws?tenant=a"


def test_websocket_urls_and_discovered_servers() -> None:
    ws, wss = parse_url("ws://127.0.0.1:8080"), parse_url("wss://example.org")
    assert (ws.websocket, ws.tls, ws.port) == (True, False, 8080)
    assert (wss.websocket, wss.tls, wss.port) == (True, True, 443)
    pool = ServerPool(["ws://127.0.0.1:8080"], randomize=False)
    added, _ = pool.update_discovered(["10.0.0.2:8080"], tls=False, websocket=True)
    assert added == ["10.0.0.2:8080"]
    assert [s.url for s in pool.servers] == ["ws://127.0.0.1:8080", "ws://10.0.0.2:8080"]
    pool = ServerPool(["wss://a:443"], randomize=False)
    pool.update_discovered(["b:443"], tls=True, websocket=True)
    assert pool.servers[-1].url == "wss://b:443"
