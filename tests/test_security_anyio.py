"""nats_anyio against real servers (asyncio and Trio): TLS, mutual TLS,
handshake first, token, user/password, NKeys with permissions, JWTs, and no
secret in any repr, log line or error message."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import nats_anyio
from jwt_helpers import creds_text, new_user, user_jwt
from nats_anyio import ConnectError
from nats_core.errors import (
    AuthenticationExpiredError,
    AuthorizationError,
    NatsError,
    PermissionsError,
    SecureConnectionWantedError,
    SubscriptionClosedError,
)
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer
from security_helpers import (
    PASSWORD,
    TOKEN,
    Certs,
    Trust,
    jwt_setup,
    make_certs,
    nkey_users_config,
    no_secret_in,
    tls_block,
)

pytest.importorskip("trustme")
pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Trust:
    return jwt_setup(tmp_path_factory.mktemp("jwt"))


@pytest.fixture(scope="module")
def jwt_server(trust: Trust) -> Iterator[NatsServer]:
    with NatsServer(config=trust.config) as server:
        yield server


def tls_url(url: str) -> str:
    return url.replace("nats://", "tls://")


async def roundtrip(nc: nats_anyio.Client, subject: str = "sec.test") -> bytes:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"payload")
    data: bytes = (await sub.next_msg(timeout=2)).data
    await sub.unsubscribe()
    return data


class Errors:
    """An error_cb that records errors and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []
        self._event = anyio.Event()

    def __call__(self, err: BaseException) -> None:
        self.seen.append(err)
        self._event.set()

    async def next(self, timeout: float = 2.0) -> BaseException:
        n = len(self.seen)
        with anyio.fail_after(timeout):
            while len(self.seen) == n:
                await self._event.wait()
                self._event = anyio.Event()
        return self.seen[n]


# ------------------------------------------------------------------------ TLS


async def test_tls_url_with_ca_file(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    async with nats_anyio.connect(tls_url(server.url), tls_ca_file=certs.ca) as nc:
        assert await roundtrip(nc) == b"payload"
        assert nc.server_info is not None and nc.server_info.tls_required
    # a pathlib.Path, alone or in a list, is taken as well as a str
    for ca in (Path(certs.ca), [Path(certs.wrong_ca), Path(certs.ca)]):
        async with nats_anyio.connect(tls_url(server.url), tls_ca_file=ca) as nc:
            assert await roundtrip(nc) == b"payload"


async def test_given_context_is_used_as_is(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    ctx = ssl.create_default_context(cafile=certs.ca)
    async with nats_anyio.connect(server.url, tls=ctx) as nc:
        assert await roundtrip(nc) == b"payload"
    with pytest.raises(ConnectError, match="certificate verify failed"):
        async with nats_anyio.connect(server.url, tls=ssl.create_default_context()):
            pass


async def test_tls_url_to_a_server_without_tls_fails_clearly(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory()
    with pytest.raises(SecureConnectionWantedError, match="offers no TLS"):
        async with nats_anyio.connect(tls_url(server.url), tls_ca_file=certs.ca):
            pass


async def test_wrong_ca_and_hostname_mismatch_fail(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    with pytest.raises(ConnectError, match=r"TLS handshake failed.*certificate verify failed"):
        async with nats_anyio.connect(tls_url(server.url), tls_ca_file=certs.wrong_ca):
            pass
    other = nats_server_factory(config=tls_block(certs.other_cert, certs.other_key))
    with pytest.raises(ConnectError, match=r"(?i)hostname mismatch|doesn't match|not valid for"):
        async with nats_anyio.connect(tls_url(other.url), tls_ca_file=certs.ca):
            pass
    async with nats_anyio.connect(
        tls_url(other.url), tls_ca_file=certs.ca, tls_hostname="example.org"
    ) as nc:
        assert await roundtrip(nc) == b"payload"


async def test_mutual_tls(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    config = tls_block(certs.server_cert, certs.server_key, ca=certs.ca, verify=True)
    server = nats_server_factory(config=config)
    async with nats_anyio.connect(
        tls_url(server.url),
        tls_ca_file=certs.ca,
        tls_cert_file=certs.client_cert,
        tls_key_file=certs.client_key,
    ) as nc:
        assert nc.server_info is not None and nc.server_info.tls_verify
        assert await roundtrip(nc) == b"payload"
    with pytest.raises(NatsError):
        async with nats_anyio.connect(tls_url(server.url), tls_ca_file=certs.ca, connect_timeout=1):
            pass


@pytest.mark.server_2_10
async def test_tls_handshake_first(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    config = tls_block(certs.server_cert, certs.server_key, first=True)
    server = nats_server_factory(config=config)
    async with nats_anyio.connect(
        tls_url(server.url), tls_ca_file=certs.ca, tls_handshake_first=True
    ) as nc:
        assert await roundtrip(nc) == b"payload"
    with pytest.raises(NatsError):
        async with nats_anyio.connect(
            tls_url(server.url), tls_ca_file=certs.ca, connect_timeout=0.5
        ):
            pass


# ----------------------------------------------------------- token, user/pass


async def test_token_option_url_and_callable(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=f'authorization {{ token: "{TOKEN}" }}\n')
    async with nats_anyio.connect(server.url, token=TOKEN) as nc:
        assert await roundtrip(nc) == b"payload"
    async with nats_anyio.connect(server.url.replace("nats://", f"nats://{TOKEN}@")) as nc:
        assert await roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + repr(nc.servers) + repr(nc._opts), TOKEN)
    async with nats_anyio.connect(server.url, token=lambda: TOKEN) as nc:
        assert await roundtrip(nc) == b"payload"
    with pytest.raises(AuthorizationError) as err:
        async with nats_anyio.connect(server.url, token="wrong-" + TOKEN):
            pass
    assert no_secret_in(str(err.value) + repr(err.value), TOKEN)


async def test_user_password_option_and_url(
    nats_server_factory: NatsServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    server = nats_server_factory(config=config)
    caplog.set_level(logging.DEBUG)
    async with nats_anyio.connect(server.url, user="alice", password=PASSWORD) as nc:
        assert await roundtrip(nc) == b"payload"
    url = server.url.replace("nats://", f"nats://alice:{PASSWORD}@")
    async with nats_anyio.connect(url) as nc:
        assert await roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + repr(nc.servers) + repr(nc._opts), PASSWORD)
    start = time.monotonic()
    with pytest.raises(AuthorizationError, match=r"(?i)authorization violation") as err:
        async with nats_anyio.connect(
            url.replace(PASSWORD, "x" + PASSWORD), retry_on_failed_connect=True
        ):
            pass
    assert time.monotonic() - start < 1.5  # refused at once, not retried
    assert no_secret_in(str(err.value) + caplog.text, PASSWORD)


async def test_same_auth_error_twice_stops_reconnecting(
    nats_server_factory: NatsServerFactory,
) -> None:
    config = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    server = nats_server_factory(config=config)
    port = server.port
    errors = Errors()
    closed = anyio.Event()
    async with nats_anyio.connect(
        server.url,
        user="alice",
        password=PASSWORD,
        error_cb=errors,
        closed_cb=closed.set,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
    ) as nc:
        server.stop()
        nats_server_factory(port=port, config=config.replace(PASSWORD, "other-one"))
        with anyio.fail_after(5):
            await closed.wait()
        auth = [e for e in errors.seen if isinstance(e, AuthorizationError)]
        assert len(auth) == 2
        assert nc.is_closed


# ------------------------------------------------------------------------ NKey


@pytest.mark.parametrize("how", ["file", "seed_str"])
async def test_nkey_user_with_permissions(
    nats_server_factory: NatsServerFactory, tmp_path: Path, how: str
) -> None:
    user = new_user()
    server = nats_server_factory(config=nkey_users_config(user))
    (tmp_path / "user.nk").write_text(user.seed + "\n")
    opts: dict[str, Any] = (
        {"nkeys_seed": str(tmp_path / "user.nk")}
        if how == "file"
        else {"nkeys_seed_str": user.seed}
    )
    errors = Errors()
    async with nats_anyio.connect(server.url, error_cb=errors, **opts) as nc:
        assert await roundtrip(nc, "allowed.a") == b"payload"
        await nc.publish("forbidden.pub", b"x")
        pub_err = await errors.next()
        assert isinstance(pub_err, PermissionsError)
        assert (pub_err.operation, pub_err.subject) == ("publish", "forbidden.pub")
        sub = await nc.subscribe("forbidden.sub")
        sub_err = await errors.next()
        assert isinstance(sub_err, PermissionsError)
        assert (sub_err.operation, sub_err.subject) == ("subscribe", "forbidden.sub")
        with pytest.raises(SubscriptionClosedError):
            await sub.next_msg(timeout=2)
        assert nc.is_connected  # a permissions error leaves the connection up

        async def respond(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"pong")

        await nc.subscribe("allowed.svc", cb=respond)
        assert (await nc.request("allowed.svc", b"ping", timeout=2)).data == b"pong"
        assert no_secret_in(repr(nc) + repr(nc._opts) + "".join(map(str, errors.seen)), user.seed)


# ------------------------------------------------------------------------- JWT


@pytest.mark.parametrize("how", ["creds", "separate_files", "callbacks"])
async def test_jwt_user(jwt_server: NatsServer, trust: Trust, tmp_path: Path, how: str) -> None:
    user = new_user()
    token = user_jwt(user, trust.account)
    opts: dict[str, Any]
    if how == "creds":
        (tmp_path / "user.creds").write_text(creds_text(token, user.seed))
        opts = {"user_credentials": str(tmp_path / "user.creds")}
    elif how == "separate_files":
        (tmp_path / "user.jwt").write_text(token)
        (tmp_path / "user.nk").write_text(user.seed)
        opts = {"user_credentials": (str(tmp_path / "user.jwt"), str(tmp_path / "user.nk"))}
    else:
        opts = {"user_jwt": lambda: token, "signature_cb": user.sign}
    async with nats_anyio.connect(jwt_server.url, **opts) as nc:
        assert await roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + repr(nc._opts), user.seed, token)


async def test_expired_jwt(jwt_server: NatsServer, trust: Trust, tmp_path: Path) -> None:
    user = new_user()
    expired = user_jwt(user, trust.account, expires=int(time.time()) - 60)
    (tmp_path / "old.creds").write_text(creds_text(expired, user.seed))
    with pytest.raises(AuthorizationError) as err:
        async with nats_anyio.connect(jwt_server.url, user_credentials=str(tmp_path / "old.creds")):
            pass
    assert no_secret_in(str(err.value), user.seed, expired)


async def test_jwt_expiring_while_connected(
    jwt_server: NatsServer, trust: Trust, tmp_path: Path
) -> None:
    user = new_user()
    token = user_jwt(user, trust.account, expires=int(time.time()) + 2)
    (tmp_path / "user.creds").write_text(creds_text(token, user.seed))
    errors = Errors()
    closed = anyio.Event()
    async with nats_anyio.connect(
        jwt_server.url,
        user_credentials=str(tmp_path / "user.creds"),
        error_cb=errors,
        closed_cb=closed.set,
        reconnect_time_wait=0.1,
    ) as nc:
        assert await roundtrip(nc) == b"payload"
        with anyio.fail_after(6):
            await closed.wait()
    assert isinstance(errors.seen[0], AuthenticationExpiredError)
    assert all(isinstance(e, AuthorizationError) for e in errors.seen)
