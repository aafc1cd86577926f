"""Server addresses and the server pool (reconnect policy lives here too)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from ._urls import redact_url
from .errors import ConfigError, LocalProtocolError

__all__ = [
    "ReconnectPolicy",
    "ReconnectStep",
    "ServerAddress",
    "ServerPool",
    "parse_url",
    "redact_url",
]

_DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}


@dataclass(slots=True, eq=False)
class ServerAddress:
    """One server of the pool. Credentials from the URL never appear in ``repr``."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    #: For ws:// and wss://, the path (and query) of the upgrade request ("" is "/").
    path: str = ""
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
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def hostport(self) -> str:
        """``host:port`` (an IPv6 host in brackets): how the pool tells servers apart."""
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
        raise ConfigError(f"invalid server URL {url!r}: it is empty")
    text = url.strip()
    url = redact_url(text)  # error messages never show credentials
    if "://" not in text:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"invalid server URL {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigError(
            f"invalid server URL {url!r}: scheme must be nats, tls, ws or wss, not {scheme!r}"
        )
    host = parts.hostname
    if not host:
        raise ConfigError(f"invalid server URL {url!r}: no host")
    return ServerAddress(
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        # "user:@host" is a user with an empty password (as nats.go), "user@host" a token
        password=unquote(parts.password) if parts.password is not None else None,
        path=_ws_path(parts.path, parts.query) if scheme in ("ws", "wss") else "",
        discovered=discovered,
    )


def _ws_path(path: str, query: str) -> str:
    """The upgrade target of a WebSocket URL ("" when it is just "/")."""
    target = path + (f"?{query}" if query else "")
    return "" if target in ("", "/") else target


class ReconnectPolicy(Protocol):
    """How long a reconnecting client waits between passes over the pool
    (:class:`~nats_core.ClientOptions` is one)."""

    @property
    def reconnect_time_wait(self) -> float:
        """Seconds to wait once per pass over the pool."""
        ...

    @property
    def reconnect_jitter(self) -> float:
        """Random extra seconds, below this, for plain connections."""
        ...

    @property
    def reconnect_jitter_tls(self) -> float:
        """Random extra seconds, below this, once TLS is in use."""
        ...

    @property
    def reconnect_delay_cb(self) -> Callable[[int], float] | None:
        """``f(n) -> seconds`` replacing the wait and jitter of the n-th pass."""
        ...


class ReconnectStep(NamedTuple):
    """What :meth:`ServerPool.next_reconnect` tells the adapter to do next."""

    #: The server to dial.
    server: ServerAddress
    #: Seconds to sleep before dialing it (0: at once).
    delay: float
    #: What ``reconnect_delay_cb`` raised, if it did (the default delay was used).
    error: Exception | None = None


class ServerPool:
    """The servers a client may connect to, in the order it will try them, and
    the reconnect policy (which server next, how long to wait before it).

    ``max_reconnect_attempts`` counts attempts per server (negative: forever);
    a server that used them up leaves the pool, and the client gives up when
    the pool is empty. A successful connection resets the server's count.
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
            raise ConfigError("no server URL given")
        self._rng = rng or random.Random()
        self.servers: list[ServerAddress] = [parse_url(u) for u in urls]
        if randomize and len(self.servers) > 1:
            self._rng.shuffle(self.servers)
        self.randomize = randomize
        self.max_reconnect_attempts = max_reconnect_attempts
        self.ignore_discovered = ignore_discovered
        self.current: ServerAddress | None = None
        #: Once True, every server of the pool, given or discovered, is dialed
        #: with TLS (see :meth:`mark_secure`).
        self.secure = False
        if any(s.tls for s in self.servers):
            self.mark_secure()
        self._tried_in_pass = 0  # servers dialed without a wait since the last wait
        self._passes = 0  # waits so far in this reconnect (the delay callback's argument)
        self._skip_wait = False

    def mark_secure(self) -> None:
        """From now on every server is reached over TLS (as nats.go marks the
        whole pool secure).

        Called when any URL is ``tls://`` or ``wss://``, when a TLS option is
        set, and when a server required TLS: a ``nats://`` (or ``ws://``) server
        in the pool, or one that a server advertises later, becomes ``tls://``
        (``wss://``), so no credentials ever leave in clear after a reconnect.
        """
        self.secure = True
        for s in self.servers:
            _secure(s)

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

    def start_reconnect(self, *, force: bool = False) -> None:
        """A reconnect begins (the connection was lost, or the first connect failed
        with ``retry_on_failed_connect``); ``force`` dials the first server at once."""
        self._tried_in_pass = 0
        self._passes = 0
        self._skip_wait = force

    def next_reconnect(self, opts: ReconnectPolicy) -> ReconnectStep | None:
        """The next reconnect attempt: which server, and how long to sleep first.

        As nats.go does: the servers of the pool are dialed one after the other
        without waiting, and once per pass over the pool the client sleeps
        ``reconnect_time_wait`` plus a random jitter below ``reconnect_jitter``
        (``reconnect_jitter_tls`` once TLS is in use), or what
        ``reconnect_delay_cb(n)`` returns for the n-th such wait. The attempt is
        counted on the server (:attr:`ServerAddress.reconnects`). ``None``
        means every server used up its ``max_reconnect_attempts``: give up.
        """
        server = self.next_server()
        if server is None:
            return None
        wait = self._tried_in_pass + 1 >= len(self.servers) and not self._skip_wait
        self._skip_wait = False
        delay, error = 0.0, None
        if wait:
            self._tried_in_pass = 0
            self._passes += 1
            delay, error = self._delay(server, opts)
        else:
            self._tried_in_pass += 1
        server.reconnects += 1
        return ReconnectStep(server, delay, error)

    def _delay(
        self, server: ServerAddress, opts: ReconnectPolicy
    ) -> tuple[float, Exception | None]:
        cb = opts.reconnect_delay_cb
        error: Exception | None = None
        if cb is not None:
            try:
                delay = float(cb(self._passes))
            except Exception as e:  # a broken callback must not stop the reconnect
                error = e
            else:
                return (delay if delay > 0 else 0.0), None
        tls = server.tls or self.secure
        jitter = opts.reconnect_jitter_tls if tls else opts.reconnect_jitter
        delay = opts.reconnect_time_wait
        if jitter > 0:
            delay += self._rng.random() * jitter
        return delay, error

    def update_discovered(
        self, urls: Iterable[str], *, tls: bool, websocket: bool = False
    ) -> tuple[list[str], list[str]]:
        """Merge INFO ``connect_urls`` (``ws_connect_urls`` over WebSocket);
        return (added, removed) URLs."""
        urls = list(urls)
        if self.ignore_discovered or not urls:
            # As in nats.go, an empty list changes nothing: a server that does not
            # advertise, or an INFO that only announces lame duck mode.
            return [], []
        tls = tls or self.secure
        scheme = ("wss" if tls else "ws") if websocket else ("tls" if tls else "nats")
        wanted: dict[str, ServerAddress] = {}
        for u in urls:
            try:
                s = parse_url(u, discovered=True, default_scheme=scheme)
            except LocalProtocolError:
                continue
            if tls:  # an advertised nats:// or ws:// never downgrades a secure pool
                _secure(s)
            wanted[s.hostport] = s
        known = {s.hostport for s in self.servers}
        added = []
        new_servers = []
        for hp, s in wanted.items():
            if hp not in known and not _is_alias(hp, known):
                new_servers.append(s)
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


def _secure(server: ServerAddress) -> None:
    if server.scheme == "nats":
        server.scheme = "tls"
    elif server.scheme == "ws":
        server.scheme = "wss"


def _is_alias(hostport: str, known: set[str]) -> bool:
    # A discovered 127.0.0.1:p is the same server as a configured localhost:p.
    host, _, port = hostport.rpartition(":")
    loopback = {"127.0.0.1", "localhost", "[::1]"}
    return host in loopback and any(f"{h}:{port}" in known for h in loopback)
