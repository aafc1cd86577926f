"""``pynats micro``, ``server ping/info/check``, ``rtt`` and ``events`` end to end
against embedded servers (one with a system account), in process where possible."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import nats_sync
from pynats.cli import main
from pynats.server import NatsServer, free_port

CMD = [sys.executable, "-m", "pynats.cli"]

SYS_CONFIG = """
accounts {
  SYS { users = [{user: sys, password: pw}] }
  APP { users = [{user: app, password: pw}], jetstream: enabled }
}
system_account: SYS
"""
APP = ["--user", "app", "--password", "pw"]
SYS = ["--user", "sys", "--password", "pw"]


@pytest.fixture(scope="module")
def srv() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True, config=SYS_CONFIG) as server:
        yield server


@pytest.fixture(autouse=True)
def _env(srv: NatsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NATS_URL", srv.url)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pynats ARGS`` in process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def service(srv: NatsServer) -> Iterator[nats_sync.Client]:
    with nats_sync.connect(srv.url, user="app", password="pw") as nc:
        svc = nats_sync.add_service(nc, "greeter", "1.2.3", description="says hi")
        svc.add_endpoint("hello", lambda req: req.respond(b"hi"))
        nc.request("hello", b"", timeout=2)
        yield nc


def test_micro(service: nats_sync.Client, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "micro", "ls", *APP)
    assert rc == 0 and "greeter" in out and "1.2.3" in out and "says hi" in out
    rc, out, _ = pynats(capsys, "micro", "ls", *APP, "--json")
    (row,) = json.loads(out)
    assert set(row) == {"name", "id", "version", "description", "endpoints"}
    assert row["endpoints"] == ["hello"]
    sid = row["id"]
    rc, out, _ = pynats(capsys, "micro", "info", "greeter", *APP)
    assert rc == 0 and f"greeter 1.2.3 ({sid}): says hi" in out and "hello" in out
    rc, out, _ = pynats(capsys, "micro", "info", "greeter", sid, *APP, "--json")
    assert json.loads(out)[0]["endpoints"][0]["subject"] == "hello"
    rc, out, _ = pynats(capsys, "micro", "stats", "greeter", *APP)
    assert rc == 0 and "hello" in out and "Requests" in out
    rc, out, _ = pynats(capsys, "micro", "stats", "greeter", *APP, "--json")
    assert json.loads(out)[0]["endpoints"][0]["num_requests"] == 1
    rc, out, err = pynats(capsys, "micro", "ping", *APP)
    assert rc == 0 and f"greeter 1.2.3 {sid}" in out and "1 answer(s)" in err
    rc, _, err = pynats(capsys, "micro", "info", "nope", *APP)
    assert rc == 1 and err == "pynats: no answer from service nope\n"
    rc, _, err = pynats(capsys, "micro", "ping", "nope", *APP)
    assert rc == 1 and err == "pynats: no service answered to nope\n"
    rc, out, _ = pynats(capsys, "micro", "ls", "nope", *APP)
    assert rc == 0 and out == "no services found named nope\n"
    assert pynats(capsys, "micro", "ls", *APP, "--stall", "soon")[0] == 2


def test_server_ping_and_info(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = pynats(capsys, "server", "ping", *SYS)
    assert rc == 0 and "1 server(s) answered" in err
    rc, out, _ = pynats(capsys, "server", "ping", *SYS, "--json")
    (row,) = json.loads(out)
    assert set(row) == {"name", "id", "host", "cluster", "version"}
    rc, out, _ = pynats(capsys, "server", "info", *SYS)
    assert rc == 0 and "Connections" in out and srv.version in out
    rc, out, _ = pynats(capsys, "server", "info", row["id"], *SYS, "--json")
    assert json.loads(out)["server_id"] == row["id"]
    rc, _, err = pynats(capsys, "server", "ping", *APP)  # not the system account
    assert rc == 1 and err.startswith("pynats: no server answered on $SYS") and err.count("\n") == 1
    rc, _, err = pynats(capsys, "server", "info", *APP)
    assert rc == 1 and "system account" in err


def test_server_check_exit_codes(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "server", "check", *APP)
    assert rc == 0 and out.startswith("OK Connection and JetStream | connect_time=")
    rc, out, _ = pynats(capsys, "server", "check", *APP, "--json")
    data = json.loads(out)
    assert data["status"] == "OK" and data["code"] == 0
    assert {"connect_time", "rtt", "memory", "storage", "streams", "url"} <= set(data)
    rc, out, _ = pynats(capsys, "server", "check", *APP, "--rtt-warn", "0")
    assert rc == 1 and out.startswith("WARNING ") and "WARNING:rtt" in out
    rc, out, _ = pynats(capsys, "server", "check", *APP, "--connect-crit", "0")
    assert rc == 2 and out.startswith("CRITICAL ")
    rc, out, _ = pynats(capsys, "server", "check", *SYS)  # no JetStream for SYS
    assert rc == 2 and "JetStream" in out
    rc, out, _ = pynats(capsys, "server", "check", *SYS, "--no-jetstream")
    assert rc == 0 and out.startswith("OK Connection |")
    url = f"nats://127.0.0.1:{free_port()}"
    rc, out, _ = pynats(capsys, "server", "check", "-s", url, "--timeout", "1")
    assert rc == 2 and out.startswith("CRITICAL Connection CRITICAL:cannot connect")
    assert pynats(capsys, "server", "check", "--mem-warn", "150")[0] == 2  # usage error


def test_rtt(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "rtt", *APP, "-n", "3")
    assert rc == 0 and "rtt avg" in out and "over 3 round trip(s)" in out
    rc, out, _ = pynats(capsys, "rtt", *APP, "--json", "-n", "2")
    data = json.loads(out)
    assert set(data) == {"url", "server", "count", "rtts", "min", "avg", "max"}
    assert len(data["rtts"]) == 2 and 0 < data["min"] <= data["max"]
    assert pynats(capsys, "rtt", "-n", "0")[0] == 2


def test_events_through_a_restart() -> None:
    with NatsServer() as server:
        p = subprocess.Popen(
            [*CMD, "events", "--json", "-s", server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert p.stdout is not None
            first = json.loads(p.stdout.readline())
            assert first["event"] == "connected" and first["url"] == server.url
            server.restart()
            seen = []
            while "reconnected" not in seen:
                seen.append(json.loads(p.stdout.readline())["event"])
            assert "disconnected" in seen
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=10)
            assert p.returncode == 130 and b"Traceback" not in err
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
