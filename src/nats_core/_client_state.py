"""Read-only client state shared by the blocking and the async client.

Both adapters keep the same few fields (the core connection, whether a transport
is up, whether they are reconnecting or closing); everything a user reads about
the client is computed from them here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._client_options import ClientOptions, apply_credentials, credential_paths
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
from ._lifecycle import (
    ClosedEvent,
    ConnectedEvent,
    DisconnectedEvent,
    ErrorEvent,
    LameDuckEvent,
    LifecycleEvent,
    ReconnectedEvent,
    ServersDiscoveredEvent,
    SlowConsumerEvent,
)
from ._state import DRAINING
from .errors import ConfigError, ServerError, SlowConsumerError
from .instrument import GuardedInstrumentation, install

__all__ = [
    "CALLBACK_NAMES",
    "STATUSES",
    "CallbackBarrier",
    "Callbacks",
    "ClientState",
    "TLSConnectionState",
]

#: The connection callbacks a client keeps (and may change at run time).
CALLBACK_NAMES = (
    "connected_cb",
    "error_cb",
    "disconnected_cb",
    "reconnected_cb",
    "closed_cb",
    "lame_duck_cb",
    "discovered_servers_cb",
    "reconnect_error_cb",
)

#: What :attr:`ClientState.status` can be, and what status listeners are told.
STATUSES = ("connecting", "connected", "disconnected", "reconnecting", "draining", "closed")


class Callbacks:
    """The connection callbacks in use: initialised from the options, changed by
    the ``set_*_cb`` methods (the options themselves never change)."""

    __slots__ = CALLBACK_NAMES

    def __init__(self, opts: ClientOptions) -> None:
        for name in CALLBACK_NAMES:
            setattr(self, name, getattr(opts, name, None))

    def clear(self) -> None:
        """Forget every callback (``no_callbacks_after_client_close``)."""
        for name in CALLBACK_NAMES:
            setattr(self, name, None)

    connected_cb: Callable[..., Any] | None
    error_cb: Callable[..., Any] | None
    disconnected_cb: Callable[..., Any] | None
    reconnected_cb: Callable[..., Any] | None
    closed_cb: Callable[..., Any] | None
    lame_duck_cb: Callable[..., Any] | None
    discovered_servers_cb: Callable[..., Any] | None
    reconnect_error_cb: Callable[..., Any] | None


@dataclass(frozen=True, slots=True)
class TLSConnectionState:
    """What the TLS handshake of the current connection negotiated (nats.go's
    ``TLSConnectionState``): the protocol ``version`` (``"TLSv1.3"``), the
    ``cipher`` suite name, the server's certificate as :meth:`ssl.SSLSocket.getpeercert`
    gives it (``peer_certificate``, empty when not verified) and in DER form."""

    version: str | None
    cipher: str | None
    peer_certificate: dict[str, Any]
    peer_certificate_der: bytes | None

    @classmethod
    def from_ssl_object(cls, obj: Any) -> TLSConnectionState:
        """Read an ``ssl.SSLObject``/``ssl.SSLSocket`` (duck-typed: the core imports no ssl)."""
        cipher = obj.cipher()
        return cls(
            version=obj.version(),
            cipher=cipher[0] if cipher else None,
            peer_certificate=obj.getpeercert() or {},
            peer_certificate_der=obj.getpeercert(binary_form=True),
        )


class CallbackBarrier:
    """``barrier(fn)``: ``fn`` runs once every callback subscription has handled the
    messages it had received when the barrier was set (nats.go's ``Barrier``).

    The subscriptions call :meth:`handled` with their count of handled messages
    after each batch; the barrier hands ``fn`` to ``run`` when the last one is done.
    """

    __slots__ = ("_fn", "_left", "_run")

    def __init__(self, fn: Callable[[], object], run: Callable[[Callable[[], object]], None]):
        self._fn = fn
        self._run = run
        self._left = 1  # released by arm()

    def watch(self, sub: Any, target: int) -> None:
        """Wait for ``sub`` to have handled ``target`` messages in all."""
        self._left += 1
        sub._barriers.append((target, self))

    def arm(self) -> None:
        """Every subscription is watched: run ``fn`` now if none had work."""
        self.done()

    def done(self) -> None:
        """One watched subscription got there."""
        self._left -= 1
        if self._left == 0:
            self._run(self._fn)


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
    _cbs: Callbacks
    _status_listeners: list[tuple[Callable[[str], object], frozenset[str]]]
    _last_status: str
    #: The instrumentation's guarded hooks, None without one (see nats_core.instrument).
    _instr: GuardedInstrumentation | None
    _event_readers: list[Any]

    def _init_state(self) -> None:
        """Called by the adapter's ``__init__`` once ``_opts`` and ``_conn`` are set."""
        self._cbs = Callbacks(self._opts)
        self._status_listeners = []
        self._event_readers = []  # the open events() iterators (each has _put(event))
        self._last_status = "connecting"
        self._conn.ignore_auth_error_abort = self._opts.ignore_auth_error_abort
        self._conn.user_info_cb = self._opts.user_info_cb
        instr = self._opts.instrumentation
        # Installed as wrappers only when given: no hook, no cost on the hot paths.
        self._instr = None if instr is None else install(self, instr)

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
        self._callback(self._cbs.reconnect_error_cb, err)

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
                self._status_now("connected")
                if ev.reconnected:
                    self._callback(self._cbs.reconnected_cb)
                else:  # the first connection (nats.go's ConnectHandler)
                    self._callback(self._cbs.connected_cb)
                if self._event_readers:
                    kind = ReconnectedEvent if ev.reconnected else ConnectedEvent
                    self._emit(kind(self._server_url(), ev.info.server_name))
            elif isinstance(ev, Disconnected):
                self._callback(self._cbs.disconnected_cb)
                if self._event_readers:
                    self._emit(DisconnectedEvent(self._server_url(), ev.error))
                self._status_now("disconnected")
                if self.is_reconnecting and self._opts.core.allow_reconnect:
                    self._status_now("reconnecting")
            elif isinstance(ev, LameDuckMode):
                self._callback(self._cbs.lame_duck_cb)
                if self._event_readers:
                    self._emit(LameDuckEvent(self._server_url()))
            elif isinstance(ev, InfoUpdated) and ev.added:
                cb = self._cbs.discovered_servers_cb
                if cb is not None or self._event_readers:  # the URLs of the servers just added
                    added = [s.url for s in self._conn.pool.servers if s.hostport in ev.added]
                    self._callback(cb, added)
                    if self._event_readers:
                        self._emit(ServersDiscoveredEvent(tuple(added)))
        if cur is not None:
            cur._deliver(batch)

    # ------------------------------------------------------ lifecycle events

    def _server_url(self) -> str | None:
        s = self._conn.server
        return s.url if s is not None else None

    def _emit(self, event: LifecycleEvent) -> None:
        """Tell every open ``events()`` reader (never blocks: each queue is bounded)."""
        for reader in self._event_readers:
            reader._put(event)

    def _lifecycle_error(self, err: BaseException) -> None:
        """An error was reported (the adapters' ``_report_error``): to the readers."""
        if self._event_readers:
            if isinstance(err, SlowConsumerError):
                self._emit(SlowConsumerEvent(err.sid, err.subject, err.dropped, err))
            else:
                self._emit(ErrorEvent(err))

    def _add_event_reader(self, reader: Any) -> None:
        """Start telling ``reader`` (an object with ``_put(event)``) the events; a
        reader added once the client is closed gets :class:`ClosedEvent` at once."""
        self._event_readers = [*self._event_readers, reader]
        if self._last_status == "closed":  # checked after adding: close() may be under way
            reader._put(ClosedEvent())

    def _remove_event_reader(self, reader: Any) -> None:
        """Stop telling ``reader`` the events."""
        self._event_readers = [r for r in self._event_readers if r is not reader]

    # ---------------------------------------------------------- credentials

    def _refresh_credentials(self, read_text: Callable[[str], str]) -> None:
        """Read the credential files again (through the adapter's ``read_text``) and
        give the core what they hold now, for the next CONNECT: a rotated
        ``.creds``, NKey seed or token file is used at the next (re)connect."""
        if credential_paths(self._opts):
            self._conn.options = apply_credentials(self._opts, read_text).core

    # ------------------------------------------------- status listeners

    def _status_now(self, status: str) -> None:
        """The status became ``status``: tell the listeners that asked for it (once
        per change, in order, on the callback runner)."""
        if status == self._last_status:
            return
        self._last_status = status
        for cb, wanted in self._status_listeners:
            if not wanted or status in wanted:
                self._callback(cb, status)
        if status == "closed":
            self._emit(ClosedEvent())

    def status_changed(self, cb: Callable[[str], object], *statuses: str) -> Callable[[], None]:
        """Call ``cb(status)`` on every change of :attr:`status` to one of ``statuses``
        (none given: every change), on the client's callback runner, in order
        (nats.go's ``StatusChanged``; a callback where nats.go gives a channel).

        Statuses: ``connected``, ``disconnected``, ``reconnecting``, ``draining``,
        ``closed``. Returns a function that removes the listener (as does
        :meth:`remove_status_listener`).
        """
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise ConfigError(f"unknown status {bad[0]!r}; statuses are {', '.join(STATUSES)}")
        entry = (cb, frozenset(statuses))
        self._status_listeners = [*self._status_listeners, entry]

        def remove() -> None:
            self._status_listeners = [e for e in self._status_listeners if e is not entry]

        return remove

    def remove_status_listener(self, cb: Callable[[str], object]) -> None:
        """Stop calling ``cb`` on status changes (nats.go's ``RemoveStatusListener``)."""
        self._status_listeners = [e for e in self._status_listeners if e[0] != cb]

    # --------------------------------------------------- callback setters

    def set_connected_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``connected_cb``, called once the first connection is made (nats.go's
        ``SetConnectHandler``): with ``retry_on_failed_connect``, maybe after
        ``connect()`` returned."""
        self._cbs.connected_cb = cb

    def set_error_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``error_cb`` (nats.go's ``SetErrorHandler``); None removes it."""
        self._cbs.error_cb = cb

    def set_disconnected_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``disconnected_cb`` (nats.go's ``SetDisconnectErrHandler``)."""
        self._cbs.disconnected_cb = cb

    def set_reconnected_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``reconnected_cb`` (nats.go's ``SetReconnectHandler``)."""
        self._cbs.reconnected_cb = cb

    def set_closed_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``closed_cb`` (nats.go's ``SetClosedHandler``)."""
        self._cbs.closed_cb = cb

    def set_discovered_servers_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``discovered_servers_cb`` (nats.go's ``SetDiscoveredServersHandler``)."""
        self._cbs.discovered_servers_cb = cb

    def set_lame_duck_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``lame_duck_cb`` (nats.go's ``LameDuckModeHandler`` option)."""
        self._cbs.lame_duck_cb = cb

    def set_reconnect_error_cb(self, cb: Callable[..., Any] | None) -> None:
        """Replace ``reconnect_error_cb`` (nats.go's ``ReconnectErrHandler`` option)."""
        self._cbs.reconnect_error_cb = cb

    # -------------------------------------------------------------- barrier

    def _run_barrier_fn(self, fn: Callable[[], object]) -> None:
        self._callback(fn)

    def barrier(self, fn: Callable[[], object]) -> None:
        """Call ``fn()`` once every callback subscription has handled the messages it
        had received when this was called (nats.go's ``Barrier``); at once (on the
        callback runner) when none has any waiting. Plain subscriptions (read with
        ``next_msg``/iteration) are not waited for."""
        b = CallbackBarrier(fn, self._run_barrier_fn)
        for sub in list(self._subs.values()):
            sub._barrier_watch(b)  # b.watch(sub, target) when it has messages to handle
        b.arm()

    @staticmethod
    def _barrier_progress(sub: Any, handled: int, everything: bool = False) -> None:
        """``sub`` has handled ``handled`` messages in all (``everything``: it will
        handle no more): release the barriers waiting for that."""
        barriers: list[tuple[int, CallbackBarrier]] = sub._barriers
        if not barriers:
            return
        keep = []
        for target, barrier in barriers:
            if everything or handled >= target:
                barrier.done()
            else:
                keep.append((target, barrier))
        sub._barriers[:] = keep

    @property
    def tls_connection_state(self) -> TLSConnectionState | None:
        """What TLS negotiated with the server in use (version, cipher, the server's
        certificate), None when the connection is not TLS or there is none
        (nats.go's ``TLSConnectionState``)."""
        t = self._transport
        for _ in range(3):  # a WebSocket transport wraps the TCP one (tcp / inner)
            if t is None:
                return None
            obj = getattr(t, "ssl_object", None)
            if obj is not None:
                return TLSConnectionState.from_ssl_object(obj)
            t = getattr(t, "tcp", None) or getattr(t, "inner", None)
        return None

    # ------------------------------------------------------------- properties

    @property
    def connected_addr(self) -> str | None:
        """``host:port`` of the server in use, None when not connected
        (nats.go's ``ConnectedAddr``; the address dialed, not resolved)."""
        s = self._conn.server
        return f"{s.host}:{s.port}" if s is not None and self.is_connected else None

    @property
    def connected_server_id(self) -> str | None:
        """The id of the server in use, None when not connected."""
        info = self._conn.info
        return info.server_id if info is not None and self.is_connected else None

    @property
    def connected_server_name(self) -> str | None:
        """The name of the server in use, None when not connected."""
        info = self._conn.info
        return info.server_name if info is not None and self.is_connected else None

    @property
    def connected_server_version(self) -> str | None:
        """The version of the server in use, None when not connected."""
        info = self._conn.info
        return info.version if info is not None and self.is_connected else None

    @property
    def connected_cluster_name(self) -> str | None:
        """The cluster of the server in use (None when it is in none, or when not connected)."""
        info = self._conn.info
        return (info.cluster or None) if info is not None and self.is_connected else None

    @property
    def discovered_servers(self) -> list[str]:
        """URLs of the servers learned from the cluster (not given to ``connect``)."""
        return [s.url for s in self._conn.pool.servers if s.discovered]

    @property
    def num_subscriptions(self) -> int:
        """Live subscriptions of this client (the request inbox not counted)."""
        return len(self._subs)

    @property
    def buffered(self) -> int:
        """Bytes published and not yet written to the socket: queued for the writer,
        or in the reconnect buffer while disconnected (nats.go's ``Buffered``)."""
        return self._conn.outbound_size + self._conn.pending_bytes + self._unwritten()

    def _unwritten(self) -> int:
        """Bytes the adapter took from the core and has not written yet."""
        return 0

    def new_resp_inbox(self) -> str:
        """A unique reply subject under the inbox prefix (nats.go's ``NewRespInbox``;
        here the same as ``new_inbox()``: subscribe to it to get the replies)."""
        return f"{self._opts.core.inbox_prefix}.{self._conn.next_nuid()}"

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
