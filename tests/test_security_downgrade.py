"""No TLS downgrade through discovery: once the client uses TLS, a server that
advertises a plain ``nats://`` URL never receives a CONNECT (nor the password)
in clear, on any backend.

Two fake servers on loopback: a TLS one that lets the client in once, advertises
a plain server in ``connect_urls`` and hangs up; and that plain one, which
records every byte it is sent (and would let a client in, as a downgrading
attacker would).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from security_helpers import PASSWORD, Certs, make_certs, wait_for

pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _info(**fields: Any) -> bytes:
    base = {"server_id": "FAKE", "version": "2.14.0", "proto": 1, "max_payload": 1 << 20}
    base["headers"] = True
    return b"INFO " + json.dumps({**base, **fields}).encode() + b"\r\n"


def _read_until(sock: socket.socket | ssl.SSLSocket, marker: bytes) -> bytes:
    got = b""
    while marker not in got:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _stop_listening(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept()
    except OSError:
        pass
    sock.close()


class PlainRecorder:
    """A plain-text 'server' that records everything clients send it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.accepted = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.sendall(_info(server_id="PLAIN"))
                    data = _read_until(conn, b"PING\r\n")
                    self.received += data
                    if b"CONNECT" in data:
                        conn.sendall(b"PONG\r\n")  # the downgrade would succeed here
                        self.received += _read_until(conn, b"never")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        _stop_listening(self.sock)
        self._thread.join(5)


class TLSOnce:
    """A TLS 'server' that accepts one client, advertises ``advertised`` and hangs up."""

    def __init__(self, certs: Certs, advertised: str) -> None:
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(certs.server_cert, certs.server_key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.advertised = advertised
        self.connect_seen = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.sock.close()  # later dials are refused: the client must look elsewhere
        with conn:
            conn.settimeout(5)
            try:
                conn.sendall(_info(tls_required=True, connect_urls=[self.advertised]))
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    if b"CONNECT" in _read_until(tls, b"PING\r\n"):
                        self.connect_seen.set()
                    tls.sendall(b"PONG\r\n")
                    # a moment for the client to take the INFO in, then hang up
                    tls.settimeout(0.3)
                    try:
                        tls.recv(65536)
                    except OSError:
                        pass
            except OSError:
                pass

    def close(self) -> None:
        _stop_listening(self.sock)
        self._thread.join(5)


@pytest.fixture(params=["nats://{}", "{}"], ids=["nats-scheme", "no-scheme"])
def servers(
    request: pytest.FixtureRequest, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TLSOnce, PlainRecorder]]:
    # The client is given no TLS option: its default context trusts the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", certs.ca)
    plain = PlainRecorder()
    tls = TLSOnce(certs, request.param.format(f"127.0.0.1:{plain.port}"))
    yield tls, plain
    tls.close()
    plain.close()


OPTS: dict[str, Any] = {
    "user": "alice",
    "password": PASSWORD,
    "reconnect_time_wait": 0.05,
    "reconnect_jitter_tls": 0.0,
    "max_reconnect_attempts": -1,
    "connect_timeout": 1.0,
}


def _check(tls: TLSOnce, plain: PlainRecorder) -> None:
    assert tls.connect_seen.is_set()
    assert plain.accepted >= 2, "the client never tried the advertised server"
    assert b"CONNECT" not in plain.received
    assert PASSWORD.encode() not in plain.received


def test_sync_client_never_downgrades(servers: tuple[TLSOnce, PlainRecorder]) -> None:
    tls, plain = servers
    with nats_sync.connect(f"tls://127.0.0.1:{tls.port}", **OPTS) as nc:
        assert wait_for(lambda: plain.accepted >= 2, timeout=10)
        assert not nc.is_connected
    _check(tls, plain)


@pytest.mark.anyio
async def test_async_client_never_downgrades(servers: tuple[TLSOnce, PlainRecorder]) -> None:
    tls, plain = servers
    async with nats_anyio.connect(f"tls://127.0.0.1:{tls.port}", **OPTS) as nc:
        with anyio.fail_after(10):
            while plain.accepted < 2:
                await anyio.sleep(0.02)
        assert not nc.is_connected
    _check(tls, plain)
