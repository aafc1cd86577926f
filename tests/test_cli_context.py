"""``pynats context`` in process, in a temporary $XDG_CONFIG_HOME: natscli's files
(same JSON keys, context.txt), selection used by other commands, bad input."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynats.cli import main
from pynats.cli.context import NATSCLI_KEYS
from pynats.server import NatsServer, free_port


@pytest.fixture(scope="module")
def srv() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "nats"


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pynats ARGS`` in process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_add_select_show_rm(cfg: Path, srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = pynats(capsys, "context", "ls")
    assert rc == 0 and out.startswith("no contexts")
    rc, out, _ = pynats(
        capsys,
        "context",
        "add",
        "dev",
        "--url",
        srv.url,
        "--description",
        "local",
        "--user",
        "u",
        "--password",
        "secret",
    )
    assert rc == 0 and "context dev saved" in out
    path = cfg / "context" / "dev.json"
    data = json.loads(path.read_text())
    assert set(data) == set(NATSCLI_KEYS)  # every key natscli writes
    assert data["url"] == srv.url and data["password"] == "secret" and data["tls_first"] is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rc, _, err = pynats(capsys, "context", "add", "dev", "--url", srv.url)
    assert rc == 1 and "--force" in err
    prod = f"nats://127.0.0.1:{free_port()}"
    assert pynats(capsys, "context", "add", "prod", "--url", prod)[0] == 0
    rc, out, _ = pynats(capsys, "context", "ls", "--json")
    assert [(r["name"], r["selected"]) for r in json.loads(out)] == [
        ("dev", False),
        ("prod", False),
    ]
    assert set(json.loads(out)[0]) == {"name", "description", "url", "selected"}
    rc, _, err = pynats(capsys, "context", "show")
    assert rc == 1 and "no context selected" in err
    rc, out, _ = pynats(capsys, "context", "select", "dev")
    assert rc == 0 and (cfg / "context.txt").read_text() == "dev"
    rc, out, _ = pynats(capsys, "context", "ls")
    assert "dev*" in out
    rc, out, _ = pynats(capsys, "context", "show", "--json")
    shown = json.loads(out)
    assert shown["name"] == "dev" and shown["password"] == "*****" and shown["user"] == "u"
    rc, out, _ = pynats(capsys, "context", "show", "--secrets")
    assert "secret" in out and "(selected)" in out
    # the selected context is what other commands connect with
    rc, out, _ = pynats(capsys, "pub", "ctx.x", "hello")
    assert rc == 0 and "published 1 message(s)" in out
    rc, _, err = pynats(capsys, "pub", "ctx.x", "hello", "--context", "prod", "--timeout", "1")
    assert rc == 1 and prod in err
    rc, _, err = pynats(capsys, "context", "rm", "dev")
    assert rc == 1 and "is selected" in err
    rc, out, _ = pynats(capsys, "context", "rm", "dev", "-f")
    assert rc == 0 and "context dev removed" in out
    assert not path.exists() and not (cfg / "context.txt").exists()
    rc, _, err = pynats(capsys, "context", "rm", "prod")
    assert rc == 1 and "--force" in err  # no terminal to ask on
    assert pynats(capsys, "context", "rm", "prod", "-f")[0] == 0


def test_reads_natscli_files_and_bad_input(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (cfg / "context").mkdir(parents=True)
    natscli = {k: "" for k in NATSCLI_KEYS} | {"url": "nats://a:4222", "description": "cli"}
    natscli["tls_first"] = False
    (cfg / "context" / "fromcli.json").write_text(json.dumps(natscli))
    (cfg / "context" / "broken.json").write_text("{not json")
    rc, out, _ = pynats(capsys, "context", "ls", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert (
        rows["fromcli"]["url"] == "nats://a:4222" and "unreadable" in rows["broken"]["description"]
    )
    rc, _, err = pynats(capsys, "context", "select", "broken")
    assert rc == 1 and err.startswith("pynats: context 'broken' is not valid JSON")
    rc, _, err = pynats(capsys, "context", "select", "missing")
    assert rc == 1 and err.startswith("pynats: no context named missing")
    assert pynats(capsys, "context", "add", "../evil")[0] == 2
    assert pynats(capsys, "context", "show", "a/b")[0] == 2
    assert not (cfg / "context.txt").exists()
    url = f"nats://127.0.0.1:{free_port()}"
    assert pynats(capsys, "context", "add", "sel", "--url", url, "--select")[0] == 0
    assert (cfg / "context.txt").read_text() == "sel"
