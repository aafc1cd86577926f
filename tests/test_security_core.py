"""Security options in the core, without a network: TLS requirements,
credentials files, secrets kept out of reprs and errors, auth error typing and
the "same auth error twice" rule."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

import nacl.signing
import nkeys
import pytest

from core_helpers import handshake, info_line, new_conn
from jwt_helpers import (
    account_jwt,
    creds_text,
    decode_jwt,
    new_account,
    new_operator,
    new_user,
    operator_jwt,
    user_jwt,
)
from nats_core import (
    ServerErrorEvent,
    apply_credentials,
    build_options,
    parse_credentials,
    parse_url,
)
from nats_core._client_options import parse_jwt_file
from nats_core._pool import redact_url
from nats_core.errors import (
    AuthenticationExpiredError,
    AuthorizationError,
    LocalProtocolError,
    PermissionsError,
    ServerError,
    classify_server_error,
)

SEED = nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER).decode()


def reader(files: dict[str, str]) -> object:
    def read_text(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path]

    return read_text


# ---------------------------------------------------------------------- TLS


@pytest.mark.parametrize(
    "option",
    [
        {"tls": ssl.create_default_context()},
        {"tls_ca_file": "ca.pem"},
        {"tls_cert_file": "c.pem", "tls_key_file": "k.pem"},
        {"tls_handshake_first": True},
    ],
    ids=["context", "ca_file", "client_cert", "handshake_first"],
)
def test_a_tls_option_requires_tls(option: dict[str, object]) -> None:
    assert build_options("nats://h:4222", **option).core.tls_required


def test_no_tls_option_no_tls_requirement() -> None:
    opts = build_options("nats://h:4222", tls_hostname="example.org")
    assert not opts.core.tls_required


def test_the_context_is_kept_as_given() -> None:
    ctx = ssl.create_default_context()
    assert build_options("nats://h", tls=ctx).tls is ctx


def test_tls_key_needs_a_cert() -> None:
    with pytest.raises(LocalProtocolError, match="tls_key_file needs tls_cert_file"):
        build_options("nats://h", tls_key_file="k.pem")


def test_required_tls_asks_the_adapter_for_an_upgrade() -> None:
    conn = new_conn(tls_required=True)
    conn.connection_made()
    (ev,) = conn.receive_data(info_line(tls_required=True))
    assert type(ev).__name__ == "StartTLS"
    assert ev.info.tls_required  # the adapters refuse when neither this nor tls_available


# -------------------------------------------------------------- credentials


def test_creds_file_is_parsed() -> None:
    user = new_user()
    token = user_jwt(user, new_account())
    assert parse_credentials(creds_text(token, user.seed)) == (token, user.seed.encode())


def test_creds_tuple_reads_two_files() -> None:
    user = new_user()
    token = user_jwt(user, new_account())
    opts = build_options("nats://h", user_credentials=("u.jwt", "u.nk"))
    files = {"u.jwt": token + "\n", "u.nk": f"# a comment\n{user.seed}\n"}
    opts = apply_credentials(opts, reader(files))  # type: ignore[arg-type]
    assert opts.core.user_jwt == token
    assert opts.core.nkey_seed == user.seed.encode()


def test_jwt_file_may_be_creds_style() -> None:
    token = user_jwt(new_user(), new_account())
    assert parse_jwt_file(creds_text(token, SEED)) == token
    assert parse_jwt_file(f"\n  {token}\n") == token
    with pytest.raises(LocalProtocolError, match="holds no JWT"):
        parse_jwt_file("not a jwt")


@pytest.mark.parametrize("shape", [("a",), ("a", "b", "c"), ["a", "b"], 3])
def test_bad_user_credentials_shape(shape: object) -> None:
    with pytest.raises(LocalProtocolError, match="user_credentials must be"):
        build_options("nats://h", user_credentials=shape)


def test_a_seed_given_as_nkeys_seed_is_never_read_as_a_path() -> None:
    opts = build_options("nats://h", nkeys_seed=SEED)
    loaded = apply_credentials(opts, reader({}))  # type: ignore[arg-type]
    assert loaded.core.nkey_seed == SEED.encode()
    assert opts.core.nkey_seed is None  # options are frozen: a new object holds the seed


def test_seed_file_errors_name_the_file_not_the_secret() -> None:
    opts = build_options("nats://h", nkeys_seed="/secrets/user.nk")
    with pytest.raises(
        LocalProtocolError, match=r"cannot read the NKey seed file '/secrets/user.nk'"
    ):
        apply_credentials(opts, reader({}))  # type: ignore[arg-type]
    account_seed = nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_ACCOUNT).decode()
    opts = build_options("nats://h", nkeys_seed="/k")
    with pytest.raises(LocalProtocolError, match="holds no user seed") as err:
        apply_credentials(opts, reader({"/k": account_seed}))  # type: ignore[arg-type]
    assert account_seed not in str(err.value)


def test_creds_without_a_seed() -> None:
    token = user_jwt(new_user(), new_account())
    text = f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n"
    with pytest.raises(LocalProtocolError, match="no NKey seed block") as err:
        parse_credentials(text)
    assert token not in str(err.value)


def test_jwt_without_a_signer_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="user_jwt needs a way to sign"):
        build_options("nats://h", user_jwt="a.b.c")
    with pytest.raises(LocalProtocolError, match="signature_cb needs user_jwt"):
        build_options("nats://h", signature_cb=lambda n: n)
    opts = build_options("nats://h", user_jwt=lambda: "a.b.c", signature_cb=lambda n: n)
    assert callable(opts.core.user_jwt)


def test_jwt_and_signature_callbacks_in_connect() -> None:
    user = new_user()
    token = user_jwt(user, new_account())
    opts = build_options("nats://h", user_jwt=lambda: token, signature_cb=user.sign)
    conn = new_conn(user_jwt=opts.core.user_jwt, signature_cb=opts.core.signature_cb)
    connect, _ = handshake(conn, nonce="n0nce", auth_required=True)
    assert connect["jwt"] == token
    raw = base64.b32decode(user.public + "=" * (-len(user.public) % 8))
    sig = base64.urlsafe_b64decode(connect["sig"] + "==")
    nacl.signing.VerifyKey(raw[1:33]).verify(b"n0nce", sig)
    assert "nkey" not in connect


# ------------------------------------------------------------------ secrets


def test_reprs_hide_every_secret() -> None:
    secrets = ["s3cret-pass", "t0ken-value", SEED, "eyJ.jwt.value"]
    opts = build_options(
        ["nats://bob:s3cret-pass@h1:4222", "nats://t0ken-value@h2:4222"],
        user="alice",
        password="s3cret-pass",
        token="t0ken-value",
        nkeys_seed=SEED,
        nkeys_seed_str=SEED,
        user_jwt="eyJ.jwt.value",
    )
    text = repr(opts) + repr(opts.core) + str(opts)
    text += "".join(repr(parse_url(u)) + parse_url(u).url for u in opts.core.servers)
    assert not [s for s in secrets if s in text]
    assert "h1:4222" in text and "(with credentials)" in text


def test_bad_urls_do_not_echo_credentials() -> None:
    with pytest.raises(LocalProtocolError) as err:
        parse_url("nats://bob:s3cret@host:notaport")
    assert "s3cret" not in str(err.value) and "***@host" in str(err.value)
    with pytest.raises(LocalProtocolError) as err:
        parse_url("http://t0ken@host:4222")
    assert "t0ken" not in str(err.value)
    assert redact_url("ws://u:p@h:1/x") == "ws://***@h:1/x"
    assert redact_url("h:4222") == "h:4222"


# ------------------------------------------------------------- auth errors


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Authorization Violation", AuthorizationError),
        ("User Authentication Expired", AuthenticationExpiredError),
        ("Account Authentication Expired", AuthenticationExpiredError),
        ("User Authentication Revoked", AuthenticationExpiredError),
        ('Permissions Violation for Publish to "a.b"', PermissionsError),
    ],
)
def test_auth_errors_are_typed(text: str, kind: type[ServerError]) -> None:
    err = classify_server_error(text)
    assert type(err) is kind
    assert err.fatal is (kind is not PermissionsError)
    assert isinstance(err, AuthorizationError) is (kind is not PermissionsError)


def test_the_same_auth_error_twice_drops_the_server() -> None:
    conn = new_conn(servers=["nats://a:4222", "nats://b:4222"], no_randomize=True)
    a = conn.pool.first_server()
    for expected in (1, 2):
        conn.connection_made(a)
        (ev,) = conn.receive_data(info_line() + b"-ERR 'Authorization Violation'\r\n")
        assert isinstance(ev, ServerErrorEvent) and isinstance(ev.error, AuthorizationError)
        assert a.auth_errors == expected
        conn.connection_lost(ev.error)
        nxt = conn.pool.next_server()
        conn.pool.current = a  # as a reconnect loop that comes back to a
    assert nxt is not None and nxt.host == "b"
    assert [s.host for s in conn.pool.servers] == ["b"]  # a is gone for good


def test_a_different_auth_error_starts_counting_again() -> None:
    conn = new_conn()
    a = conn.pool.first_server()
    for text in (b"User Authentication Expired", b"Authorization Violation"):
        conn.connection_made(a)
        conn.receive_data(info_line() + b"-ERR '" + text + b"'\r\n")
        conn.connection_lost()
    assert a.auth_errors == 1
    assert conn.pool.next_server() is a


# ------------------------------------------------------------ JWT helpers


def test_jwt_helper_writes_nats_v2_claims() -> None:
    op, acct, user = new_operator(), new_account(), new_user()
    for token, issuer, subject, kind in (
        (operator_jwt(op), op, op, "operator"),
        (account_jwt(acct, op), op, acct, "account"),
        (user_jwt(user, acct, pub_allow=["a.>"], expires=2_000_000_000), acct, user, "user"),
    ):
        header, claims = decode_jwt(token)
        assert header == {"typ": "JWT", "alg": "ed25519-nkey"}
        assert (claims["iss"], claims["sub"]) == (issuer.public, subject.public)
        assert claims["nats"]["type"] == kind and claims["nats"]["version"] == 2
        assert len(claims["jti"]) == 52 and isinstance(claims["iat"], int)
        raw = base64.b32decode(issuer.public + "=" * (-len(issuer.public) % 8))
        body, _, sig = token.rpartition(".")
        sig_bytes = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        nacl.signing.VerifyKey(raw[1:33]).verify(body.encode(), sig_bytes)
    assert claims["exp"] == 2_000_000_000
    assert claims["nats"]["pub"] == {"allow": ["a.>"]}
    assert json.loads(json.dumps(claims)) == claims


def test_options_are_frozen() -> None:
    import dataclasses

    opts = build_options("nats://h", tls_ca_file="ca.pem", nkeys_seed_str=SEED)
    assert opts.core.tls_required and opts.core.nkey_seed == SEED.encode()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.core.tls_required = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.ping_interval = 1  # type: ignore[misc]


def test_files_are_read_by_the_adapter(tmp_path: Path) -> None:
    # The core never opens files: it only sees what read_text returns.
    seen: list[str] = []

    def read_text(path: str) -> str:
        seen.append(path)
        return creds_text(user_jwt(new_user(), new_account()), SEED)

    opts = build_options("nats://h", user_credentials=str(tmp_path / "x.creds"))
    opts = apply_credentials(opts, read_text)
    assert seen == [str(tmp_path / "x.creds")]
    assert opts.core.nkey_seed == SEED.encode()
