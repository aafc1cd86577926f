"""The instrumentation seam: hooks a client calls on connection events, publish,
delivery, request/reply, message processing (subscription callbacks, service
handlers, JetStream consume callbacks), JetStream async publishes, pull
consumers' receives (fetch, next, iteration) and JetStream acks.

Subclass :class:`Instrumentation`, override the hooks you need (each default
does nothing) and give an instance to ``connect(instrumentation=...)``;
:mod:`pynats.otel` is one, for OpenTelemetry.

Without one a client pays nothing: the hooks are not checked on the hot paths,
they are installed, per client, as wrappers of ``publish``, ``request``,
``subscribe`` and the event dispatch only when an instrumentation is given
(:func:`install`). Every hook call is guarded: a hook that raises is logged
(logger ``nats_core.instrument``) and the client goes on as if it had returned
its default, so instrumentation never breaks messaging. The JetStream layer
calls its hooks (``on_publish_async_*``, ``on_receive_*``, ``on_process_*`` of
``consume()``) only after one check that the client has an instrumentation.

Hooks run on the thread or task of the call they observe: ``on_publish`` and
``on_request_*`` in the caller, ``on_deliver`` and ``on_connection_event`` on the
client's reader (keep them quick: no I/O, no waiting), ``on_process_*`` around a
callback, on the thread or task that runs it, ``on_receive_*`` in the caller of
``fetch()`` / ``next()`` / the iterator. ``on_publish_async_start`` runs in the
caller of ``publish_async()``, but its ``on_publish_async_end`` runs where the
outcome is known: the reader's callback thread or task (the ack), the reaper
(a timeout, the connection closed) or the caller (the publish could not be sent).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._events import Connected, Event, InfoUpdated, LameDuckMode, Msg
from ._headers import Headers, HeadersInput
from .errors import SlowConsumerError

__all__ = [
    "CONNECTION_EVENTS",
    "PROCESS_KINDS",
    "RECEIVE_KINDS",
    "REQUEST_KINDS",
    "GuardedInstrumentation",
    "Instrumentation",
    "ack_kind",
    "install",
    "instrumented",
]

log = logging.getLogger("nats_core.instrument")

F = TypeVar("F", bound=Callable[..., Any])

#: What :meth:`Instrumentation.on_connection_event` is told: the client's
#: statuses as they change, and the events besides them.
CONNECTION_EVENTS = (
    "connected",
    "disconnected",
    "reconnecting",
    "draining",
    "closed",
    "reconnected",
    "lame_duck",
    "servers_discovered",
    "slow_consumer",
    "error",
)

#: The ``kind`` of :meth:`Instrumentation.on_process_start`: a subscription's
#: callback, a service endpoint's handler, a JetStream ``consume()`` callback.
PROCESS_KINDS = ("subscription", "service", "jetstream")

#: The ``kind`` of :meth:`Instrumentation.on_request_start`: a core request, a
#: JetStream publish waiting for its ack.
REQUEST_KINDS = ("request", "jetstream.publish")

#: The ``kind`` of :meth:`Instrumentation.on_receive_start`: ``fetch`` hands a
#: batch over (``fetch``, ``fetch_bytes``, ``fetch_no_wait``), ``next`` one
#: message (a consumer's ``next()``, the ``messages()`` iterator's ``next()`` and
#: ``for`` / ``async for``).
RECEIVE_KINDS = ("fetch", "next")

_ACK_PREFIX = "$JS.ACK."
_ACK_KINDS = {b"+ACK": "ack", b"+NXT": "next", b"+WPI": "in_progress", b"-NAK": "nak"}


def ack_kind(payload: bytes) -> str:
    """The kind of a JetStream acknowledgement from its payload: ``ack``, ``nak``,
    ``in_progress``, ``term``, ``next`` (else the payload's text)."""
    head = bytes(payload[:4])
    if head in _ACK_KINDS:
        return _ACK_KINDS[head]
    if payload.startswith(b"+TERM"):
        return "term"
    return bytes(payload).decode("utf-8", "replace") or "ack"


class Instrumentation:
    """Base class of instrumentations: every hook does nothing (and returns
    what it was given). Override the ones you need.

    Tokens: ``on_request_start``, ``on_process_start`` and ``on_receive_start``
    return an object (a span, a start time...) that the matching ``*_end`` hook
    gets back, always (the call failed or not), on the same thread or task.
    ``on_publish_async_start``'s token also comes back always, exactly once (the
    ack, a failure, the connection closed), but on another thread or task.
    """

    def attach(self, client: Any) -> None:
        """Called once with each client created with this instrumentation."""

    def on_connection_event(self, client: Any, event: str, detail: object = None) -> None:
        """A connection event (one of :data:`CONNECTION_EVENTS`): ``detail`` is the
        error of ``slow_consumer`` and ``error``, the added URLs of
        ``servers_discovered``, else None. Called on the reader: keep it quick."""

    def on_publish(
        self, subject: str, reply: str, headers: HeadersInput | None, size: int
    ) -> HeadersInput | None:
        """A message of ``size`` payload bytes is about to be published (also a
        service's or a message's reply); returns the headers to send (add
        trace context here: never change ``headers`` in place, copy them).
        JetStream acks go to :meth:`on_js_ack` instead."""
        return headers

    def on_deliver(self, msg: Msg) -> None:
        """A message arrived for a subscription (on the reader, before it is
        queued: keep it quick). Replies to requests go to :meth:`on_request_end`."""

    def on_request_start(
        self, subject: str, headers: HeadersInput | None, kind: str
    ) -> tuple[HeadersInput | None, object]:
        """A request (``kind`` in :data:`REQUEST_KINDS`) is about to be sent:
        returns the headers to send and a token for :meth:`on_request_end`."""
        return headers, None

    def on_request_end(self, token: object, reply: object, error: BaseException | None) -> None:
        """The request of ``token`` got ``reply`` (the reply :class:`Msg`; for a
        JetStream publish, its :class:`~nats_core.jetstream.PubAck`), or failed
        with ``error`` (then ``reply`` is None: a timeout, no responders,
        cancellation...)."""

    def on_process_start(self, msg: Msg, kind: str, name: str) -> object:
        """``msg`` is about to be handled (``kind`` in :data:`PROCESS_KINDS`;
        ``name`` is the subscription's subject, the service and endpoint, or the
        consumer); returns a token for :meth:`on_process_end`."""
        return None

    def on_process_end(self, token: object, error: BaseException | None) -> None:
        """The handling of ``token`` is over, having raised ``error`` or not."""

    def on_publish_async_start(
        self, subject: str, headers: Headers | None
    ) -> tuple[Headers | None, object]:
        """A JetStream ``publish_async`` to ``subject`` is about to be sent (it
        has its place among the pending publishes): returns the headers to send
        (also those of its retries; never change ``headers`` in place) and a
        token for :meth:`on_publish_async_end`."""
        return headers, None

    def on_publish_async_end(self, token: object, ack: object, error: BaseException | None) -> None:
        """The async publish of ``token`` got its ``ack`` (a
        :class:`~nats_core.jetstream.PubAck`), or failed with ``error`` (then
        ``ack`` is None): a negative ack, no stream, no ack in time, the
        connection closed, or the publish could not be sent (cancellation
        included). Called once per token, on the thread or task that saw the
        outcome (the reader's callbacks for an ack: keep it quick)."""

    def on_receive_start(self, kind: str, stream: str, consumer: str) -> object:
        """A pull ``consumer`` of ``stream`` is asked for messages (``kind`` in
        :data:`RECEIVE_KINDS`); returns a token for :meth:`on_receive_end`."""
        return None

    def on_receive_end(
        self, token: object, msgs: Sequence[Msg], error: BaseException | None
    ) -> None:
        """The receive of ``token`` is over: ``msgs`` are handed to the caller
        now (a fetch's batch, maybe empty; for ``next``, one message, or none
        when it raised ``error``: a timeout, the iterator stopped...)."""

    def on_js_ack(self, subject: str, kind: str) -> None:
        """A JetStream message is acknowledged (``kind``: see :func:`ack_kind`)
        on its ack ``subject``."""


class GuardedInstrumentation:
    """An :class:`Instrumentation` whose every hook is guarded: one that raises
    is logged and its default used. The clients only ever call this."""

    __slots__ = ("inner",)

    def __init__(self, inner: Instrumentation) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"<GuardedInstrumentation {self.inner!r}>"

    @staticmethod
    def _failed(hook: str) -> None:
        log.exception("instrumentation hook %s raised; ignored", hook)

    def attach(self, client: Any) -> None:
        """Guarded :meth:`Instrumentation.attach`."""
        try:
            self.inner.attach(client)
        except Exception:
            self._failed("attach")

    def on_connection_event(self, client: Any, event: str, detail: object = None) -> None:
        """Guarded :meth:`Instrumentation.on_connection_event`."""
        try:
            self.inner.on_connection_event(client, event, detail)
        except Exception:
            self._failed("on_connection_event")

    def on_publish(
        self, subject: str, reply: str, headers: HeadersInput | None, size: int
    ) -> HeadersInput | None:
        """Guarded :meth:`Instrumentation.on_publish` (the headers given, if it raises)."""
        try:
            return self.inner.on_publish(subject, reply, headers, size)
        except Exception:
            self._failed("on_publish")
            return headers

    def on_deliver(self, msg: Msg) -> None:
        """Guarded :meth:`Instrumentation.on_deliver`."""
        try:
            self.inner.on_deliver(msg)
        except Exception:
            self._failed("on_deliver")

    def on_request_start(
        self, subject: str, headers: HeadersInput | None, kind: str
    ) -> tuple[HeadersInput | None, object]:
        """Guarded :meth:`Instrumentation.on_request_start`."""
        try:
            return self.inner.on_request_start(subject, headers, kind)
        except Exception:
            self._failed("on_request_start")
            return headers, None

    def on_request_end(self, token: object, reply: object, error: BaseException | None) -> None:
        """Guarded :meth:`Instrumentation.on_request_end`."""
        try:
            self.inner.on_request_end(token, reply, error)
        except Exception:
            self._failed("on_request_end")

    def on_process_start(self, msg: Msg, kind: str, name: str) -> object:
        """Guarded :meth:`Instrumentation.on_process_start`."""
        try:
            return self.inner.on_process_start(msg, kind, name)
        except Exception:
            self._failed("on_process_start")
            return None

    def on_process_end(self, token: object, error: BaseException | None) -> None:
        """Guarded :meth:`Instrumentation.on_process_end`."""
        try:
            self.inner.on_process_end(token, error)
        except Exception:
            self._failed("on_process_end")

    def on_publish_async_start(
        self, subject: str, headers: Headers | None
    ) -> tuple[Headers | None, object]:
        """Guarded :meth:`Instrumentation.on_publish_async_start`."""
        try:
            return self.inner.on_publish_async_start(subject, headers)
        except Exception:
            self._failed("on_publish_async_start")
            return headers, None

    def on_publish_async_end(self, token: object, ack: object, error: BaseException | None) -> None:
        """Guarded :meth:`Instrumentation.on_publish_async_end`."""
        try:
            self.inner.on_publish_async_end(token, ack, error)
        except Exception:
            self._failed("on_publish_async_end")

    def on_receive_start(self, kind: str, stream: str, consumer: str) -> object:
        """Guarded :meth:`Instrumentation.on_receive_start`."""
        try:
            return self.inner.on_receive_start(kind, stream, consumer)
        except Exception:
            self._failed("on_receive_start")
            return None

    def on_receive_end(
        self, token: object, msgs: Sequence[Msg], error: BaseException | None
    ) -> None:
        """Guarded :meth:`Instrumentation.on_receive_end`."""
        try:
            self.inner.on_receive_end(token, msgs, error)
        except Exception:
            self._failed("on_receive_end")

    def on_js_ack(self, subject: str, kind: str) -> None:
        """Guarded :meth:`Instrumentation.on_js_ack`."""
        try:
            self.inner.on_js_ack(subject, kind)
        except Exception:
            self._failed("on_js_ack")


def instrumented(fn: F) -> F:
    """Mark a subscription callback that calls the process hooks itself (a
    service endpoint, say): :func:`install`'s ``subscribe`` leaves it as it is."""
    fn.__dict__["_nats_instrumented"] = True
    return fn


def install(client: Any, instrumentation: Instrumentation) -> GuardedInstrumentation:
    """Install ``instrumentation`` on ``client`` (a blocking or an async client,
    from :meth:`ClientState._init_state`): per-instance wrappers of
    ``publish``, ``_publish_now``, ``request``, ``subscribe``, ``_handle``,
    ``_status_now`` and ``_report_error`` that call the hooks, then the method.
    Returns the guarded hooks, kept by the client as ``_instr`` for the layers
    (services, JetStream) to call."""
    g = GuardedInstrumentation(instrumentation)
    is_async = inspect.iscoroutinefunction(type(client).publish)
    (_install_async if is_async else _install_sync)(client, g)
    _install_common(client, g)
    g.attach(client)
    return g


def _install_common(client: Any, g: GuardedInstrumentation) -> None:
    handle = client._handle
    status_now = client._status_now
    report_error = client._report_error

    def _handle(evs: list[Event]) -> None:
        for ev in evs:
            if isinstance(ev, Msg):
                g.on_deliver(ev)
            elif isinstance(ev, Connected):
                if ev.reconnected:
                    g.on_connection_event(client, "reconnected")
            elif isinstance(ev, LameDuckMode):
                g.on_connection_event(client, "lame_duck")
            elif isinstance(ev, InfoUpdated) and ev.added:
                g.on_connection_event(client, "servers_discovered", list(ev.added))
        handle(evs)

    def _status_now(status: str) -> None:
        changed = status != client._last_status
        status_now(status)
        if changed:
            g.on_connection_event(client, status)

    def _report_error(err: BaseException) -> None:
        report_error(err)
        event = "slow_consumer" if isinstance(err, SlowConsumerError) else "error"
        g.on_connection_event(client, event, err)

    client._handle = _handle
    client._status_now = _status_now
    client._report_error = _report_error


def _install_sync(client: Any, g: GuardedInstrumentation) -> None:
    publish, publish_now = client.publish, client._publish_now
    request, subscribe = client.request, client.subscribe

    def _publish(
        subject: str, payload: bytes = b"", reply: str = "", headers: HeadersInput | None = None
    ) -> None:
        if subject.startswith(_ACK_PREFIX):
            g.on_js_ack(subject, ack_kind(payload))
        else:
            headers = g.on_publish(subject, reply, headers, len(payload))
        publish(subject, payload, reply, headers)

    def _publish_now(subject: str, payload: bytes, headers: HeadersInput | None) -> None:
        publish_now(subject, payload, g.on_publish(subject, "", headers, len(payload)))

    def _request(
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        headers: HeadersInput | None = None,
    ) -> Any:
        if subject.startswith(_ACK_PREFIX):  # ack_sync
            g.on_js_ack(subject, ack_kind(payload))
            return request(subject, payload, timeout, headers)
        headers, token = g.on_request_start(subject, headers, "request")
        try:
            reply = request(subject, payload, timeout, headers)
        except BaseException as e:
            g.on_request_end(token, None, e)
            raise
        g.on_request_end(token, reply, None)
        return reply

    def _subscribe(subject: str, queue: str = "", cb: Any = None, *args: Any, **kw: Any) -> Any:
        if cb is not None and not getattr(cb, "_nats_instrumented", False):
            cb = _wrap_sync_cb(g, cb, subject)
        return subscribe(subject, queue, cb, *args, **kw)

    client.publish = _publish
    client._publish_now = _publish_now
    client.request = _request
    client.subscribe = _subscribe


def _wrap_sync_cb(g: GuardedInstrumentation, cb: Callable[[Msg], object], name: str) -> Any:
    def process(msg: Msg) -> object:
        token = g.on_process_start(msg, "subscription", name)
        try:
            result = cb(msg)
        except BaseException as e:
            g.on_process_end(token, e)
            raise
        g.on_process_end(token, None)
        return result

    return process


def _install_async(client: Any, g: GuardedInstrumentation) -> None:
    publish, publish_now = client.publish, client._publish_now
    request, subscribe = client.request, client.subscribe

    async def _publish(
        subject: str, payload: bytes = b"", reply: str = "", headers: HeadersInput | None = None
    ) -> None:
        if subject.startswith(_ACK_PREFIX):
            g.on_js_ack(subject, ack_kind(payload))
        else:
            headers = g.on_publish(subject, reply, headers, len(payload))
        await publish(subject, payload, reply, headers)

    async def _publish_now(subject: str, payload: bytes, headers: HeadersInput | None) -> None:
        await publish_now(subject, payload, g.on_publish(subject, "", headers, len(payload)))

    async def _request(
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        headers: HeadersInput | None = None,
    ) -> Any:
        if subject.startswith(_ACK_PREFIX):  # ack_sync
            g.on_js_ack(subject, ack_kind(payload))
            return await request(subject, payload, timeout, headers)
        headers, token = g.on_request_start(subject, headers, "request")
        try:
            reply = await request(subject, payload, timeout, headers)
        except BaseException as e:  # cancellation included
            g.on_request_end(token, None, e)
            raise
        g.on_request_end(token, reply, None)
        return reply

    async def _subscribe(
        subject: str, queue: str = "", cb: Any = None, *args: Any, **kw: Any
    ) -> Any:
        if cb is not None and not getattr(cb, "_nats_instrumented", False):
            cb = _wrap_async_cb(g, cb, subject)
        return await subscribe(subject, queue, cb, *args, **kw)

    client.publish = _publish
    client._publish_now = _publish_now
    client.request = _request
    client.subscribe = _subscribe


def _wrap_async_cb(g: GuardedInstrumentation, cb: Callable[[Msg], object], name: str) -> Any:
    async def process(msg: Msg) -> object:
        token = g.on_process_start(msg, "subscription", name)
        try:
            result = cb(msg)
            if result is not None and inspect.isawaitable(result):
                result = await result
        except BaseException as e:
            g.on_process_end(token, e)
            raise
        g.on_process_end(token, None)
        return result

    return process
