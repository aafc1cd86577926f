"""Every ``python`` block of the guides (monitoring, connection, security) runs.

Blocks may sit in content tabs (indented). Each runs against a fresh nats-server,
its ``127.0.0.1:4222`` (and ``127.0.0.1:8080``, a WebSocket listener) replaced by
the server's, in a directory holding ``ca.pem``, ``client-cert.pem`` and
``client-key.pem`` (trustme certificates) and with ``XDG_CONFIG_HOME`` holding a
``nats`` CLI context ``prod`` for that server. First-line comments steer it:

- ``# not run: <reason>``: skipped (the example needs what no test can give);
- ``# needs nats-server 2.X``: skipped on older servers;
- ``# server: <kind> ...``: the server it needs (:data:`KINDS`), plain otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from jwt_helpers import creds_text, new_user, user_jwt
from pynats.server import NatsServer, free_port
from security_helpers import PASSWORD, TOKEN, jwt_setup, make_certs, tls_block, websocket_block

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = ("monitoring.md", "connection.md", "security.md")
_BLOCK = re.compile(r"^( *)```python\n(.*?)^ *```", re.S | re.M)
_NEEDS = re.compile(r"^# needs nats-server (\d+)\.(\d+)", re.M)
_SERVER = re.compile(r"^# server: (.+)$", re.M)
_NOT_RUN = re.compile(r"^# not run: (.+)$", re.M)

SYS_ACCOUNTS = """
accounts {
  SYS { users = [{user: sys, password: pw}] }
  APP { users = [{user: app, password: pw}] }
}
system_account: SYS
"""


def _blocks(guide: str) -> list[str]:
    text = (DOCS / guide).read_text(encoding="utf-8")
    out = []
    for indent, body in _BLOCK.findall(text):
        out.append("\n".join(line[len(indent) :] for line in body.splitlines()) + "\n")
    return out


def _params() -> list[Any]:
    return [
        pytest.param(guide, code, id=f"{guide.removesuffix('.md')}-{i}")
        for guide in GUIDES
        for i, code in enumerate(_blocks(guide))
    ]


def _head(code: str) -> str:
    """The leading comment lines, where the markers are."""
    lines = []
    for line in code.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


def _server(kinds: set[str], certs_dir: Path, home: Path) -> NatsServer:
    """The server a block's ``# server:`` marker names; the files and variables
    its example reads (``~/.nkeys/alice.nk``, ``~/.nats/alice.creds``,
    ``alice.jwt`` and ``alice.nk``, ``NATS_PASS``, ``NATS_TOKEN``) are in place."""
    unknown = kinds - KINDS
    assert not unknown, f"unknown server kinds {unknown}: known are {sorted(KINDS)}"
    config = ""
    if "users" in kinds:
        alice = new_user()
        (home / ".nkeys").mkdir()
        (home / ".nkeys" / "alice.nk").write_text(alice.seed + "\n")
        config += (
            "authorization {\n  users = [\n"
            f'    {{ user: alice, password: "{PASSWORD}" }}\n'
            f"    {{ nkey: {alice.public} }}\n  ]\n}}\n"
        )
    if "token" in kinds:
        config += f'authorization {{\n  token: "{TOKEN}"\n}}\n'
    if "jwt" in kinds:
        trust = jwt_setup(home)
        alice = new_user()
        jwt = user_jwt(alice, trust.account, name="alice")
        (home / ".nats").mkdir()
        (home / ".nats" / "alice.creds").write_text(creds_text(jwt, alice.seed))
        (home / "alice.jwt").write_text(jwt + "\n")
        (home / "alice.nk").write_text(alice.seed + "\n")
        config += trust.config
    if "sys" in kinds:
        config += SYS_ACCOUNTS
    if "tls" in kinds and "websocket" not in kinds:
        config += tls_block(
            str(certs_dir / "server-cert.pem"),
            str(certs_dir / "server-key.pem"),
            ca=str(certs_dir / "ca.pem"),
            verify="verify" in kinds,
            first="handshake_first" in kinds,
        )
    ws_port = None
    if "websocket" in kinds:
        ws_port = free_port()
        if "tls" in kinds:  # wss://
            (home / "ws-certs").mkdir()
            certs = make_certs(home / "ws-certs")
            shutil.copyfile(certs.ca, home / "ca.pem")
            config += websocket_block(ws_port, certs)
        else:
            config += websocket_block(ws_port)
    server = NatsServer(
        jetstream="jetstream" in kinds,
        config=config or None,
        cluster_name="east" if "sys" in kinds else None,
    )
    server.ws_port = ws_port  # type: ignore[attr-defined]
    return server


#: ``jetstream``; ``sys`` (accounts SYS and APP, user sys/pw in the system
#: account, cluster "east"); ``tls`` (the server certificate for 127.0.0.1 and
#: localhost, signed by ca.pem), with ``verify`` (client certificates required)
#: and ``handshake_first``; ``websocket`` (a listener for 127.0.0.1:8080, TLS
#: with ``tls``); ``users`` (alice with a password and alice with an NKey),
#: ``token``, ``jwt`` (operator mode, alice a user of its account).
KINDS = {"jetstream", "sys", "tls", "verify", "handshake_first", "websocket"}
KINDS |= {"users", "token", "jwt"}


@pytest.fixture(scope="module")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    (d / "made").mkdir()
    certs = make_certs(d / "made")
    for name, src in (
        ("ca.pem", certs.ca),
        ("server-cert.pem", certs.server_cert),
        ("server-key.pem", certs.server_key),
        ("client-cert.pem", certs.client_cert),
        ("client-key.pem", certs.client_key),
    ):
        shutil.copyfile(src, d / name)
    return d


def test_the_guides_have_examples() -> None:
    for guide in GUIDES:
        blocks = _blocks(guide)
        assert blocks, guide
        assert any("nats_anyio" in b for b in blocks), guide
        assert any("trio" in b for b in blocks), guide


@pytest.mark.parametrize(("guide", "code"), _params())
def test_guide_example_runs(
    guide: str,
    code: str,
    certs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head = _head(code)
    if not_run := _NOT_RUN.search(head):
        pytest.skip(f"not run: {not_run[1]}")
    needs = _NEEDS.search(head)
    if needs and _version(NatsServer.binary_version()) < (int(needs[1]), int(needs[2])):
        pytest.skip(f"the example needs nats-server {needs[1]}.{needs[2]}")
    kinds = set(m[1].split()) if (m := _SERVER.search(head)) else set()
    for name in ("ca.pem", "client-cert.pem", "client-key.pem"):
        shutil.copyfile(certs_dir / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NATS_PASS", PASSWORD)
    monkeypatch.setenv("NATS_TOKEN", TOKEN)
    with _server(kinds, certs_dir, tmp_path) as server:
        hostport = f"127.0.0.1:{server.port}"
        context = tmp_path / "xdg" / "nats" / "context"
        context.mkdir(parents=True)
        (context / "prod.json").write_text(json.dumps({"url": f"nats://{hostport}"}))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        source = code.replace("127.0.0.1:4222", hostport)
        if server.ws_port is not None:  # type: ignore[attr-defined]
            source = source.replace("127.0.0.1:8080", f"127.0.0.1:{server.ws_port}")  # type: ignore[attr-defined]
        exec(compile(source, f"{guide} example", "exec"), {"__name__": "__doc_example__"})
    capsys.readouterr()
