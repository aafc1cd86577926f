"""The async NATS client on anyio (asyncio and Trio alike).

A reader task feeds the sans-IO core (on asyncio it only waits while asyncio's
transport hands each chunk read to the core), a flusher task writes what the
core queued when callers could not hand it to the kernel at once (it alone
ever blocks on a full socket), a ping task sends the liveness PINGs, a timer
task expires request deadlines, a dispatcher task runs the connection callbacks
and every callback subscription has a task of its own. They all live in a task
group owned by the client and scoped by ``async with connect(...)``.

This is :class:`BaseClient`; the public :class:`~nats_anyio.Client` (in
``_connect``) adds ``jetstream()``, so the modules it reaches never import it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from nats_core import (
    DRAINING,
    ENDING,
    ClientOptions,
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

from ._callbacks import CallbackDispatch, _CallbackItem
from ._credentials import read_credential_files
from ._msg import Msg
from ._old_request import old_style_request
from ._subscription import Subscription
from ._transport import (
    ConnectError,
    Transport,
    TransportFactory,
    make_ssl_context,
)
from ._util import Deadlines, Waiter, new_lock
from ._websocket import WebSocketTransport

__all__ = ["BaseClient"]

log = logging.getLogger("nats_anyio")

_READ_SIZE = 256 * 1024
#: Queued bytes past which publish() writes at once instead of waking the flusher.
_WRITE_AT = 64 * 1024
#: ... and past which it waits for the flusher while the transport pushes back.
_WAIT_AT = 1024 * 1024
#: Seconds close() lets queued connection callbacks (closed_cb...) run.
_CLOSE_GRACE = 5.0

#: The client whose background task is running (set by each of its tasks).
_own_task: ContextVar[BaseClient | None] = ContextVar("nats_anyio_own_task", default=None)


class BaseClient(CallbackDispatch):
    """The async NATS client's connection: publish, subscribe, request, flush,
    drain, reconnects and the client's tasks. :class:`~nats_anyio.Client` adds
    the entry to JetStream; everything below JetStream holds this class.

    Every method is called from tasks of the event loop the client runs in.
    """

    def __init__(self, options: ClientOptions, transport_factory: TransportFactory) -> None:
        self._opts = options
        self._factory = transport_factory
        self._conn = Connection(options.core, msg_class=Msg, client=self, rng=random.Random())
        self._transport: Transport | None = None
        self._wlock = new_lock()  # one writer at a time, in order
        self._subs: dict[int, Subscription] = {}
        self._req_waiters: dict[str, Waiter] = {}
        self._pong_waiters: dict[int, Waiter] = {}
        self._wake = anyio.Event()  # wakes the flusher
        self._flush_pending = False
        self._closing = False
        self._closed_evt = anyio.Event()
        self._reconnecting = False
        self._forced = False  # force_reconnect() dropped the transport
        self._reconnect_wake = anyio.Event()  # ends a reconnect wait early
        self._drop_error: BaseException | None = None  # why the transport is being dropped
        self._server_error: ServerError | None = None  # a fatal -ERR on this transport
        self._read_scope: anyio.CancelScope | None = None
        self._rest: tuple[Transport, memoryview] | None = None  # a partial send's remainder
        self._deadlines = Deadlines()  # request timeouts
        self._written = anyio.Event()  # set by the flusher after each write (see _backpressure)
        self._write_at = min(_WRITE_AT, options.max_outbound_bytes)  # see publish()
        self._wait_at = min(_WAIT_AT, options.max_outbound_bytes)
        self._tg: TaskGroup | None = None
        self._cb_send, self._cb_receive = anyio.create_memory_object_stream[_CallbackItem | None](
            math.inf
        )
        self._dispatch_done = anyio.Event()
        self._tasks_done = anyio.Event()  # the client's task group has exited
        self._dispatcher: int | None = None  # task id of the callback dispatcher
        self._quiet = False  # no_callbacks_after_client_close, after close()
        #: The last error seen (a lost connection, a server -ERR...), or None.
        self.last_error: BaseException | None = None
        self._init_state()

    # ------------------------------------------------------------ lifecycle

    async def _connect_first(self) -> tuple[list[Event], bool]:
        """Dial the pool once; return (events after Connected, reconnect in background)."""
        errors: list[BaseException] = []
        for server in list(self._conn.pool.servers):
            try:
                evs = await self._dial(server)
            except ServerError:
                raise
            except (OSError, NatsError) as e:
                errors.append(e)
                continue
            self._conn.pool.current = server
            return evs, False
        if self._opts.retry_on_failed_connect:
            self._reconnecting = True
            self.last_error = errors[-1] if errors else None  # why it is still trying
            return [], True
        raise errors[-1] if errors else ConnectError("no server to connect to")

    async def _run(
        self, reconnect_first: bool, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Own the client's task group until :meth:`close` cancels it."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._dispatch_loop, name="nats-callbacks")
                tg.start_soon(self._read_loop, reconnect_first, name="nats-reader")
                tg.start_soon(self._flush_loop, name="nats-flusher")
                tg.start_soon(self._ping_loop, name="nats-pinger")
                tg.start_soon(self._deadlines.run, name="nats-timeouts")
                task_status.started()
        finally:
            self._close_callback_queue()  # the dispatcher is gone with the task group
            self._tasks_done.set()

    def _mark_own_task(self) -> None:
        """Called first by each background task, so close() knows not to await it."""
        _own_task.set(self)

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

    async def _dial(self, server: ServerAddress) -> list[Event]:
        """Connect to ``server`` and run the handshake; return events from Connected on."""
        timeout = self._opts.connect_timeout
        server.last_attempt = anyio.current_time()
        # Read again: a rotated .creds, seed or token file is used from now on.
        self._refresh_credentials(await read_credential_files(self._opts))
        t: Transport | None = None
        try:
            with anyio.move_on_after(timeout):
                t = await self._factory(server, timeout)
                if server.websocket:  # TLS (wss://, or TLS required) comes before the upgrade
                    o = self._opts
                    ctx = self._tls_context() if server.tls else None
                    t = await WebSocketTransport.upgrade(
                        t, server, ctx, o.tls_hostname, compression=o.compression
                    )
                return await self._handshake(t, server)
            raise NatsTimeoutError(f"connecting to {server.url} timed out after {timeout} s")
        except BaseException as e:
            with anyio.CancelScope(shield=True):
                if t is not None:
                    await t.close()
            conn = self._conn
            if conn.state is not State.CLOSED and conn.state is not State.DISCONNECTED:
                conn.connection_lost(e)
            raise

    async def _handshake(self, t: Transport, server: ServerAddress) -> list[Event]:
        o = self._opts
        conn = self._conn
        tls_first = o.core.tls_handshake_first and not t.secure
        if tls_first:
            await t.start_tls(self._tls_context(), o.tls_hostname or server.host)
        conn.connection_made(server, tls=t.secure)
        while True:
            data = await t.read(_READ_SIZE)
            if not data:
                raise ConnectError(f"{server.url} closed the connection during the handshake")
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
                        await t.write(out)
                    await t.start_tls(self._tls_context(), o.tls_hostname or server.host)
                    conn.tls_started()
                    out = conn.data_to_send()
                elif isinstance(ev, ServerErrorEvent) and ev.error.fatal:
                    raise ev.error
                elif isinstance(ev, Connected):
                    async with self._wlock:
                        if out:
                            await t.write(out)
                        self._transport = t
                        self._rest = None
                        self._drop_error = None
                        self._server_error = None
                    self._wake_flusher()
                    return evs[i:]
            if out:
                await t.write(out)

    async def close(self) -> None:
        """Close the connection: pending writes are flushed, subscriptions end,
        waiting calls fail with :class:`ConnectionClosedError`, ``closed_cb`` runs
        and the client's tasks are cancelled; returns once they ended (unless
        called from one of them). Cannot itself be cancelled."""
        if self._closing:
            if _own_task.get() is not self:
                await self._closed_evt.wait()
            return
        self._closing = True
        self._quiet = self._opts.no_callbacks_after_client_close
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(self._opts.connect_timeout):
                await self._write_out(shield=False)
            self._conn.close()
            t, self._transport = self._transport, None
            if t is not None:
                await t.close()
            self._finish_all()
            self._status_now("closed")
            self._callback(self._cbs.closed_cb)
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._cb_send.send_nowait(None)  # the dispatcher stops after the queue
            if self._tg is not None:
                if anyio.get_current_task().id != self._dispatcher:
                    with anyio.move_on_after(_CLOSE_GRACE):
                        await self._dispatch_done.wait()
                self._tg.cancel_scope.cancel()
                if _own_task.get() is not self:
                    await self._tasks_done.wait()
            self._closed_evt.set()

    def _finish_all(self) -> None:
        self._signal_written()
        err = ConnectionClosedError("the connection was closed")
        for w in [*self._req_waiters.values(), *self._pong_waiters.values()]:
            w.set(error=err)
        self._req_waiters.clear()
        self._pong_waiters.clear()
        for sub in list(self._subs.values()):
            sub._finish("connection closed")
        self._subs.clear()

    # ---------------------------------------------------------------- tasks

    async def _read_loop(self, reconnect_first: bool) -> None:
        self._mark_own_task()
        conn = self._conn
        if reconnect_first and not await self._reconnect():
            await self._give_up()
            return
        while True:
            t = self._transport
            err: BaseException | None = None
            if t is not None and self._drop_error is None:
                with anyio.CancelScope() as self._read_scope:
                    try:
                        await t.run(self._receive)  # on asyncio, called as data comes
                        err = self._server_error or ConnectionResetError(
                            "the server closed the connection"
                        )
                    except OSError as e:  # TransportError included
                        err = e
                    except NatsError as e:  # bytes that are not NATS, or a core refusal
                        err = e
                        self._report_error(e)
                self._read_scope = None
            if self._drop_error is not None:
                err, self._drop_error = self._drop_error, None
            if self._closing:
                return
            force, self._forced = self._forced, False
            if force:
                err = None  # asked for, not a failure (nats.go reports no error either)
            else:
                self.last_error = err
            self._reconnect_wake = anyio.Event()  # a force_reconnect() from now on ends the wait
            self._reconnecting = True  # before the transport goes: status never says connecting
            t, self._transport = self._transport, None
            if t is not None:
                with anyio.CancelScope(shield=True):
                    await t.close()
            self._handle(conn.connection_lost(err))
            self._signal_written()  # the backlog is gone with the transport
            if (
                conn.is_closed
                or not self._opts.core.allow_reconnect
                or not await self._reconnect(force=force)
            ):
                await self._give_up()
                return

    def _receive(self, data: bytes) -> None:
        """Feed what was read to the core and act on its events."""
        conn = self._conn
        evs = conn.receive_data(data)
        if conn.outbound_size:
            self._wake_flusher()
        if evs:
            self._handle(evs)

    async def force_reconnect(self) -> None:
        """Drop the connection and reconnect at once, without the reconnect wait.

        What was published before the call is written to the old server first
        (for at most ``connect_timeout``); then, as after any loss, subscriptions
        are resubscribed on the next server and publishes made meanwhile are
        buffered. While reconnecting already, the current wait ends and the next
        server is dialed now. Raises :class:`ConnectionClosedError` once closed.
        """
        if self._closing:
            raise ConnectionClosedError("the connection is closed; cannot reconnect")
        if not self._reconnecting and self._transport is not None:
            with anyio.move_on_after(self._opts.connect_timeout):
                await self._write_out(shield=False)  # the stream is dropped anyway
            if not self._reconnecting and self._transport is not None and not self._closing:
                self._forced = True
                self._reconnecting = True
                self._drop(ConnectionResetError("force_reconnect() dropped the connection"))
                return
        self._reconnect_wake.set()

    def _drop(self, err: BaseException) -> None:
        """Make the reader abandon the current transport (stale, write failed)."""
        if self._drop_error is None:
            self._drop_error = err
        if self._read_scope is not None:
            self._read_scope.cancel()

    async def _give_up(self) -> None:
        self._reconnecting = False
        if not self._closing:
            await self.close()

    async def _reconnect(self, force: bool = False) -> bool:
        """Dial servers as the core's policy says until one works; False to give up."""
        pool = self._conn.pool
        pool.start_reconnect(force=force)
        while not self._closing:
            step = pool.next_reconnect(self._opts)
            if step is None:
                return False
            if step.error is not None:
                self._report_error(step.error)
            if step.delay > 0:
                with anyio.move_on_after(step.delay):
                    await self._reconnect_wake.wait()  # force_reconnect() ends the wait
                self._reconnect_wake = anyio.Event()
            try:
                evs = await self._dial(step.server)
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
            self._wake.set()

    def _write_soon(self) -> bool:
        """Write what the core has queued if that needs no waiting; True when done.

        The bytes go to the transport's :meth:`~Transport.try_write` (the kernel,
        or asyncio's buffer) unless a write is in progress, a part is left over
        from the last one, or the transport pushes back. A part it did not take is
        kept in ``_rest``, ahead of anything else, for :meth:`_write_out`.
        Otherwise nothing is written. No await: no other task runs in between.
        """
        t = self._transport
        if t is None or self._rest is not None or self._wlock.locked() or t.must_drain:
            return False  # the bytes wait in the core, uncopied
        data = self._conn.data_to_send()
        if not data:
            return True
        try:
            rest = t.try_write(data)
        except OSError as e:
            if self._transport is t:
                self._drop(e)
            return True
        if rest is not None:
            self._rest = (t, rest)
            return False
        return not t.must_drain

    def _send_soon(self) -> None:
        """Hand what is queued to the transport now if that needs no waiting,
        else to the flusher task (callers never block on a write)."""
        if not self._write_soon():
            self._wake_flusher()

    async def _backpressure(self) -> None:
        """Hand what is queued over, then wait while more than ``_wait_at`` bytes
        are still waiting for a transport that does not keep up.

        Only the flusher task writes while the transport pushes back (shielded,
        a cut write would corrupt the stream); the wait here stays cancellable.
        """
        if self._write_soon():
            return
        self._wake_flusher()
        t = self._transport
        while self._backlog() > self._wait_at and self._transport is t and not self._closing:
            await self._written.wait()

    def _backlog(self) -> int:
        rest = self._rest
        return self._conn.outbound_size + (len(rest[1]) if rest is not None else 0)

    def _signal_written(self) -> None:
        """Wake the tasks in :meth:`_backpressure` to look at the backlog again."""
        self._written.set()
        self._written = anyio.Event()

    async def _write_out(self, shield: bool = True) -> None:
        """Write what the core has queued (in order: one writer at a time); only
        the flusher task, and close() and force_reconnect() (time-bounded, not
        shielded), call this.

        A write cut short would corrupt the stream, so it is shielded from
        cancellation (closing the transport still ends it); close() passes
        ``shield=False`` for its last, time-bounded flush, which also waits until
        a buffering transport has sent everything.
        """
        if self._write_soon() and shield:
            return
        async with self._wlock:
            t = self._transport
            rest, self._rest = self._rest, None
            if t is None:
                return
            ft = self._opts.flusher_timeout
            try:
                with anyio.CancelScope(shield=shield) as scope:
                    if ft is not None:  # a write blocked that long fails the connection
                        scope.deadline = anyio.current_time() + ft
                    if rest is not None and rest[0] is t:
                        await t.write(rest[1].tobytes())  # rare: the kernel was full
                    if t.must_drain:
                        await t.drain()
                    data = self._conn.data_to_send()  # all that piled up meanwhile
                    if data:
                        await t.write(data)
                    if not shield:  # close(): until a buffering transport sent it all
                        await t.drain(everything=True)
                if scope.cancelled_caught and self._transport is t:
                    err = NatsTimeoutError(f"flusher timeout: a write blocked for more than {ft} s")
                    self._report_error(err)
                    self._drop(err)
            except OSError as e:  # TransportError, or a raw one from a custom transport
                if self._transport is t:
                    self._drop(e)

    async def _flush_loop(self) -> None:
        self._mark_own_task()
        while True:
            if not self._flush_pending:
                await self._wake.wait()
            self._wake = anyio.Event()
            self._flush_pending = False
            await self._write_out()
            self._signal_written()

    async def _ping_loop(self) -> None:
        """Liveness PINGs in their own task: a flusher stuck writing to a server
        that stopped reading must not keep the stale connection from being noticed."""
        self._mark_own_task()
        interval = self._opts.ping_interval
        while True:
            await anyio.sleep(interval)
            if self._conn.keepalive():
                self._drop(StaleConnectionError("stale connection: PINGs went unanswered"))
            else:
                self._wake_flusher()

    # ------------------------------------------------------------------ API

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> None:
        """Publish ``payload`` to ``subject`` (optionally with a reply subject and headers).

        The message is appended to the outbound buffer, which is written in large
        writes (no system call per message): by the flusher task, or by this call
        once 64 KiB are queued. While the server does not keep up, the call waits
        once 1 MiB (or ``max_outbound_bytes``, if smaller) is queued. Await
        :meth:`flush` to know the server has them.
        """
        conn = self._conn
        queued = -1 if headers or reply else conn.try_publish(subject, payload)
        if queued < 0:
            queued = conn.publish(subject, payload, reply, headers)
        if queued > self._write_at:
            # Write in cache-sized batches rather than letting a fast publisher
            # pile up many megabytes before the flusher runs; wait only when the
            # transport pushes back and _wait_at bytes are queued.
            if queued > self._wait_at:
                await self._backpressure()
            elif not self._write_soon():  # the kernel is full, or a write is under way
                self._wake_flusher()
        elif not self._flush_pending:
            self._flush_pending = True
            self._wake.set()

    async def _publish_now(
        self, subject: str, payload: bytes, headers: HeadersInput | None
    ) -> None:
        """Publish and write at once (a reply is latency-bound)."""
        if self._conn.publish(subject, payload, "", headers) > self._wait_at:
            await self._backpressure()
        else:
            self._send_soon()

    async def subscribe(
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

        With ``cb`` (a plain or an async function) each message is passed to it
        in the subscription's own task; without, read messages with
        ``await sub.next_msg()`` or ``async for msg in sub``. ``max_msgs`` > 0
        unsubscribes automatically after that many messages. ``slow_consumer``
        says what happens past the pending limits: ``"drop_new"`` (drop what
        does not fit), ``"drop_oldest"`` (keep the newest) or ``"error"`` (end
        the subscription with :class:`SlowConsumerError`).
        """
        o = self._opts
        slow_consumer = check_slow_consumer(slow_consumer)
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
        if cb is not None:
            assert self._tg is not None
            self._tg.start_soon(sub._run_callbacks, name=f"nats-sub-{sid}")
        self._wake_flusher()
        return sub

    async def _unsubscribe(self, sub: Subscription, max_msgs: int) -> None:
        if sub.sid not in self._conn.subscriptions:
            return
        if self._conn.unsubscribe(sub.sid, max_msgs):
            self._subs.pop(sub.sid, None)
            sub._finish("unsubscribed")
        self._wake_flusher()

    async def _drain_subscription(self, sub: Subscription, timeout: float) -> None:
        if sub.sid not in self._conn.subscriptions:
            return
        self._conn.drain_subscription(sub.sid)
        done = False
        self._send_soon()
        with anyio.move_on_after(timeout):
            await sub._wait_drained()
            done = True
        if not done:
            raise NatsTimeoutError(f"draining {sub.subject!r} took longer than {timeout} s")

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        headers: HeadersInput | None = None,
    ) -> Msg:
        """Publish a request and wait up to ``timeout`` seconds for the first reply.

        Raises :class:`NoRespondersError` when nobody listens on ``subject`` and
        :class:`NatsTimeoutError` (a ``TimeoutError``) when no reply came.
        Cancelling the call cancels only this request.
        """
        if self._opts.use_old_request_style:  # a subscription of its own
            return await old_style_request(self, subject, payload, timeout, headers)
        w = Waiter()
        token = self._conn.request(subject, payload, headers)
        self._req_waiters[token] = w
        if timeout is not None:  # no cancel scope: the timer task expires it
            self._deadlines.add(w, timeout)
        try:
            self._send_soon()  # or the flusher writes it; the deadline holds either way
            await w.event.wait()
        finally:
            if not w.event.is_set() or w.expired:
                self._conn.cancel_request(token)
                self._req_waiters.pop(token, None)
            # The deadline heap may hold on to w for a while; not to the reply.
            msg: Msg = w.value
            w.value = None
        if w.expired:
            raise NatsTimeoutError(f"no reply to the request on {subject!r} within {timeout} s")
        if w.error is not None:
            raise w.error
        if msg.is_no_responders:
            raise NoRespondersError(subject)
        return msg

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until the server has processed everything sent so far (PING/PONG)."""
        w = Waiter()
        pid = self._conn.ping()
        self._pong_waiters[pid] = w
        self._send_soon()
        try:
            with anyio.move_on_after(timeout):
                await w.event.wait()
        finally:
            if not w.event.is_set():
                self._pong_waiters.pop(pid, None)
        if not w.event.is_set():
            raise NatsTimeoutError(f"flush timed out after {timeout} s")
        if w.error is not None:
            raise w.error

    async def rtt(self, timeout: float = 10.0) -> float:
        """Round-trip time to the server, in seconds."""
        start = time.perf_counter()
        await self.flush(timeout)
        return time.perf_counter() - start

    async def drain(self, timeout: float | None = None) -> None:
        """Drain every subscription, flush the last publishes, then close.

        Raises :class:`NatsTimeoutError` if that takes longer than ``timeout``
        (default ``drain_timeout``); the connection is closed either way.
        Called while reconnecting, there is no server to drain to: the client
        closes and raises :class:`ConnectionReconnectingError`. When the
        connection is lost during the drain, it closes and raises
        :class:`ConnectionClosedError`.
        """
        timeout = self._opts.drain_timeout if timeout is None else timeout
        conn = self._conn
        if conn.state in DRAINING and not self._closing:
            # A drain is under way: as in nats.go a second call is no error; it
            # returns once that drain closed the connection.
            with anyio.move_on_after(timeout):
                await self._closed_evt.wait()
            if not self._closed_evt.is_set():
                raise NatsTimeoutError(f"drain timed out after {timeout} s")
            return
        if not (self.is_connected and conn.state is State.CONNECTED):
            st, dropped = conn.state, conn.pending_bytes
            reconnecting = not self._closing and st not in ENDING
            await self.close()
            if reconnecting:
                raise ConnectionReconnectingError(
                    "drain() was called while reconnecting: with no server to drain to, "
                    f"the connection was closed ({dropped} bytes of buffered publishes dropped)"
                )
            return
        done = False
        lost = "the connection was lost during the drain and is closed"
        try:
            with anyio.move_on_after(timeout):
                draining = [self._subs[sid] for sid in conn.start_drain() if sid in self._subs]
                self._status_now("draining")
                self._send_soon()
                for sub in draining:
                    await sub._wait_drained()
                if conn.is_closed:
                    raise ConnectionClosedError(lost)
                w = Waiter()
                self._pong_waiters[conn.drain_publishes()] = w
                self._send_soon()
                await w.event.wait()
                if w.error is not None:
                    raise ConnectionClosedError(lost) from w.error
                done = True
        finally:
            await self.close()
        if not done:
            raise NatsTimeoutError(f"drain timed out after {timeout} s")

    def new_inbox(self) -> str:
        """A unique inbox subject."""
        return self._conn.new_inbox()
