"""Read-only client state shared by the blocking and the async client.

Both adapters keep the same few fields (the core connection, whether a transport
is up, whether they are reconnecting or closing); everything a user reads about
the client is computed from them here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._client_options import ClientOptions
from ._connection import Connection, Statistics
from ._events import (
    Connected,
    Disconnected,
    Event,
    InfoUpdated,
    LameDuckMode,
    Msg,
    Pong,
    Response,
    ServerErrorEvent,
    SubscriptionEnded,
)
from ._info import ServerInfo
from ._state import DRAINING
from .errors import ServerError

__all__ = ["ClientState"]


class ClientState:
    """Mixin of the clients' status properties and event dispatch (no I/O).

    The adapter provides the fields below, subscriptions with ``_deliver(batch)``
    and ``_finish(reason)``, waiters with ``set(value)``, and the two hooks
    :meth:`_callback` and :meth:`_report_error`.
    """

    _conn: Connection
    _opts: ClientOptions
    _transport: Any
    _reconnecting: bool
    _closing: bool
    _subs: dict[int, Any]
    _req_waiters: dict[str, Any]
    _pong_waiters: dict[int, Any]
    last_error: BaseException | None

    def _callback(self, fn: Callable[..., object] | None, *args: Any) -> None:
        """Run a connection callback on the adapter's callback runner."""
        raise NotImplementedError

    def _report_error(self, err: BaseException) -> None:
        """Hand ``err`` to ``error_cb`` (or log it)."""
        raise NotImplementedError

    def _on_server_error(self, ev: ServerErrorEvent) -> None:
        self._report_error(ev.error)

    def _reconnect_failed(self, err: BaseException) -> None:
        """One reconnect attempt failed: remember why, report a server refusal,
        and tell ``reconnect_error_cb``."""
        self.last_error = err
        if isinstance(err, ServerError):
            self._report_error(err)
        self._callback(self._opts.reconnect_error_cb, err)

    def _handle(self, evs: list[Event]) -> None:
        """Act on the core's events (reader; never blocks). Consecutive messages of
        one subscription are handed over as one batch."""
        subs = self._subs
        cur: Any = None
        batch: list[Msg] = []
        for ev in evs:
            if isinstance(ev, Msg):
                sub = subs.get(ev.sid)
                if sub is not cur:
                    if cur is not None:
                        cur._deliver(batch)
                    cur, batch = sub, []
                batch.append(ev)
                continue
            if cur is not None:
                cur._deliver(batch)
                cur, batch = None, []
            if isinstance(ev, Response):
                w = self._req_waiters.pop(ev.token, None)
                if w is not None:
                    w.set(ev.msg)
            elif isinstance(ev, Pong):
                pw = self._pong_waiters.pop(ev.ping_id, None)
                if pw is not None:
                    pw.set()
            elif isinstance(ev, SubscriptionEnded):
                ended = subs.pop(ev.sid, None)
                if ended is not None:
                    ended._finish(ev.reason)
            elif isinstance(ev, ServerErrorEvent):
                self._on_server_error(ev)
            elif isinstance(ev, Connected):
                if ev.reconnected:
                    self._callback(self._opts.reconnected_cb)
            elif isinstance(ev, Disconnected):
                self._callback(self._opts.disconnected_cb)
            elif isinstance(ev, LameDuckMode):
                self._callback(self._opts.lame_duck_cb)
            elif isinstance(ev, InfoUpdated) and ev.added:
                cb = self._opts.discovered_servers_cb
                if cb is not None:  # called with the URLs of the servers just added
                    added = [s.url for s in self._conn.pool.servers if s.hostport in ev.added]
                    self._callback(cb, added)
        if cur is not None:
            cur._deliver(batch)

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
        if self._conn.state in DRAINING:
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
