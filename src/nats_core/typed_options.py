"""The keyword options of the clients' ``connect()``, typed for type checkers.

``nats_sync.connect(url, **options)`` and ``nats_anyio.connect(url,
**options)`` declare their options with :class:`ConnectOptionsDict` through
:data:`typing.Unpack`, so mypy and pyright catch a misspelt option
(``conect_timeout=``) or a value of the wrong type, which ``connect()`` would
otherwise only reject when it runs. Every key is optional; the defaults and
meanings are those of :class:`~nats_core.ClientOptions` and
:class:`~nats_core.ConnectOptions` (the README's options table).

``tests/test_typed_config.py`` keeps the keys and those dataclasses' fields
the same, apart from what is listed in :data:`NOT_OPTIONS` and
:data:`EXTRA_OPTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .instrument import Instrumentation

__all__ = ["EXTRA_OPTIONS", "NOT_OPTIONS", "ConnectOptionsDict"]

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
    tls_ca_file: str | Sequence[str] | None
    tls_cert_file: str | None
    tls_key_file: str | None
    user_credentials: str | tuple[str, str] | None
    nkeys_seed: str | None
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
    token_file: str | None
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
