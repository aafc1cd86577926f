"""Server addresses and the server pool (reconnect policy lives here too)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import LocalProtocolError

__all__ = ["ServerAddress", "ServerPool", "parse_url"]

_DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}


@dataclass(slots=True, eq=False)
class ServerAddress:
    """One server of the pool. Credentials from the URL never appear in ``repr``."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    discovered: bool = False
    did_connect: bool = False
    reconnects: int = 0
    last_attempt: float | None = None
    auth_errors: int = 0
    last_auth_error: str = ""

    @property
    def url(self) -> str:
        """The URL without credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def tls(self) -> bool:
        """True when the URL asks for TLS (``tls://`` or ``wss://``)."""
        return self.scheme in ("tls", "wss")

    @property
    def websocket(self) -> bool:
        """True for ``ws://`` and ``wss://``."""
        return self.scheme in ("ws", "wss")

    def __repr__(self) -> str:
        cred = " (with credentials)" if self.username or self.password else ""
        return f"ServerAddress({self.url!r}{cred})"


def parse_url(url: str, *, discovered: bool = False, default_scheme: str = "nats") -> ServerAddress:
    """Parse ``nats://user:pass@host:port`` (scheme and port optional)."""
    if not isinstance(url, str) or not url.strip():
        raise LocalProtocolError(f"invalid server URL {url!r}: it is empty")
    text = url.strip()
    if "://" not in text:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise LocalProtocolError(f"invalid server URL {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise LocalProtocolError(
            f"invalid server URL {url!r}: scheme must be nats, tls, ws or wss, not {scheme!r}"
        )
    host = parts.hostname
    if not host:
        raise LocalProtocolError(f"invalid server URL {url!r}: no host")
    return ServerAddress(
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        discovered=discovered,
    )


class ServerPool:
    """The servers a client may connect to, in the order it will try them.

    ``max_reconnect_attempts`` counts attempts per server (negative: forever).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        randomize: bool = True,
        rng: random.Random | None = None,
        max_reconnect_attempts: int = 60,
        ignore_discovered: bool = False,
    ) -> None:
        if isinstance(urls, str):
            urls = [u for u in urls.split(",") if u.strip()]
        if not urls:
            raise LocalProtocolError("no server URL given")
        self._rng = rng or random.Random()
        self.servers: list[ServerAddress] = [parse_url(u) for u in urls]
        if randomize and len(self.servers) > 1:
            self._rng.shuffle(self.servers)
        self.randomize = randomize
        self.max_reconnect_attempts = max_reconnect_attempts
        self.ignore_discovered = ignore_discovered
        self.current: ServerAddress | None = None

    def __len__(self) -> int:
        return len(self.servers)

    def next_server(self) -> ServerAddress | None:
        """Pick the server to try next and move it to the back of the list.

        Servers that used up their attempts are dropped; ``None`` when none is left.
        """
        cur = self.current
        if cur is not None and cur in self.servers:
            self.servers.remove(cur)
            exhausted = 0 <= self.max_reconnect_attempts <= cur.reconnects
            if not exhausted and cur.auth_errors < 2:
                self.servers.append(cur)
        if not self.servers:
            self.current = None
            return None
        self.current = self.servers[0]
        return self.current

    def first_server(self) -> ServerAddress:
        """The server for the very first connect attempt."""
        self.current = self.servers[0]
        return self.current

    def reconnect_delay(
        self, server: ServerAddress, now: float, wait: float, jitter: float
    ) -> float:
        """Seconds to wait before dialing ``server`` again (0 if it was not tried lately)."""
        if server.last_attempt is None:
            return 0.0
        elapsed = now - server.last_attempt
        if elapsed >= wait:
            return 0.0
        return wait - elapsed + (self._rng.random() * jitter if jitter > 0 else 0.0)

    def update_discovered(self, urls: Iterable[str], *, tls: bool) -> tuple[list[str], list[str]]:
        """Merge INFO ``connect_urls``; return (added, removed) URLs."""
        if self.ignore_discovered:
            return [], []
        scheme = "tls" if tls else "nats"
        wanted: dict[str, str] = {}
        for u in urls:
            try:
                s = parse_url(u, discovered=True, default_scheme=scheme)
            except LocalProtocolError:
                continue
            wanted[s.hostport] = u
        known = {s.hostport for s in self.servers}
        added = []
        new_servers = []
        for hp, u in wanted.items():
            if hp not in known and not _is_alias(hp, known):
                new_servers.append(parse_url(u, discovered=True, default_scheme=scheme))
                added.append(hp)
        removed = [
            s.hostport
            for s in self.servers
            if s.discovered and s is not self.current and s.hostport not in wanted
        ]
        if removed:
            self.servers = [
                s for s in self.servers if s.hostport not in removed or not s.discovered
            ]
        if new_servers:
            if self.randomize:
                self._rng.shuffle(new_servers)
            self.servers.extend(new_servers)
        return added, removed


def _is_alias(hostport: str, known: set[str]) -> bool:
    # A discovered 127.0.0.1:p is the same server as a configured localhost:p.
    host, _, port = hostport.rpartition(":")
    loopback = {"127.0.0.1", "localhost", "[::1]"}
    return host in loopback and any(f"{h}:{port}" in known for h in loopback)
