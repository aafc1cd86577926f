"""Credentials rotate without a restart (#15): the ``.creds``, NKey seed and
token files are read again at every (re)connect, in both clients. Each test
rewrites a file, makes the client reconnect, and checks with the server (its
``/connz`` monitoring endpoint, or its configuration) that the new identity is
the one in use."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from jwt_helpers import NKey, creds_text, new_user, user_jwt
from nats_core import ClientOptions, apply_credentials, build_options, credential_paths
from nats_core.errors import ConfigError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer
from security_helpers import jwt_setup
from sync_helpers import wait_until

pytest.importorskip("nkeys")


def _has_option(name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(ClientOptions))


#: connected_cb / token_file are ClientOptions fields once nats_core.typed_options
#: has their keys (tests/test_typed_config.py keeps the two in step).
needs_option = pytest.mark.skipif(
    not _has_option("token_file"), reason="token_file is not a ClientOptions field yet"
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def two_nkey_users_config(a: NKey, b: NKey) -> str:
    return f"authorization {{ users = [ {{ nkey: {a.public} }}, {{ nkey: {b.public} }} ] }}\n"


def identity(server: NatsServer, cid: int | None) -> str | None:
    """The user the server authorized for connection ``cid``."""
    for c in server.monitoring("connz", auth=True)["connections"]:
        if c["cid"] == cid:
            user: str = c.get("authorized_user", "")
            return user
    return None


def token_config(token: str) -> str:
    return f'authorization {{ token: "{token}" }}\n'


# ----------------------------------------------------------------- the core


@needs_option
def test_credential_paths_and_reapplying(tmp_path: Path) -> None:
    a, b = new_user(), new_user()
    seed = tmp_path / "user.nk"
    seed.write_text(a.seed)
    token = tmp_path / "token"
    token.write_text("  t1\n")
    opts = build_options("nats://127.0.0.1:1", nkeys_seed=str(seed), token_file=str(token))
    assert credential_paths(opts) == (str(seed), str(token))
    assert credential_paths(build_options("nats://127.0.0.1:1", nkeys_seed=a.seed)) == ()

    def read(path: str) -> str:
        return Path(path).read_text()

    first = apply_credentials(opts, read)
    assert first.core.nkey_seed == a.seed.encode() and first.core.token == "t1"
    seed.write_text(b.seed)
    token.write_text("t2")
    again: ClientOptions = apply_credentials(first, read)  # what the clients do per dial
    assert again.core.nkey_seed == b.seed.encode() and again.core.token == "t2"
    token.write_text("\n")
    with pytest.raises(ConfigError, match="token file"):
        apply_credentials(opts, read)
    with pytest.raises(ConfigError, match="token_file"):
        build_options("nats://127.0.0.1:1", token="x", token_file=str(token))
    # a pathlib.Path for any file option is taken as its str
    paths = build_options(
        "nats://127.0.0.1:1",
        nkeys_seed=seed,
        token_file=token,
        tls_ca_file=[seed, str(token)],
        tls_cert_file=seed,
        tls_key_file=token,
    )
    assert credential_paths(paths) == (str(seed), str(token))
    assert list(paths.tls_ca_file or ()) == [str(seed), str(token)]
    assert (paths.tls_cert_file, paths.tls_key_file) == (str(seed), str(token))
    pair = build_options("nats://127.0.0.1:1", user_credentials=(seed, token)).user_credentials
    assert pair == (str(seed), str(token))


# ------------------------------------------------------------- blocking client


def test_sync_nkey_seed_file_rotates(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    a, b = new_user(), new_user()
    server = nats_server_factory(config=two_nkey_users_config(a, b), monitor=True)
    seed = tmp_path / "user.nk"
    seed.write_text(a.seed + "\n")
    reconnected = threading.Event()
    with nats_sync.connect(  # a pathlib.Path is taken as well as a str
        server.url, nkeys_seed=seed, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    ) as nc:
        assert identity(server, nc.client_id) == a.public
        seed.write_text(b.seed + "\n")  # rotated while connected: used at the next connect
        nc.force_reconnect()
        assert reconnected.wait(5)
        assert identity(server, nc.client_id) == b.public


def test_sync_creds_file_rotates(nats_server_factory: NatsServerFactory, tmp_path: Path) -> None:
    trust = jwt_setup(tmp_path)
    server = nats_server_factory(config=trust.config, monitor=True)
    a, b = new_user(), new_user()
    creds = tmp_path / "user.creds"
    creds.write_text(creds_text(user_jwt(a, trust.account), a.seed))
    reconnected = threading.Event()
    with nats_sync.connect(
        server.url,
        user_credentials=creds,  # a pathlib.Path
        reconnect_time_wait=0.05,
        reconnected_cb=reconnected.set,
    ) as nc:
        assert identity(server, nc.client_id) == a.public
        creds.write_text(creds_text(user_jwt(b, trust.account), b.seed))
        nc.force_reconnect()
        assert reconnected.wait(5)
        assert identity(server, nc.client_id) == b.public


@needs_option
def test_sync_token_file_rotates_and_a_bad_file_is_retried(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    """The server restarts with a new token; the client, whose token file was
    rewritten (after a moment without one), reconnects with it."""
    server = nats_server_factory(config=token_config("first-token"))
    token = tmp_path / "token"
    token.write_text("first-token\n")
    failures: list[BaseException] = []
    reconnected = threading.Event()
    with nats_sync.connect(
        server.url,
        token_file=str(token),
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        reconnect_error_cb=failures.append,
        reconnected_cb=reconnected.set,
        error_cb=lambda e: None,
    ) as nc:
        assert nc.is_connected
        port = server.port
        server.stop()
        token.unlink()  # unreadable for a while: those attempts fail, the client keeps trying
        wait_until(lambda: any(isinstance(e, ConfigError) for e in failures), what="a failure")
        assert "first-token" not in "".join(map(str, failures))
        nats_server_factory(port=port, config=token_config("second-token"))
        token.write_text("second-token\n")
        assert reconnected.wait(10), failures
        sub = nc.subscribe("rot.x")
        nc.publish("rot.x", b"ok")
        assert sub.next_msg(timeout=2).data == b"ok"


# ---------------------------------------------------------------- async client


async def wait_for(cond: Callable[[], object], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_anyio_nkey_seed_file_rotates(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    a, b = new_user(), new_user()
    server = nats_server_factory(config=two_nkey_users_config(a, b), monitor=True)
    seed = tmp_path / "user.nk"
    seed.write_text(a.seed + "\n")
    reconnects: list[int] = []
    async with nats_anyio.connect(
        server.url,
        nkeys_seed=str(seed),
        reconnect_time_wait=0.05,
        reconnected_cb=lambda: reconnects.append(1),
    ) as nc:
        assert identity(server, nc.client_id) == a.public
        seed.write_text(b.seed + "\n")
        await nc.force_reconnect()
        await wait_for(lambda: reconnects and nc.is_connected)
        assert identity(server, nc.client_id) == b.public


@pytest.mark.anyio
async def test_anyio_creds_file_rotates(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    trust = jwt_setup(tmp_path)
    server = nats_server_factory(config=trust.config, monitor=True)
    a, b = new_user(), new_user()
    creds = tmp_path / "user.creds"
    creds.write_text(creds_text(user_jwt(a, trust.account), a.seed))
    reconnects: list[int] = []
    async with nats_anyio.connect(
        server.url,
        user_credentials=str(creds),
        reconnect_time_wait=0.05,
        reconnected_cb=lambda: reconnects.append(1),
    ) as nc:
        assert identity(server, nc.client_id) == a.public
        creds.write_text(creds_text(user_jwt(b, trust.account), b.seed))
        await nc.force_reconnect()
        await wait_for(lambda: reconnects and nc.is_connected)
        assert identity(server, nc.client_id) == b.public


@needs_option
@pytest.mark.anyio
async def test_anyio_token_file_rotates_and_a_bad_file_is_retried(
    nats_server_factory: NatsServerFactory, tmp_path: Path
) -> None:
    server = nats_server_factory(config=token_config("first-token"))
    token = tmp_path / "token"
    token.write_text("first-token\n")
    failures: list[BaseException] = []
    reconnects: list[int] = []
    options: dict[str, Any] = {
        "token_file": str(token),
        "reconnect_time_wait": 0.05,
        "max_reconnect_attempts": -1,
        "reconnect_error_cb": failures.append,
        "reconnected_cb": lambda: reconnects.append(1),
        "error_cb": lambda e: None,
    }
    async with nats_anyio.connect(server.url, **options) as nc:
        port = server.port
        await anyio.to_thread.run_sync(server.stop)
        token.unlink()
        await wait_for(lambda: any(isinstance(e, ConfigError) for e in failures))
        await anyio.to_thread.run_sync(
            lambda: nats_server_factory(port=port, config=token_config("second-token"))
        )
        token.write_text("second-token\n")
        await wait_for(lambda: reconnects and nc.is_connected, timeout=10)
        sub = await nc.subscribe("rot.x")
        await nc.publish("rot.x", b"ok")
        assert (await sub.next_msg(timeout=2)).data == b"ok"
