"""Every option of a client, shared by the blocking and the async adapter.

The core validates and stores them; the adapters act on the I/O ones
(timeouts, TLS, callbacks). Unknown names and bad values raise at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ._options import ConnectOptions
from .errors import ConfigError, ConfigTypeError
from .instrument import Instrumentation
from .typed_options import check_option

__all__ = [
    "ClientOptions",
    "apply_credentials",
    "build_options",
    "credential_paths",
    "parse_credentials",
    "parse_jwt_file",
]


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Options the adapters use besides :class:`ConnectOptions` (which is ``core``).

    Validated once, by :func:`build_options`, and never changed after: a client
    that needs other options (credentials read from files, say) gets a new
    object (:func:`apply_credentials`)."""

    core: ConnectOptions = field(default_factory=ConnectOptions)
    #: Seconds allowed for dialing and the handshake of one server.
    connect_timeout: float = 2.0
    #: Seconds to wait before dialing a server that was tried lately.
    reconnect_time_wait: float = 2.0
    #: Random extra wait added to ``reconnect_time_wait`` (plain and TLS).
    reconnect_jitter: float = 0.1
    reconnect_jitter_tls: float = 1.0
    #: ``f(attempt) -> seconds`` replacing the wait and jitter above.
    reconnect_delay_cb: Callable[[int], float] | None = None
    #: Keep trying in the background when the first connect fails.
    retry_on_failed_connect: bool = False
    #: Seconds between liveness PINGs.
    ping_interval: float = 120.0
    #: Seconds a connection drain may take before the client closes anyway.
    drain_timeout: float = 30.0
    #: Default pending limits of a subscription (messages, bytes); <= 0 means no limit.
    pending_msgs_limit: int = 512 * 1024
    pending_bytes_limit: int = 64 * 1024 * 1024
    #: Outbound bytes queued before publish waits for the writer.
    max_outbound_bytes: int = 32 * 1024 * 1024
    #: Worker threads that run subscription callbacks (``nats_sync``; started
    #: as needed). ``nats_anyio`` runs each callback subscription in a task.
    callback_threads: int = 4
    #: An ``ssl.SSLContext`` used as given, or None for a verifying default one;
    #: or a callable returning an ``ssl.SSLContext``, called at every dial (a
    #: rotated client certificate or CA is picked up at the next reconnect, as
    #: nats.go's ClientTLSConfig with certificate callbacks). Giving one (or a
    #: CA file, or a client certificate) makes TLS required.
    tls: Any = None
    #: Name checked against the server's certificate (default: the URL's host).
    tls_hostname: str | None = None
    #: CA file(s) trusted for the server's certificate: one path or several (RootCAs).
    tls_ca_file: str | Sequence[str] | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    #: Path of a ``.creds`` file (JWT + NKey seed), or ``(jwt_path, seed_path)``.
    user_credentials: str | tuple[str, str] | None = None
    #: Path of an NKey seed file, or the seed itself.
    nkeys_seed: str | None = field(default=None, repr=False)
    nkeys_seed_str: str | None = field(default=None, repr=False)
    #: Path of a file holding the token (``auth_token``); read at every (re)connect.
    token_file: str | None = None
    #: Called once the first connection is made (nats.go's ConnectHandler): with
    #: ``retry_on_failed_connect``, maybe in the background after ``connect()`` returned.
    connected_cb: Callable[..., Any] | None = None
    error_cb: Callable[..., Any] | None = None
    disconnected_cb: Callable[..., Any] | None = None
    reconnected_cb: Callable[..., Any] | None = None
    closed_cb: Callable[..., Any] | None = None
    lame_duck_cb: Callable[..., Any] | None = None
    discovered_servers_cb: Callable[..., Any] | None = None
    #: Called with the error of every failed reconnect attempt (nats.go's ReconnectErrCB).
    reconnect_error_cb: Callable[..., Any] | None = None
    #: ``f() -> (user, password)``, asked at every CONNECT (nats.go's UserInfoHandler);
    #: ``connect(user=f, password=g)`` with callables builds it.
    user_info_cb: Callable[[], tuple[str, str]] | None = None
    #: Seconds a write to the server may block before the connection is dropped
    #: as failed (nats.go's FlusherTimeout); None: no limit.
    flusher_timeout: float | None = None
    #: After ``close()`` no callback runs any more, ``closed_cb`` included
    #: (nats.go's NoCallbacksAfterClientClose).
    no_callbacks_after_client_close: bool = False
    #: Keep dialing a server that refused the credentials twice in a row with
    #: the same error (nats.go's IgnoreAuthErrorAbort).
    ignore_auth_error_abort: bool = False
    #: Accepted for nats.go's SkipHostLookup: the clients never resolve and shuffle
    #: a host's addresses themselves (the host name goes to the OS as given).
    skip_host_lookup: bool = False
    #: Offer permessage-deflate in the WebSocket upgrade (``ws://``/``wss://``
    #: servers only; nats.go's Compression): the server may decline.
    compression: bool = False
    #: Each request subscribes a unique inbox of its own (auto-unsubscribed
    #: after one reply) instead of sharing one wildcard response subscription
    #: (nats.go's UseOldRequestStyle).
    use_old_request_style: bool = False
    #: Hooks called on connection events, publish, delivery, requests, message
    #: processing and JetStream acks (:mod:`nats_core.instrument`; OpenTelemetry
    #: in :mod:`pynats.otel`). None: no hook, at no cost.
    instrumentation: Instrumentation | None = None


_CORE_NAMES = {f.name for f in fields(ConnectOptions)} - {"servers", "no_randomize"}
_CLIENT_NAMES = {f.name for f in fields(ClientOptions)} - {"core"}
_ALIASES = {
    "dont_randomize": "no_randomize",
    "no_randomize": "no_randomize",
}
_POSITIVE = {"connect_timeout", "ping_interval", "drain_timeout"}
_POSITIVE_OR_NONE = {"flusher_timeout"}
_NON_NEGATIVE = {"reconnect_time_wait", "reconnect_jitter", "reconnect_jitter_tls"}


#: The options naming files: a ``pathlib.Path`` (any ``os.PathLike``) is taken as its
#: ``str``, also inside ``tls_ca_file``'s list and ``user_credentials``' pair.
_PATH_OPTIONS = frozenset(
    {"tls_ca_file", "tls_cert_file", "tls_key_file", "user_credentials", "nkeys_seed", "token_file"}
)


def _fspath(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple | list):
        return type(value)(os.fspath(v) if isinstance(v, os.PathLike) else v for v in value)
    return value


def build_options(servers: str | Sequence[str] | None = None, **kwargs: Any) -> ClientOptions:
    """Validate keyword options as the clients' ``connect()`` takes them.

    ``servers`` is a URL, a comma-separated list, or a sequence of URLs.
    """
    if servers is None:
        urls = ["nats://127.0.0.1:4222"]
    elif isinstance(servers, str):
        urls = [u.strip() for u in servers.split(",") if u.strip()]
    else:
        urls = [str(u) for u in servers]
    if not urls:
        raise ConfigError(f"no server URL in {servers!r}")
    core_kw: dict[str, Any] = {"servers": urls}
    client_kw: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in _PATH_OPTIONS:
            value = _fspath(value)
        if name in _ALIASES:
            core_kw[_ALIASES[name]] = bool(value)
        elif name in _CORE_NAMES:
            core_kw[name] = value
        elif name in _CLIENT_NAMES:
            client_kw[name] = value
        else:
            raise ConfigTypeError(f"connect() got an unknown option {name!r}")
        check_option(name, value)
        if name in _POSITIVE and not (isinstance(value, (int, float)) and value > 0):
            raise ConfigError(f"option {name} must be a positive number, not {value!r}")
        if name in _NON_NEGATIVE and not (isinstance(value, (int, float)) and value >= 0):
            raise ConfigError(f"option {name} must be a number >= 0, not {value!r}")
        if name in _POSITIVE_OR_NONE and not (
            value is None or (isinstance(value, (int, float)) and value > 0)
        ):
            raise ConfigError(f"option {name} must be a positive number or None, not {value!r}")
        if name == "callback_threads" and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            raise ConfigError(f"option callback_threads must be an int >= 1, not {value!r}")
    _user_info(core_kw, client_kw)
    instr = client_kw.get("instrumentation")
    if instr is not None and not isinstance(instr, Instrumentation):
        raise ConfigError(
            f"instrumentation must be a nats_core.instrument.Instrumentation, not {instr!r}"
        )
    tls = client_kw.get("tls")
    if tls is not None and not (callable(tls) or hasattr(tls, "wrap_socket")):
        raise ConfigError(f"tls must be an ssl.SSLContext or a callable returning one, not {tls!r}")
    cas = client_kw.get("tls_ca_file")
    if cas is not None and not isinstance(cas, str):
        cas = client_kw["tls_ca_file"] = tuple(cas)
        if not cas or not all(isinstance(c, str) for c in cas):
            raise ConfigError("tls_ca_file must be a path or a non-empty sequence of paths")
    if isinstance(core_kw.get("nkey_seed"), str):
        core_kw["nkey_seed"] = core_kw["nkey_seed"].encode()
    if client_kw.get("nkeys_seed_str"):
        core_kw["nkey_seed"] = client_kw["nkeys_seed_str"].strip().encode()
    # As in nats.go, giving an SSL context, a CA file, a client certificate or
    # tls_handshake_first means every server must be reached over TLS.
    if any(client_kw.get(k) for k in ("tls", "tls_ca_file", "tls_cert_file")) or core_kw.get(
        "tls_handshake_first"
    ):
        core_kw["tls_required"] = True
    opts = ClientOptions(core=ConnectOptions(**core_kw), **client_kw)
    _check_security(opts)
    prefix = opts.core.inbox_prefix
    if not prefix or any(c in prefix for c in " \t\r\n*>") or prefix.endswith("."):
        raise ConfigError(f"invalid inbox_prefix {prefix!r}")
    return opts


def _user_info(core_kw: dict[str, Any], client_kw: dict[str, Any]) -> None:
    """``user`` and ``password`` given as callables become ``user_info_cb``."""
    user, password = core_kw.get("user"), core_kw.get("password")
    if not (callable(user) or callable(password)):
        return
    if client_kw.get("user_info_cb") is not None:
        raise ConfigError("give user_info_cb, or user and password as callables, not both")
    del core_kw["user"]
    core_kw.pop("password", None)

    def user_info() -> tuple[str, str]:
        u = user() if callable(user) else user
        p = password() if callable(password) else password
        return str(u or ""), str(p or "")

    client_kw["user_info_cb"] = user_info


def _check_security(opts: ClientOptions) -> None:
    """Validate the TLS and credential options."""
    core = opts.core
    if opts.tls_key_file and not opts.tls_cert_file:
        raise ConfigError("tls_key_file needs tls_cert_file (the client certificate)")
    creds = opts.user_credentials
    if creds is not None and not (
        isinstance(creds, str)
        or (isinstance(creds, tuple) and len(creds) == 2 and all(isinstance(p, str) for p in creds))
    ):
        raise ConfigError(
            "user_credentials must be the path of a .creds file or a (jwt_path, seed_path) tuple"
        )
    token_file = _token_file(opts)
    if token_file is not None and (not isinstance(token_file, str) or core.token):
        raise ConfigError("token_file must be a path, and is not given with token")
    if core.user_jwt is not None and not (
        core.nkey_seed or core.signature_cb or opts.nkeys_seed or opts.user_credentials
    ):
        raise ConfigError(
            "user_jwt needs a way to sign the server's nonce: signature_cb, nkeys_seed "
            "or nkeys_seed_str"
        )
    if core.signature_cb is not None and core.user_jwt is None and not core.nkey_public:
        raise ConfigError(
            "signature_cb needs user_jwt (JWT authentication) or nkey_public (NKey authentication)"
        )


def parse_credentials(text: str) -> tuple[str, bytes]:
    """Split the text of a ``.creds`` file into (user JWT, NKey seed).

    Raises :class:`ConfigError` when either block is missing.
    """
    jwt = _block(text, "NATS USER JWT")
    seed = _block(text, "USER NKEY SEED")
    if jwt is None or seed is None:
        missing = "user JWT" if jwt is None else "NKey seed"
        raise ConfigError(f"credentials file has no {missing} block")
    return jwt, seed.encode()


def _block(text: str, title: str) -> str | None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "BEGIN" in line and title in line:
            for follow in lines[i + 1 :]:
                follow = follow.strip()
                if follow and not follow.startswith("---"):
                    return follow
                if "END" in follow:
                    return None
    return None


def credential_paths(opts: ClientOptions) -> tuple[str, ...]:
    """The files :func:`apply_credentials` reads for ``opts`` (``user_credentials``,
    an ``nkeys_seed`` that is a path, ``token_file``), in the order it reads them.

    The clients read them again before every (re)connect, so a rotated file is
    used at the next CONNECT; an async adapter reads them ahead with this list.
    """
    paths: list[str] = []
    creds = opts.user_credentials
    if isinstance(creds, tuple):
        paths += creds
    elif creds:
        paths.append(creds)
    if opts.nkeys_seed and not _looks_like_seed(opts.nkeys_seed.strip()):
        paths.append(opts.nkeys_seed.strip())
    token_file = _token_file(opts)
    if token_file:
        paths.append(token_file)
    return tuple(paths)


def apply_credentials(opts: ClientOptions, read_text: Callable[[str], str]) -> ClientOptions:
    """``opts`` with the ``user_credentials`` / ``nkeys_seed`` / ``token_file`` files
    loaded through the adapter's ``read_text`` (a new object; ``opts`` is left as
    it is).

    The files are read by the adapter (the core does no I/O) and parsed here.
    ``user_credentials`` is a ``.creds`` file or a ``(jwt_path, seed_path)``
    pair; ``nkeys_seed`` is a seed file or the seed itself; ``token_file`` holds
    the token. Errors name the file, never its contents. Applying it again to
    its own result reads the files again (the clients do, at every dial).
    """
    found: dict[str, Any] = {}
    creds = opts.user_credentials
    if isinstance(creds, tuple):
        jwt_path, seed_path = creds
        found["user_jwt"] = parse_jwt_file(_read(read_text, jwt_path, "user JWT file"))
        found["nkey_seed"] = _user_seed(
            _read(read_text, seed_path, "NKey seed file"), "NKey seed file"
        )
    elif creds:
        found["user_jwt"], found["nkey_seed"] = parse_credentials(
            _read(read_text, creds, "credentials file")
        )
    if opts.nkeys_seed:
        value = opts.nkeys_seed.strip()
        if _looks_like_seed(value):
            found["nkey_seed"] = _user_seed(value, "nkeys_seed option")
        else:
            text = _read(read_text, value, "NKey seed file")
            found["nkey_seed"] = _user_seed(text, "NKey seed file")
    token_file = _token_file(opts)
    if token_file:
        token = _read(read_text, token_file, "token file").strip()
        if not token:
            raise ConfigError(f"the token file {token_file!r} is empty")
        found["token"] = token
    if not found:
        return opts
    return replace(opts, core=replace(opts.core, **found))


def _token_file(opts: ClientOptions) -> str | None:
    # getattr: the option is new (see ClientOptions.token_file)
    path: str | None = getattr(opts, "token_file", None)
    return path


def parse_jwt_file(text: str) -> str:
    """The user JWT in ``text``: a bare JWT, or a ``.creds``-style JWT block."""
    if "BEGIN" in text:
        jwt = _block(text, "JWT")
    else:
        words = text.split()
        jwt = words[0] if words else None
    if not jwt or jwt.count(".") != 2:
        raise ConfigError("the user JWT file holds no JWT")
    return jwt


def _looks_like_seed(value: str) -> bool:
    # An encoded NKey seed: 58 base32 characters starting with S; never a path.
    return value.startswith("S") and len(value) == 58 and value.isalnum() and value.isupper()


def _user_seed(text: str, what: str) -> bytes:
    seeds = [w for w in text.split() if w.startswith("SU")]
    if not seeds:
        raise ConfigError(f"the {what} holds no user seed (a word starting SU)")
    return seeds[0].encode()


def _read(read_text: Callable[[str], str], path: str, what: str) -> str:
    try:
        return read_text(path)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ConfigError(f"cannot read the {what} {path!r}: {reason}") from None
