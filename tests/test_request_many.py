"""Request many (ADR-47) against a real nats-server: the blocking client, and
the async one on asyncio and on Trio. (The end conditions themselves:
tests/test_core_request_many.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core.errors import ConfigError, ConnectionClosedError, NoRespondersError
from nats_core.request_many import RequestManyEnd
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


# ------------------------------------------------------------------ blocking


def _responders(nc: nats_sync.Client, subject: str, n: int) -> None:
    for i in range(n):
        nc.subscribe(subject, cb=lambda m, i=i: m.respond(b"r%d" % i))
    nc.flush()


def test_sync_stall_ends_it(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        _responders(nc, "rm.stall", 3)
        base = len(nc._conn.subscriptions)
        start = time.monotonic()
        with nc.request_many("rm.stall", b"q", timeout=5, stall=0.2) as replies:
            got = sorted(m.data for m in replies)
        assert got == [b"r0", b"r1", b"r2"]
        assert replies.reason is RequestManyEnd.STALL
        assert time.monotonic() - start < 2
        assert len(nc._conn.subscriptions) == base


def test_sync_max_msgs_timeout_sentinel_collect(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        _responders(nc, "rm.max", 3)
        replies = nc.request_many("rm.max", timeout=5, max_msgs=2)
        assert len(list(replies)) == 2
        assert replies.reason is RequestManyEnd.MAX_MSGS
        # the total timeout: the one reply, then nothing for 0.3 s
        _responders(nc, "rm.one", 1)
        start = time.monotonic()
        replies = nc.request_many("rm.one", timeout=0.3)
        assert [m.data for m in replies.collect()] == [b"r0"]
        assert replies.reason is RequestManyEnd.TIMEOUT
        assert 0.25 < time.monotonic() - start < 2

        def stream(msg: nats_sync.Msg) -> None:
            for part in (b"a", b"b", b"c", b""):
                nc.publish(msg.reply, part)

        nc.subscribe("rm.sentinel", cb=stream)
        replies = nc.request_many("rm.sentinel", timeout=5, sentinel=True)
        assert [m.data for m in replies] == [b"a", b"b", b"c"]
        assert replies.reason is RequestManyEnd.SENTINEL
        last = nc.request_many("rm.sentinel", timeout=5, sentinel=lambda m: m.data == b"b")
        assert [m.data for m in last] == [b"a"]


def test_sync_no_responders_and_bad_options(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        base = len(nc._conn.subscriptions)
        start = time.monotonic()
        with pytest.raises(NoRespondersError), nc.request_many("rm.nobody", timeout=5) as rs:
            list(rs)
        assert time.monotonic() - start < 1
        assert len(nc._conn.subscriptions) == base
        with pytest.raises(ConfigError):
            nc.request_many("rm.x", stall=-1)


def test_sync_break_unsubscribes(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        _responders(nc, "rm.break", 3)
        base = len(nc._conn.subscriptions)
        with nc.request_many("rm.break", timeout=5) as replies:
            for _msg in replies:
                break
        assert replies.reason is RequestManyEnd.CANCELLED
        assert len(nc._conn.subscriptions) == base


def test_sync_connection_closed_midway(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url)
    _responders(nc, "rm.closed", 1)
    threading.Timer(0.3, nc.close).start()
    got = []
    with pytest.raises(ConnectionClosedError):
        for msg in nc.request_many("rm.closed", timeout=5):
            got.append(msg)
    assert len(got) == 1


# --------------------------------------------------------------------- async


async def _aresponders(nc: nats_anyio.Client, subject: str, n: int) -> None:
    for i in range(n):

        async def answer(msg: nats_anyio.Msg, i: int = i) -> None:
            await msg.respond(b"r%d" % i)

        await nc.subscribe(subject, cb=answer)
    await nc.flush()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_ends(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        await _aresponders(nc, "arm.n", 3)
        base = len(nc._conn.subscriptions)
        start = anyio.current_time()
        async with nc.request_many("arm.n", b"q", timeout=5, stall=0.2) as replies:
            got = sorted([m.data async for m in replies])
        assert got == [b"r0", b"r1", b"r2"]
        assert replies.reason is RequestManyEnd.STALL
        assert anyio.current_time() - start < 2
        replies = nc.request_many("arm.n", timeout=5, max_msgs=2)
        assert len(await replies.collect()) == 2
        assert replies.reason is RequestManyEnd.MAX_MSGS
        assert len(nc._conn.subscriptions) == base

        async def stream(msg: nats_anyio.Msg) -> None:
            for part in (b"a", b"b", b""):
                await nc.publish(msg.reply, part)

        await nc.subscribe("arm.sentinel", cb=stream)
        replies = nc.request_many("arm.sentinel", timeout=5, sentinel=True)
        assert [m.data for m in await replies.collect()] == [b"a", b"b"]
        assert replies.reason is RequestManyEnd.SENTINEL

        with pytest.raises(NoRespondersError):
            async with nc.request_many("arm.nobody", timeout=5) as replies:
                async for _ in replies:
                    pass
        assert len(nc._conn.subscriptions) == base + 1  # the sentinel responder


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_cancel_and_break(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        await _aresponders(nc, "arm.c", 2)
        base = len(nc._conn.subscriptions)
        got = []
        with anyio.move_on_after(0.3) as scope:
            async with nc.request_many("arm.c", timeout=5) as replies:
                async for msg in replies:
                    got.append(msg)
        assert scope.cancelled_caught and len(got) == 2
        assert replies.reason is RequestManyEnd.CANCELLED
        assert len(nc._conn.subscriptions) == base
        async with nc.request_many("arm.c", timeout=5) as replies:
            async for _msg in replies:
                break
        assert len(nc._conn.subscriptions) == base
        assert await nc.request("arm.c", b"") is not None  # the client goes on


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_connection_closed_midway(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        await _aresponders(nc, "arm.closed", 1)
        got = []

        async def close_soon() -> None:
            await anyio.sleep(0.3)
            await nc.close()

        async with anyio.create_task_group() as tg:
            tg.start_soon(close_soon)
            with pytest.raises(ConnectionClosedError):
                async with nc.request_many("arm.closed", timeout=5) as replies:
                    async for msg in replies:
                        got.append(msg)
        assert len(got) == 1
