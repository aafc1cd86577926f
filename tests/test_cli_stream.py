"""``pynats stream`` and ``pynats consumer`` end to end against an embedded
JetStream server, in process: output, ``--json`` keys, exit codes, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nats_sync
from pynats.cli import main
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def srv() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _env(srv: NatsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NATS_URL", srv.url)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


Run = tuple[int, str, str]


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """``pynats ARGS`` in process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def publish(srv: NatsServer, subject: str, *bodies: bytes) -> None:
    with nats_sync.connect(srv.url) as nc:
        js = nc.jetstream()
        for body in bodies:
            js.publish(subject, body)


def test_stream_lifecycle(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "stream", "add", "S1", "--subjects", "s1.*,s1x", "--max-age", "1h")
    assert rc == 0 and "stream S1 created" in out and "s1.*, s1x" in out
    publish(srv, "s1.a", b"one", b"two", b"three")
    rc, out, _ = pynats(capsys, "stream", "ls")
    assert rc == 0 and "S1" in out.split("\n", 1)[1]
    rc, out, _ = pynats(capsys, "stream", "ls", "--json")
    row = next(r for r in json.loads(out) if r["name"] == "S1")
    assert set(row) == {"name", "subjects", "messages", "bytes", "consumers", "created", "last_ts"}
    assert row["messages"] == 3 and row["subjects"] == ["s1.*", "s1x"]
    rc, out, _ = pynats(capsys, "stream", "ls", "--names")
    assert "S1" in out.split()
    rc, out, _ = pynats(capsys, "stream", "info", "S1")
    assert rc == 0 and "Max age" in out and "1h" in out and "Messages" in out
    rc, out, _ = pynats(capsys, "stream", "info", "S1", "--json")
    info = json.loads(out)
    assert info["config"]["name"] == "S1" and info["state"]["messages"] == 3
    assert info["config"]["max_age"] == 3600 * 10**9  # the server's JSON: nanoseconds
    rc, out, _ = pynats(capsys, "stream", "edit", "S1", "--description", "edited", "--json")
    assert rc == 0 and json.loads(out)["config"]["description"] == "edited"
    assert json.loads(out)["config"]["max_age"] == 3600 * 10**9  # the rest stays
    rc, out, _ = pynats(capsys, "stream", "get", "S1", "2")
    assert rc == 0 and "[2] Subject: s1.a" in out and "two" in out
    rc, out, _ = pynats(capsys, "stream", "get", "S1", "--last-for", "s1.a", "--json")
    got = json.loads(out)
    assert got["seq"] == 3 and got["data"] == "three" and got["stream"] == "S1"
    assert set(got) == {"stream", "subject", "seq", "time", "headers", "data"}
    rc, out, _ = pynats(capsys, "stream", "get", "S1", "2", "--raw")
    assert out == "two\n"
    rc, out, err = pynats(capsys, "stream", "purge", "S1", "--keep", "1")
    assert rc == 1 and "--force" in err  # no terminal to ask on
    rc, out, _ = pynats(capsys, "stream", "purge", "S1", "--keep", "1", "-f", "--json")
    assert rc == 0 and json.loads(out) == {"purged": 2, "stream": "S1"}
    rc, out, _ = pynats(capsys, "stream", "rm", "S1", "-f")
    assert rc == 0 and "stream S1 deleted" in out
    rc, _, err = pynats(capsys, "stream", "info", "S1")
    assert rc == 1 and err == "pynats: stream S1 not found\n"


def test_stream_view_pages(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "stream", "add", "V", "--subjects", "v.>", "--storage", "memory")[0] == 0
    publish(srv, "v.x", *[f"m{i}".encode() for i in range(1, 6)])
    publish(srv, "v.y", b"other")
    rc, out, err = pynats(capsys, "stream", "view", "V", "-n", "2")
    assert rc == 0 and "[1] Subject: v.x" in out and "[2]" in out and "[3]" not in out
    assert "4 more message(s): --seq 3" in err
    rc, out, err = pynats(capsys, "stream", "view", "V", "--seq", "4", "--raw", "--all")
    assert rc == 0 and out == "m4\nm5\nother\n"
    rc, out, _ = pynats(capsys, "stream", "view", "V", "--subject", "v.y", "--json")
    (msg,) = json.loads(out)
    assert msg["subject"] == "v.y" and msg["seq"] == 6 and msg["data"] == "other"
    rc, out, _ = pynats(capsys, "stream", "view", "V", "--since", "1h", "--raw", "-n", "1")
    assert out == "m1\n"
    rc, out, _ = pynats(capsys, "consumer", "ls", "V", "--json")
    assert json.loads(out) == []  # view leaves no consumer behind


def test_stream_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert pynats(capsys, "stream", "add", "a.b")[0] == 2
    assert pynats(capsys, "stream", "add", "X", "--max-bytes", "lots")[0] == 2
    assert pynats(capsys, "stream", "add", "X", "--storage", "tape")[0] == 2
    assert pynats(capsys, "stream", "get", "NOPE")[0] == 2  # neither seq nor --last-for
    assert pynats(capsys, "stream", "view", "NOPE", "--seq", "1", "--since", "1m")[0] == 2
    assert pynats(capsys, "stream", "purge", "NOPE", "--seq", "2", "--keep", "1")[0] == 2
    rc, _, err = pynats(capsys, "stream", "get", "NOPE", "1")
    assert rc == 1 and err == "pynats: stream NOPE not found\n"
    assert pynats(capsys, "stream", "edit", "NOPE", "--max-msgs", "1")[0] == 1
    cfg = tmp_path / "bad.json"
    cfg.write_text("[1]")
    assert pynats(capsys, "stream", "add", "X", "--config", str(cfg))[0] == 2


def test_stream_add_from_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps({"name": "ignored", "subjects": ["cfg.>"], "max_msgs": 7}))
    rc, out, _ = pynats(capsys, "stream", "add", "CFG", "--config", str(cfg), "--json")
    got = json.loads(out)["config"]
    assert rc == 0 and got["name"] == "CFG" and got["max_msgs"] == 7
    assert got["subjects"] == ["cfg.>"]
    assert pynats(capsys, "stream", "rm", "CFG", "-f")[0] == 0


def test_consumer_lifecycle(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "stream", "add", "C", "--subjects", "c.>")[0] == 0
    publish(srv, "c.a", b"first", b"second", b"third")
    rc, out, _ = pynats(capsys, "consumer", "add", "C", "work", "--filter", "c.a")
    assert rc == 0 and "consumer work created on stream C" in out and "c.a" in out
    rc, out, _ = pynats(capsys, "consumer", "ls", "C")
    assert rc == 0 and "work" in out
    rc, out, _ = pynats(capsys, "consumer", "ls", "C", "--json")
    (row,) = json.loads(out)
    assert row["name"] == "work" and row["pending"] == 3 and row["durable"] is True
    assert set(row) == {
        "stream",
        "name",
        "durable",
        "pending",
        "ack_pending",
        "redelivered",
        "delivered_stream_seq",
        "last_active",
        "paused",
    }
    rc, out, err = pynats(capsys, "consumer", "next", "C", "work", "-n", "2")
    assert rc == 0 and "first" in out and "second" in out and "acknowledged message 2" in err
    rc, out, _ = pynats(capsys, "consumer", "info", "C", "work", "--json")
    info = json.loads(out)
    assert info["num_pending"] == 1 and info["ack_floor"]["stream_seq"] == 2
    rc, out, _ = pynats(capsys, "consumer", "info", "C", "work")
    assert "Ack floor" in out and "Pending" in out
    rc, out, _ = pynats(capsys, "consumer", "pause", "C", "work", "--for", "1h", "--json")
    assert rc == 0 and json.loads(out)["paused"] is True
    rc, out, _ = pynats(capsys, "consumer", "info", "C", "work")
    assert "until" in out
    rc, out, _ = pynats(capsys, "consumer", "resume", "C", "work")
    assert rc == 0 and "consumer work resumed" in out
    rc, out, _ = pynats(capsys, "consumer", "next", "C", "work", "--raw", "--no-ack")
    assert out == "third\n"
    rc, _, err = pynats(capsys, "consumer", "next", "C", "work", "--wait", "200ms")
    assert rc == 1 and "no message" in err  # "third" awaits its ack wait (30 s)
    rc, _, err = pynats(capsys, "consumer", "rm", "C", "work")
    assert rc == 1 and "--force" in err
    rc, out, _ = pynats(capsys, "consumer", "rm", "C", "work", "-f")
    assert rc == 0 and "deleted" in out
    rc, _, err = pynats(capsys, "consumer", "info", "C", "work")
    assert rc == 1 and err == "pynats: consumer work not found on stream C\n"
    assert pynats(capsys, "stream", "rm", "C", "-f")[0] == 0


def test_consumer_next_none_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "stream", "add", "E", "--subjects", "e.>")[0] == 0
    assert pynats(capsys, "consumer", "add", "E", "d", "--ack", "none")[0] == 0
    rc, _, err = pynats(capsys, "consumer", "next", "E", "d", "--wait", "200ms")
    assert rc == 1 and err.startswith("pynats: no message from consumer d within 200ms")
    assert pynats(capsys, "consumer", "add", "E", "x", "--ack", "maybe")[0] == 2
    assert pynats(capsys, "consumer", "add", "E", "x.y")[0] == 2
    assert pynats(capsys, "consumer", "add", "E", "x", "--start-seq", "1", "--since", "1m")[0] == 2
    assert pynats(capsys, "consumer", "pause", "E", "d")[0] == 2  # --for is required
    assert pynats(capsys, "consumer", "ls", "NOPE")[0] == 1
    assert pynats(capsys, "stream", "rm", "E", "-f")[0] == 0
