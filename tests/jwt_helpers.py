"""A minimal NATS JWT v2 encoder and NKey helpers, for tests that set up an
operator / account / user trust chain on a real nats-server.

A NATS JWT is ``base64url(header).base64url(claims).base64url(signature)``
(no padding), the header ``{"typ":"JWT","alg":"ed25519-nkey"}``, the signature
ed25519 by the issuer's NKey over the first two parts. ``jti`` is the base32
(no padding) SHA-512/256 of the claims serialized with an empty ``jti``, as
nats-io/jwt computes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import nkeys

__all__ = [
    "NKey",
    "account_jwt",
    "creds_text",
    "decode_jwt",
    "encode_jwt",
    "new_account",
    "new_operator",
    "new_user",
    "operator_jwt",
    "user_jwt",
]

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
_UNLIMITED = -1


@dataclass(frozen=True)
class NKey:
    """An NKey pair: ``seed`` (``S...``) and ``public`` (``O...``, ``A...``, ``U...``)."""

    seed: str
    public: str

    def sign(self, data: bytes) -> bytes:
        kp = nkeys.from_seed(bytearray(self.seed.encode()))
        sig: bytes = kp.sign(data)
        return sig


def _new_key(prefix: int) -> NKey:
    seed = nkeys.encode_seed(os.urandom(32), prefix).decode()
    public = nkeys.from_seed(bytearray(seed.encode())).public_key.decode()
    return NKey(seed, public)


def new_operator() -> NKey:
    return _new_key(nkeys.PREFIX_BYTE_OPERATOR)


def new_account() -> NKey:
    return _new_key(nkeys.PREFIX_BYTE_ACCOUNT)


def new_user() -> NKey:
    return _new_key(nkeys.PREFIX_BYTE_USER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _jti(claims: dict[str, Any]) -> str:
    try:
        h = hashlib.new("sha512_256")
    except ValueError:  # an OpenSSL without SHA-512/256; the server does not check it
        h = hashlib.sha256()
    h.update(_json({**claims, "jti": ""}))
    return base64.b32encode(h.digest()).rstrip(b"=").decode()


def encode_jwt(
    subject: str,
    issuer: NKey,
    nats: dict[str, Any],
    *,
    name: str = "",
    expires: int | None = None,
    issued_at: int | None = None,
) -> str:
    """Sign a JWT with ``issuer``'s key; ``nats`` must hold ``type`` (and may hold more)."""
    claims: dict[str, Any] = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "iss": issuer.public,
        "name": name or subject[:8],
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    if expires is not None:
        claims["exp"] = expires
    claims["jti"] = _jti(claims)
    head = _b64(_json(_HEADER)) + "." + _b64(_json(claims))
    return head + "." + _b64(issuer.sign(head.encode()))


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of ``token`` (the signature is not checked)."""
    parts = token.split(".")
    pad = [p + "=" * (-len(p) % 4) for p in parts[:2]]
    return json.loads(base64.urlsafe_b64decode(pad[0])), json.loads(
        base64.urlsafe_b64decode(pad[1])
    )


def operator_jwt(op: NKey, *, name: str = "test-operator", system_account: str = "") -> str:
    """A self-signed operator JWT."""
    nats: dict[str, Any] = {"type": "operator"}
    if system_account:
        nats["system_account"] = system_account
    return encode_jwt(op.public, op, nats, name=name)


def account_jwt(account: NKey, op: NKey, *, name: str = "test-account") -> str:
    """An account JWT issued by ``op``, with no limits."""
    limits = {
        "subs": _UNLIMITED,
        "data": _UNLIMITED,
        "payload": _UNLIMITED,
        "imports": _UNLIMITED,
        "exports": _UNLIMITED,
        "wildcards": True,
        "conn": _UNLIMITED,
        "leaf": _UNLIMITED,
    }
    nats = {"type": "account", "limits": limits, "default_permissions": {"pub": {}, "sub": {}}}
    return encode_jwt(account.public, op, nats, name=name)


def user_jwt(
    user: NKey,
    account: NKey,
    *,
    name: str = "test-user",
    pub_allow: list[str] | None = None,
    sub_allow: list[str] | None = None,
    expires: int | None = None,
) -> str:
    """A user JWT issued by ``account``; ``pub_allow``/``sub_allow`` restrict it."""
    nats: dict[str, Any] = {
        "type": "user",
        "pub": {"allow": pub_allow} if pub_allow is not None else {},
        "sub": {"allow": sub_allow} if sub_allow is not None else {},
        "subs": _UNLIMITED,
        "data": _UNLIMITED,
        "payload": _UNLIMITED,
    }
    return encode_jwt(user.public, account, nats, name=name, expires=expires)


def creds_text(jwt: str, seed: str) -> str:
    """The text of a ``.creds`` file, as ``nsc`` writes it."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )
