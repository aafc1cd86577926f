"""nats_anyio reconnect behaviour (asyncio and Trio): what tests/test_sync_reconnect.py
covers for the blocking client, and force_reconnect(), requests in flight, drain
and close while reconnecting, the status, the delay callback and the buffer limit.
Against a real nats-server where timing is not the point, else an in-memory one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

import nats_anyio
from anyio_helpers import URL, memory_client
from nats_anyio import Client, MemoryServer, Msg, Transport
from nats_core import ServerAddress
from nats_core.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NatsTimeoutError,
    ReconnectBufferFullError,
    StaleConnectionError,
)
from pynats.server import NatsServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def eventually(cond: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``cond`` until it is true; fail the test after ``timeout`` seconds."""
    with anyio.move_on_after(timeout):
        while not cond():
            await anyio.sleep(0.005)
        return
    pytest.fail(f"timed out after {timeout} s waiting for {what or cond}")


class Events:
    """Connection callbacks in order (plain and async ones)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self.nc: Client | None = None
        self.disconnect_errors: list[BaseException | None] = []

    def options(self) -> dict[str, Any]:
        def disconnected() -> None:
            self.seen.append("disconnected")
            if self.nc is not None:
                self.disconnect_errors.append(self.nc.last_error)

        async def reconnected() -> None:
            self.seen.append("reconnected")

        async def closed() -> None:
            self.seen.append("closed")

        return {
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": self.errors.append,
        }

    async def wait_for(self, what: str, count: int = 1, timeout: float = 5.0) -> None:
        await eventually(lambda: self.seen.count(what) >= count, timeout, what)


# --------------------------------------------------------- against a real server


async def test_restart_resubscribes_and_sends_the_buffer(nats_server: NatsServer) -> None:
    ev = Events()
    async with nats_anyio.connect(
        nats_server.url, reconnect_time_wait=0.05, max_reconnect_attempts=-1, **ev.options()
    ) as nc:
        plain = await nc.subscribe("re.plain")
        got: list[bytes] = []
        await nc.subscribe("re.cb", cb=lambda m: got.append(m.data))
        auto = await nc.subscribe("re.auto", max_msgs=3)
        await nc.publish("re.auto", b"a0")
        await nc.publish("re.plain", b"before")
        assert (await plain.next_msg(timeout=2)).data == b"before"
        await eventually(lambda: auto.delivered == 0 and auto.pending_msgs == 1)

        await anyio.to_thread.run_sync(nats_server.stop)
        await ev.wait_for("disconnected")
        assert nc.status == "reconnecting"
        for i in range(10):
            await nc.publish("re.plain", b"%d" % i)  # kept in the reconnect buffer
        assert nc._conn.pending_bytes > 0
        await anyio.to_thread.run_sync(nats_server.start)
        await ev.wait_for("reconnected")
        assert nc.status == "connected" and nc.connected_url == nats_server.url
        assert nc.stats.reconnects == 1
        assert [(await plain.next_msg(timeout=2)).data for _ in range(10)] == [
            b"%d" % i for i in range(10)
        ]
        assert nc._conn.pending_bytes == 0

        await nc.publish("re.cb", b"after-cb")
        await eventually(lambda: got == [b"after-cb"], what="the callback after the reconnect")
        for i in range(1, 6):
            await nc.publish("re.auto", b"a%d" % i)
        await nc.flush(timeout=2)
        # the server was told the 2 messages still owed: a1 and a2, not a3...
        assert [m.data async for m in auto] == [b"a0", b"a1", b"a2"]
        async with nats_anyio.connect(nats_server.url) as other:  # others see our interest
            await other.publish("re.plain", b"from-other")
        assert (await plain.next_msg(timeout=2)).data == b"from-other"
        assert ev.seen == ["disconnected", "reconnected"]
    assert ev.seen == ["disconnected", "reconnected", "closed"]


async def test_force_reconnect_on_a_real_server(nats_server: NatsServer) -> None:
    ev = Events()
    async with nats_anyio.connect(nats_server.url, reconnect_time_wait=30, **ev.options()) as nc:
        ev.nc = nc
        sub = await nc.subscribe("forced")
        start = anyio.current_time()
        await nc.force_reconnect()
        assert nc.status == "reconnecting"
        await ev.wait_for("reconnected")
        assert anyio.current_time() - start < 2  # not the 30 s wait
        assert ev.disconnect_errors == [None] and nc.last_error is None
        assert nc.stats.reconnects == 1
        await nc.publish("forced", b"after")
        assert (await sub.next_msg(timeout=2)).data == b"after"


async def test_request_in_flight_is_answered_after_a_restart(nats_server: NatsServer) -> None:
    ev, rev = Events(), Events()
    release = anyio.Event()
    held = anyio.Event()

    async def respond(msg: Msg) -> None:
        held.set()
        await release.wait()  # answer only once both clients are back
        await msg.respond(b"re:" + msg.data)

    async with (
        nats_anyio.connect(nats_server.url, reconnect_time_wait=0.05, **rev.options()) as resp,
        nats_anyio.connect(nats_server.url, reconnect_time_wait=0.05, **ev.options()) as nc,
    ):
        await resp.subscribe("svc.hold", cb=respond)
        await resp.flush(timeout=2)
        result: list[bytes] = []

        async def ask() -> None:
            result.append((await nc.request("svc.hold", b"q", timeout=8)).data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            with anyio.fail_after(5):
                await held.wait()
            await anyio.to_thread.run_sync(nats_server.restart)
            await ev.wait_for("reconnected")
            await rev.wait_for("reconnected")
            await nc.flush(timeout=2)
            release.set()
        assert result == [b"re:q"]


async def test_gives_up_after_max_reconnect_attempts(nats_server: NatsServer) -> None:
    ev = Events()
    attempts: list[BaseException] = []

    async def on_attempt(err: BaseException) -> None:
        attempts.append(err)

    async with nats_anyio.connect(
        nats_server.url,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=2,
        reconnect_error_cb=on_attempt,
        **ev.options(),
    ) as nc:
        sub = await nc.subscribe("gone")
        await anyio.to_thread.run_sync(nats_server.stop)
        await ev.wait_for("closed")
        assert nc.status == "closed" and nc.is_closed and not nc.is_reconnecting
        assert ev.seen == ["disconnected", "closed"]
        assert sub.is_closed
        with pytest.raises(ConnectionClosedError):
            await nc.publish("gone", b"x")
        assert nc.stats.reconnects == 0
        # each failed attempt was reported (two attempts on the only server)
        assert len(attempts) == 2 and all(isinstance(e, OSError) for e in attempts), attempts


# ----------------------------------------------------------- in-memory scripts


async def test_force_reconnect_writes_what_was_queued_first() -> None:
    ev = Events()
    async with memory_client(reconnect_time_wait=30, **ev.options()) as (nc, mem, srv):
        await nc.subscribe("s", max_msgs=5)
        await srv.expect(b"UNSUB 1 5\r\n")
        await nc.publish("s", b"queued")
        await nc.force_reconnect()
        assert await srv.expect(b"queued\r\n") == b"PUB s 6\r\nqueued\r\n"
        assert await srv.receive() == b""  # then the old connection is closed
        second = await mem.accept()  # dialed at once: no 30 s wait
        await second.handshake()
        assert await second.expect(b"UNSUB 1 5\r\n") == b"SUB s 1\r\nUNSUB 1 5\r\n"
        await ev.wait_for("reconnected")
        assert ev.seen == ["disconnected", "reconnected"]


async def test_force_reconnect_while_reconnecting_ends_the_wait() -> None:
    ev = Events()
    async with memory_client(reconnect_time_wait=30, **ev.options()) as (nc, mem, srv):
        await srv.close()
        await ev.wait_for("disconnected")
        await anyio.sleep(0.05)
        assert nc.status == "reconnecting" and mem.dials == 1  # waiting 30 s
        with anyio.fail_after(2):
            await nc.force_reconnect()
            second = await mem.accept()
        await second.handshake()
        await ev.wait_for("reconnected")
        assert nc.is_connected


async def test_requests_in_flight_and_made_while_disconnected() -> None:
    ev = Events()
    async with memory_client(**ev.options()) as (nc, mem, srv):
        results: dict[str, bytes] = {}

        async def ask(what: bytes) -> None:
            results[what.decode()] = (await nc.request("svc", what, timeout=5)).data

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, b"early")
            sub_line = await srv.expect(b"\r\n")
            assert sub_line.startswith(b"SUB _INBOX.") and sub_line.endswith(b".* 1\r\n")
            pub = await srv.expect(b"early\r\n")
            reply_to = pub.split()[2]
            await srv.close()  # the request is in flight: its reply will come later
            await ev.wait_for("disconnected")
            tg.start_soon(ask, b"late")  # made while disconnected: buffered
            await eventually(lambda: nc._conn.pending_bytes > 0)
            second = await mem.accept()
            await second.handshake()
            assert await second.expect(b"\r\n") == sub_line  # the shared inbox is back
            late = await second.expect(b"late\r\n")  # after it, the buffered request
            assert late.startswith(b"PUB svc _INBOX.")
            await second.send(b"MSG %s 1 7\r\nanswer1\r\n" % reply_to)
            await second.send(b"MSG %s 1 7\r\nanswer2\r\n" % late.split()[2])
        assert results == {"early": b"answer1", "late": b"answer2"}


async def test_request_in_flight_without_reply_waits_for_its_timeout() -> None:
    ev = Events()
    async with memory_client(**ev.options()) as (nc, mem, srv):

        async def lose_and_reconnect() -> None:
            await srv.expect(b"?\r\n")
            await srv.close()
            second = await mem.accept()
            await second.handshake()

        async with anyio.create_task_group() as tg:
            tg.start_soon(lose_and_reconnect)
            start = anyio.current_time()
            with pytest.raises(NatsTimeoutError):
                await nc.request("svc", b"?", timeout=0.5)
            assert anyio.current_time() - start >= 0.45
        assert "reconnected" in ev.seen and nc.is_connected


async def test_close_while_reconnecting_returns_promptly_and_calls_closed_cb() -> None:
    ev = Events()
    mem = MemoryServer()
    hang = False

    async def factory(server: ServerAddress, timeout: float) -> Transport:
        if hang:
            await anyio.sleep_forever()  # a dial that would last connect_timeout (30 s)
        return await mem.connect(server, timeout)

    async def serve() -> None:
        await (await mem.accept()).handshake()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        async with nats_anyio.connect(
            URL, transport_factory=factory, connect_timeout=30, **ev.options()
        ) as nc:
            hang = True
            await nc.force_reconnect()
            await ev.wait_for("disconnected")
            assert nc.status == "reconnecting"
            with anyio.fail_after(2):
                await nc.close()
            assert nc.status == "closed"
            assert ev.seen == ["disconnected", "closed"]


async def test_drain_while_reconnecting_closes_and_says_so() -> None:
    ev = Events()
    async with memory_client(reconnect_time_wait=30, **ev.options()) as (nc, _, srv):
        sub = await nc.subscribe("d")
        await srv.close()
        await ev.wait_for("disconnected")
        await nc.publish("d", b"buffered")
        with (
            anyio.fail_after(2),
            pytest.raises(ConnectionReconnectingError, match=r"\(19 bytes of buffered"),
        ):
            await nc.drain()
        assert nc.status == "closed" and sub.is_closed
        await ev.wait_for("closed")
        await nc.drain()  # closed: nothing to do


async def test_connection_lost_during_drain_closes_and_says_so() -> None:
    ev = Events()
    async with memory_client(**ev.options()) as (nc, _, srv):
        await nc.subscribe("d")
        async with anyio.create_task_group() as tg:

            async def lose() -> None:
                await srv.expect(b"UNSUB 1\r\nPING\r\n")
                assert nc.status == "draining"
                await srv.close()

            tg.start_soon(lose)
            with anyio.fail_after(3), pytest.raises(ConnectionClosedError, match="during the"):
                await nc.drain()
        assert nc.is_closed
        await ev.wait_for("closed")
        assert "reconnected" not in ev.seen


async def test_status_through_a_reconnect_a_drain_and_close() -> None:
    ev = Events()
    async with memory_client(**ev.options()) as (nc, mem, srv):
        seen = [nc.status]
        await srv.close()
        await ev.wait_for("disconnected")
        seen.append(nc.status)
        second = await mem.accept()
        await second.handshake()
        await ev.wait_for("reconnected")
        seen.append(nc.status)
        async with anyio.create_task_group() as tg:

            async def serve_drain() -> None:
                await second.expect(b"PING\r\n")  # the drain's flush of publishes
                seen.append(nc.status)
                await second.send(b"PONG\r\n")

            tg.start_soon(serve_drain)
            await nc.drain(timeout=3)
        seen.append(nc.status)
        assert seen == ["connected", "reconnecting", "connected", "draining", "closed"]


async def test_unanswered_pings_are_noticed_after_two_intervals() -> None:
    ev = Events()
    interval = 0.2
    async with memory_client(ping_interval=interval, **ev.options()) as (nc, _, srv):
        ev.nc = nc
        for _ in range(3):  # a healthy server answers
            await srv.expect(b"PING\r\n")
            await srv.send(b"PONG\r\n")
        await srv.expect(b"PING\r\n")  # the first that goes unanswered
        start = anyio.current_time()
        await ev.wait_for("disconnected")
        elapsed = anyio.current_time() - start
        assert 1.5 * interval <= elapsed <= 3 * interval, elapsed
        assert isinstance(ev.disconnect_errors[0], StaleConnectionError)


async def test_reconnect_buffer_overflow_is_a_clear_error() -> None:
    ev = Events()
    async with memory_client(reconnect_buf_size=300, reconnect_time_wait=30, **ev.options()) as (
        nc,
        mem,
        srv,
    ):
        await srv.close()
        await ev.wait_for("disconnected")
        await nc.publish("rb", b"a" * 100)
        await nc.publish("rb", b"b" * 100)
        with pytest.raises(ReconnectBufferFullError, match="reconnect buffer is full") as info:
            await nc.publish("rb", b"c" * 100)
        assert "'rb'" in str(info.value) and "300" in str(info.value)
        await nc.force_reconnect()
        second = await mem.accept()
        await second.handshake()
        got = await second.expect(b"b" * 100 + b"\r\n")
        assert got == b"PUB rb 100\r\n" + b"a" * 100 + b"\r\nPUB rb 100\r\n" + b"b" * 100 + b"\r\n"


async def test_reconnect_delay_callback_and_its_errors() -> None:
    ev = Events()
    calls: list[int] = []

    def delay(n: int) -> float:
        calls.append(n)
        if n == 2:
            raise RuntimeError("broken delay callback")
        return 0.01

    async with memory_client(
        reconnect_delay_cb=delay,
        reconnect_time_wait=0.01,
        max_reconnect_attempts=-1,
        **ev.options(),
    ) as (nc, mem, srv):
        mem.refuse = True
        await srv.close()
        await eventually(lambda: len(calls) >= 3, what="three waits")
        assert calls[:3] == [1, 2, 3]
        assert any(isinstance(e, RuntimeError) for e in ev.errors)  # reported, not fatal
        mem.refuse = False
        second = await mem.accept()
        await second.handshake()
        await ev.wait_for("reconnected")
        assert nc.is_connected
