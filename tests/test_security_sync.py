"""nats_sync against real servers: TLS, mutual TLS, handshake first, token,
user/password, NKeys with permissions, operator/account/user JWTs, and no
secret in any repr, log line or error message."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nats_sync
from jwt_helpers import new_user, user_jwt
from nats_core import build_options, parse_url
from nats_core.errors import (
    AuthenticationExpiredError,
    AuthorizationError,
    NatsError,
    PermissionsError,
    SecureConnectionWantedError,
    SubscriptionClosedError,
)
from nats_sync import ConnectError
from pynats.pytest_plugin import NatsServerFactory
from security_helpers import (
    PASSWORD,
    TOKEN,
    Certs,
    jwt_setup,
    make_certs,
    nkey_users_config,
    no_secret_in,
    tls_block,
    wait_for,
)

pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_url(url: str) -> str:
    return url.replace("nats://", "tls://")


def roundtrip(nc: nats_sync.Client, subject: str = "sec.test") -> bytes:
    sub = nc.subscribe(subject)
    nc.publish(subject, b"payload")
    data: bytes = sub.next_msg(timeout=2).data
    sub.unsubscribe()
    return data


# ------------------------------------------------------------------------ TLS


def test_tls_url_with_ca_file(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    with nats_sync.connect(tls_url(server.url), tls_ca_file=certs.ca) as nc:
        assert roundtrip(nc) == b"payload"
        assert nc.server_info is not None and nc.server_info.tls_required
        assert nc.connected_url == tls_url(server.url)


def test_given_context_requires_tls_on_a_nats_url(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    ctx = ssl.create_default_context(cafile=certs.ca)
    opts = build_options("nats://127.0.0.1:1", tls=ctx)
    assert opts.core.tls_required  # as nats.go: a TLS configuration means TLS is required
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    with nats_sync.connect(server.url, tls=ctx) as nc:
        assert roundtrip(nc) == b"payload"


def test_tls_url_to_a_server_without_tls_fails_clearly(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory()
    with pytest.raises(SecureConnectionWantedError, match="offers no TLS"):
        nats_sync.connect(tls_url(server.url), tls_ca_file=certs.ca)


def test_wrong_ca_fails_with_verification_error(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory(config=tls_block(certs.server_cert, certs.server_key))
    with pytest.raises(ConnectError, match=r"TLS handshake failed.*certificate verify failed"):
        nats_sync.connect(tls_url(server.url), tls_ca_file=certs.wrong_ca)
    # Verification is on by default: the system store does not know the test CA either.
    with pytest.raises(ConnectError, match="certificate verify failed"):
        nats_sync.connect(tls_url(server.url))


def test_hostname_mismatch_fails_and_tls_hostname_fixes_it(
    nats_server_factory: NatsServerFactory, certs: Certs
) -> None:
    server = nats_server_factory(config=tls_block(certs.other_cert, certs.other_key))
    with pytest.raises(ConnectError, match=r"(?i)hostname mismatch|doesn't match|not valid for"):
        nats_sync.connect(tls_url(server.url), tls_ca_file=certs.ca)
    with nats_sync.connect(
        tls_url(server.url), tls_ca_file=certs.ca, tls_hostname="example.org"
    ) as nc:
        assert roundtrip(nc) == b"payload"


def test_mutual_tls(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    config = tls_block(certs.server_cert, certs.server_key, ca=certs.ca, verify=True)
    server = nats_server_factory(config=config)
    with nats_sync.connect(
        tls_url(server.url),
        tls_ca_file=certs.ca,
        tls_cert_file=certs.client_cert,
        tls_key_file=certs.client_key,
    ) as nc:
        assert nc.server_info is not None and nc.server_info.tls_verify
        assert roundtrip(nc) == b"payload"
    with pytest.raises((ConnectError, NatsError)):
        nats_sync.connect(tls_url(server.url), tls_ca_file=certs.ca, connect_timeout=1)


@pytest.mark.server_2_10
def test_tls_handshake_first(nats_server_factory: NatsServerFactory, certs: Certs) -> None:
    config = tls_block(certs.server_cert, certs.server_key, first=True)
    server = nats_server_factory(config=config)
    with nats_sync.connect(
        tls_url(server.url), tls_ca_file=certs.ca, tls_handshake_first=True
    ) as nc:
        assert roundtrip(nc) == b"payload"
    # A client that waits for INFO in clear gets none.
    with pytest.raises(NatsError):
        nats_sync.connect(tls_url(server.url), tls_ca_file=certs.ca, connect_timeout=0.5)


def test_tls_key_without_cert_is_refused() -> None:
    with pytest.raises(NatsError, match="tls_key_file needs tls_cert_file"):
        nats_sync.connect("nats://127.0.0.1:1", tls_key_file="key.pem")


# ----------------------------------------------------------- token, user/pass


def test_token_with_user_and_password_reaches_a_token_server(
    nats_server_factory: NatsServerFactory,
) -> None:
    server = nats_server_factory(config=f'authorization {{ token: "{TOKEN}" }}\n')
    with nats_sync.connect(server.url, user="someone", password=PASSWORD, token=TOKEN) as nc:
        assert roundtrip(nc) == b"payload"


def test_token_option_url_and_callable(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=f'authorization {{ token: "{TOKEN}" }}\n')
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return TOKEN

    with nats_sync.connect(server.url, token=TOKEN) as nc:
        assert roundtrip(nc) == b"payload"
    with nats_sync.connect(server.url.replace("nats://", f"nats://{TOKEN}@")) as nc:
        assert roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + str(nc.connected_url) + repr(nc.servers), TOKEN)
    with nats_sync.connect(server.url, token=token) as nc:
        assert roundtrip(nc) == b"payload"
    assert calls == [1]
    with pytest.raises(AuthorizationError) as err:
        nats_sync.connect(server.url, token="wrong-" + TOKEN)
    assert no_secret_in(str(err.value) + repr(err.value), TOKEN)


def test_user_password_option_and_url(nats_server_factory: NatsServerFactory) -> None:
    config = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    server = nats_server_factory(config=config)
    with nats_sync.connect(server.url, user="alice", password=PASSWORD) as nc:
        assert roundtrip(nc) == b"payload"
    url = server.url.replace("nats://", f"nats://alice:{PASSWORD}@")
    with nats_sync.connect(url) as nc:
        assert roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + repr(nc.servers) + repr(nc._opts), PASSWORD)
        assert no_secret_in(repr(parse_url(url)), PASSWORD)


def test_first_connect_refused_raises_at_once_without_secrets(
    nats_server_factory: NatsServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    server = nats_server_factory(config=config)
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    start = time.monotonic()
    with pytest.raises(AuthorizationError, match=r"(?i)authorization violation") as err:
        nats_sync.connect(
            server.url.replace("nats://", f"nats://alice:x{PASSWORD}@"),
            error_cb=errors.append,
            retry_on_failed_connect=True,
        )
    assert time.monotonic() - start < 1.5  # not retried
    assert err.value.fatal
    text = str(err.value) + repr(err.value) + caplog.text + "".join(map(str, errors))
    assert no_secret_in(text, PASSWORD)


def test_same_auth_error_twice_stops_reconnecting(
    nats_server_factory: NatsServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    server = nats_server_factory(config=config)
    port = server.port
    errors: list[BaseException] = []
    closed = threading.Event()
    caplog.set_level(logging.DEBUG)
    nc = nats_sync.connect(
        server.url,
        user="alice",
        password=PASSWORD,
        error_cb=errors.append,
        closed_cb=closed.set,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
    )
    try:
        server.stop()
        # Same port, another password: every reconnect is refused.
        nats_server_factory(port=port, config=config.replace(PASSWORD, "other-one"))
        assert closed.wait(5), "the client kept retrying a server that refuses it"
        auth = [e for e in errors if isinstance(e, AuthorizationError)]
        assert len(auth) == 2
        assert nc.is_closed
        assert no_secret_in(caplog.text + "".join(map(str, errors)), PASSWORD)
    finally:
        nc.close()


def test_no_secret_in_log_lines_without_error_cb(
    nats_server_factory: NatsServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_user()
    server = nats_server_factory(config=nkey_users_config(user))
    caplog.set_level(logging.DEBUG)
    with nats_sync.connect(server.url, nkeys_seed_str=user.seed) as nc:
        nc.publish("forbidden.x", b"")
        nc.flush(timeout=2)
        assert wait_for(lambda: "forbidden.x" in caplog.text)
        assert no_secret_in(caplog.text + repr(nc) + repr(nc._opts), user.seed)


# ------------------------------------------------------------------------ NKey


@pytest.mark.parametrize("how", ["file", "seed_str", "seed_in_option"])
def test_nkey_user_with_permissions(
    nats_server_factory: NatsServerFactory, tmp_path: Path, how: str
) -> None:
    user = new_user()
    server = nats_server_factory(config=nkey_users_config(user))
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(user.seed + "\n")
    opts: dict[str, Any] = {
        "file": {"nkeys_seed": str(seed_file)},
        "seed_str": {"nkeys_seed_str": user.seed},
        "seed_in_option": {"nkeys_seed": user.seed},
    }[how]
    errors: list[BaseException] = []
    got_error = threading.Event()

    def on_error(e: BaseException) -> None:
        errors.append(e)
        got_error.set()

    with nats_sync.connect(server.url, error_cb=on_error, **opts) as nc:
        assert roundtrip(nc, "allowed.a") == b"payload"
        nc.publish("forbidden.pub", b"x")
        assert got_error.wait(2)
        pub_err = errors[-1]
        assert isinstance(pub_err, PermissionsError)
        assert (pub_err.operation, pub_err.subject) == ("publish", "forbidden.pub")
        assert not pub_err.fatal
        got_error.clear()
        sub = nc.subscribe("forbidden.sub")
        assert got_error.wait(2)
        sub_err = errors[-1]
        assert isinstance(sub_err, PermissionsError)
        assert (sub_err.operation, sub_err.subject) == ("subscribe", "forbidden.sub")
        with pytest.raises(SubscriptionClosedError):
            sub.next_msg(timeout=2)
        assert nc.is_connected  # a permissions error leaves the connection up
        responder = nc.subscribe("allowed.svc", cb=lambda m: m.respond(b"pong"))
        assert nc.request("allowed.svc", b"ping", timeout=2).data == b"pong"
        responder.unsubscribe()
        assert no_secret_in(repr(nc) + repr(nc._opts) + "".join(map(str, errors)), user.seed)


def test_unknown_nkey_is_refused(nats_server_factory: NatsServerFactory) -> None:
    server = nats_server_factory(config=nkey_users_config(new_user()))
    stranger = new_user()
    with pytest.raises(AuthorizationError) as err:
        nats_sync.connect(server.url, nkeys_seed_str=stranger.seed)
    assert no_secret_in(str(err.value), stranger.seed)


# ------------------------------------------------------------------------- JWT


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return jwt_setup(tmp_path_factory.mktemp("jwt"))


@pytest.fixture(scope="module")
def jwt_server(trust: Any) -> Any:
    from pynats.server import NatsServer

    with NatsServer(config=trust.config) as server:
        yield server


def write_creds(path: Path, jwt: str, seed: str) -> str:
    from jwt_helpers import creds_text

    path.write_text(creds_text(jwt, seed))
    return str(path)


def test_jwt_creds_file(jwt_server: Any, trust: Any, tmp_path: Path) -> None:
    user = new_user()
    creds = write_creds(tmp_path / "user.creds", user_jwt(user, trust.account), user.seed)
    with nats_sync.connect(jwt_server.url, user_credentials=creds) as nc:
        assert roundtrip(nc) == b"payload"
        assert no_secret_in(repr(nc) + repr(nc._opts), user.seed)


def test_jwt_and_seed_in_separate_files(jwt_server: Any, trust: Any, tmp_path: Path) -> None:
    user = new_user()
    (tmp_path / "user.jwt").write_text(user_jwt(user, trust.account) + "\n")
    (tmp_path / "user.nk").write_text(user.seed + "\n")
    creds = (str(tmp_path / "user.jwt"), str(tmp_path / "user.nk"))
    with nats_sync.connect(jwt_server.url, user_credentials=creds) as nc:
        assert roundtrip(nc) == b"payload"


def test_jwt_and_signature_callbacks(jwt_server: Any, trust: Any) -> None:
    user = new_user()
    token = user_jwt(user, trust.account)
    nonces: list[bytes] = []

    def sign(nonce: bytes) -> bytes:
        nonces.append(nonce)
        return user.sign(nonce)

    with nats_sync.connect(jwt_server.url, user_jwt=lambda: token, signature_cb=sign) as nc:
        assert roundtrip(nc) == b"payload"
    assert len(nonces) == 1 and nonces[0]


def test_jwt_permissions(jwt_server: Any, trust: Any, tmp_path: Path) -> None:
    user = new_user()
    token = user_jwt(user, trust.account, pub_allow=["allowed.>"], sub_allow=["allowed.>"])
    creds = write_creds(tmp_path / "user.creds", token, user.seed)
    errors: list[BaseException] = []
    with nats_sync.connect(jwt_server.url, user_credentials=creds, error_cb=errors.append) as nc:
        assert roundtrip(nc, "allowed.x") == b"payload"
        nc.publish("other.x", b"")
        nc.flush(timeout=2)
        assert wait_for(lambda: any(isinstance(e, PermissionsError) for e in errors))
        assert nc.is_connected


def test_expired_user_jwt_is_refused(jwt_server: Any, trust: Any, tmp_path: Path) -> None:
    user = new_user()
    token = user_jwt(user, trust.account, expires=int(time.time()) - 60)
    creds = write_creds(tmp_path / "user.creds", token, user.seed)
    # The server refuses an expired JWT at connect with "Authorization Violation".
    with pytest.raises(AuthorizationError) as err:
        nats_sync.connect(jwt_server.url, user_credentials=creds)
    assert no_secret_in(str(err.value), user.seed, token)


def test_jwt_expiring_while_connected(jwt_server: Any, trust: Any, tmp_path: Path) -> None:
    user = new_user()
    token = user_jwt(user, trust.account, expires=int(time.time()) + 2)
    creds = write_creds(tmp_path / "user.creds", token, user.seed)
    errors: list[BaseException] = []
    closed = threading.Event()
    nc = nats_sync.connect(
        jwt_server.url,
        user_credentials=creds,
        error_cb=errors.append,
        closed_cb=closed.set,
        reconnect_time_wait=0.1,
    )
    try:
        assert roundtrip(nc) == b"payload"
        assert closed.wait(6)
        assert isinstance(errors[0], AuthenticationExpiredError)
        assert "expired" in str(errors[0]).lower()
        assert all(isinstance(e, AuthorizationError) for e in errors)
    finally:
        nc.close()


def test_bad_credentials_files_name_the_file_not_the_secret(tmp_path: Path) -> None:
    user = new_user()
    missing = tmp_path / "missing.creds"
    with pytest.raises(NatsError, match="cannot read the credentials file") as err:
        nats_sync.connect("nats://127.0.0.1:1", user_credentials=str(missing))
    assert str(missing) in str(err.value)
    broken = tmp_path / "broken.creds"
    broken.write_text(f"-----BEGIN USER NKEY SEED-----\n{user.seed}\n------END------\n")
    with pytest.raises(NatsError, match="no user JWT") as err:
        nats_sync.connect("nats://127.0.0.1:1", user_credentials=str(broken))
    assert no_secret_in(str(err.value), user.seed)
