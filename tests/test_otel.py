"""pynats.otel (the ``otel`` extra, issue #15) against a real nats-server, with the
OpenTelemetry SDK's in-memory exporters, on the blocking client and on the
async one (asyncio and Trio): trace context crosses the wire in the headers (a
request's span is the parent of the responder's), services and JetStream
publish/consume get spans, the metrics count messages, bytes, reconnects and
slow consumers, and a raising instrumentation breaks nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import nats_anyio
import nats_sync
from pynats.otel import OpenTelemetryInstrumentation, process_span
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    instrumentation: OpenTelemetryInstrumentation

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.finished() if s.name == name]
        assert len(found) == 1, [s.name for s in self.finished()]
        return found[0]

    def metric(self, name: str, **attrs: Any) -> float:
        data = self.metrics.get_metrics_data()
        assert data is not None
        total = 0.0
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name != name:
                        continue
                    for p in m.data.data_points:
                        if all(p.attributes.get(k) == v for k, v in attrs.items()):
                            total += getattr(p, "value", None) or getattr(p, "count", 0)
        return total


@pytest.fixture
def otel() -> Otel:
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    instr = OpenTelemetryInstrumentation(tracer_provider=tp, meter_provider=mp)
    return Otel(spans, reader, tp, instr)


def _wait(pred: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.parent is not None and parent.context is not None
    return (
        child.parent.span_id == parent.context.span_id
        and child.context is not None
        and child.context.trace_id == parent.context.trace_id
    )


# ------------------------------------------------------------ blocking client


def test_sync_request_span_is_the_parent_across_the_wire(server: NatsServer, otel: Otel) -> None:
    # two connections: the trace context can only travel in the message's headers
    with (
        nats_sync.connect(server.url, instrumentation=otel.instrumentation) as responder,
        nats_sync.connect(server.url, instrumentation=otel.instrumentation) as requester,
    ):
        responder.subscribe("otel.echo", cb=lambda m: m.respond(b"re:" + m.data))
        responder.flush()
        assert requester.request("otel.echo", b"hi", timeout=2).data == b"re:hi"
        _wait(lambda: len(otel.finished()) >= 2)
    req = otel.span("request otel.echo")
    proc = otel.span("process otel.echo")
    assert req.kind is SpanKind.CLIENT and proc.kind is SpanKind.CONSUMER
    assert req.parent is None and _is_child(proc, req)
    assert req.attributes is not None and req.attributes["messaging.system"] == "nats"


def test_sync_publish_carries_the_current_span(server: NatsServer, otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        sub = nc.subscribe("otel.pub")
        with tracer.start_as_current_span("work") as work:
            nc.publish("otel.pub", b"x", headers={"App": "1"})
        nc.publish("otel.pub", b"y")  # no current span: nothing injected
        first, second = sub.next_msg(timeout=2), sub.next_msg(timeout=2)
        assert first.headers is not None and first.headers["App"] == "1"
        assert f"{work.get_span_context().trace_id:032x}" in first.headers["traceparent"]
        assert second.headers is None
        with process_span(first, tracer_provider=otel.tracer_provider):
            pass
    assert _is_child(otel.span("process otel.pub"), otel.span("work"))


def test_sync_service_span(server: NatsServer, otel: Otel) -> None:
    def add(req: nats_sync.Request) -> None:
        req.respond(b"3")

    def boom(req: nats_sync.Request) -> None:
        raise ValueError("kaput")

    with (
        nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc,
        nats_sync.connect(server.url, instrumentation=otel.instrumentation) as client,
        nats_sync.add_service(nc, "calc", "1.0.0", error_handler=lambda *a: None) as svc,
    ):
        svc.add_endpoint("add", add, subject="calc.add")
        svc.add_endpoint("boom", boom)
        nc.flush()
        assert client.request("calc.add", b"[1,2]", timeout=2).data == b"3"
        client.request("boom", b"", timeout=2)
        _wait(lambda: len(otel.finished()) >= 4)
    served = otel.span("calc add")
    assert served.kind is SpanKind.SERVER
    assert _is_child(served, otel.span("request calc.add"))
    failed = otel.span("calc boom")
    assert failed.status.status_code is StatusCode.ERROR
    assert _is_child(failed, otel.span("request boom"))
    # one span per request: the endpoint's subscription adds none
    assert not [s for s in otel.finished() if s.name.startswith("process calc")]


def test_sync_jetstream_publish_and_consume(server: NatsServer, otel: Otel) -> None:
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        js.create_stream(name="OTEL_S", subjects=["otel.s.>"])
        try:
            ack = js.publish("otel.s.1", b"one")
            c = js.create_consumer("OTEL_S", durable_name="otel", ack_policy="explicit")
            got = threading.Event()

            def handle(msg: nats_sync.Msg) -> None:
                msg.ack()
                got.set()

            ctx = c.consume(handle)
            assert got.wait(5)
            ctx.stop()
            _wait(lambda: any(s.name == "process otel" for s in otel.finished()))
        finally:
            js.delete_stream("OTEL_S")
    pub = otel.span("publish otel.s.1")
    assert pub.kind is SpanKind.PRODUCER
    assert pub.attributes is not None and pub.attributes["messaging.nats.sequence"] == ack.seq
    consumed = otel.span("process otel")
    assert _is_child(consumed, pub)  # through the stream
    assert [e.name for e in consumed.events] == ["nats.jetstream.ack"]
    assert otel.metric("nats.client.jetstream.acks", kind="ack") == 1


def test_sync_metrics(server: NatsServer, otel: Otel) -> None:
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        sub = nc.subscribe("otel.m", pending_msgs_limit=2)
        for _ in range(10):
            nc.publish("otel.m", b"12345")
        nc.flush()
        _wait(lambda: otel.metric("nats.client.slow_consumers") >= 1)
        assert sub.dropped > 0
        nc.force_reconnect()
        _wait(lambda: otel.metric("nats.client.reconnects") == 1)
    assert otel.metric("nats.client.messages.sent") == 10
    assert otel.metric("nats.client.bytes.sent") == 50
    assert otel.metric("nats.client.messages.received") == 10
    assert otel.metric("nats.client.bytes.received") == 50
    assert otel.metric("nats.client.connection.events", event="reconnected") == 1
    assert otel.metric("nats.client.connection.events", event="closed") == 1


# --------------------------------------------------------------- async client


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_request_span_is_the_parent_across_the_wire(
    server: NatsServer, otel: Otel
) -> None:
    async with (
        nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as responder,
        nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as requester,
    ):

        async def echo(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"re:" + msg.data)

        await responder.subscribe("otel.echo", cb=echo)
        svc = await nats_anyio.add_service(responder, "calc", "1.0.0")
        await svc.add_endpoint("add", lambda req: req.respond(b"3"), subject="calc.add")
        await responder.flush()
        assert (await requester.request("otel.echo", b"hi", timeout=2)).data == b"re:hi"
        assert (await requester.request("calc.add", b"[1,2]", timeout=2)).data == b"3"
        await svc.stop()
    assert _is_child(otel.span("process otel.echo"), otel.span("request otel.echo"))
    assert _is_child(otel.span("calc add"), otel.span("request calc.add"))
    assert not trace.get_current_span().get_span_context().is_valid  # none left current


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_jetstream_and_metrics(server: NatsServer, otel: Otel) -> None:
    import anyio

    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        js = nc.jetstream(timeout=5.0)
        name = f"OTEL_A_{id(otel)}"
        await js.create_stream(name=name, subjects=[f"otel.a{id(otel)}.>"])
        try:
            await js.publish(f"otel.a{id(otel)}.1", b"one")
            c = await js.create_consumer(name, durable_name="otel", ack_policy="explicit")
            got = anyio.Event()

            async def handle(msg: nats_anyio.Msg) -> None:
                await msg.ack()
                got.set()

            ctx = await c.consume(handle)
            with anyio.fail_after(5):
                await got.wait()
            await ctx.stop()
        finally:
            await js.delete_stream(name)
    pub = otel.span(f"publish otel.a{id(otel)}.1")
    assert _is_child(otel.span("process otel"), pub)
    assert otel.metric("nats.client.jetstream.acks", kind="ack") == 1
    assert otel.metric("nats.client.messages.received") >= 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_raising_instrumentation_does_not_break_publish(
    server: NatsServer, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("exporter down")

    monkeypatch.setattr(otel.instrumentation, "on_publish", boom)
    monkeypatch.setattr(otel.instrumentation, "on_process_start", boom)
    async with nats_anyio.connect(server.url, instrumentation=otel.instrumentation) as nc:
        sub = await nc.subscribe("otel.r")
        await nc.publish("otel.r", b"still here")
        assert (await sub.next_msg(timeout=2)).data == b"still here"


def test_sync_raising_instrumentation_does_not_break_publish(
    server: NatsServer, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("exporter down")

    monkeypatch.setattr(otel.instrumentation, "on_publish", boom)
    with nats_sync.connect(server.url, instrumentation=otel.instrumentation) as nc:
        sub = nc.subscribe("otel.r")
        nc.publish("otel.r", b"still here")
        assert sub.next_msg(timeout=2).data == b"still here"
