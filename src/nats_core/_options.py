"""Connection options understood by the core (the adapters add I/O-only ones)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ._urls import redact_url
from .errors import ConfigError

__all__ = ["DEFAULT_INBOX_PREFIX", "ConnectOptions"]

DEFAULT_INBOX_PREFIX = "_INBOX"

TokenSource = str | Callable[[], str]


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """What the core needs to know to handshake, authenticate and reconnect.

    Secrets (``password``, ``token``, ``nkey_seed``) are hidden from ``repr``.
    """

    servers: list[str] = field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    name: str | None = None
    verbose: bool = False
    pedantic: bool = False
    no_echo: bool = False
    lang: str = "python3"
    version: str = "0.1.0"
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: TokenSource | None = field(default=None, repr=False)
    #: NKey seed (``SU...``) used to sign the server nonce.
    nkey_seed: bytes | None = field(default=None, repr=False)
    #: User JWT (from a .creds file or given directly).
    user_jwt: str | Callable[[], str] | None = field(default=None, repr=False)
    #: Signs the server nonce; returns the raw ed25519 signature.
    signature_cb: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    #: Public NKey sent with a signature made by ``signature_cb``.
    nkey_public: str | None = None
    inbox_prefix: str = DEFAULT_INBOX_PREFIX
    #: Bytes of publishes kept while disconnected (negative: none are kept).
    reconnect_buf_size: int = 8 * 1024 * 1024
    #: Require TLS even when the server's INFO does not (the adapters set it for tls:// URLs).
    tls_required: bool = False
    #: The adapters do TLS before INFO; the core then expects no upgrade request.
    tls_handshake_first: bool = False
    no_randomize: bool = False
    ignore_discovered_servers: bool = False
    max_reconnect_attempts: int = 60
    allow_reconnect: bool = True
    max_pings_outstanding: int = 2
    #: The largest message the client accepts, whatever a server's INFO
    #: advertises as ``max_payload`` (64 MiB: nats-server's own hard limit).
    #: A larger message from the server is a :class:`RemoteProtocolError`.
    max_payload_limit: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        limit = self.max_payload_limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ConfigError(
                f"option max_payload_limit must be a positive number of bytes, not {limit!r}"
            )

    def __repr__(self) -> str:
        # Secrets are left out; server URLs are shown without their credentials.
        from dataclasses import fields

        shown = [f"servers={[redact_url(u) for u in self.servers]!r}"]
        shown += [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.repr and f.name != "servers"
        ]
        return f"ConnectOptions({', '.join(shown)})"
