"""OpenTelemetry for pynats: W3C trace context in message headers, spans for
requests, message processing, service handlers and JetStream publish and
consume, and client metrics. Needs the ``otel`` extra (``pip install
'pynats[otel]'``); the clients never import this module.

    from pynats.otel import OpenTelemetryInstrumentation

    nc = nats_sync.connect(url, instrumentation=OpenTelemetryInstrumentation())

What it does, on the hooks of :mod:`nats_core.instrument`:

- **publish** (``publish``, replies): the current span's context is injected
  into the headers (``traceparent``, ``tracestate``, baggage: whatever the
  propagator writes), unless the headers carry a ``traceparent`` already or
  the subject is a ``$`` system subject (JetStream API and acks, ``$KV``,
  ``$SRV``...). No span of its own: a plain publish is fire and forget.
- **request**: a ``request <subject>`` span (kind CLIENT), current while the
  request waits and injected into its headers; a timeout or no responders
  marks it as an error. A JetStream publish is a ``publish <subject>`` span
  (kind PRODUCER) with the stream and sequence of its ack; so is a
  ``publish_async``, from the call to its ack (or its failure: a negative ack,
  no stream, a timeout, cancellation, the client closed), never current.
- **processing**: a subscription callback, a service endpoint's handler, a
  JetStream ``consume()`` callback run inside a span (``process <subject>``,
  ``<service> <endpoint>`` of kind SERVER, ``process <consumer>``) whose
  parent is the context extracted from the message's headers, so the
  responder's span is the child of the requester's across the wire.
  Messages read with ``next_msg()`` or iterated: :func:`process_span`.
- **receive**: a pull consumer's ``fetch()`` (and ``fetch_bytes``,
  ``fetch_no_wait``) is one ``receive <consumer>`` span (kind CONSUMER) for
  the batch, child of the current span, with a link to each message's context
  and ``messaging.batch.message_count``; ``next()`` and the ``messages()``
  iterator make one per message handed over, child of the message's context
  (as a process span). Each covers the call, from when it was made to when
  the messages are handed over (it ends then: the handling of the message is
  not in it). A ``next()`` that times out, and the end of an iteration, make
  none; another error makes one with an error status.
- **metrics** (meter ``pynats``): ``nats.client.messages.sent`` /
  ``.received``, ``nats.client.bytes.sent`` / ``.received``,
  ``nats.client.reconnects`` (observed from the clients' statistics, at no
  cost per message), ``nats.client.slow_consumers``,
  ``nats.client.connection.events`` (by ``event``),
  ``nats.client.jetstream.acks`` (by ``kind``) and
  ``nats.client.request.duration`` (seconds, by ``kind``).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TracerProvider

from nats_core import Headers, HeadersInput, Msg
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.instrument import Instrumentation
from nats_core.jetstream import PubAck
from nats_core.jetstream.msg import parse_metadata

__all__ = [
    "OpenTelemetryInstrumentation",
    "extract",
    "inject",
    "process_span",
]

_SCOPE = "pynats"
_SYSTEM = {"messaging.system": "nats"}
_STATS = ("out_msgs", "in_msgs", "out_bytes", "in_bytes", "reconnects")


class _HeadersGetter(Getter[Any]):
    """Reads a propagator's fields from message headers (a key matched exactly,
    else without regard to case)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if not carrier:
            return None
        if isinstance(carrier, Headers):
            values = carrier.get_all(key)
            if not values:
                for k in carrier:
                    if k.lower() == key:
                        values = carrier.get_all(k)
                        break
            return values or None
        value = carrier.get(key)
        if value is None:
            value = next((v for k, v in carrier.items() if k.lower() == key), None)
        if value is None:
            return None
        return [value] if isinstance(value, str) else list(value)

    def keys(self, carrier: Any) -> list[str]:
        return list(carrier) if carrier else []


class _HeadersSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier[key] = value


_GETTER = _HeadersGetter()
_SETTER = _HeadersSetter()


def _has_traceparent(headers: HeadersInput | None) -> bool:
    return bool(headers) and any(k.lower() == "traceparent" for k in headers or ())


def inject(
    headers: HeadersInput | None = None,
    context: Context | None = None,
    propagator: TextMapPropagator | None = None,
) -> Headers:
    """A copy of ``headers`` (a new :class:`~nats_core.Headers`) with ``context``
    (default: the current one) injected by ``propagator`` (default: the global
    one, W3C trace context and baggage unless configured otherwise)."""
    out = Headers(headers) if headers else Headers()
    (propagator or propagate.get_global_textmap()).inject(out, context=context, setter=_SETTER)
    return out


def extract(msg: Msg, propagator: TextMapPropagator | None = None) -> Context:
    """The context a message carries in its headers (the current one when it
    carries none)."""
    p = propagator or propagate.get_global_textmap()
    return p.extract(msg.headers or {}, getter=_GETTER)


@contextmanager
def process_span(
    msg: Msg,
    name: str | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Iterator[Span]:
    """A span for handling ``msg`` read with ``next_msg()`` or by iterating
    (callbacks get one without this): its parent is the context in the
    message's headers, and it is current in the ``with`` block::

        for msg in sub:
            with process_span(msg):
                handle(msg)
    """
    tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
    with tracer.start_as_current_span(
        name or f"process {msg.subject}",
        context=extract(msg),
        kind=SpanKind.CONSUMER,
        attributes=_process_attributes(msg),
    ) as span:
        yield span


def _process_attributes(msg: Msg) -> dict[str, Any]:
    return {
        **_SYSTEM,
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": msg.subject,
        "messaging.message.body.size": len(msg.data),
    }


class _Token:
    """What a ``*_start`` hook hands its ``*_end``: the span, the context token
    to detach (None: the span was not made current), when it started and what it is."""

    __slots__ = ("ctx_token", "kind", "span", "start")

    def __init__(
        self, span: Span, ctx_token: Token[Context] | None, start: float = 0.0, kind: str = ""
    ) -> None:
        self.span = span
        self.ctx_token = ctx_token
        self.start = start
        self.kind = kind


class _Receive:
    """What ``on_receive_start`` hands ``on_receive_end``: the span is made at the
    end (its parent is known then), starting at ``start`` (ns since the epoch)."""

    __slots__ = ("consumer", "kind", "start", "stream")

    def __init__(self, kind: str, stream: str, consumer: str) -> None:
        self.start = time.time_ns()
        self.kind = kind
        self.stream = stream
        self.consumer = consumer


#: Errors of a ``next()`` that received nothing, without a span: nothing came in
#: time, the iterator ended.
_NOTHING = (NatsTimeoutError, SubscriptionClosedError)


class OpenTelemetryInstrumentation(Instrumentation):
    """The OpenTelemetry instrumentation (see the module's documentation):
    give it to ``connect(instrumentation=...)``; one may serve several clients.

    ``tracer_provider`` and ``meter_provider`` default to the global ones;
    ``propagator`` to the global text-map propagator (read at each use).
    ``trace_internal=True`` also propagates context on ``$`` subjects and
    traces the client's own subscriptions (``$`` subjects, inbox replies).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        propagator: TextMapPropagator | None = None,
        trace_internal: bool = False,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self._propagator = propagator
        self._internal = trace_internal
        self._skip: tuple[str, ...] = ("$",)
        #: The context last injected into a publish without headers, and the headers
        #: made for it (never changed once made: shared by the publishes in that context).
        self._injected: tuple[Context | None, Headers | None] = (None, None)
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        self._retired = dict.fromkeys(_STATS, 0)  # the statistics of closed clients
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        for name, attr, unit, what in (
            ("nats.client.messages.sent", "out_msgs", "{message}", "Messages published"),
            ("nats.client.messages.received", "in_msgs", "{message}", "Messages received"),
            ("nats.client.bytes.sent", "out_bytes", "By", "Payload bytes published"),
            ("nats.client.bytes.received", "in_bytes", "By", "Payload bytes received"),
            ("nats.client.reconnects", "reconnects", "{reconnect}", "Reconnections"),
        ):
            meter.create_observable_counter(
                name, callbacks=[self._observer(attr)], unit=unit, description=what
            )
        self._slow = meter.create_counter(
            "nats.client.slow_consumers",
            unit="{event}",
            description="Times a subscription started dropping messages (pending limits)",
        )
        self._events = meter.create_counter(
            "nats.client.connection.events", unit="{event}", description="Connection events"
        )
        self._acks = meter.create_counter(
            "nats.client.jetstream.acks", unit="{ack}", description="JetStream acknowledgements"
        )
        self._duration = meter.create_histogram(
            "nats.client.request.duration", unit="s", description="Request round trips"
        )

    def __repr__(self) -> str:
        return f"<OpenTelemetryInstrumentation clients={len(self._clients)}>"

    # ------------------------------------------------------------- metrics

    def _observer(self, attr: str) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            total = self._retired[attr] + sum(getattr(c.stats, attr) for c in list(self._clients))
            return [Observation(total, _SYSTEM)]

        return observe

    def attach(self, client: Any) -> None:
        """Count ``client`` in the metrics; skip its inbox in the traces."""
        self._clients.add(client)
        prefix = client._opts.core.inbox_prefix + "."
        if prefix not in self._skip:
            self._skip = (*self._skip, prefix)

    def on_connection_event(self, client: Any, event: str, detail: object = None) -> None:
        """Count the event (and slow consumers); a closed client's statistics are kept."""
        self._events.add(1, {**_SYSTEM, "event": event})
        if event == "slow_consumer":
            self._slow.add(1, _SYSTEM)
        elif event == "closed" and client in self._clients:
            self._clients.discard(client)
            for attr in _STATS:
                self._retired[attr] += getattr(client.stats, attr)

    # --------------------------------------------------------- propagation

    def _textmap(self) -> TextMapPropagator:
        return self._propagator or propagate.get_global_textmap()

    def on_publish(
        self, subject: str, reply: str, headers: HeadersInput | None, size: int
    ) -> HeadersInput | None:
        """Inject the current span's context (see the module's documentation)."""
        if (subject.startswith("$") and not self._internal) or _has_traceparent(headers):
            return headers
        ctx = otel_context.get_current()
        if headers is None:
            cached = self._injected  # the same context publishing again: the same headers
            if cached[0] is ctx:
                return cached[1]
        if not trace.get_current_span(ctx).get_span_context().is_valid:
            return headers
        out = inject(headers, ctx, self._textmap())
        if headers is None:
            self._injected = (ctx, out)
        return out

    # -------------------------------------------------------------- spans

    def on_request_start(
        self, subject: str, headers: HeadersInput | None, kind: str
    ) -> tuple[HeadersInput | None, object]:
        """Start the request's span, make it current and inject it."""
        js = kind == "jetstream.publish"
        op = "publish" if js else "request"
        span = self._tracer.start_span(
            f"{op} {subject}",
            kind=SpanKind.PRODUCER if js else SpanKind.CLIENT,
            attributes={
                **_SYSTEM,
                "messaging.operation.name": op,
                "messaging.operation.type": "send",
                "messaging.destination.name": subject,
            },
        )
        ctx = trace.set_span_in_context(span)
        token = otel_context.attach(ctx)
        if not (subject.startswith("$") and not self._internal) and not _has_traceparent(headers):
            headers = inject(headers, ctx, self._textmap())
        return headers, _Token(span, token, time.perf_counter(), kind)

    def on_request_end(self, token: object, reply: object, error: BaseException | None) -> None:
        """End the request's span (the ack's stream and sequence for a JetStream publish)."""
        if not isinstance(token, _Token):
            return
        span = token.span
        try:
            self._duration.record(
                time.perf_counter() - token.start, {**_SYSTEM, "kind": token.kind}
            )
            _acked(span, reply)
            _end(span, error)
        finally:
            if token.ctx_token is not None:
                otel_context.detach(token.ctx_token)

    def on_publish_async_start(
        self, subject: str, headers: Headers | None
    ) -> tuple[Headers | None, object]:
        """Start the async publish's span (not current: it ends at the ack) and inject it."""
        span = self._tracer.start_span(
            f"publish {subject}",
            kind=SpanKind.PRODUCER,
            attributes={
                **_SYSTEM,
                "messaging.operation.name": "publish",
                "messaging.operation.type": "send",
                "messaging.destination.name": subject,
            },
        )
        if not (subject.startswith("$") and not self._internal) and not _has_traceparent(headers):
            headers = inject(headers, trace.set_span_in_context(span), self._textmap())
        return headers, _Token(span, None, time.perf_counter(), "jetstream.publish_async")

    def on_publish_async_end(self, token: object, ack: object, error: BaseException | None) -> None:
        """End the async publish's span (the ack's stream and sequence, or the error)."""
        if not isinstance(token, _Token):
            return
        self._duration.record(time.perf_counter() - token.start, {**_SYSTEM, "kind": token.kind})
        _acked(token.span, ack)
        _end(token.span, error)

    def on_receive_start(self, kind: str, stream: str, consumer: str) -> object:
        """Note when the receive started (its span is made at the end)."""
        return _Receive(kind, stream, consumer)

    def on_receive_end(
        self, token: object, msgs: Sequence[Msg], error: BaseException | None
    ) -> None:
        """The receive span, from the call to now (see the module's documentation)."""
        if not isinstance(token, _Receive):
            return
        batch = token.kind == "fetch"
        if not msgs and not batch and (error is None or isinstance(error, _NOTHING)):
            return  # a next() that got nothing
        if not isinstance(error, Exception | None):
            return  # cancelled: no receive happened
        if not self._internal and msgs and all(m.subject.startswith("$") for m in msgs):
            return  # KV and object store reads
        attributes: dict[str, Any] = {
            **_SYSTEM,
            "messaging.operation.name": "receive",
            "messaging.operation.type": "receive",
            "messaging.consumer.group.name": token.consumer,
            "messaging.nats.stream": token.stream,
        }
        textmap = self._textmap()
        parent: Context | None = None  # the current context
        links: list[Link] = []
        if batch:
            attributes["messaging.batch.message_count"] = len(msgs)
            for msg in msgs:
                sc = trace.get_current_span(textmap.extract(msg.headers or {}, getter=_GETTER))
                if sc.get_span_context().is_valid:
                    links.append(Link(sc.get_span_context()))
        elif msgs:
            msg = msgs[0]
            attributes["messaging.destination.name"] = msg.subject
            attributes["messaging.message.body.size"] = len(msg.data)
            try:
                attributes["messaging.nats.sequence"] = parse_metadata(msg.reply).sequence.stream
            except Exception:
                pass  # not a JetStream delivery (a reply subject of another form)
            ctx = textmap.extract(msg.headers or {}, getter=_GETTER)
            if trace.get_current_span(ctx).get_span_context().is_valid:
                parent = ctx
        span = self._tracer.start_span(
            f"receive {token.consumer}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
            start_time=token.start,
        )
        _end(span, error)

    def on_process_start(self, msg: Msg, kind: str, name: str) -> object:
        """Start the processing span, child of the context in the message's headers."""
        if not self._internal and kind == "subscription" and msg.subject.startswith(self._skip):
            return None
        attributes = _process_attributes(msg)
        if kind == "service":
            span_name, span_kind = name, SpanKind.SERVER
            attributes["nats.service.endpoint"] = name
        else:
            span_name, span_kind = f"process {name}", SpanKind.CONSUMER
            if kind == "jetstream":
                attributes["messaging.consumer.group.name"] = name
        parent = self._textmap().extract(msg.headers or {}, getter=_GETTER)
        span = self._tracer.start_span(
            span_name, context=parent, kind=span_kind, attributes=attributes
        )
        return _Token(span, otel_context.attach(trace.set_span_in_context(span, parent)))

    def on_process_end(self, token: object, error: BaseException | None) -> None:
        """End the processing span (an error if the handler raised)."""
        if not isinstance(token, _Token):
            return
        try:
            _end(token.span, error)
        finally:
            if token.ctx_token is not None:
                otel_context.detach(token.ctx_token)

    def on_js_ack(self, subject: str, kind: str) -> None:
        """Count the ack, and note it on the current span."""
        self._acks.add(1, {**_SYSTEM, "kind": kind})
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("nats.jetstream.ack", {"kind": kind})


def _acked(span: Span, reply: object) -> None:
    if isinstance(reply, PubAck):
        span.set_attribute("messaging.nats.stream", reply.stream)
        span.set_attribute("messaging.nats.sequence", reply.seq)
        if reply.duplicate:
            span.set_attribute("messaging.nats.duplicate", True)


def _end(span: Span, error: BaseException | None) -> None:
    if error is not None:
        if isinstance(error, Exception):
            span.record_exception(error)
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()
