"""Contexts shared with the nats CLI (ADR-21): paths, parsing, connect() options."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from nats_core import build_options
from nats_core.context import (
    DEFAULT_URL,
    NatsContext,
    check_context_name,
    config_dir,
    context_path,
    known_contexts,
    merge_connect_options,
    parse_context,
    parse_selected_context,
    resolve_context_name,
    selected_context_path,
)
from nats_core.errors import ConfigError

JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQSJ9.c2ln"
SEED = "SUAGMJH5XLGZKQQWAWKRZJIGMOU4HPFUYLXJMXOO5NLFEO2OOQJ5LPRDPM"
CREDS = f"""-----BEGIN NATS USER JWT-----
{JWT}
------END NATS USER JWT------

-----BEGIN USER NKEY SEED-----
{SEED}
------END USER NKEY SEED------
"""
ENV = {"HOME": "/home/ann", "CERTS": "/etc/certs"}


def ctx(name: str = "prod", **fields: Any) -> NatsContext:
    return parse_context(json.dumps(fields), name)


def data_uri(text: str) -> str:
    return "data:;base64," + base64.b64encode(text.encode()).decode()


# ------------------------------------------------------------------ paths


def test_config_dir_and_paths() -> None:
    assert config_dir({"HOME": "/home/ann"}) == "/home/ann/.config/nats"
    assert config_dir({"HOME": "/home/ann", "XDG_CONFIG_HOME": "/xdg"}) == "/xdg/nats"
    assert config_dir({"XDG_CONFIG_HOME": "", "HOME": "/h/"}) == "/h/.config/nats"
    assert config_dir({}, home="/root") == "/root/.config/nats"
    assert context_path("prod", ENV) == "/home/ann/.config/nats/context/prod.json"
    assert selected_context_path({"XDG_CONFIG_HOME": "/x/"}) == "/x/nats/context.txt"
    with pytest.raises(ConfigError, match="XDG_CONFIG_HOME"):
        config_dir({})


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a\\b", "x..y"])
def test_bad_context_names(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_context_name(bad)
    with pytest.raises(ConfigError):
        context_path(bad, ENV)


def test_selected_context() -> None:
    assert parse_selected_context("ngs\n") == "ngs"
    assert parse_selected_context(b"  prod  \r\n") == "prod"
    assert parse_selected_context("") is None
    assert parse_selected_context(None) is None
    with pytest.raises(ConfigError, match=r"context\.txt"):
        parse_selected_context("../etc/passwd")
    assert resolve_context_name("dev", "prod") == "dev"
    assert resolve_context_name(None, "prod\n") == "prod"
    assert resolve_context_name("", None) is None


def test_known_contexts() -> None:
    files = ["prod.json", "dev.json", "notes.txt", ".json", "a..b.json", "x.y.json"]
    assert known_contexts(files) == ["dev", "prod", "x.y"]


# ---------------------------------------------------------------- parsing


def test_parse_every_adr21_field() -> None:
    doc = {
        "description": "production",
        "url": "nats://a:4222,nats://b:4222",
        "token": "t",
        "user": "u",
        "password": "p",
        "creds": "/c.creds",
        "nkey": "/n.nk",
        "cert": "/c.pem",
        "key": "/k.pem",
        "ca": "/ca.pem",
        "nsc": "nsc://op/acc/user",
        "jetstream_domain": "hub",
        "jetstream_api_prefix": "$JS.x.API",
        "jetstream_event_prefix": "$JS.x.EVENT",
        "inbox_prefix": "_I",
        "user_jwt": JWT,
        "user_seed": SEED,
        "color_scheme": "dark",
        "tls_first": True,
        "socks_proxy": "",
        "windows_cert_store": "",
        "windows_cert_match_by": "",
        "windows_cert_match": "",
        "windows_ca_certs_match": ["a", "b"],
        "name": "ignored: the file name wins",
        "future_field": {"x": 1},
    }
    c = parse_context(json.dumps(doc).encode(), "prod")
    assert c.name == "prod" and c.description == "production"
    assert c.servers == "nats://a:4222,nats://b:4222"
    assert (c.user, c.password, c.token, c.creds, c.nkey) == ("u", "p", "t", "/c.creds", "/n.nk")
    assert (c.cert, c.key, c.ca, c.nsc) == ("/c.pem", "/k.pem", "/ca.pem", "nsc://op/acc/user")
    assert (c.jetstream_domain, c.jetstream_api_prefix, c.jetstream_event_prefix) == (
        "hub",
        "$JS.x.API",
        "$JS.x.EVENT",
    )
    assert (c.inbox_prefix, c.user_jwt, c.user_seed, c.color_scheme) == ("_I", JWT, SEED, "dark")
    assert c.tls_first is True and c.windows_ca_certs_match == ("a", "b")
    assert c.extra == {"future_field": {"x": 1}}


def test_empty_context_defaults() -> None:
    c = parse_context("{}")
    assert c == NatsContext()
    assert c.servers == DEFAULT_URL == "nats://localhost:4222"
    assert c.connect_options() == {"servers": DEFAULT_URL}
    assert c.jetstream_options() == {}


def test_nulls_are_unset_and_the_cli_written_name_is_used_without_one() -> None:
    c = parse_context('{"url": null, "tls_first": null, "name": "from-json"}')
    assert c.url == "" and c.tls_first is False and c.name == "from-json"


def test_secrets_stay_out_of_repr() -> None:
    text = repr(ctx(user="u", password="hunter2", token="tok", user_seed=SEED, user_jwt=JWT))
    for secret in ("hunter2", "tok", SEED, JWT):
        assert secret not in text
    assert "prod" in text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "context 'prod' is not valid JSON"),
        (b"\xff", "context 'prod' is not valid JSON"),
        ("[]", "context 'prod' is not a JSON object"),
        ('{"url": 4222}', "context 'prod': field 'url' must be a string, not int"),
        ('{"tls_first": "yes"}', "context 'prod': field 'tls_first' must be true or false"),
        ('{"windows_ca_certs_match": "a"}', "windows_ca_certs_match"),
    ],
)
def test_malformed_context_names_the_context(text: str | bytes, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_context(text, "prod")


def test_a_bad_secret_is_not_in_the_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_context('{"password": 98765}', "prod")
    assert "98765" not in str(info.value)


def test_path_expansion_with_env() -> None:
    doc = {
        "creds": "~/.nkeys/u.creds",
        "nkey": "$CERTS/n.nk",
        "cert": "${CERTS}/c.pem",
        "key": "$MISSING/k.pem",
        "ca": "file://~/ca.pem",
        "url": "nats://$HOST:4222",  # only the path fields are expanded
        "token": "$TOKEN",
    }
    c = parse_context(json.dumps(doc), "x", env=ENV)
    assert c.creds == "/home/ann/.nkeys/u.creds"
    assert c.nkey == "/etc/certs/n.nk" and c.cert == "/etc/certs/c.pem"
    assert c.key == "/k.pem"  # an unset variable is empty, as Go's os.ExpandEnv
    assert c.ca == "file:///home/ann/ca.pem"
    assert c.url == "nats://$HOST:4222" and c.token == "$TOKEN"
    raw = parse_context(json.dumps(doc), "x")
    assert raw.creds == "~/.nkeys/u.creds"  # no env: as written
    assert parse_context('{"creds": "~/u.creds"}', env={}, home="/r").creds == "/r/u.creds"
    assert parse_context('{"creds": "~bob/u.creds"}', env=ENV).creds == "~bob/u.creds"


# -------------------------------------------------------- connect options


def test_user_password_wins_over_other_auth_and_token_is_added() -> None:
    c = ctx(url="nats://h:4222", user="u", password="p", creds="/c", nkey="/n", token="t")
    assert c.connect_options() == {
        "servers": "nats://h:4222",
        "user": "u",
        "password": "p",
        "token": "t",
    }


def test_creds_then_nkey_then_jwt() -> None:
    assert ctx(creds="/c.creds", nkey="/n").connect_options()["user_credentials"] == "/c.creds"
    assert ctx(creds="file:///c.creds").connect_options()["user_credentials"] == "/c.creds"
    assert ctx(nkey="/n.nk").connect_options()["nkeys_seed"] == "/n.nk"
    opts = ctx(user_jwt=JWT, user_seed=SEED).connect_options()
    assert opts["user_jwt"] == JWT and opts["nkeys_seed_str"] == SEED
    bearer = ctx(user_jwt=JWT).connect_options()
    assert bearer["user_jwt"] == JWT and bearer["signature_cb"](b"nonce") == b""


def test_inline_credentials_by_data_and_env_references() -> None:
    opts = ctx(creds=data_uri(CREDS)).connect_options()
    assert opts["user_jwt"] == JWT and opts["nkeys_seed_str"] == SEED
    assert "user_credentials" not in opts
    opts = ctx(nkey="env://SEED").connect_options({"SEED": SEED + "\n"})
    assert opts["nkeys_seed_str"] == SEED
    opts = ctx(user="u", password="env://PW", token=data_uri("tok\n")).connect_options({"PW": "s"})
    assert (opts["password"], opts["token"]) == ("s", "tok")
    opts = ctx(user_jwt="env://JWT", user_seed="env://SEED").connect_options(
        {"JWT": JWT, "SEED": SEED}
    )
    assert (opts["user_jwt"], opts["nkeys_seed_str"]) == (JWT, SEED)


@pytest.mark.parametrize(
    ("fields", "env", "match"),
    [
        ({"user": "u", "password": "env://PW"}, {}, "password names env://PW, which is not set"),
        ({"token": "env://T"}, {"T": ""}, "not set"),
        ({"token": "op://vault/item"}, {}, r"token refers to op://\.\.\."),
        ({"user": "u", "password": "file:///pw"}, {}, r"password refers to file://"),
        ({"creds": "data:,plain"}, {}, "without ';base64,'"),
        ({"creds": "data:;base64,!!!"}, {}, "invalid base64"),
        ({"creds": data_uri("no blocks")}, {}, "context 'prod': creds"),
        ({"creds": "nsc://op/acc/u"}, {}, r"creds refers to nsc://"),
        ({"nsc": "nsc://op/acc/u"}, {}, "nsc lookups need the nsc tool"),
        ({"socks_proxy": "socks5://p:1080"}, {}, "socks_proxy is not supported"),
        ({"windows_cert_store": "windowscurrentuser"}, {}, "windows_cert_store"),
        ({"ca": data_uri("pem")}, {}, "ca must be a path"),
    ],
)
def test_what_cannot_be_honoured_is_a_config_error(
    fields: dict[str, Any], env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        ctx(**fields).connect_options(env)


def test_tls_options() -> None:
    opts = ctx(cert="/c.pem", key="/k.pem", ca="/ca.pem", tls_first=True).connect_options()
    assert opts == {
        "servers": DEFAULT_URL,
        "tls_cert_file": "/c.pem",
        "tls_key_file": "/k.pem",
        "tls_ca_file": "/ca.pem",
        "tls_handshake_first": True,
    }
    # as jsm.go: a certificate is used only with its key
    assert "tls_cert_file" not in ctx(cert="/c.pem").connect_options()


def test_other_options() -> None:
    c = ctx(inbox_prefix="_MY", jetstream_domain="hub", jetstream_api_prefix="$JS.x.API")
    assert c.connect_options()["inbox_prefix"] == "_MY"
    assert c.jetstream_options() == {"domain": "hub"}  # the domain first, as the CLI
    assert ctx(jetstream_api_prefix="$JS.x.API").jetstream_options() == {"api_prefix": "$JS.x.API"}


def test_connect_options_are_valid_client_options() -> None:
    cases = [
        ctx(url="nats://a:1,nats://b:2", user="u", password="p", inbox_prefix="_X"),
        ctx(creds=data_uri(CREDS)),
        ctx(user_jwt=JWT),
        ctx(user_jwt=JWT, user_seed=SEED),
        ctx(token="t", ca="/ca.pem", tls_first=True),
    ]
    for c in cases:
        opts = build_options(**c.connect_options())
        assert opts.core.servers[0].startswith("nats://")
    built = build_options(**ctx(url="nats://a:1,nats://b:2").connect_options())
    assert built.core.servers == ["nats://a:1", "nats://b:2"]
    assert build_options(**ctx(ca="/ca.pem").connect_options()).core.tls_required


# ------------------------------------------------------------------ merge


def test_explicit_options_win() -> None:
    from_ctx = ctx(url="nats://ctx:4222", inbox_prefix="_C", token="t").connect_options()
    merged = merge_connect_options(
        from_ctx, {"servers": "nats://mine:4222", "name": "app", "inbox_prefix": None}
    )
    assert merged == {
        "servers": "nats://mine:4222",
        "name": "app",
        "inbox_prefix": "_C",  # None: not given
        "token": "t",
    }


def test_explicit_auth_replaces_all_of_the_contexts() -> None:
    from_ctx = ctx(user="u", password="p", token="t").connect_options()
    merged = merge_connect_options(from_ctx, {"user_credentials": "/mine.creds"})
    assert merged == {"servers": DEFAULT_URL, "user_credentials": "/mine.creds"}
    assert merge_connect_options(from_ctx, {}) == from_ctx


def test_explicit_tls_context_replaces_the_tls_files() -> None:
    from_ctx = ctx(cert="/c", key="/k", ca="/ca", tls_first=True).connect_options()
    sentinel = object()
    merged = merge_connect_options(from_ctx, {"tls": sentinel})
    assert merged == {"servers": DEFAULT_URL, "tls_handshake_first": True, "tls": sentinel}
