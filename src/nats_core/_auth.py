"""The CONNECT fields a client sends: its flags and which credentials go with
them (options, or the URL's), the nonce signed with an NKey seed or a callback."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from ._info import ServerInfo
from ._options import ConnectOptions
from ._pool import ServerAddress
from .errors import LocalProtocolError

__all__ = ["connect_fields"]


def connect_fields(
    o: ConnectOptions, info: ServerInfo, server: ServerAddress | None, tls_active: bool
) -> dict[str, Any]:
    """The CONNECT fields for ``server`` after its INFO ``info`` (credentials included).

    Credentials in the server's URL replace the options' (a user and password, or
    a token); every credential given is sent, as nats.go does, and the server
    checks the one its configuration names.
    """
    d: dict[str, Any] = {
        "verbose": o.verbose,
        "pedantic": o.pedantic,
        "tls_required": tls_active,
        "lang": o.lang,
        "version": o.version,
        "protocol": 1,
        "echo": not o.no_echo,
        "headers": info.headers,
        "no_responders": info.headers,
    }
    if o.name:
        d["name"] = o.name
    user, password, token = o.user, o.password, o.token
    if server is not None and server.username:
        if server.password is not None:
            user, password = server.username, server.password
        else:
            token = server.username
    if user:
        d["user"] = user
        d["pass"] = password or ""
    if token:  # with a user too: the server decides which one it checks
        d["auth_token"] = token() if callable(token) else token
    if o.user_jwt is not None:
        d["jwt"] = o.user_jwt() if callable(o.user_jwt) else o.user_jwt
    if info.nonce and (o.nkey_seed or o.signature_cb):
        sig, public = _sign_nonce(info.nonce.encode(), o.nkey_seed, o.signature_cb)
        d["sig"] = base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
        if "jwt" not in d:
            nkey = public or o.nkey_public
            if nkey:
                d["nkey"] = nkey
    return d


def _sign_nonce(
    nonce: bytes, seed: bytes | None, cb: Callable[[bytes], bytes] | None
) -> tuple[bytes, str | None]:
    if cb is not None:
        return cb(nonce), None
    assert seed is not None
    try:
        import nkeys
    except ImportError:  # pragma: no cover - depends on the environment
        raise LocalProtocolError(
            "signing with an NKey seed needs the nkeys package: pip install 'pynats[nkeys]'"
        ) from None
    kp = nkeys.from_seed(bytearray(seed))
    sig: bytes = kp.sign(nonce)
    public: str = kp.public_key.decode()
    return sig, public
