"""The keyword options of the clients' ``connect()``, typed for type checkers.

``nats_sync.connect(url, **options)`` and ``nats_anyio.connect(url,
**options)`` declare their options with :class:`ConnectOptionsDict` through
:data:`typing.Unpack`, so mypy and pyright catch a misspelt option
(``conect_timeout=``) or a value of the wrong type, which ``connect()`` would
otherwise only reject when it runs. Every key is optional; the defaults and
meanings are those of :class:`~nats_core.ClientOptions` and
:class:`~nats_core.ConnectOptions` (the README's options table).

At run time, :func:`check_option` holds each value given to ``connect()`` to
the same types (``max_reconnect_attempts="x"`` fails there, naming the option
and the type expected), so a program no type checker saw fails as early.

``tests/test_typed_config.py`` keeps the keys and those dataclasses' fields
the same, apart from what is listed in :data:`NOT_OPTIONS` and
:data:`EXTRA_OPTIONS`.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import ConfigTypeError

if TYPE_CHECKING:
    from .instrument import Instrumentation

__all__ = ["EXTRA_OPTIONS", "NOT_OPTIONS", "ConnectOptionsDict", "check_option"]

NOT_OPTIONS = frozenset({"servers", "core"})
"""Dataclass fields that are not keyword options: ``servers`` is ``connect()``'s
first argument, ``core`` holds the :class:`~nats_core.ConnectOptions`."""

EXTRA_OPTIONS = frozenset({"dont_randomize", "transport_factory", "server"})
"""Keyword options that are no dataclass field: ``dont_randomize`` (nats-py's
name of ``no_randomize``), and the adapters' ``transport_factory`` and ``server``."""


class ConnectOptionsDict(TypedDict, total=False):
    """Every keyword option of ``connect()`` with its type."""

    # -- the connection (ConnectOptions)
    name: str | None
    verbose: bool
    pedantic: bool
    no_echo: bool
    lang: str
    version: str
    #: A user name, or a callable asked at every CONNECT (with ``password``).
    user: str | Callable[[], str] | None
    password: str | Callable[[], str] | None
    token: str | Callable[[], str] | None
    #: An NKey seed (``SU...``) used to sign the server's nonce.
    nkey_seed: str | bytes | None
    user_jwt: str | Callable[[], str] | None
    signature_cb: Callable[[bytes], bytes] | None
    nkey_public: str | None
    inbox_prefix: str
    reconnect_buf_size: int
    tls_required: bool
    tls_handshake_first: bool
    no_randomize: bool
    dont_randomize: bool
    ignore_discovered_servers: bool
    max_reconnect_attempts: int
    allow_reconnect: bool
    max_pings_outstanding: int
    max_payload_limit: int
    # -- the client (ClientOptions)
    connect_timeout: float
    reconnect_time_wait: float
    reconnect_jitter: float
    reconnect_jitter_tls: float
    reconnect_delay_cb: Callable[[int], float] | None
    retry_on_failed_connect: bool
    ping_interval: float
    drain_timeout: float
    pending_msgs_limit: int
    pending_bytes_limit: int
    max_outbound_bytes: int
    callback_threads: int
    #: An ``ssl.SSLContext``, or a callable returning one at every dial (the
    #: core imports no ``ssl``, so the type is not spelt out).
    tls: Any
    tls_hostname: str | None
    #: File options take a ``str`` or an ``os.PathLike`` (a ``pathlib.Path``).
    tls_ca_file: str | PathLike[str] | Sequence[str | PathLike[str]] | None
    tls_cert_file: str | PathLike[str] | None
    tls_key_file: str | PathLike[str] | None
    user_credentials: str | PathLike[str] | tuple[str | PathLike[str], str | PathLike[str]] | None
    nkeys_seed: str | PathLike[str] | None
    nkeys_seed_str: str | None
    error_cb: Callable[..., Any] | None
    disconnected_cb: Callable[..., Any] | None
    reconnected_cb: Callable[..., Any] | None
    closed_cb: Callable[..., Any] | None
    lame_duck_cb: Callable[..., Any] | None
    discovered_servers_cb: Callable[..., Any] | None
    reconnect_error_cb: Callable[..., Any] | None
    user_info_cb: Callable[[], tuple[str, str]] | None
    #: A file holding the token, read at every (re)connect.
    token_file: str | PathLike[str] | None
    #: Called once the first connection is made (nats.go's ConnectHandler).
    connected_cb: Callable[..., Any] | None
    flusher_timeout: float | None
    no_callbacks_after_client_close: bool
    ignore_auth_error_abort: bool
    skip_host_lookup: bool
    compression: bool
    use_old_request_style: bool
    #: Hooks on connection events, publish, delivery, requests and acks
    #: (:class:`~nats_core.instrument.Instrumentation`).
    instrumentation: Instrumentation | None
    # -- the adapters
    #: ``f(server, timeout)`` returning the client's ``Transport`` (awaited in
    #: ``nats_anyio``): how a server is dialed.
    transport_factory: Callable[..., Any] | None
    #: A running ``pynats.server.NatsServer`` (anything with a ``url``) to connect to.
    server: Any


# ------------------------------------------------------------ at run time

#: Options whose value never appears in an error message (only its type).
_SECRETS = frozenset(
    {"user", "password", "token", "nkey_seed", "user_jwt", "nkeys_seed", "nkeys_seed_str"}
)
_hints: dict[str, Any] = {}


def check_option(name: str, value: Any) -> None:
    """Raise :class:`~nats_core.errors.ConfigTypeError` when ``value`` is not of
    the type :class:`ConnectOptionsDict` gives option ``name`` (an ``int`` is a
    ``float`` too, a ``bool`` is no number). An unknown name passes: the caller
    rejects it."""
    if not _hints:
        from .instrument import Instrumentation

        ns = {"Instrumentation": Instrumentation, "PathLike": PathLike}
        _hints.update(typing.get_type_hints(ConnectOptionsDict, localns=ns))
    tp = _hints.get(name)
    if tp is None or _matches(value, tp):
        return
    got = type(value).__name__
    if name not in _SECRETS:
        got = f"{got} {value!r}"
    raise ConfigTypeError(f"option {name} must be {_describe(tp)}, not {got}")


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in args)
    if origin is collections.abc.Callable:
        return callable(value)
    if origin is tuple:
        return (
            isinstance(value, tuple)
            and len(value) == len(args)
            and all(_matches(v, a) for v, a in zip(value, args, strict=True))
        )
    if origin is collections.abc.Sequence:
        return isinstance(value, Sequence) and all(_matches(v, args[0]) for v in value)
    if origin is PathLike:
        return isinstance(value, PathLike)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True  # a type this check does not know: the option's own checks decide


def _describe(tp: Any, *, inner: bool = False) -> str:
    """``tp`` in words: ``an int or None``; ``inner``: inside a container (``str``)."""
    if tp is None or tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(_describe(arg, inner=inner) for arg in args)
    if origin is collections.abc.Callable:
        return "a callable"
    if origin is tuple:
        return f"a tuple ({', '.join(_describe(a, inner=True) for a in args)})"
    if origin is collections.abc.Sequence:
        return f"a sequence of ({_describe(args[0], inner=True)})"
    if origin is PathLike:
        return "PathLike" if inner else "a path (os.PathLike)"
    name = getattr(tp, "__name__", str(tp))
    if inner:
        return name
    words = {int: "an int", float: "a number", bool: "a bool", str: "a str", bytes: "bytes"}
    return words.get(tp, f"an {name}" if name[:1] in "AEIOUaeiou" else f"a {name}")
