"""``pynats object`` end to end against an embedded JetStream server, in process
(``watch`` in a subprocess): files in and out, ``--json`` keys, exit codes, bad input."""

from __future__ import annotations

import json
import os
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
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pynats ARGS`` in process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


CMD = [sys.executable, "-m", "pynats.cli"]

INFO_KEYS = {
    "bucket",
    "name",
    "size",
    "chunks",
    "digest",
    "description",
    "modified",
    "deleted",
    "nuid",
    "headers",
    "metadata",
    "link",
}


def test_bucket_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = pynats(capsys, "object", "add", "FILES", "--description", "my files")
    assert rc == 0 and "object store FILES created" in out
    rc, out, _ = pynats(capsys, "object", "ls", "--json")
    (row,) = json.loads(out)
    assert row["bucket"] == "FILES" and row["description"] == "my files"
    assert set(row) == {
        "bucket",
        "description",
        "ttl",
        "storage",
        "replicas",
        "sealed",
        "size",
        "backing_store",
        "stream",
    }
    data = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    rc, out, err = pynats(capsys, "object", "put", "FILES", str(src), "--chunk-size", "64K")
    assert rc == 0 and "stored blob.bin in FILES" in out
    assert "put blob.bin: 293.0 KiB in" in err and "/s)" in err  # throughput, no bar off a tty
    rc, out, _ = pynats(capsys, "object", "ls", "FILES")
    assert "blob.bin" in out and "SHA-256=" in out
    rc, out, _ = pynats(capsys, "object", "info", "FILES", "blob.bin", "--json")
    info = json.loads(out)
    assert set(info) == INFO_KEYS and info["size"] == 300_000 and info["chunks"] == 5
    rc, out, _ = pynats(capsys, "object", "info", "FILES", "blob.bin")
    assert "300,000 bytes" in out
    rc, out, err = pynats(capsys, "object", "get", "FILES", "blob.bin", "-O", "copy.bin")
    assert rc == 0 and "wrote blob.bin to copy.bin" in out and "get blob.bin" in err
    assert (tmp_path / "cwd" / "copy.bin").read_bytes() == data
    rc, _, err = pynats(capsys, "object", "get", "FILES", "blob.bin", "-O", "copy.bin")
    assert rc == 1 and "copy.bin exists: pass --force" in err
    assert pynats(capsys, "object", "get", "FILES", "blob.bin", "-O", "copy.bin", "-f")[0] == 0
    assert pynats(capsys, "object", "get", "FILES", "blob.bin")[0] == 0  # ./NAME by default
    assert (tmp_path / "cwd" / "blob.bin").read_bytes() == data
    rc, out, _ = pynats(capsys, "object", "status", "FILES", "--json")
    assert json.loads(out)["size"] > 300_000
    rc, _, err = pynats(capsys, "object", "rm", "FILES", "blob.bin")
    assert rc == 1 and "--force" in err
    rc, out, _ = pynats(capsys, "object", "rm", "FILES", "blob.bin", "-f")
    assert rc == 0 and out == "deleted blob.bin from FILES\n"
    rc, _, err = pynats(capsys, "object", "info", "FILES", "blob.bin")
    assert rc == 1 and err == "pynats: object blob.bin not found in FILES\n"
    rc, out, _ = pynats(capsys, "object", "ls", "FILES", "--deleted", "--json")
    assert [(o["name"], o["deleted"]) for o in json.loads(out)] == [("blob.bin", True)]
    small = tmp_path / "small.txt"
    small.write_text("hello")
    assert pynats(capsys, "object", "put", "FILES", str(small), "--name", "greeting")[0] == 0
    rc, out, _ = pynats(capsys, "object", "seal", "FILES", "-f")
    assert rc == 0 and "sealed" in out
    rc, out, _ = pynats(capsys, "object", "status", "FILES")
    assert "Sealed" in out and "yes" in out
    rc, _, err = pynats(capsys, "object", "put", "FILES", str(small))
    assert rc == 1 and err.startswith("pynats: ") and err.count("\n") == 1
    rc, out, _ = pynats(capsys, "object", "rm", "FILES", "-f")
    assert rc == 0 and "object store FILES deleted" in out
    rc, _, err = pynats(capsys, "object", "ls", "FILES")
    assert rc == 1 and err == "pynats: object store FILES not found\n"


def test_stdin_stdout_through_a_subprocess(srv: NatsServer, tmp_path: Path) -> None:
    with nats_sync.connect(srv.url) as nc:
        nc.jetstream().create_object_store(bucket="PIPE")
    cmd = [*CMD, "object"]
    r = subprocess.run(
        [*cmd, "put", "PIPE", "-", "--name", "raw", "-s", srv.url],
        input=b"\x00\xffbytes",
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*cmd, "get", "PIPE", "raw", "-O", "-", "-s", srv.url], capture_output=True)
    assert r.returncode == 0 and r.stdout == b"\x00\xffbytes"


def test_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert pynats(capsys, "object", "add", "a.b")[0] == 2
    assert pynats(capsys, "object", "add", "X", "--max-bytes", "huge")[0] == 2
    assert pynats(capsys, "object", "put", "X", str(tmp_path), "--chunk-size", "0")[0] == 2
    assert pynats(capsys, "object", "add", "X")[0] == 0
    rc, _, err = pynats(capsys, "object", "put", "X", str(tmp_path / "missing"))
    assert rc == 1 and "no such file" in err
    assert pynats(capsys, "object", "put", "X", str(tmp_path), "--chunk-size", "0")[0] == 2
    rc, _, err = pynats(capsys, "object", "get", "X", "nothing")
    assert rc == 1 and err == "pynats: object nothing not found in X\n"
    assert pynats(capsys, "object", "rm", "X", "-f")[0] == 0


def test_watch_until_interrupted(srv: NatsServer) -> None:
    with nats_sync.connect(srv.url) as nc:
        store = nc.jetstream().create_object_store(bucket="WATCH")
        store.put("first", b"1")
        p = subprocess.Popen(
            [*CMD, "object", "watch", "WATCH", "--json", "-s", srv.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert p.stdout is not None
            assert json.loads(p.stdout.readline())["name"] == "first"
            store.put("second", b"22")
            got = json.loads(p.stdout.readline())
            assert got["name"] == "second" and got["size"] == 2
            store.delete("first")
            got = json.loads(p.stdout.readline())
            assert got["name"] == "first" and got["deleted"] is True
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=10)
            assert p.returncode == 143 and b"Traceback" not in err
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
