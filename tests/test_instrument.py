"""The instrumentation seam (nats_core.instrument, issue #15) on both clients
against a real nats-server: the hooks see connection events, publishes,
deliveries, requests, processing and JetStream acks; a raising hook is logged
and breaks nothing; without an instrumentation nothing is installed."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core import Headers, HeadersInput, Instrumentation, Msg
from nats_core.errors import ConfigError
from nats_core.instrument import ack_kind
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


class Recorder(Instrumentation):
    """Writes down every hook call; tags publishes with a header."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def _add(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)

    def named(self, hook: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [c for c in self.calls if c[0] == hook]

    def attach(self, client: Any) -> None:
        self._add("attach", client)

    def on_connection_event(self, client: Any, event: str, detail: object = None) -> None:
        self._add("event", event)

    def on_publish(
        self, subject: str, reply: str, headers: HeadersInput | None, size: int
    ) -> HeadersInput | None:
        self._add("publish", subject, size)
        out = Headers(headers) if headers else Headers()
        out["X-Seen"] = "1"
        return out

    def on_deliver(self, msg: Msg) -> None:
        self._add("deliver", msg.subject)

    def on_request_start(
        self, subject: str, headers: HeadersInput | None, kind: str
    ) -> tuple[HeadersInput | None, object]:
        self._add("request_start", subject, kind)
        return {"X-Req": "1"}, ("token", subject)

    def on_request_end(self, token: object, reply: object, error: BaseException | None) -> None:
        self._add("request_end", token, type(error).__name__ if error else None)

    def on_process_start(self, msg: Msg, kind: str, name: str) -> object:
        self._add("process_start", kind, name, sorted(msg.headers or ()))
        return ("p", msg.subject)

    def on_process_end(self, token: object, error: BaseException | None) -> None:
        self._add("process_end", token, type(error).__name__ if error else None)

    def on_js_ack(self, subject: str, kind: str) -> None:
        self._add("ack", kind)


class Raising(Instrumentation):
    """Every hook raises."""

    def _boom(self, *args: Any, **kw: Any) -> Any:
        raise RuntimeError("hook failure")

    attach = on_connection_event = on_publish = on_deliver = _boom
    on_request_start = on_request_end = on_process_start = on_process_end = on_js_ack = _boom


def test_ack_kind() -> None:
    assert ack_kind(b"+ACK") == "ack"
    assert ack_kind(b"-NAK {}") == "nak"
    assert ack_kind(b"+WPI") == "in_progress"
    assert ack_kind(b"+TERM reason") == "term"


def test_instrumentation_must_be_one() -> None:
    with pytest.raises(ConfigError, match="instrumentation"):
        nats_sync.connect("nats://127.0.0.1:1", instrumentation=object())


def test_nothing_installed_without_one(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        assert nc._instr is None
        assert not {"publish", "request", "subscribe", "_handle"} & set(vars(nc))
    with nats_sync.connect(server.url, instrumentation=Instrumentation()) as nc:
        assert nc._instr is not None and "publish" in vars(nc)
        got: list[bytes] = []
        nc.subscribe("plain", cb=lambda m: got.append(m.data))
        nc.publish("plain", b"x")
        nc.flush()
        _wait(lambda: got == [b"x"])


def test_the_clients_do_not_import_opentelemetry() -> None:
    code = (
        "import sys, nats_core, nats_sync, nats_anyio, nats_core.instrument\n"
        "bad = [m for m in sys.modules if m.startswith('opentelemetry')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _wait(pred: Any, timeout: float = 5.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_sync_hooks(server: NatsServer) -> None:
    rec = Recorder()
    with nats_sync.connect(server.url, instrumentation=rec) as nc:
        assert rec.named("attach") == [("attach", nc)]
        seen: list[Msg] = []
        sub = nc.subscribe("hooks.>")  # no callback: delivered, not processed

        def echo(msg: nats_sync.Msg) -> None:
            seen.append(msg)
            msg.respond(b"pong")

        nc.subscribe("svc.echo", cb=echo)
        nc.publish("hooks.a", b"abc")
        m = sub.next_msg(timeout=2)
        assert m.headers is not None and m.headers["X-Seen"] == "1"  # on_publish's headers
        reply = nc.request("svc.echo", b"ping", timeout=2)
        assert reply.data == b"pong"
        assert seen[0].headers is not None and seen[0].headers["X-Req"] == "1"
        with pytest.raises(nats_sync.NoRespondersError):
            nc.request("nobody.here", timeout=2)
        nc.force_reconnect()
        _wait(lambda: ("event", "reconnected") in rec.calls)
    assert ("publish", "hooks.a", 3) in rec.calls
    assert ("deliver", "hooks.a") in rec.calls
    assert ("request_start", "svc.echo", "request") in rec.calls
    assert ("request_end", ("token", "svc.echo"), None) in rec.calls
    assert ("request_end", ("token", "nobody.here"), "NoRespondersError") in rec.calls
    assert ("process_start", "subscription", "svc.echo", ["X-Req"]) in rec.calls
    assert ("process_end", ("p", "svc.echo"), None) in rec.calls
    events = [c[1] for c in rec.named("event")]
    assert events[0] == "connected" and events[-1] == "closed"
    assert {"disconnected", "reconnecting", "reconnected"} <= set(events)


def test_sync_callback_error_still_reaches_the_hook(server: NatsServer) -> None:
    rec = Recorder()
    with nats_sync.connect(server.url, instrumentation=rec) as nc:
        done = threading.Event()

        def bad(msg: nats_sync.Msg) -> None:
            done.set()
            raise ValueError("handler failure")

        nc.subscribe("bad", cb=bad)
        nc.publish("bad", b"")
        assert done.wait(2)
        _wait(lambda: bool(rec.named("process_end")))
    assert ("process_end", ("p", "bad"), "ValueError") in rec.calls


def test_sync_service_and_jetstream_hooks(server: NatsServer) -> None:
    rec = Recorder()
    with nats_sync.connect(server.url, instrumentation=rec) as nc:
        svc = nats_sync.add_service(nc, "calc", "1.0.0")
        svc.add_endpoint("add", lambda req: req.respond(b"3"), subject="calc.add")
        assert nc.request("calc.add", b"[1,2]", timeout=2).data == b"3"
        svc.stop()
        js = nc.jetstream(timeout=5.0)
        js.create_stream(name="INSTR_S", subjects=["instr.s.>"])
        try:
            ack = js.publish("instr.s.1", b"one")
            assert ack.seq == 1
            c = js.create_consumer("INSTR_S", durable_name="instr", ack_policy="explicit")
            got = threading.Event()

            def handle(msg: nats_sync.Msg) -> None:
                msg.ack()
                got.set()

            ctx = c.consume(handle)
            assert got.wait(5)
            ctx.stop()
        finally:
            js.delete_stream("INSTR_S")
    starts = rec.named("process_start")
    # a service endpoint gets one process span, named after it (not a subscription's too)
    assert ("process_start", "service", "calc add", ["X-Req"]) in starts
    assert not [s for s in starts if s[1] == "subscription" and s[2] == "calc.add"]
    assert ("request_start", "instr.s.1", "jetstream.publish") in rec.calls
    js_start = [s for s in starts if s[1] == "jetstream"]
    # the stored message carries the headers of on_request_start (the JetStream publish)
    assert js_start == [("process_start", "jetstream", "instr", ["X-Req"])]
    assert ("ack", "ack") in rec.calls


def test_sync_raising_hooks_break_nothing(
    server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "nats_core.instrument")
    with nats_sync.connect(server.url, instrumentation=Raising()) as nc:
        got: list[bytes] = []
        sub = nc.subscribe("r.plain")
        nc.subscribe("r.echo", cb=lambda m: m.respond(m.data))
        nc.subscribe("r.cb", cb=lambda m: got.append(m.data))
        nc.publish("r.plain", b"1")
        nc.publish("r.cb", b"2")
        assert sub.next_msg(timeout=2).data == b"1"
        assert nc.request("r.echo", b"3", timeout=2).data == b"3"
        nc.flush()
        _wait(lambda: got == [b"2"])
    text = caplog.text
    for hook in ("attach", "on_publish", "on_deliver", "on_request_start", "on_process_start"):
        assert f"instrumentation hook {hook} raised" in text


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_hooks(server: NatsServer) -> None:
    rec = Recorder()
    async with nats_anyio.connect(server.url, instrumentation=rec) as nc:
        sub = await nc.subscribe("hooks.>")

        async def echo(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"pong")

        await nc.subscribe("svc.echo", cb=echo)
        await nc.publish("hooks.a", b"abc")
        m = await sub.next_msg(timeout=2)
        assert m.headers is not None and m.headers["X-Seen"] == "1"
        assert (await nc.request("svc.echo", b"ping", timeout=2)).data == b"pong"
        with pytest.raises(nats_anyio.NoRespondersError):
            await nc.request("nobody.here", timeout=2)
        await nc.subscribe("silent")  # listens, never answers
        with anyio.move_on_after(0.2):  # cancelled: the end hook is told
            await nc.request("silent", timeout=30)
        svc = await nats_anyio.add_service(nc, "calc", "1.0.0")
        await svc.add_endpoint("add", lambda req: req.respond(b"3"), subject="calc.add")
        assert (await nc.request("calc.add", b"[1,2]", timeout=2)).data == b"3"
        await svc.stop()
    assert ("publish", "hooks.a", 3) in rec.calls
    assert ("deliver", "hooks.a") in rec.calls
    assert ("request_end", ("token", "svc.echo"), None) in rec.calls
    assert ("request_end", ("token", "nobody.here"), "NoRespondersError") in rec.calls
    assert ("process_end", ("p", "svc.echo"), None) in rec.calls
    assert ("process_start", "service", "calc add", ["X-Req"]) in rec.calls
    cancelled = [c for c in rec.named("request_end") if c[1] == ("token", "silent")]
    assert len(cancelled) == 1 and cancelled[0][2] is not None
    events = [c[1] for c in rec.named("event")]
    assert events[0] == "connected" and events[-1] == "closed"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_raising_hooks_break_nothing(
    server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "nats_core.instrument")
    async with nats_anyio.connect(server.url, instrumentation=Raising()) as nc:
        sub = await nc.subscribe("r.plain")

        async def echo(msg: nats_anyio.Msg) -> None:
            await msg.respond(msg.data)

        await nc.subscribe("r.echo", cb=echo)
        await nc.publish("r.plain", b"1")
        assert (await sub.next_msg(timeout=2)).data == b"1"
        assert (await nc.request("r.echo", b"3", timeout=2)).data == b"3"
    assert "instrumentation hook on_publish raised" in caplog.text
    assert "instrumentation hook on_process_end raised" in caplog.text
