"""Read-only client state shared by the blocking and the async client.

Both adapters keep the same few fields (the core connection, whether a transport
is up, whether they are reconnecting or closing); everything a user reads about
the client is computed from them here, once.
"""

from __future__ import annotations

from typing import Any

from ._connection import Connection, Statistics
from ._info import ServerInfo
from ._state import State

__all__ = ["ClientState"]

_DRAINING = (State.DRAINING_SUBS, State.DRAINING_PUBS)


class ClientState:
    """Mixin of the clients' status properties (no I/O)."""

    _conn: Connection
    _transport: Any
    _reconnecting: bool
    _closing: bool

    @property
    def is_connected(self) -> bool:
        """True while connected to a server."""
        return self._transport is not None and self._conn.is_connected

    @property
    def is_reconnecting(self) -> bool:
        """True while the client looks for a server after losing one."""
        return self._reconnecting and not self._closing

    @property
    def is_closed(self) -> bool:
        """True once the client is closed."""
        return self._closing

    @property
    def status(self) -> str:
        """``connected``, ``reconnecting``, ``draining``, ``closed`` or ``connecting``."""
        if self._closing:
            return "closed"
        if self._conn.state in _DRAINING:
            return "draining"
        if self._reconnecting:
            return "reconnecting"
        return "connected" if self.is_connected else "connecting"

    @property
    def server_info(self) -> ServerInfo | None:
        """The INFO of the current server."""
        return self._conn.info

    @property
    def connected_url(self) -> str | None:
        """URL of the server in use (without credentials), None when disconnected."""
        s = self._conn.server
        return s.url if s is not None and self.is_connected else None

    @property
    def servers(self) -> list[str]:
        """URLs of the server pool, discovered servers included."""
        return [s.url for s in self._conn.pool.servers]

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts."""
        return self._conn.max_payload

    @property
    def stats(self) -> Statistics:
        """Messages and bytes in and out, and reconnects."""
        return self._conn.stats

    @property
    def client_id(self) -> int | None:
        """The id the server gave this connection."""
        return self._conn.info.client_id if self._conn.info else None

    def __repr__(self) -> str:
        package = type(self).__module__.split(".")[0]
        return f"<{package}.Client {self.status} {self.connected_url or ''}>"
