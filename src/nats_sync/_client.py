"""The blocking NATS client: one reader thread feeds the sans-IO core, one
writer thread drains it in large writes, a pinger thread sends liveness PINGs,
and callbacks run on a small pool of worker threads, never on the reader.

This is :class:`BaseClient`; the public :class:`~nats_sync.Client` (in
``_connect``, with :func:`~nats_sync.connect`) adds ``jetstream()``, so the
modules it reaches never import it.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from nats_core import (
    DRAINING,
    ENDING,
    ClientOptions,
    ClientState,
    Connected,
    Connection,
    Event,
    HeadersInput,
    ServerAddress,
    ServerErrorEvent,
    SlowConsumerPolicy,
    StartTLS,
    State,
    check_slow_consumer,
)
from nats_core.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    SecureConnectionWantedError,
    ServerError,
    StaleConnectionError,
)

from ._credentials import read_text
from ._dispatch import CallbackPool, CallbackQueue, Waiter
from ._msg import Msg
from ._old_request import old_style_request
from ._subscription import Subscription
from ._transport import (
    ConnectError,
    TCPTransport,
    Transport,
    TransportFactory,
    make_ssl_context,
)
from ._websocket import WebSocketTransport

__all__ = ["BaseClient"]

log = logging.getLogger("nats_sync")

_READ_SIZE = 256 * 1024
#: Seconds close() spends writing what is still queued before it gives up; also
#: the bound of the last write to a transport being dropped.
_CLOSE_FLUSH_TIMEOUT = 2.0
_WRITE_AT = 1024 * 1024  # see publish()
# Without the GIL (a free-threaded build) every publish takes the core's lock.
_is_gil_enabled: Callable[[], bool] = getattr(sys, "_is_gil_enabled", lambda: True)
_GIL = _is_gil_enabled()


class BaseClient(ClientState):
    """The blocking NATS client's connection: publish, subscribe, request, flush,
    drain, reconnects and the client's threads. :class:`~nats_sync.Client` adds
    the entry to JetStream; everything below JetStream holds this class.
    Safe from any thread."""

    def __init__(
        self, options: ClientOptions, transport_factory: TransportFactory = TCPTransport.connect
    ) -> None:
        self._opts = options
        self._factory = transport_factory
        # Lock order: _wlock, then _plock, then _lock.
        self._lock = threading.Lock()  # guards the core
        self._wlock = threading.Lock()  # one writer at a time, in order
        self._plock = threading.Lock()  # the reader's parse, outside _lock (see _drop_transport)
        self._conn = Connection(options.core, msg_class=Msg, client=self, rng=random.Random())
        self._transport: Transport | None = None
        self._subs: dict[int, Subscription] = {}
        self._req_waiters: dict[str, Waiter] = {}
        self._pong_waiters: dict[int, Waiter] = {}
        self._flush_evt = threading.Event()
        self._flush_pending = False
        # Past this many queued bytes publish writes them itself (and blocks while
        # the server does not keep up); measured in benchmarks/RESULTS.md, item 15.
        self._write_at = min(_WRITE_AT, self._opts.max_outbound_bytes)
        self._closed_evt = threading.Event()
        self._closing = False
        self._stale = False
        self._reconnecting = False
        self._forced = False  # force_reconnect() dropped the transport
        self._reconnect_wake = threading.Event()  # ends a reconnect wait early
        self._dialing: Transport | None = None  # the transport of a dial in progress
        self._cbq = CallbackQueue()  # connection callbacks, in order on one thread
        self._threads: list[threading.Thread] = []
        self._callbacks = CallbackPool(options.callback_threads)  # subscription callbacks
        self._stray: list[bytes] = []  # publishes that raced a loss (see _dial)
        self._write_since = 0.0  # monotonic start of the write in progress (0: none)
        self._quiet = False  # no_callbacks_after_client_close, after close()
        self.last_error: BaseException | None = None
        self._init_state()

    # ----------------------------------------------------------- lifecycle

    def _start(self) -> None:
        errors: list[BaseException] = []
        servers = list(self._conn.pool.servers)
        for server in servers:
            try:
                evs = self._dial(server)
            except ServerError:
                raise
            except (OSError, NatsError) as e:
                errors.append(e)
                continue
            self._conn.pool.current = server
            self._spawn()
            self._handle(evs)
            return
        if self._opts.retry_on_failed_connect:
            self._reconnecting = True
            self.last_error = errors[-1] if errors else None  # why it is still trying
            self._spawn(reconnect_first=True)
            return
        err = errors[-1] if errors else ConnectError("no server to connect to")
        raise err

    def _spawn(self, reconnect_first: bool = False) -> None:
        for target, name in (
            (lambda: self._read_loop(reconnect_first), "nats-reader"),
            (self._flush_loop, "nats-writer"),
            (self._ping_loop, "nats-pinger"),
            (self._cbq.run, "nats-callbacks"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def _tls_context(self) -> Any:
        o = self._opts
        if callable(o.tls):  # asked again at every dial: certificates may rotate
            try:
                return o.tls()
            except Exception as e:  # fails this dial only, as a TLS error would
                raise ConnectError(f"the tls callable failed: {e!r}") from e
        if o.tls is not None:
            return o.tls
        return make_ssl_context(o.tls_ca_file, o.tls_cert_file, o.tls_key_file)

    def _dial(self, server: ServerAddress) -> list[Event]:
        """Connect to ``server`` and run the handshake; return events after Connected."""
        o = self._opts
        timeout = o.connect_timeout
        server.last_attempt = time.monotonic()
        deadline = server.last_attempt + timeout
        self._refresh_credentials(read_text)  # read again: a rotated file is used now
        t: Transport = self._factory(server, timeout)
        if server.websocket:  # TLS (wss://, or TLS required) comes before the upgrade
            ctx = self._tls_context() if server.tls else None
            t = WebSocketTransport.upgrade(
                t, server, timeout, ctx, o.tls_hostname, compression=o.compression
            )
        self._dialing = t  # close() shuts it down: a handshake never delays close
        conn = self._conn
        try:
            if o.core.tls_handshake_first and not t.secure:
                t.start_tls(self._tls_context(), o.tls_hostname or server.host, timeout)
            with self._lock:
                # Lock-free publishes that raced a loss (see _drop_transport) are in
                # the disconnected state's queue: complete PUBs, sent first below.
                raced = conn._out
                conn.connection_made(server, tls=t.secure)
            if raced:
                self._stray.append(b"".join(raced))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NatsTimeoutError(f"handshake with {server.url} timed out")
                t.settimeout(left)
                try:
                    data = t.read(_READ_SIZE)
                except TimeoutError:
                    raise NatsTimeoutError(f"handshake with {server.url} timed out") from None
                if not data:
                    raise ConnectError(f"{server.url} closed the connection during the handshake")
                with self._lock:
                    evs = conn.receive_data(data)
                    out = conn.data_to_send()
                for i, ev in enumerate(evs):
                    if isinstance(ev, StartTLS):
                        if not (ev.info.tls_required or ev.info.tls_available):
                            raise SecureConnectionWantedError(
                                f"{server.url} offers no TLS but the client requires it "
                                "(a tls:// URL or a TLS option); enable TLS on the server"
                            )
                        if out:
                            t.write(out)
                            out = b""
                        t.start_tls(self._tls_context(), o.tls_hostname or server.host, timeout)
                        with self._lock:
                            conn.tls_started()
                            out = conn.data_to_send()
                    elif isinstance(ev, ServerErrorEvent) and ev.error.fatal:
                        raise ev.error
                    elif isinstance(ev, Connected):
                        with self._wlock:
                            if self._closing:
                                raise ConnectionClosedError("closed during the handshake")
                            if self._stray:  # before the reconnect buffer: in publish order
                                # (and, as that buffer, written once: lost if this write fails)
                                out = b"".join(self._stray) + out
                                self._stray.clear()
                            if out:
                                t.write(out)
                            t.settimeout(None)
                            self._transport = t
                        self._flush_evt.set()
                        return evs[i:]
                if out:
                    t.write(out)
        except BaseException as e:
            t.close()
            with self._lock:
                if conn.state is not State.CLOSED and conn.state is not State.DISCONNECTED:
                    conn.connection_lost(e)
            raise

    def close(self) -> None:
        """Close the connection: pending writes are flushed, subscriptions end,
        waiting calls fail with :class:`ConnectionClosedError`."""
        if self._closing:
            self._join()
            return
        if self._opts.no_callbacks_after_client_close:
            self._quiet = True
        self._closing = True
        try:
            self._write_out(_CLOSE_FLUSH_TIMEOUT)
        except OSError:
            pass
        with self._lock:
            self._conn.close()
        self._closed_evt.set()
        self._flush_evt.set()
        self._reconnect_wake.set()  # a reconnect wait ends now
        dialing = self._dialing
        if dialing is not None:
            dialing.shutdown()  # as does a handshake in progress
        t = self._transport
        if t is not None:
            t.shutdown()  # also frees a writer stuck on a server that stopped reading
        with self._wlock:
            t, self._transport = self._transport, None
        if t is not None:
            t.close()
        self._finish_all()
        self._stray.clear()
        self._status_now("closed")
        self._callback(self._cbs.closed_cb)
        self._cbq.stop()
        self._join()
        self._callbacks.close(timeout=5.0)  # after the callbacks already queued

    def _finish_all(self) -> None:
        err = ConnectionClosedError("the connection was closed")
        for w in list(self._req_waiters.values()) + list(self._pong_waiters.values()):
            w.set(error=err)
        self._req_waiters.clear()
        self._pong_waiters.clear()
        for sub in list(self._subs.values()):
            sub._finish("connection closed")
        self._subs.clear()

    def _join(self) -> None:
        me = threading.current_thread()
        for t in self._threads:
            if t is not me and t.name != "nats-callbacks":
                t.join(5)

    def force_reconnect(self) -> None:
        """Drop the connection and reconnect at once, without the reconnect wait.

        What was published before the call is written to the old server first;
        then, as after any loss, subscriptions are resubscribed on the next
        server and publishes made meanwhile are buffered. While reconnecting
        already, the current wait ends and the next server is dialed now.
        Returns at once; raises :class:`ConnectionClosedError` once closed.
        """
        if self._closing:
            raise ConnectionClosedError("the connection is closed; cannot reconnect")
        if not self._reconnecting:
            self._write_out(self._opts.connect_timeout)
            with self._wlock:
                t = self._transport
                if t is not None and not self._closing:
                    self._forced = True
                    evs = self._drop_transport(t, None)
                    t.shutdown()  # the reader sees the end, closes it and reconnects
                    self._handle(evs)
                    return
        self._reconnect_wake.set()

    def _drop_transport(self, t: Transport, err: BaseException | None) -> list[Event]:
        """Stop using ``t`` (the caller holds ``_wlock``). In one step under the
        lock the status becomes "reconnecting" and the core switches to the
        reconnect buffer: a publish went to ``t``'s queue before (written here, as
        nats.go flushes before it closes) or to the buffer after. A lock-free
        publish (Connection.try_publish) that checked the state before the switch
        appends after it, to the new queue: _dial() sends those.
        """
        conn = self._conn
        with self._plock, self._lock:  # the parser is reset: never while the reader runs it
            self._reconnecting = True  # status never says "connecting" in between
            queued = conn._out  # connection_lost() drops it: what no one wrote yet
            evs = conn.connection_lost(err)
            self._transport = None
        unsent = b"".join(queued)
        if unsent:
            try:
                t.settimeout(min(self._opts.connect_timeout, _CLOSE_FLUSH_TIMEOUT))
                t.write(unsent)
            except OSError:
                pass  # as lost as what was in flight
        return evs

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------- threads

    def _read_loop(self, reconnect_first: bool) -> None:
        conn = self._conn
        if reconnect_first and not self._reconnect():
            self._give_up()
            return
        while True:
            t = self._transport
            err: BaseException | None = None
            if t is not None:
                try:
                    while True:
                        data = t.read(_READ_SIZE)
                        if not data:
                            err = ConnectionResetError("the server closed the connection")
                            break
                        with self._plock:  # the bulk of the work, without the core's lock
                            ops = conn.parse(data)
                        with self._lock:
                            if self._transport is not t:
                                break  # force_reconnect() dropped it meanwhile
                            evs = conn.receive_ops(ops)
                            answer = conn.outbound_size
                        if answer:
                            self._wake_flusher()
                        if evs:
                            self._handle(evs)
                        del data, ops, evs  # handed over: not kept alive while reading again
                except OSError as e:
                    err = e
                except NatsError as e:  # bytes that are not NATS, or a core refusal
                    err = e
                    if self._transport is t and not self._closing:
                        self._report_error(e)
            if self._closing:
                return
            if self._stale:
                err = StaleConnectionError("stale connection: PINGs went unanswered")
                self._stale = False
            force, self._forced = self._forced, False
            if force:
                err = None  # asked for, not a failure (nats.go reports no error either)
            else:
                self.last_error = err
            self._reconnect_wake.clear()  # a force_reconnect() from now on ends the wait
            lost: list[Event] = []
            if t is not None:
                with self._wlock:  # the writer is done with t
                    if self._transport is t:  # else force_reconnect() dropped it already
                        lost = self._drop_transport(t, err)
                t.close()
            self._handle(lost)
            if (
                conn.is_closed
                or not self._opts.core.allow_reconnect
                or not self._reconnect(force=force)
            ):
                self._give_up()
                return

    def _give_up(self) -> None:
        self._reconnecting = False
        if not self._closing:
            threading.Thread(target=self.close, name="nats-close", daemon=True).start()

    def _reconnect(self, force: bool = False) -> bool:
        """Dial servers as the core's policy says until one works; False to give up."""
        pool = self._conn.pool
        with self._lock:
            pool.start_reconnect(force=force)
        while not self._closing:
            with self._lock:
                step = pool.next_reconnect(self._opts)
            if step is None:
                return False
            if step.error is not None:
                self._report_error(step.error)
            if step.delay > 0:
                self._reconnect_wake.wait(step.delay)  # close() and force_reconnect() end it
                self._reconnect_wake.clear()
                if self._closing:
                    return False
            try:
                evs = self._dial(step.server)
            except (OSError, NatsError) as e:
                self._reconnect_failed(e)
                continue
            self._reconnecting = False
            self._handle(evs)
            return True
        return False

    def _wake_flusher(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self._flush_evt.set()

    def _write_out(self, timeout: float | None = None) -> None:
        """Write what the core queued; with ``timeout``, give up after that many seconds."""
        if not self._wlock.acquire(timeout=-1 if timeout is None else timeout):
            return
        try:
            t = self._transport
            if t is None:
                return
            with self._lock:
                data = self._conn.data_to_send()
            if data:
                self._write_since = time.monotonic()
                try:
                    if timeout is not None:
                        t.settimeout(timeout)
                    t.write(data)
                except OSError:
                    t.shutdown()  # the reader sees the loss and reconnects
                finally:
                    self._write_since = 0.0
        finally:
            self._wlock.release()

    def _flush_loop(self) -> None:
        evt = self._flush_evt
        while not self._closed_evt.is_set():
            evt.wait()
            evt.clear()
            self._flush_pending = False
            if self._closed_evt.is_set():
                return
            self._write_out()

    def _ping_loop(self) -> None:
        """Liveness PINGs on their own thread: a writer stuck on a server that
        stopped reading must not keep the stale connection from being noticed."""
        interval = self._opts.ping_interval
        ft = self._opts.flusher_timeout
        tick = interval if ft is None else min(interval, ft / 4)
        next_ping = time.monotonic() + interval
        while not self._closed_evt.wait(tick):
            now = time.monotonic()
            since = self._write_since
            if ft is not None and since and now - since > ft:
                self._drop_stuck_writer(ft)
            if now < next_ping:
                continue
            next_ping = now + interval
            with self._lock:
                stale = self._conn.keepalive()
            if stale:
                self._stale = True
                t = self._transport
                if t is not None:
                    t.shutdown()  # wakes the reader, and the writer if it is stuck
            else:
                self._wake_flusher()

    def _drop_stuck_writer(self, ft: float) -> None:
        """A write blocked longer than ``flusher_timeout``: drop the connection."""
        t = self._transport
        if t is not None:
            self._write_since = 0.0
            self._report_error(
                NatsTimeoutError(f"flusher timeout: a write blocked for more than {ft} s")
            )
            t.shutdown()  # the writer fails, the reader sees the loss and reconnects

    def _report_error(self, err: BaseException) -> None:
        self.last_error = err
        self._lifecycle_error(err)
        cb = self._cbs.error_cb
        if cb is not None:
            self._callback(cb, err)
        elif not self._quiet:
            log.warning("nats: %s", err)

    def _error_cb(self) -> Callable[..., Any] | None:
        return self._cbs.error_cb

    def _callback(self, fn: Callable[..., object] | None, *args: Any) -> None:
        if fn is not None and not self._quiet:
            self._cbq.put(fn, args)

    # ----------------------------------------------------------------- API

    def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> None:
        """Publish ``payload`` to ``subject`` (optionally with a reply subject and headers).

        The bytes are queued and written by the writer thread in large writes;
        once 1 MiB (or ``max_outbound_bytes``, if smaller) is queued this call
        writes them itself, waiting while the server does not keep up. Call
        :meth:`flush` to wait until the server has them.
        """
        conn = self._conn
        # The hot path needs no lock under the GIL (see Connection.try_publish).
        size = conn.try_publish(subject, payload) if _GIL and not (headers or reply) else -1
        if size < 0:
            with self._lock:
                size = conn.publish(subject, payload, reply, headers)
        if size > self._write_at:
            self._write_out()  # a big backlog: write it here rather than wait for the writer
        elif not self._flush_pending:
            self._flush_pending = True
            self._flush_evt.set()

    def _publish_now(self, subject: str, payload: bytes, headers: HeadersInput | None) -> None:
        with self._lock:
            self._conn.publish(subject, payload, "", headers)
        self._write_out()

    def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: Callable[[Msg], object] | None = None,
        max_msgs: int = 0,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
        slow_consumer: SlowConsumerPolicy = "drop_new",
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), in queue group ``queue``.

        With ``cb`` each message is passed to it, in order and one at a time, on
        one of the client's ``callback_threads`` worker threads (never the
        reader); without, read messages with ``next_msg()`` or by iterating.
        ``max_msgs`` > 0 unsubscribes automatically after that many messages.
        ``slow_consumer`` says what happens past the pending limits: ``"drop_new"``
        (drop what does not fit), ``"drop_oldest"`` (keep the newest) or
        ``"error"`` (end the subscription with :class:`SlowConsumerError`).
        """
        o = self._opts
        slow_consumer = check_slow_consumer(slow_consumer)
        with self._lock:
            sid = self._conn.subscribe(subject, queue, max_msgs)
            sub = Subscription(
                self,
                sid,
                subject,
                queue,
                cb,
                o.pending_msgs_limit if pending_msgs_limit is None else pending_msgs_limit,
                o.pending_bytes_limit if pending_bytes_limit is None else pending_bytes_limit,
                slow_consumer,
            )
            self._subs[sid] = sub
        self._wake_flusher()
        return sub

    def _unsubscribe(self, sub: Subscription, max_msgs: int) -> None:
        with self._lock:
            if sub.sid not in self._conn.subscriptions:
                return
            gone = self._conn.unsubscribe(sub.sid, max_msgs)
            if gone:
                self._subs.pop(sub.sid, None)
        if gone:
            sub._finish("unsubscribed")
        self._wake_flusher()

    def _drain_subscription(self, sub: Subscription, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            if sub.sid not in self._conn.subscriptions:
                return
            self._conn.drain_subscription(sub.sid)
        self._write_out()
        if not sub._wait_done(deadline):
            raise NatsTimeoutError(f"draining {sub.subject!r} took longer than {timeout} s")

    def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        headers: HeadersInput | None = None,
    ) -> Msg:
        """Publish a request and wait up to ``timeout`` seconds for the first reply.

        Raises :class:`NoRespondersError` when nobody listens on ``subject`` and
        :class:`NatsTimeoutError` (a ``TimeoutError``) when no reply came.
        """
        if self._opts.use_old_request_style:  # a subscription of its own
            return old_style_request(self, subject, payload, timeout, headers)
        w = Waiter()
        with self._lock:
            token = self._conn.request(subject, payload, headers)
            self._req_waiters[token] = w
        self._write_out()
        if not w.wait(timeout):
            with self._lock:
                self._conn.cancel_request(token)
                self._req_waiters.pop(token, None)
            if not w.wait(0):
                raise NatsTimeoutError(f"no reply to the request on {subject!r} within {timeout} s")
        if w.error is not None:
            raise w.error
        msg: Msg = w.value
        if msg.is_no_responders:
            raise NoRespondersError(subject)
        return msg

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the server has processed everything sent so far (PING/PONG)."""
        w = Waiter()
        with self._lock:
            pid = self._conn.ping()
            self._pong_waiters[pid] = w
        self._write_out()
        if not w.wait(timeout):
            with self._lock:
                self._pong_waiters.pop(pid, None)
            raise NatsTimeoutError(f"flush timed out after {timeout} s")
        if w.error is not None:
            raise w.error

    def rtt(self, timeout: float = 10.0) -> float:
        """Round-trip time to the server, in seconds."""
        start = time.perf_counter()
        self.flush(timeout)
        return time.perf_counter() - start

    def drain(self, timeout: float | None = None) -> None:
        """Drain every subscription, flush the last publishes, then close.

        Raises :class:`NatsTimeoutError` if that takes longer than ``timeout``
        (default ``drain_timeout``); the connection is closed either way.
        Called while reconnecting, there is no server to drain to: the client
        closes and raises :class:`ConnectionReconnectingError`. When the
        connection is lost during the drain, it closes and raises
        :class:`ConnectionClosedError`.
        """
        timeout = self._opts.drain_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self._conn.state in DRAINING and not self._closing:
            # A drain is under way: as in nats.go a second call is no error; it
            # returns once that drain closed the connection.
            if not self._closed_evt.wait(timeout):
                raise NatsTimeoutError(f"drain timed out after {timeout} s")
            return
        with self._lock:
            st = self._conn.state
            live = self._transport is not None and st is State.CONNECTED
            dropped = self._conn.pending_bytes
            sids = self._conn.start_drain() if live else []
            # taken now: the reader forgets a subscription once its drain is confirmed
            subs = [sub for sub in map(self._subs.get, sids) if sub is not None]
        if live:
            self._status_now("draining")
        if not live:
            reconnecting = not self._closing and st not in ENDING
            self.close()
            if reconnecting:
                raise ConnectionReconnectingError(
                    "drain() was called while reconnecting: with no server to drain to, "
                    f"the connection was closed ({dropped} bytes of buffered publishes dropped)"
                )
            return
        lost = "the connection was lost during the drain and is closed"
        try:
            self._write_out()
            for sub in subs:
                if not sub._wait_done(deadline):
                    raise NatsTimeoutError(f"drain timed out after {timeout} s")
            w = Waiter()
            with self._lock:
                if self._conn.is_closed:
                    raise ConnectionClosedError(lost)
                pid = self._conn.drain_publishes()
                self._pong_waiters[pid] = w
            self._write_out()
            if not w.wait(deadline - time.monotonic()):
                raise NatsTimeoutError(f"drain timed out after {timeout} s")
            if w.error is not None:
                raise ConnectionClosedError(lost) from w.error
        finally:
            self.close()

    def new_inbox(self) -> str:
        """A unique inbox subject."""
        with self._lock:
            return self._conn.new_inbox()
