"""pynats.otel on JetStream (issue #15) against a real nats-server, with the
OpenTelemetry SDK's in-memory exporter, on the blocking client and on the async
one (asyncio and Trio): a ``publish_async`` is a span from the call to its ack
(the ack's stream and sequence) or to its failure (no stream, no ack in time,
the client closed); a pull consumer's ``fetch`` is one receive span linked to
each message's context, ``next()`` and the ``messages()`` iterator one per
message, child of the publish across the stream; ``consume()`` callbacks get
process spans only; hooks that raise break nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import nats_anyio
import nats_sync
from js_helpers import uniq
from nats_core.errors import NatsTimeoutError
from nats_core.jetstream import (
    AsyncPublishTimeoutError,
    JetStreamError,
    NoStreamResponseError,
    TooManyPendingError,
)
from pynats.otel import OpenTelemetryInstrumentation
from pynats.server import NatsServer

anyio_backends = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(self.spans))
        self.instrumentation = OpenTelemetryInstrumentation(tracer_provider=tp)

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.spans.get_finished_spans()]
        return found[0]


@pytest.fixture
def otel() -> Otel:
    return Otel()


def _wait(pred: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _attr(span: ReadableSpan, key: str) -> Any:
    assert span.attributes is not None
    return span.attributes.get(key)


def _names() -> tuple[str, str, str]:
    """A stream, its subject prefix, a durable consumer's name."""
    return uniq("OTELJS"), uniq("otel.js."), uniq("otelc")


def _check_publish_spans(otel: Otel, subject: str, acks: list[Any]) -> list[ReadableSpan]:
    """One ``publish <subject>.<i>`` span per ack, each a root, ended with the ack's
    sequence; returned in the order of the acks."""
    pubs = []
    for i, ack in enumerate(acks):
        span = otel.one(f"publish {subject}.{i}")
        assert span.kind is SpanKind.PRODUCER and span.parent is None
        assert span.status.status_code is StatusCode.UNSET
        assert _attr(span, "messaging.nats.sequence") == ack.seq
        assert _attr(span, "messaging.nats.stream") == ack.stream
        assert _attr(span, "messaging.destination.name") == f"{subject}.{i}"
        pubs.append(span)
    return pubs


def _check_receive_spans(otel: Otel, consumer: str, pubs: list[ReadableSpan]) -> None:
    """fetch(2), then next(), then two from messages(): one batch span linked to
    the first two publishes, then a span per message, child of its publish."""
    spans = sorted(otel.named(f"receive {consumer}"), key=lambda s: s.start_time or 0)
    assert len(spans) == 4, [s.name for s in otel.spans.get_finished_spans()]
    batch, singles = spans[0], spans[1:]
    assert all(s.kind is SpanKind.CONSUMER for s in spans)
    assert _attr(batch, "messaging.batch.message_count") == 2
    assert _attr(batch, "messaging.operation.type") == "receive"
    assert [(link.context.trace_id, link.context.span_id) for link in batch.links] == [
        (p.context.trace_id, p.context.span_id) for p in pubs[:2] if p.context is not None
    ]
    for span, pub in zip(singles, pubs[2:], strict=True):
        assert span.parent is not None and pub.context is not None and span.context is not None
        assert span.context.trace_id == pub.context.trace_id  # across the stream
        assert span.parent.span_id == pub.context.span_id
        assert _attr(span, "messaging.nats.sequence") == _attr(pub, "messaging.nats.sequence")
        assert _attr(span, "messaging.batch.message_count") is None
        assert span.status.status_code is StatusCode.UNSET
        assert span.start_time is not None and span.end_time is not None


def _check_failed(span: ReadableSpan, error: type[BaseException]) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert _attr(span, "error.type") == error.__qualname__
    assert span.end_time is not None


def _raising(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("exporter down")

    for hook in (
        "on_publish_async_start",
        "on_publish_async_end",
        "on_receive_start",
        "on_receive_end",
    ):
        monkeypatch.setattr(otel.instrumentation, hook, boom)


# ------------------------------------------------------------ blocking client


def test_sync_publish_async_and_receive_spans(server: NatsServer, otel: Otel) -> None:
    stream, subject, durable = _names()
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            futs = [js.publish_async(f"{subject}.{i}", b"m%d" % i) for i in range(5)]
            js.publish_async_complete(timeout=5)
            acks = [f.result(5) for f in futs]
            c = js.create_consumer(stream, durable_name=durable, ack_policy="none")
            assert len(c.fetch(2, max_wait=2)) == 2
            assert c.next(timeout=2).data == b"m2"
            with c.messages() as it:
                assert [it.next(timeout=2).data for _ in range(2)] == [b"m3", b"m4"]
            with pytest.raises(NatsTimeoutError):
                c.next(timeout=0.3)  # nothing: no span
        finally:
            js.delete_stream(stream)
    _wait(lambda: len(otel.named(f"receive {durable}")) >= 4)
    _check_receive_spans(otel, durable, _check_publish_spans(otel, subject, acks))


def test_sync_consume_has_process_spans_only(server: NatsServer, otel: Otel) -> None:
    stream, subject, durable = _names()
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            ack = js.publish_async(f"{subject}.0", b"x").result(5)
            c = js.create_consumer(stream, durable_name=durable, ack_policy="none")
            got: list[Any] = []
            with c.consume(got.append):
                _wait(lambda: got)
        finally:
            js.delete_stream(stream)
    _wait(lambda: otel.named(f"process {durable}"))
    (pub,) = _check_publish_spans(otel, subject, [ack])
    processed = otel.one(f"process {durable}")
    assert processed.parent is not None and pub.context is not None
    assert processed.parent.span_id == pub.context.span_id
    assert not otel.named(f"receive {durable}")


def test_sync_failed_publish_async_spans(server: NatsServer, otel: Otel) -> None:
    nostream, silent = uniq("otel.none."), uniq("otel.silent.")
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        nc.subscribe(f"{silent}.>")  # takes the publishes, never acks them
        js = nc.jetstream(timeout=5.0, publish_async_timeout=0.5)
        with pytest.raises(NoStreamResponseError):
            js.publish_async(f"{nostream}.0", b"x").result(5)
        with pytest.raises(AsyncPublishTimeoutError):
            js.publish_async(f"{silent}.0", b"x").result(5)
        left = nc.jetstream(timeout=5.0).publish_async(f"{silent}.1", b"x")  # no ack timeout
        nc.flush()
    _check_failed(otel.one(f"publish {nostream}.0"), NoStreamResponseError)
    _check_failed(otel.one(f"publish {silent}.0"), AsyncPublishTimeoutError)
    # closed with the ack pending: the future fails, the span ends with the error
    with pytest.raises(JetStreamError):
        left.result(5)
    _wait(lambda: otel.named(f"publish {silent}.1"))
    _check_failed(otel.one(f"publish {silent}.1"), JetStreamError)


def test_sync_raising_hooks_do_not_break_publish_async(
    server: NatsServer, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raising(otel, monkeypatch)
    stream, subject, durable = _names()
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            ack = js.publish_async(f"{subject}.0", b"x").result(5)
            assert ack.seq == 1
            c = js.create_consumer(stream, durable_name=durable, ack_policy="none")
            assert c.next(timeout=2).data == b"x"
        finally:
            js.delete_stream(stream)
    assert all(
        not s.name.startswith(("publish", "receive")) for s in otel.spans.get_finished_spans()
    )


# --------------------------------------------------------------- async client


@pytest.mark.anyio
@anyio_backends
async def test_anyio_publish_async_and_receive_spans(server: NatsServer, otel: Otel) -> None:
    stream, subject, durable = _names()
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        await js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            futs = [await js.publish_async(f"{subject}.{i}", b"m%d" % i) for i in range(5)]
            await js.publish_async_complete(timeout=5)
            acks = [await f.wait(5) for f in futs]
            c = await js.create_consumer(stream, durable_name=durable, ack_policy="none")
            assert len(await c.fetch(2, max_wait=2)) == 2
            assert (await c.next(timeout=2)).data == b"m2"
            async with c.messages() as it:
                got = [(await it.next(timeout=2)).data for _ in range(2)]
            assert got == [b"m3", b"m4"]
            with pytest.raises(NatsTimeoutError):
                await c.next(timeout=0.3)  # nothing: no span
        finally:
            await js.delete_stream(stream)
    _check_receive_spans(otel, durable, _check_publish_spans(otel, subject, acks))


@pytest.mark.anyio
@anyio_backends
async def test_anyio_async_for_and_consume(server: NatsServer, otel: Otel) -> None:
    import anyio

    stream, subject, durable = _names()
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        await js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            ack = await (await js.publish_async(f"{subject}.0", b"x")).wait(5)
            c = await js.create_consumer(stream, durable_name=durable, ack_policy="none")
            async with c.messages() as it:
                async for msg in it:
                    assert msg.data == b"x"
                    break
            other = await js.create_consumer(stream, durable_name=durable + "b")
            got = anyio.Event()

            async def handle(msg: nats_anyio.Msg) -> None:
                await msg.ack()
                got.set()

            async with await other.consume(handle):
                with anyio.fail_after(5):
                    await got.wait()
        finally:
            await js.delete_stream(stream)
    (pub,) = _check_publish_spans(otel, subject, [ack])
    assert pub.context is not None
    received = otel.one(f"receive {durable}")
    assert received.parent is not None and received.parent.span_id == pub.context.span_id
    assert not otel.named(f"receive {durable}b")  # consume(): a process span instead
    processed = otel.one(f"process {durable}b")
    assert processed.parent is not None and processed.parent.span_id == pub.context.span_id


@pytest.mark.anyio
@anyio_backends
async def test_anyio_failed_publish_async_spans(server: NatsServer, otel: Otel) -> None:
    nostream, silent = uniq("otel.none."), uniq("otel.silent.")
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        await nc.subscribe(f"{silent}.>")  # takes the publishes, never acks them
        js = nc.jetstream(timeout=5.0, publish_async_timeout=0.5)
        with pytest.raises(NoStreamResponseError):
            await (await js.publish_async(f"{nostream}.0", b"x")).wait(5)
        with pytest.raises(AsyncPublishTimeoutError):
            await (await js.publish_async(f"{silent}.0", b"x")).wait(5)
        left = await nc.jetstream(timeout=5.0).publish_async(f"{silent}.1", b"x")
        await nc.flush()
    _check_failed(otel.one(f"publish {nostream}.0"), NoStreamResponseError)
    _check_failed(otel.one(f"publish {silent}.0"), AsyncPublishTimeoutError)
    # closed with the ack pending: the future fails, the span ends with the error
    assert left.done()
    with pytest.raises(JetStreamError):
        left.result()
    _check_failed(otel.one(f"publish {silent}.1"), JetStreamError)


@pytest.mark.anyio
@anyio_backends
async def test_anyio_cancelled_publish_async_ends_its_span(server: NatsServer, otel: Otel) -> None:
    import anyio

    silent = uniq("otel.full.")
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        await nc.subscribe(f"{silent}.>")
        js = nc.jetstream(timeout=5.0, publish_async_max_pending=1)
        await js.publish_async(f"{silent}.0", b"x")
        with anyio.move_on_after(0.2):
            await js.publish_async(f"{silent}.1", b"x")  # waits for room: cancelled
        with pytest.raises(TooManyPendingError):
            await js.publish_async(f"{silent}.2", b"x", stall_timeout=0.1)
    cancelled = otel.one(f"publish {silent}.1")
    assert cancelled.status.status_code is StatusCode.ERROR and cancelled.end_time is not None
    _check_failed(otel.one(f"publish {silent}.2"), TooManyPendingError)
    _check_failed(otel.one(f"publish {silent}.0"), JetStreamError)  # closed, still pending


@pytest.mark.anyio
@anyio_backends
async def test_anyio_raising_hooks_do_not_break_publish_async(
    server: NatsServer, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raising(otel, monkeypatch)
    stream, subject, durable = _names()
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        await js.create_stream(name=stream, subjects=[f"{subject}.>"])
        try:
            ack = await (await js.publish_async(f"{subject}.0", b"x")).wait(5)
            assert ack.seq == 1
            c = await js.create_consumer(stream, durable_name=durable, ack_policy="none")
            assert (await c.next(timeout=2)).data == b"x"
            assert len(await c.fetch(1, max_wait=0.3)) == 0
        finally:
            await js.delete_stream(stream)
    assert all(
        not s.name.startswith(("publish", "receive")) for s in otel.spans.get_finished_spans()
    )
