"""The NATS client connection as a sans-IO state machine.

Bytes from the transport go in through :meth:`Connection.receive_data`, which
returns events; user commands (publish, subscribe, request, ping, ...) queue
bytes that the adapter takes with :meth:`Connection.data_to_send`. The
connection never touches a socket, a thread, an event loop or a clock.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from ._auth import connect_fields
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
    StartTLS,
    SubscriptionEnded,
)
from ._headers import HeadersInput, encode_headers
from ._info import ServerInfo
from ._nuid import NUID
from ._options import ConnectOptions
from ._parser import OK, PING, PONG, ErrOp, InfoOp, ParsedOp, Parser
from ._pool import ServerAddress, ServerPool
from ._state import LIVE, Command, Input, State, check_command, next_state
from ._subjects import check_publish_subject, check_queue, check_subscribe_subject
from ._tables import Statistics, SubscriptionState
from .errors import (
    AuthorizationError,
    BadPayloadError,
    HeadersNotSupportedError,
    LocalProtocolError,
    MaxPayloadError,
    PermissionsError,
    ReconnectBufferFullError,
    SubscriptionClosedError,
    classify_server_error,
)

__all__ = ["Connection", "Statistics", "SubscriptionState"]

_PING = b"PING\r\n"
_PONG = b"PONG\r\n"
_CRLF = b"\r\n"
#: Payloads from this size on are queued as they are (no copy into the PUB line).
_KEEP_PAYLOAD = 2048

# The frame of a plain publish, from the optional C module (in half the time of
# the %-format, which is the fallback); see _speedups.c.
_pub_frame: Callable[[bytes, bytes], bytes] | None
try:
    from ._speedups import pub_frame as _pub_frame
except ImportError:  # pragma: no cover - installed without a compiler
    _pub_frame = None
_HANDSHAKE = 0  # ping id of the PING that follows CONNECT
_KEEPALIVE = -1  # ping id of liveness PINGs
_SUBJECT_CACHE_MAX = 4096
#: Subjects used once and never again, kept out of the subject cache (where each
#: would push out a user's subject, and clear it every 4,096): a JetStream ack
#: (its ``$JS.ACK`` reply subject is new for every message); the inbox prefix is
#: added per connection (replies to requests, async publishes, pulls).
_ONCE_PREFIXES = ("$JS.ACK.",)
_CONNECTED = State.CONNECTED  # a module constant: an Enum attribute lookup costs ~100 ns


class Connection:
    """One client connection, across any number of transports (reconnects).

    ``msg_class`` builds delivered messages; the adapters pass their own
    subclass of :class:`~nats_core.Msg` and themselves as ``client`` so that
    ``msg.respond()`` works. ``rng`` feeds the NUIDs and the server shuffle.
    """

    def __init__(
        self,
        options: ConnectOptions | None = None,
        *,
        msg_class: type[Msg] = Msg,
        client: Any = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = opts = options or ConnectOptions()
        self._rng = rng or random.Random()
        self.state = State.DISCONNECTED
        self.info: ServerInfo | None = None
        self.pool = ServerPool(
            opts.servers,
            randomize=not opts.no_randomize,
            rng=self._rng,
            max_reconnect_attempts=opts.max_reconnect_attempts,
            ignore_discovered=opts.ignore_discovered_servers,
        )
        if opts.tls_required:
            self.pool.mark_secure()
        self.server: ServerAddress | None = None
        self.stats = Statistics()
        self._msg_class = msg_class
        self._parser = Parser(msg_class, client)
        # Bytes for the wire, as a list joined by data_to_send(): a growing
        # bytearray costs a copy of itself now and then, and a big payload is
        # kept as it is rather than copied into it.
        self._out: list[bytes] = []
        self._out_size = 0
        self._pending = bytearray()  # publishes made while disconnected
        self._subs: dict[int, SubscriptionState] = {}
        self._next_sid = 1
        self._pings: deque[int] = deque()  # ping ids awaiting PONG on this transport
        self._deferred_pings: list[int] = []  # pings asked for while disconnected
        self._drain_pings: dict[int, int] = {}  # ping id -> sid being drained
        self._next_ping = 1
        self._keepalive_out = 0
        self._tls_active = False
        self._ever_connected = False
        self._max_payload = 1024 * 1024
        self._subjects: dict[str, bytes] = {}
        self._once = (*_ONCE_PREFIXES, opts.inbox_prefix + ".")  # see _subject_bytes
        self._nuid = NUID(self._rng)
        self._resp_sid = 0
        self._resp_prefix = ""
        self._requests: set[str] = set()
        self._next_token = 0
        #: Keep dialing a server after the same authorization error twice in a row.
        self.ignore_auth_error_abort = False
        #: ``f() -> (user, password)`` asked at every CONNECT (overrides ``user``).
        self.user_info_cb: Callable[[], tuple[str, str]] | None = None

    # ------------------------------------------------------------------ state

    def _to(self, event: Input) -> None:
        self.state = next_state(self.state, event)

    @property
    def is_connected(self) -> bool:
        """True when the handshake is done and the transport is up."""
        return self.state in LIVE

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` ran or a drain finished."""
        return self.state is State.CLOSED

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts (from INFO; 1 MiB before it)."""
        return self._max_payload

    @property
    def subscriptions(self) -> dict[int, SubscriptionState]:
        """The live subscription table, by sid (read it, do not change it)."""
        return self._subs

    @property
    def outbound_size(self) -> int:
        """Bytes queued for the wire that the adapter has not taken yet."""
        return self._out_size

    @property
    def pending_bytes(self) -> int:
        """Bytes buffered for the next connection (publishes made while disconnected)."""
        return len(self._pending)

    def subscription(self, sid: int) -> SubscriptionState | None:
        """The table row of ``sid``, or None when it is gone."""
        return self._subs.get(sid)

    # -------------------------------------------------------------- transport

    def connection_made(self, server: ServerAddress | None = None, *, tls: bool = False) -> None:
        """A transport to ``server`` is open (``tls`` when it is TLS already)."""
        self._to(Input.CONNECTION_MADE)
        self.server = server
        self._tls_active = tls
        self._parser.reset()
        self._out = []  # a new list: see try_publish()
        self._out_size = 0
        self._pings.clear()
        self._keepalive_out = 0

    def tls_started(self) -> None:
        """The adapter finished the TLS upgrade that :class:`StartTLS` asked for."""
        self._to(Input.TLS_STARTED)
        self._tls_active = True
        self._send_connect()

    def connection_lost(self, error: BaseException | None = None) -> list[Event]:
        """The transport is gone. Keeps subscriptions and buffered publishes for a
        reconnect; pings that were in flight are sent again on the next connection."""
        if self.state is State.CLOSED:
            return []
        self._to(Input.CONNECTION_LOST)
        lost = [p for p in self._pings if p > 0]
        self._deferred_pings[:0] = lost
        self._pings.clear()
        self._out = []  # a new list: see try_publish()
        self._out_size = 0
        self._parser.reset()
        self._tls_active = False
        self._keepalive_out = 0
        if self.is_closed:
            self._release()
        return [Disconnected(error)]

    def data_to_send(self) -> bytes:
        """Everything queued for the wire since the last call (may be empty).

        It takes only the pieces it saw: a :meth:`try_publish` that another
        thread makes meanwhile stays queued for the next call.
        """
        out = self._out
        if not out:
            return b""
        taken = out[:]  # one step under the GIL, as is the del below
        del out[: len(taken)]
        data = taken[0] if len(taken) == 1 else b"".join(taken)
        m = len(data)
        self._out_size = self._out_size - m if out else 0
        return data

    def _emit(self, data: bytes) -> None:
        """Queue ``data`` for the wire."""
        m = len(data)
        self._out.append(data)
        self._out_size += m

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the transport; return the events they complete.

        Raises :class:`~nats_core.errors.RemoteProtocolError` when the bytes are
        not NATS; the adapter should then drop the transport.
        """
        return self.receive_ops(self._parser.feed(data))

    def parse(self, data: bytes) -> list[ParsedOp]:
        """The first half of :meth:`receive_data`: parse ``data`` into operations.

        It touches nothing but the parser, so a threaded adapter may run it
        outside the lock that guards the rest of the connection (from its one
        reader thread), then pass the result to :meth:`receive_ops` under the lock.
        """
        return self._parser.feed(data)

    def receive_ops(self, ops: list[ParsedOp]) -> list[Event]:
        """The second half of :meth:`receive_data`: act on parsed operations."""
        events: list[Event] = []
        append = events.append
        subs = self._subs
        msg_class = self._msg_class
        resp_sid = self._resp_sid
        in_msgs = in_bytes = 0  # added to the statistics once, after the loop
        for op in ops:
            if type(op) is msg_class or isinstance(op, Msg):
                sub = subs.get(op.sid)
                if sub is None:
                    continue  # arrived after an unsubscribe
                in_msgs += 1
                in_bytes += len(op.data)
                if op.sid == resp_sid:
                    self._on_response(op, events)
                    continue
                sub.delivered += 1
                if sub.max_msgs:
                    if sub.delivered > sub.max_msgs:
                        continue
                    append(op)
                    if sub.delivered == sub.max_msgs:
                        del subs[sub.sid]
                        append(SubscriptionEnded(sub.sid, "max_msgs"))
                else:
                    append(op)
                continue
            if in_msgs:  # keep the statistics current for what this op triggers
                self.stats.in_msgs += in_msgs
                self.stats.in_bytes += in_bytes
                in_msgs = in_bytes = 0
            if op is PING:
                self._emit(_PONG)
            elif op is PONG:
                self._on_pong(events)
            elif isinstance(op, InfoOp):
                self._on_info(op.data, events)
            elif isinstance(op, ErrOp):
                self._on_err(op.text, events)
            elif op is OK:
                pass
            resp_sid = self._resp_sid  # an op may have ended the response subscription
        if in_msgs:
            self.stats.in_msgs += in_msgs
            self.stats.in_bytes += in_bytes
        return events

    # ------------------------------------------------------------- handshake

    def _on_info(self, data: dict[str, Any], events: list[Event]) -> None:
        info = ServerInfo.from_dict(data)
        self.info = info
        if info.max_payload > 0:
            # Never trusted beyond the client's own ceiling: an INFO of 1e17 must
            # not let one MSG grow the read buffer without bound.
            mp = min(info.max_payload, self.options.max_payload_limit)
            self._max_payload = mp
            self._parser.max_payload = mp
        if info.tls_required and not self.pool.secure:
            self.pool.mark_secure()  # a server wanted TLS: every server gets it from now on
        tls = bool(info.tls_required) or (self.server is not None and self.server.tls)
        ws = self.server is not None and self.server.websocket
        urls = info.ws_connect_urls if ws else info.connect_urls
        added, removed = self.pool.update_discovered(urls, tls=tls, websocket=ws)
        if self.state is State.AWAITING_INFO:
            wants_tls = tls or self.options.tls_required
            if wants_tls and not self._tls_active:
                self._to(Input.INFO_TLS)
                events.append(StartTLS(info))
            else:
                self._to(Input.INFO)
                self._send_connect()
            return
        if self.state in LIVE:
            if added or removed:
                events.append(InfoUpdated(info, tuple(added), tuple(removed)))
            elif not info.ldm:
                events.append(InfoUpdated(info, (), ()))
            if info.ldm:
                events.append(LameDuckMode(info))

    def connect_payload(self) -> dict[str, Any]:
        """The CONNECT fields this connection sends (credentials included)."""
        return connect_fields(
            self.options, self.info or ServerInfo(), self.server, self._tls_active
        )

    def _send_connect(self) -> None:
        fields = self.connect_payload()
        if self.user_info_cb is not None:
            fields["user"], fields["pass"] = self.user_info_cb()
        payload = json.dumps(fields, separators=(",", ":"))
        self._emit(b"CONNECT " + payload.encode() + b"\r\n" + _PING)
        self._pings.append(_HANDSHAKE)

    def _on_pong(self, events: list[Event]) -> None:
        self._keepalive_out = 0
        if not self._pings:
            return
        pid = self._pings.popleft()
        if pid == _HANDSHAKE:
            self._handshake_done(events)
        elif pid > 0:
            events.append(Pong(pid))
            sid = self._drain_pings.pop(pid, None)
            if sid is not None and self._subs.pop(sid, None) is not None:
                if sid == self._resp_sid:
                    self._resp_sid = 0
                events.append(SubscriptionEnded(sid, "drained"))

    def _handshake_done(self, events: list[Event]) -> None:
        self._to(Input.HANDSHAKE_PONG)
        reconnected = self._ever_connected
        self._ever_connected = True
        if self.server is not None:
            self.server.did_connect = True
            self.server.reconnects = 0
            self.server.auth_errors = 0
        if reconnected:
            self.stats.reconnects += 1
        for sub in list(self._subs.values()):
            if sub.draining:
                continue
            self._write_sub(sub)
            if sub.max_msgs:
                left = sub.max_msgs - sub.delivered
                if left <= 0:
                    del self._subs[sub.sid]
                    events.append(SubscriptionEnded(sub.sid, "max_msgs"))
                    self._emit(b"UNSUB %d\r\n" % sub.sid)
                else:
                    self._emit(b"UNSUB %d %d\r\n" % (sub.sid, left))
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        for pid in self._deferred_pings:
            self._emit(_PING)
            self._pings.append(pid)
        self._deferred_pings.clear()
        assert self.info is not None
        events.append(Connected(self.info, reconnected))

    def _on_err(self, text: str, events: list[Event]) -> None:
        err = classify_server_error(text)
        sid = None
        if isinstance(err, PermissionsError) and err.operation == "subscribe":
            for s in self._subs.values():
                if s.subject == err.subject and (err.queue is None or s.queue == err.queue):
                    sid = s.sid
                    break
            if sid is not None:
                del self._subs[sid]
                if sid == self._resp_sid:
                    self._resp_sid = 0
                events.append(SubscriptionEnded(sid, "permissions"))
        elif (
            isinstance(err, AuthorizationError)
            and self.server is not None
            and not self.ignore_auth_error_abort
        ):
            server = self.server
            server.auth_errors = server.auth_errors + 1 if server.last_auth_error == text else 1
            server.last_auth_error = text
        events.append(ServerErrorEvent(err, sid))

    # --------------------------------------------------------------- commands

    def _subject_bytes(self, subject: str, what: str = "subject") -> bytes:
        """``subject`` checked and encoded, from the cache when it is there; a
        subject that is used once (an ack, an inbox) is not put in it."""
        b = self._subjects.get(subject)
        if b is None:
            if not _plain_subject(subject):
                check_publish_subject(subject, what)
            b = subject.encode()
            if subject.startswith(self._once):
                return b
            if len(self._subjects) >= _SUBJECT_CACHE_MAX:
                self._subjects.clear()
            self._subjects[subject] = b
        return b

    def _publish_buffer(self) -> bytearray | None:
        """None to send now, or the reconnect buffer; raises when publish is refused."""
        st = self.state
        if st is _CONNECTED:
            return None  # the usual case (check_command hashes two Enums: ~0.5 us)
        check_command(st, Command.PUBLISH)
        if st in LIVE:
            return None
        if self.options.reconnect_buf_size < 0:
            raise ReconnectBufferFullError(
                "not connected and the reconnect buffer is disabled (reconnect_buf_size < 0)"
            )
        return self._pending

    def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> int:
        """Queue a message for ``subject``; return the bytes now queued for the wire.

        While disconnected the message goes to the reconnect buffer; past its
        limit :class:`ReconnectBufferFullError` is raised and nothing is kept.
        """
        if not headers and not reply:
            size = self.try_publish(subject, payload)
            if size >= 0:
                return size
        sb = self._subjects.get(subject)
        if sb is None:
            sb = self._subject_bytes(subject)
        if type(payload) is not bytes:
            payload = _as_bytes(payload)
        return self._publish_slow(subject, sb, payload, reply, headers)

    def try_publish(self, subject: str, payload: bytes = b"") -> int:
        """The hot path of :meth:`publish` (no reply subject, no headers).

        Returns the bytes now queued for the wire, or -1 when the message needs
        :meth:`publish` instead (not connected, or a payload over
        ``max_payload``); nothing is queued then. A bad subject raises as in
        :meth:`publish`.

        It only appends one piece to the outbound queue and adds to counters in
        steps that do not call out, and :meth:`data_to_send` takes only what it
        saw, so under CPython's GIL a threaded adapter may call this without the
        lock it holds around every other call (``nats_sync`` does). The queue is a
        new list on every new transport, so a call racing a disconnect can only
        add to the old one.
        """
        sb = self._subjects.get(subject)
        if sb is None:
            sb = self._subject_bytes(subject)
        if type(payload) is not bytes:
            payload = _as_bytes(payload)
        n = len(payload)
        if n > self._max_payload or self.state is not _CONNECTED:
            return -1
        if n < _KEEP_PAYLOAD:
            if _pub_frame is not None:
                data = _pub_frame(sb, payload)
            else:
                data = b"PUB %b %d\r\n%b\r\n" % (sb, n, payload)
            m = len(data)
            self._out.append(data)
        else:  # a big payload is queued as it is, not copied (one extend: one step)
            head = b"PUB %b %d\r\n" % (sb, n)
            m = len(head) + n + 2
            self._out.extend((head, payload, _CRLF))
        size = self._out_size = self._out_size + m
        stats = self.stats
        stats.out_msgs += 1
        stats.out_bytes += n
        return size

    def _publish_slow(
        self,
        subject: str,
        sb: bytes,
        payload: bytes,
        reply: str,
        headers: HeadersInput | None,
        rb: bytes = b"",
    ) -> int:
        """Publish with a reply subject or headers, or into the reconnect buffer;
        ``rb``: the reply subject's bytes when the caller made it (checked)."""
        out = self._publish_buffer()
        n = len(payload)
        if headers:
            if self.info is not None and not self.info.headers:
                raise HeadersNotSupportedError(
                    f"cannot publish headers to {subject!r}: the server does not support "
                    "message headers (nats-server 2.2 or newer does)"
                )
            hdr = encode_headers(headers)
            total = len(hdr) + n
            if total > self._max_payload:
                raise MaxPayloadError(
                    f"message of {total} bytes (headers included) exceeds the server's "
                    f"max_payload of {self._max_payload} bytes"
                )
            if reply:
                rb = rb or self._subject_bytes(reply, "reply subject")
                op = b"HPUB %b %b %d %d\r\n" % (sb, rb, len(hdr), total)
            else:
                op = b"HPUB %b %d %d\r\n" % (sb, len(hdr), total)
            data = op + hdr + payload + b"\r\n"
        else:
            if n > self._max_payload:
                raise MaxPayloadError(
                    f"payload of {n} bytes exceeds the server's max_payload of "
                    f"{self._max_payload} bytes"
                )
            if reply:
                rb = rb or self._subjects.get(reply) or self._subject_bytes(reply, "reply subject")
                data = b"PUB %b %b %d\r\n%b\r\n" % (sb, rb, n, payload)
            else:
                data = b"PUB %b %d\r\n%b\r\n" % (sb, n, payload)
        if out is None:
            self._emit(data)
        else:
            if len(out) + len(data) > self.options.reconnect_buf_size:
                raise ReconnectBufferFullError(
                    f"reconnect buffer is full ({len(out)} of {self.options.reconnect_buf_size} "
                    f"bytes used); a message of {len(data)} bytes to {subject!r} was refused"
                )
            out += data
        stats = self.stats
        stats.out_msgs += 1
        stats.out_bytes += n
        return self._out_size

    def _write_sub(self, sub: SubscriptionState) -> None:
        if sub.queue:
            self._emit(b"SUB %b %b %d\r\n" % (sub.subject.encode(), sub.queue.encode(), sub.sid))
        else:
            self._emit(b"SUB %b %d\r\n" % (sub.subject.encode(), sub.sid))

    def subscribe(self, subject: str, queue: str = "", max_msgs: int = 0) -> int:
        """Add a subscription; return its sid. ``max_msgs`` > 0 auto-unsubscribes."""
        check_command(self.state, Command.SUBSCRIBE)
        check_subscribe_subject(subject)
        if queue:
            check_queue(queue)
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise LocalProtocolError(f"max_msgs must be a non-negative integer, not {max_msgs!r}")
        sid = self._next_sid
        self._next_sid += 1
        sub = SubscriptionState(sid, subject, queue, max_msgs)
        self._subs[sid] = sub
        if self.state in LIVE:
            self._write_sub(sub)
            if max_msgs:
                self._emit(b"UNSUB %d %d\r\n" % (sid, max_msgs))
        return sid

    def unsubscribe(self, sid: int, max_msgs: int = 0) -> bool:
        """Remove subscription ``sid`` now, or after ``max_msgs`` messages in all.

        Returns True when the subscription is gone from the table now.
        """
        check_command(self.state, Command.UNSUBSCRIBE)
        sub = self._subs.get(sid)
        if sub is None:
            raise SubscriptionClosedError(f"subscription {sid} is not active")
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise LocalProtocolError(f"max_msgs must be a non-negative integer, not {max_msgs!r}")
        live = self.state in LIVE
        if max_msgs and sub.delivered < max_msgs:
            sub.max_msgs = max_msgs
            if live:
                self._emit(b"UNSUB %d %d\r\n" % (sid, max_msgs))
            return False
        del self._subs[sid]
        if sid == self._resp_sid:
            self._resp_sid = 0
        if live:
            self._emit(b"UNSUB %d\r\n" % sid)
        return True

    def drain_subscription(self, sid: int) -> int:
        """Stop interest in ``sid`` but keep delivering what the server already sent.

        Returns the ping id whose :class:`Pong` is followed by
        ``SubscriptionEnded(sid, "drained")``.
        """
        sub = self._subs.get(sid)
        if sub is None:
            raise SubscriptionClosedError(f"subscription {sid} is not active")
        if self.state in LIVE:
            self._emit(b"UNSUB %d\r\n" % sid)
        sub.draining = True
        pid = self.ping()
        self._drain_pings[pid] = sid
        return pid

    def ping(self) -> int:
        """Queue a PING; return its id, echoed by the matching :class:`Pong` event.

        While disconnected the PING waits for the next connection.
        """
        check_command(self.state, Command.FLUSH)
        pid = self._next_ping
        self._next_ping += 1
        if self.state in LIVE:
            self._emit(_PING)
            self._pings.append(pid)
        else:
            self._deferred_pings.append(pid)
        return pid

    def keepalive(self) -> bool:
        """Called every ``ping_interval``: send a liveness PING.

        Returns True when ``max_pings_outstanding`` PINGs went unanswered: the
        connection is stale and the adapter should drop the transport.
        """
        if self.state not in LIVE:
            return False
        if self._keepalive_out >= self.options.max_pings_outstanding:
            return True
        self._keepalive_out += 1
        self._emit(_PING)
        self._pings.append(_KEEPALIVE)
        return False

    def new_inbox(self) -> str:
        """A unique inbox subject under the configured prefix."""
        return f"{self.options.inbox_prefix}.{self._nuid.next()}"

    def next_nuid(self) -> str:
        """A fresh NUID from this connection's generator."""
        return self._nuid.next()

    def request(
        self, subject: str, payload: bytes = b"", headers: HeadersInput | None = None
    ) -> str:
        """Publish a request whose reply comes back as a :class:`Response` with the
        returned token. All requests share one wildcard inbox subscription."""
        check_command(self.state, Command.REQUEST)
        if not self._resp_sid:
            prefix = f"{self.options.inbox_prefix}.{self._nuid.next()}."
            check_publish_subject(prefix + "0", "inbox")  # every reply subject is prefix + digits
            self._resp_sid = self.subscribe(prefix + "*")
            self._resp_prefix = prefix
        self._next_token += 1
        token = str(self._next_token)
        reply = self._resp_prefix + token
        sb = self._subjects.get(subject)
        if sb is None:
            sb = self._subject_bytes(subject)
        if type(payload) is not bytes:
            payload = _as_bytes(payload)
        # The inbox is ours and checked at subscribe: its bytes need no check per
        # request (nor a place in the subject cache, as every one is new).
        self._publish_slow(subject, sb, payload, reply, headers, reply.encode())
        self._requests.add(token)
        return token

    def cancel_request(self, token: str) -> None:
        """Forget request ``token`` (timed out or cancelled); a late reply is dropped."""
        self._requests.discard(token)

    def _on_response(self, msg: Msg, events: list[Event]) -> None:
        token = msg.subject[len(self._resp_prefix) :]
        if token in self._requests:
            self._requests.remove(token)
            events.append(Response(token, msg))

    # ------------------------------------------------------------ drain/close

    def start_drain(self) -> list[int]:
        """Begin draining the connection: every subscription is drained.

        Returns the sids being drained; their ``SubscriptionEnded`` events come
        as the server confirms. Then call :meth:`drain_publishes`.
        """
        self._to(Input.DRAIN)
        sids = [sid for sid, s in self._subs.items() if not s.draining]
        for sid in sids:
            self.drain_subscription(sid)
        return sids

    def drain_publishes(self) -> int:
        """Refuse new publishes and flush the last ones; returns the ping id to wait for."""
        self._to(Input.DRAIN_PUBS)
        pid = self._next_ping
        self._next_ping += 1
        self._emit(_PING)
        self._pings.append(pid)
        return pid

    def close(self) -> None:
        """Finish for good: forget subscriptions, buffered publishes and pings."""
        if self.state is State.CLOSED:
            return
        self._to(Input.CLOSE)
        self._release()

    def _release(self) -> None:
        self._subs.clear()
        self._pending.clear()
        self._pings.clear()
        self._deferred_pings.clear()
        self._drain_pings.clear()
        self._requests.clear()
        self._resp_sid = 0


def _plain_subject(s: object) -> bool:
    """True for a subject :func:`check_publish_subject` accepts that has no ``*``
    or ``>`` anywhere (the usual case), in a tenth of its time; ``False`` for
    anything else, which is left to that check (it may still pass: ``a*b``)."""
    return (
        type(s) is str
        and s != ""
        and " " not in s
        and "\t" not in s
        and "\r" not in s
        and "\n" not in s
        and "\f" not in s
        and "\v" not in s
        and "\x00" not in s
        and ".." not in s
        and s[0] != "."
        and s[-1] != "."
        and "*" not in s
        and ">" not in s
    )


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    what = type(payload).__name__
    hint = ": encode it first (text.encode())" if isinstance(payload, str) else ""
    raise BadPayloadError(f"payload must be bytes, not {what}{hint}")
