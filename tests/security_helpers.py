"""Certificates and nats-server configurations for the TLS, auth and WebSocket tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwt_helpers import (
    NKey,
    account_jwt,
    new_account,
    new_operator,
    operator_jwt,
)

#: Secrets the tests use; none may show in a repr, a log line or an error message.
PASSWORD = "pa55-W0rd-s3cret"
TOKEN = "t0ken-s3cret-value"


@dataclass(frozen=True)
class Certs:
    """PEM files made by trustme at test time (paths as strings)."""

    ca: str  # the CA that signed everything below
    server_cert: str  # for 127.0.0.1 and localhost
    server_key: str
    other_cert: str  # for example.org only (hostname mismatch)
    other_key: str
    client_cert: str  # a client certificate for mutual TLS
    client_key: str
    wrong_ca: str  # a CA that signed nothing here


def make_certs(d: Path) -> Certs:
    import trustme

    ca = trustme.CA()
    wrong = trustme.CA()
    paths: dict[str, Path] = {}

    def put(name: str, blob: Any) -> None:
        paths[name] = d / f"{name}.pem"
        blob.write_to_path(str(paths[name]))

    put("ca", ca.cert_pem)
    put("wrong_ca", wrong.cert_pem)
    for name, hosts in (
        ("server", ("127.0.0.1", "localhost")),
        ("other", ("example.org",)),
        ("client", ("client@example.org",)),
    ):
        cert = ca.issue_cert(*hosts)
        paths[f"{name}_cert"] = d / f"{name}_cert.pem"
        paths[f"{name}_cert"].write_bytes(b"".join(c.bytes() for c in cert.cert_chain_pems))
        put(f"{name}_key", cert.private_key_pem)
    return Certs(**{k: str(v) for k, v in paths.items()})


def tls_block(
    cert: str, key: str, *, ca: str | None = None, verify: bool = False, first: bool = False
) -> str:
    lines = [f'cert_file: "{cert}"', f'key_file: "{key}"']
    if ca:
        lines.append(f'ca_file: "{ca}"')
    if verify:
        lines.append("verify: true")
    if first:
        lines.append("handshake_first: true")
    return "tls {\n  " + "\n  ".join(lines) + "\n}\n"


def websocket_block(port: int, certs: Certs | None = None) -> str:
    """A websocket listener on ``port``: plain, or TLS with the server certificate."""
    if certs is None:
        return f"websocket {{\n  port: {port}\n  no_tls: true\n}}\n"
    tls = tls_block(certs.server_cert, certs.server_key)
    return f"websocket {{\n  port: {port}\n  {tls}}}\n"


def nkey_users_config(user: NKey) -> str:
    """One NKey user allowed to publish and subscribe on ``allowed.>`` (and inboxes)."""
    return (
        "authorization {\n  users = [\n    { nkey: " + user.public + "\n"
        '      permissions: { publish: ["allowed.>", "_INBOX.>"], '
        'subscribe: ["allowed.>", "_INBOX.>"] } }\n  ]\n}\n'
    )


@dataclass(frozen=True)
class Trust:
    """An operator, its account, and a server configuration that trusts them."""

    operator: NKey
    account: NKey
    config: str


def jwt_setup(d: Path) -> Trust:
    """Operator mode with a memory resolver preloaded with one account (and a system one)."""
    op, acct, system = new_operator(), new_account(), new_account()
    (d / "operator.jwt").write_text(operator_jwt(op, system_account=system.public))
    config = (
        f'operator: "{d / "operator.jwt"}"\n'
        f"system_account: {system.public}\n"
        "resolver: MEMORY\n"
        "resolver_preload: {\n"
        f'  {acct.public}: "{account_jwt(acct, op)}"\n'
        f'  {system.public}: "{account_jwt(system, op, name="SYS")}"\n'
        "}\n"
    )
    return Trust(op, acct, config)


def no_secret_in(text: str, *secrets: str) -> bool:
    """True when none of ``secrets`` appears in ``text``."""
    return not any(s and s in text for s in secrets)


def wait_for(cond: Any, timeout: float = 5.0) -> bool:
    """Poll ``cond()`` until true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
