"""The ``pynats`` command against a real server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pynats.cli import main
from pynats.server import NatsServer


def test_demo_against_a_given_server(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "demo",
            "--server",
            nats_server.url,
            "--messages",
            "500",
            "--requests",
            "20",
            "--jobs",
            "30",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "got demo.orders.new: order 1" in out
    assert "30 jobs handled" in out
    assert "reply: echo: hello" in out
    assert "no responders" in out
    assert out.rstrip().endswith("done")


def test_demo_starts_its_own_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--messages", "100", "--requests", "5", "--jobs", "5"]) == 0
    assert "started an embedded nats-server" in capsys.readouterr().out


def test_pub_sub_request_reply(nats_server: NatsServer) -> None:
    url = nats_server.url
    cmd = [sys.executable, "-m", "pynats.cli"]
    sub = subprocess.Popen(
        [*cmd, "sub", "--server", url, "greet.*", "--count", "2"], stdout=subprocess.PIPE, text=True
    )
    rep = subprocess.Popen(
        [*cmd, "reply", "--server", url, "svc", "pong", "--count", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sub.stdout is not None and rep.stdout is not None
        assert "listening on greet.*" in sub.stdout.readline()
        assert "answering requests on svc" in rep.stdout.readline()
        assert (
            main(["pub", "--server", url, "greet.joe", "hi {i}", "--count", "2", "--header", "K=V"])
            == 0
        )
        out, _ = sub.communicate(timeout=10)
        assert "greet.joe: hi 1" in out and "greet.joe: hi 2" in out
        assert "K: V" in out
        rc = main(["request", "--server", url, "svc", "ping", "--timeout", "2"])
        assert rc == 0
        rep.communicate(timeout=10)
        assert rep.returncode == 0
    finally:
        for p in (sub, rep):
            if p.poll() is None:
                p.kill()


def test_request_without_responder_fails(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["request", "--server", nats_server.url, "nobody", "x"]) == 1
    assert "no responders" in capsys.readouterr().err


def test_bench_tiny(nats_server: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "bench",
            "--server",
            nats_server.url,
            "--n",
            "300",
            "--r",
            "10",
            "--sizes",
            "16",
            "--clients",
            "sync,asyncio,trio",
            "--parser",
            "--parser-count",
            "300",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    for workload in ("pub", "pubsub", "reqrep"):
        line = next(ln for ln in out.splitlines() if ln.startswith(workload + " "))
        figures = line.split()[2:5]
        assert all(float(f.replace(",", "")) > 0 for f in figures), line
    assert "parser MSG" in out and "parser HMSG" in out
