"""Fault injection through the in-memory transport: a scripted server that cuts
messages short, sends garbage, never answers PINGs, sends -ERRs, stalls writes."""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

import nats_anyio
from anyio_helpers import URL, memory_client
from nats_anyio import (
    MemoryServer,
    MemoryTransport,
    StreamTransport,
    TCPTransport,
    Transport,
    TransportError,
)
from nats_core import ServerAddress, parse_url
from nats_core.errors import (
    AuthorizationError,
    ConnectionClosedError,
    NatsTimeoutError,
    PermissionsError,
    RemoteProtocolError,
    StaleConnectionError,
)
from pynats.server import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Recorder:
    """Collects connection callbacks (as async functions) and errors."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.errors: list[BaseException] = []
        self.changed = anyio.Event()

    def _note(self, what: str) -> None:
        self.events.append(what)
        self.changed.set()
        self.changed = anyio.Event()

    def options(self) -> dict[str, Any]:
        async def disconnected() -> None:
            self._note("disconnected")

        async def reconnected() -> None:
            self._note("reconnected")

        def closed() -> None:
            self._note("closed")

        async def error(e: BaseException) -> None:
            self.errors.append(e)
            self._note("error")

        return {
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": error,
        }

    async def wait_for(self, what: str, timeout: float = 3.0) -> None:
        with anyio.fail_after(timeout):
            while what not in self.events:
                await self.changed.wait()


async def test_handshake_sends_connect_and_subscriptions() -> None:
    async with memory_client(name="fake") as (nc, _, srv):
        assert nc.is_connected and nc.server_info is not None
        assert nc.server_info.server_id == "MEMORY"
        await nc.subscribe("foo", queue="q")
        assert await srv.expect(b"\r\n") == b"SUB foo q 1\r\n"
        await nc.publish("foo", b"hi")
        assert await srv.expect(b"hi\r\n") == b"PUB foo 2\r\nhi\r\n"


async def test_server_closes_mid_payload_then_reconnect() -> None:
    rec = Recorder()
    async with memory_client(**rec.options()) as (nc, mem, srv):
        sub = await nc.subscribe("foo")
        await srv.expect(b"SUB foo 1\r\n")
        await srv.send(b"MSG foo 1 10\r\nhel")  # cut short
        await srv.close()
        await rec.wait_for("disconnected")
        assert isinstance(nc.last_error, ConnectionResetError)
        second = await mem.accept()
        await second.handshake()
        assert await second.expect(b"\r\n") == b"SUB foo 1\r\n"  # replayed
        await rec.wait_for("reconnected")
        await second.send(b"MSG foo 1 5\r\nhello\r\n")
        msg = await sub.next_msg(timeout=2)
        assert msg.data == b"hello"
        assert sub.pending_msgs == 0 and sub.delivered == 1  # the partial one never surfaced
        assert nc.stats.reconnects == 1 and nc.is_connected
        assert rec.events == ["disconnected", "reconnected"]


async def test_garbage_reports_an_error_and_reconnects() -> None:
    rec = Recorder()
    async with memory_client(**rec.options()) as (nc, mem, srv):
        await srv.send(b"GARBAGE FROM THE SERVER\r\n")
        await rec.wait_for("disconnected")
        assert any(isinstance(e, RemoteProtocolError) for e in rec.errors)
        assert isinstance(nc.last_error, RemoteProtocolError)
        second = await mem.accept()
        await second.handshake()
        await rec.wait_for("reconnected")
        assert nc.is_connected


async def test_unanswered_pings_mark_the_connection_stale() -> None:
    rec = Recorder()
    interval = 0.2
    async with memory_client(ping_interval=interval, **rec.options()) as (nc, mem, srv):
        start = anyio.current_time()
        await srv.expect(b"PING\r\n")  # liveness pings arrive, never answered
        await rec.wait_for("disconnected")
        elapsed = anyio.current_time() - start
        assert 1.5 * interval <= elapsed <= 4 * interval
        assert isinstance(nc.last_error, StaleConnectionError)
        second = await mem.accept()
        await second.handshake()
        async with anyio.create_task_group() as tg:
            tg.start_soon(second.serve_pings)
            await rec.wait_for("reconnected")
            await anyio.sleep(3 * interval)  # answered pings keep it alive
            assert nc.is_connected and rec.events == ["disconnected", "reconnected"]
            tg.cancel_scope.cancel()


async def test_write_failure_triggers_reconnect() -> None:
    rec = Recorder()
    async with memory_client(**rec.options()) as (nc, mem, srv):
        await srv.stop_reading()
        await nc.publish("foo", b"lost")
        await rec.wait_for("disconnected")
        assert isinstance(nc.last_error, TransportError)
        second = await mem.accept()
        await second.handshake()
        await rec.wait_for("reconnected")
        await nc.publish("foo", b"sent")
        assert await second.expect(b"sent\r\n") == b"PUB foo 4\r\nsent\r\n"


async def test_authorization_error_during_handshake_is_raised() -> None:
    mem = MemoryServer()
    before = {t.id for t in anyio.get_running_tasks()}

    async def refuse() -> None:
        conn = await mem.accept()
        await conn.send(MemoryServer.info_line({"auth_required": True}))
        await conn.expect(b"PING\r\n")
        await conn.send(b"-ERR 'Authorization Violation'\r\n")

    async with anyio.create_task_group() as tg:
        tg.start_soon(refuse)
        with pytest.raises(AuthorizationError):
            async with nats_anyio.connect(URL, transport_factory=mem.connect, user="u"):
                pass
    assert {t.id for t in anyio.get_running_tasks()} <= before


async def test_silent_server_times_out_the_handshake() -> None:
    mem = MemoryServer()  # accepts, never sends INFO
    start = anyio.current_time()
    with pytest.raises(NatsTimeoutError, match=re.escape("timed out after 0.2 s")):
        async with nats_anyio.connect(URL, transport_factory=mem.connect, connect_timeout=0.2):
            pass
    assert anyio.current_time() - start < 1.0
    srv = await mem.accept()
    assert await srv.receive() == b""  # the client closed its end


async def test_hanging_dial_times_out() -> None:
    async def hang(server: ServerAddress, timeout: float) -> Transport:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with pytest.raises(TimeoutError):
        async with nats_anyio.connect(URL, transport_factory=hang, connect_timeout=0.1):
            pass


async def test_permissions_error_ends_the_subscription_only() -> None:
    rec = Recorder()
    async with memory_client(**rec.options()) as (nc, _, srv):
        sub = await nc.subscribe("secret")
        await srv.expect(b"SUB secret 1\r\n")
        await srv.send(b"-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n")
        await rec.wait_for("error")
        err = rec.errors[0]
        assert isinstance(err, PermissionsError) and err.subject == "secret"
        with anyio.fail_after(2):
            async for _ in sub:
                pass  # the iteration ends: the subscription is gone
        assert sub.is_closed and nc.is_connected


async def test_fatal_server_error_is_the_disconnect_reason() -> None:
    rec = Recorder()
    async with memory_client(**rec.options()) as (nc, mem, srv):
        await srv.send(b"-ERR 'Stale Connection'\r\n")
        await srv.close()
        await rec.wait_for("disconnected")
        assert isinstance(nc.last_error, StaleConnectionError)
        assert isinstance(rec.errors[0], StaleConnectionError)
        second = await mem.accept()
        await second.handshake()
        await rec.wait_for("reconnected")


async def test_flush_timeout_and_cancellation() -> None:
    async with memory_client() as (nc, _, _srv):
        with pytest.raises(NatsTimeoutError):
            await nc.flush(timeout=0.1)
        with anyio.move_on_after(0.1) as scope:
            await nc.flush(timeout=10)
        assert scope.cancelled_caught
        assert nc._pong_waiters == {}


async def test_close_fails_waiting_calls() -> None:
    async with memory_client() as (nc, _, _srv):
        failures: list[BaseException] = []

        async def call(fn: Any) -> None:
            try:
                await fn()
            except ConnectionClosedError as e:
                failures.append(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, lambda: nc.flush(timeout=10))
            tg.start_soon(call, lambda: nc.request("svc", b"", timeout=10))
            await anyio.sleep(0.05)
            await nc.close()
        assert len(failures) == 2


async def test_no_reconnect_means_closed() -> None:
    rec = Recorder()
    async with memory_client(allow_reconnect=False, **rec.options()) as (nc, mem, srv):
        await srv.close()
        await rec.wait_for("closed")
        assert nc.is_closed and rec.events == ["disconnected", "closed"]
        assert mem.dials == 1


async def test_reconnect_gives_up_after_max_attempts() -> None:
    rec = Recorder()
    attempts: list[int] = []

    def delay(attempt: int) -> float:
        attempts.append(attempt)
        return 0.0

    opts = {"max_reconnect_attempts": 2, "reconnect_delay_cb": delay, **rec.options()}
    async with memory_client(**opts) as (nc, mem, srv):
        mem.refuse = True
        await srv.close()
        await rec.wait_for("closed")
        assert nc.is_closed
        assert mem.dials == 3  # the first connection and two attempts
        assert attempts == [1, 2]


async def test_retry_on_failed_connect() -> None:
    mem = MemoryServer()
    mem.refuse = True
    async with nats_anyio.connect(
        URL,
        transport_factory=mem.connect,
        retry_on_failed_connect=True,
        reconnect_time_wait=0.05,
        reconnect_jitter=0,
    ) as nc:
        assert not nc.is_connected and nc.status == "reconnecting"
        await nc.publish("early", b"buffered")
        mem.refuse = False
        srv = await mem.accept()
        await srv.handshake()
        assert await srv.expect(b"buffered\r\n") == b"PUB early 8\r\nbuffered\r\n"
        with anyio.fail_after(2):
            while not nc.is_connected:
                await anyio.sleep(0.01)
        assert mem.dials >= 2


async def test_leaving_the_block_while_reconnecting() -> None:
    mem = MemoryServer()
    mem.refuse = True
    before = {t.id for t in anyio.get_running_tasks()}
    with anyio.fail_after(1):  # far less than reconnect_time_wait (2 s)
        async with nats_anyio.connect(
            URL, transport_factory=mem.connect, retry_on_failed_connect=True
        ) as nc:
            await anyio.sleep(0.05)  # the reader now waits before dialing again
            assert nc.is_reconnecting and mem.dials == 1
    assert nc.is_closed and not nc.is_reconnecting
    assert {t.id for t in anyio.get_running_tasks()} <= before


async def test_info_updates_lame_duck_and_discovered_servers() -> None:
    seen: list[str] = []
    opts: dict[str, Any] = {
        "lame_duck_cb": lambda: seen.append("ldm"),
        "discovered_servers_cb": lambda added: seen.append("discovered"),
    }
    async with memory_client(**opts) as (nc, _, srv):
        await srv.send(MemoryServer.info_line({"connect_urls": ["10.0.0.2:4222"]}))
        with anyio.fail_after(2):
            while not seen:
                await anyio.sleep(0.01)
        assert "nats://10.0.0.2:4222" in nc.servers
        await srv.send(MemoryServer.info_line({"ldm": True, "connect_urls": ["10.0.0.2:4222"]}))
        with anyio.fail_after(2):
            while len(seen) < 2:
                await anyio.sleep(0.01)
        assert seen == ["discovered", "ldm"]


class GatedTransport(StreamTransport):
    """Wraps a transport; writes wait while :attr:`gate` is not set (a socket
    whose peer stopped reading). Closing fails a waiting write, as on a socket."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.gate = anyio.Event()
        self.gate.set()
        self.closed = False

    async def read(self, max_bytes: int) -> bytes:
        return await self.inner.read(max_bytes)

    def try_write(self, data: bytes) -> memoryview | None:
        if not self.gate.is_set():
            return memoryview(data)  # the kernel takes nothing now
        return self.inner.try_write(data)

    async def write(self, data: bytes) -> None:
        await self.gate.wait()
        if self.closed:
            raise TransportError("closed while writing")
        await self.inner.write(data)

    async def start_tls(self, ctx: ssl.SSLContext, hostname: str | None) -> None:
        await self.inner.start_tls(ctx, hostname)

    async def close(self) -> None:
        self.closed = True
        self.gate.set()
        await self.inner.close()


def gated_factory(mem: MemoryServer, gated: list[GatedTransport]) -> Any:
    async def factory(server: ServerAddress, timeout: float) -> Transport:
        t = GatedTransport(await mem.connect(server, timeout))
        gated.append(t)
        return t

    return factory


async def test_stale_connection_noticed_while_the_writer_is_stuck() -> None:
    rec = Recorder()
    mem = MemoryServer()
    gated: list[GatedTransport] = []
    opts = {"transport_factory": gated_factory(mem, gated), "ping_interval": 0.2}
    async with memory_client(mem, **opts, **rec.options()) as (nc, _, _srv):
        gated[0].gate = anyio.Event()  # the server stops reading
        await nc.publish("foo", b"stuck")
        await rec.wait_for("disconnected", timeout=2)
        assert isinstance(nc.last_error, StaleConnectionError)
        assert gated[0].closed
        second = await mem.accept()
        await second.handshake()
        await rec.wait_for("reconnected")
        await nc.publish("foo", b"again")
        assert (await second.expect(b"again\r\n")).endswith(b"PUB foo 5\r\nagain\r\n")


async def test_publish_waits_for_the_writer_past_max_outbound_bytes() -> None:
    mem = MemoryServer()
    gated: list[GatedTransport] = []
    factory = gated_factory(mem, gated)
    async with memory_client(mem, transport_factory=factory, max_outbound_bytes=1000) as (
        nc,
        _,
        srv,
    ):
        gated[0].gate = anyio.Event()  # the socket stops taking bytes
        published = 0

        async def producer() -> None:
            nonlocal published
            for i in range(50):
                await nc.publish("p", b"%03d" % i + b"." * 97)
                published += 1

        async with anyio.create_task_group() as tg:
            tg.start_soon(producer)
            await anyio.sleep(0.1)
            assert 0 < published < 50  # publish is waiting for the writer
            assert nc._conn.outbound_size <= 1000 + 120
            gated[0].gate.set()
        assert published == 50
        got = [await srv.expect(b"\r\n") for _ in range(100)][1::2]
        assert [g[:3] for g in got] == [b"%03d" % i for i in range(50)]


def stalled_server(handshaken: anyio.Event) -> Callable[[Any], Awaitable[None]]:
    """A TCP handler that completes the handshake, then never reads again."""

    async def serve(stream: Any) -> None:
        async with stream:
            await stream.send(MemoryServer.info_line())
            data = b""
            while b"PING\r\n" not in data:
                data += await stream.receive()
            await stream.send(b"PONG\r\n")
            handshaken.set()
            await anyio.sleep_forever()

    return serve


async def test_close_with_a_server_that_stopped_reading() -> None:
    """A write stuck on a full socket must not keep the block from closing, nor
    other calls from timing out or being cancelled."""
    handshaken = anyio.Event()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    before = {t.id for t in anyio.get_running_tasks()}
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, stalled_server(handshaken))
        start = 0.0
        with anyio.fail_after(10):
            async with nats_anyio.connect(
                f"nats://127.0.0.1:{port}", connect_timeout=0.3, max_outbound_bytes=2**22
            ) as nc:
                await handshaken.wait()
                chunk = b"x" * (1024 * 1024)
                with anyio.move_on_after(0.5) as scope:
                    for _ in range(256):  # far more than the socket buffers hold
                        await nc.publish("flood", chunk)
                        await anyio.sleep(0)
                assert scope.cancelled_caught  # publish waits: the writer is stuck
                # Only the flusher task blocks on the full socket: flush() and
                # request() keep their timeouts.
                t0 = anyio.current_time()
                with pytest.raises(NatsTimeoutError):
                    await nc.flush(timeout=0.3)
                with pytest.raises(NatsTimeoutError):
                    await nc.request("svc", b"", timeout=0.3)
                assert anyio.current_time() - t0 < 1.5
                start = anyio.current_time()
        assert anyio.current_time() - start < 2.0
        tg.cancel_scope.cancel()
    assert nc.is_closed
    assert {t.id for t in anyio.get_running_tasks()} <= before


# ------------------------------------------------------------- transports


async def test_memory_transport_maps_errors() -> None:
    mem = MemoryServer()
    t = await mem.connect(parse_url("nats://memory"), 1.0)
    srv = await mem.accept()
    assert isinstance(t, MemoryTransport)
    await srv.send(b"abcdef")
    assert await t.read(4) == b"abcd"
    assert await t.read(100) == b"ef"
    await srv.close()
    assert await t.read(100) == b""  # end of stream
    with pytest.raises(TransportError):
        await t.write(b"x")  # the server stopped reading
    with pytest.raises(nats_anyio.ConnectError):
        await t.start_tls(ssl.create_default_context(), None)
    await t.close()
    with pytest.raises(TransportError):
        await t.read(1)


async def test_tcp_transport_maps_errors() -> None:
    port = free_port()
    with pytest.raises(nats_anyio.ConnectError, match=re.escape(f"127.0.0.1:{port}")):
        await TCPTransport.connect(parse_url(f"nats://127.0.0.1:{port}"), 1.0)

    async def handle(stream: Any) -> None:
        async with stream:
            await stream.send(b"hello")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        t = await TCPTransport.connect(parse_url(f"nats://127.0.0.1:{port}"), 1.0)
        assert await t.read(100) == b"hello"
        assert await t.read(100) == b""
        await t.close()
        with pytest.raises(TransportError):
            await t.write(b"x")
        tg.cancel_scope.cancel()
