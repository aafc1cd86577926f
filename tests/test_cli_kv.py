"""``pynats kv`` end to end against an embedded JetStream server, in process
(``watch`` in a subprocess): output, ``--json`` keys, exit codes, bad input."""

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


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pynats ARGS`` in process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


STATUS_KEYS = {
    "bucket",
    "values",
    "history",
    "ttl",
    "bytes",
    "storage",
    "replicas",
    "compressed",
    "max_bytes",
    "max_value_size",
    "description",
    "backing_store",
    "stream",
}


def test_bucket_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "kv", "add", "CFG", "--history", "5", "--ttl", "1h")
    assert rc == 0 and "bucket CFG created" in out and "1h" in out
    rc, out, _ = pynats(capsys, "kv", "add", "CFG", "--history", "5", "--ttl", "1h", "--json")
    st = json.loads(out)
    assert set(st) == STATUS_KEYS and st["history"] == 5 and st["ttl"] == 3600
    rc, out, _ = pynats(capsys, "kv", "ls")
    assert rc == 0 and "CFG" in out
    rc, out, _ = pynats(capsys, "kv", "ls", "--json")
    assert [d["bucket"] for d in json.loads(out)] == ["CFG"]
    rc, out, _ = pynats(capsys, "kv", "status", "CFG")
    assert rc == 0 and "History" in out and "KV_CFG" in out
    rc, _, err = pynats(capsys, "kv", "rm", "CFG")
    assert rc == 1 and "--force" in err
    rc, out, _ = pynats(capsys, "kv", "rm", "CFG", "-f")
    assert rc == 0 and "bucket CFG deleted" in out
    rc, _, err = pynats(capsys, "kv", "status", "CFG")
    assert rc == 1 and err == "pynats: bucket CFG not found\n"


def test_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert pynats(capsys, "kv", "add", "K", "--history", "10")[0] == 0
    rc, out, _ = pynats(capsys, "kv", "put", "K", "a.b", "one")
    assert rc == 0 and out == "a.b revision 1\n"
    f = tmp_path / "v.bin"
    f.write_bytes("tw\u00f6\n".encode())
    rc, out, _ = pynats(capsys, "kv", "put", "K", "a.b", "--file", str(f))
    assert out == "a.b revision 2\n"
    rc, out, _ = pynats(capsys, "kv", "get", "K", "a.b")
    assert rc == 0 and "K > a.b revision 2" in out
    rc, out, _ = pynats(capsys, "kv", "get", "K", "a.b", "--revision", "1", "--raw")
    assert out == "one"
    rc, out, _ = pynats(capsys, "kv", "get", "K", "a.b", "--json")
    e = json.loads(out)
    assert set(e) == {"bucket", "key", "value", "revision", "created", "operation", "delta"}
    assert e["revision"] == 2 and e["operation"] == "PUT"
    rc, _, err = pynats(capsys, "kv", "create", "K", "a.b", "x")
    assert rc == 1 and err == "pynats: key a.b exists already in bucket K\n"
    assert pynats(capsys, "kv", "create", "K", "c", "three") == (0, "c created at revision 3\n", "")
    rc, _, err = pynats(capsys, "kv", "update", "K", "c", "x", "--revision", "1")
    assert rc == 1 and "not at revision 1" in err
    rc, out, _ = pynats(capsys, "kv", "update", "K", "c", "four", "--revision", "3")
    assert rc == 0 and out == "c updated to revision 4\n"
    rc, out, _ = pynats(capsys, "kv", "keys", "K")
    assert out.split() == ["a.b", "c"]
    rc, out, _ = pynats(capsys, "kv", "keys", "K", "a.*", "--json")
    assert json.loads(out) == ["a.b"]
    rc, out, _ = pynats(capsys, "kv", "history", "K", "c")
    assert rc == 0 and "three" in out and "four" in out
    rc, out, _ = pynats(capsys, "kv", "history", "K", "c", "--json")
    assert [h["revision"] for h in json.loads(out)] == [3, 4]
    assert pynats(capsys, "kv", "del", "K", "c")[0] == 1  # no terminal, no --force
    assert pynats(capsys, "kv", "del", "K", "c", "-f")[1] == "c deleted\n"
    rc, _, err = pynats(capsys, "kv", "get", "K", "c")
    assert rc == 1 and err == "pynats: key c was deleted from bucket K\n"
    rc, out, _ = pynats(capsys, "kv", "history", "K", "c", "--json")
    assert [h["operation"] for h in json.loads(out)] == ["PUT", "PUT", "DEL"]
    assert pynats(capsys, "kv", "purge", "K", "a.b", "-f")[1] == "a.b purged\n"
    rc, out, _ = pynats(capsys, "kv", "history", "K", "a.b", "--json")
    assert [h["operation"] for h in json.loads(out)] == ["PURGE"]
    rc, _, err = pynats(capsys, "kv", "get", "K", "zz")
    assert rc == 1 and err == "pynats: key zz not found in bucket K\n"
    assert pynats(capsys, "kv", "rm", "K", "-f")[0] == 0


def test_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "kv", "add", "a.b")[0] == 2
    assert pynats(capsys, "kv", "add", "X", "--history", "100")[0] == 2
    assert pynats(capsys, "kv", "add", "X", "--ttl", "later")[0] == 2
    assert pynats(capsys, "kv", "put", "X", ".bad", "v")[0] == 2
    assert pynats(capsys, "kv", "update", "X", "k", "v")[0] == 2  # --revision is required
    rc, _, err = pynats(capsys, "kv", "put", "NOPE", "k", "v")
    assert rc == 1 and err == "pynats: bucket NOPE not found\n"


def test_watch_until_interrupted(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "kv", "add", "W")[0] == 0
    assert pynats(capsys, "kv", "put", "W", "before", "1")[0] == 0
    p = subprocess.Popen(
        [sys.executable, "-m", "pynats.cli", "kv", "watch", "W", "--json", "-s", srv.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert p.stdout is not None
        first = json.loads(p.stdout.readline())
        assert first["key"] == "before" and first["value"] == "1"
        with nats_sync.connect(srv.url) as nc:
            kv = nc.jetstream().key_value("W")
            kv.put("after", b"2")
            kv.delete("before")
        second = json.loads(p.stdout.readline())
        third = json.loads(p.stdout.readline())
        assert (second["key"], second["operation"]) == ("after", "PUT")
        assert (third["key"], third["operation"]) == ("before", "DEL")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
        assert p.returncode == 130 and b"Traceback" not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
