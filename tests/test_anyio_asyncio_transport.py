"""asyncio's own transport (used by nats_anyio on asyncio) and the request deadlines.

A scripted TCP server on loopback plays the NATS side where the behaviour under
test is the transport's (end of stream, garbage, a peer that stops reading);
what the server decides is checked against a real nats-server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

import nats_anyio
from nats_anyio import AsyncioTransport, ConnectError, TCPTransport, TransportError
from nats_core import parse_url
from nats_core.errors import NatsTimeoutError, RemoteProtocolError
from pynats.server import NatsServer, free_port

pytestmark = pytest.mark.anyio

INFO = (
    b'INFO {"server_id":"FAKE","version":"2.14.0","proto":1,"headers":true,'
    b'"max_payload":1048576}\r\n'
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Script:
    """One accepted connection of the fake server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def handshake(self) -> None:
        self.writer.write(INFO)
        await self.reader.readuntil(b"PING\r\n")
        self.writer.write(b"PONG\r\n")
        await self.writer.drain()


@asynccontextmanager
async def fake_server() -> AsyncIterator[tuple[str, asyncio.Queue[Script]]]:
    accepted: asyncio.Queue[Script] = asyncio.Queue()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put(Script(r, w))

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"nats://127.0.0.1:{port}", accepted
    finally:
        server.close()


async def test_the_client_uses_asyncio_transport_on_asyncio(nats_server: NatsServer) -> None:
    async with nats_anyio.connect(nats_server.url) as nc:
        assert isinstance(nc._transport, AsyncioTransport)
        sub = await nc.subscribe("t.>")
        await nc.publish("t.1", b"one")
        assert (await sub.next_msg()).data == b"one"


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_keeps_the_anyio_socket(nats_server: NatsServer) -> None:
    async with nats_anyio.connect(nats_server.url) as nc:
        assert type(nc._transport) is TCPTransport
        assert (await nc.rtt()) > 0


async def test_connect_refused_names_the_server() -> None:
    port = free_port()
    with pytest.raises(ConnectError, match=re.escape(f"127.0.0.1:{port}")):
        await AsyncioTransport.connect(parse_url(f"nats://127.0.0.1:{port}"), 1.0)


async def test_pull_reads_end_of_stream_and_closed_transport_errors() -> None:
    async with fake_server() as (url, accepted):
        t = await AsyncioTransport.connect(parse_url(url), 1.0)
        srv = await accepted.get()
        srv.writer.write(b"abcdef")
        await srv.writer.drain()
        assert await t.read(4) == b"abcd"
        assert await t.read(100) == b"ef"  # the rest of the chunk, kept in order
        srv.writer.close()
        assert await t.read(100) == b""  # end of stream
        await t.close()
        with pytest.raises(TransportError, match="closed"):
            await t.read(1)
        with pytest.raises(TransportError, match="closed"):
            await t.write(b"x")
        await t.close()  # twice is fine


async def test_push_mode_hands_chunks_over_and_returns_at_end_of_stream() -> None:
    async with fake_server() as (url, accepted):
        t = await AsyncioTransport.connect(parse_url(url), 1.0)
        srv = await accepted.get()
        srv.writer.write(b"before ")  # read before run(): handed over first
        await srv.writer.drain()
        while not t._proto.chunks:
            await asyncio.sleep(0.01)
        got: list[bytes] = []

        async def finish() -> None:
            srv.writer.write(b"after")
            await srv.writer.drain()
            await asyncio.sleep(0.05)
            srv.writer.close()

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish)
            with anyio.fail_after(5):
                await t.run(got.append)  # returns at end of stream
        assert b"".join(got) == b"before after"
        await t.close()


async def test_push_mode_raises_what_the_receiver_raised_and_aborts() -> None:
    async with fake_server() as (url, accepted):
        t = await AsyncioTransport.connect(parse_url(url), 1.0)
        srv = await accepted.get()

        def receiver(data: bytes) -> None:
            raise RemoteProtocolError(f"bad bytes {data!r}")

        srv.writer.write(b"junk")
        await srv.writer.drain()
        with anyio.fail_after(5), pytest.raises(RemoteProtocolError, match="junk"):
            await t.run(receiver)
        try:  # the client end was aborted
            assert await srv.reader.read() == b""
        except ConnectionResetError:
            pass
        with pytest.raises(TransportError):
            t.try_write(b"x")


async def test_drain_waits_while_the_peer_does_not_read() -> None:
    async with fake_server() as (url, accepted):
        t = await AsyncioTransport.connect(parse_url(url), 1.0)
        srv = await accepted.get()
        chunk = b"x" * (1 << 20)
        for _ in range(16):  # far more than the kernel buffers and the high-water mark
            t.try_write(chunk)
        assert t.must_drain
        with anyio.move_on_after(0.3) as scope:
            await t.drain()
        assert scope.cancelled_caught  # nobody reads: still over the mark

        total = 0

        async def read_all() -> None:
            nonlocal total
            while total < 16 * len(chunk):
                total += len(await srv.reader.read(1 << 20))

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all)
            with anyio.fail_after(20):
                await t.drain(everything=True)
            assert t._proto.transport is not None
            assert t._proto.transport.get_write_buffer_size() == 0
        assert total == 16 * len(chunk)
        await t.close()


async def test_garbage_after_connect_reports_an_error_and_reconnects() -> None:
    errors: list[BaseException] = []
    reconnected = anyio.Event()

    async def on_error(e: BaseException) -> None:
        errors.append(e)

    async def on_reconnect() -> None:
        reconnected.set()

    async with fake_server() as (url, accepted):
        connecting = asyncio.ensure_future(accepted.get())

        async def serve_first() -> None:
            await (await connecting).handshake()

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_first)
            async with nats_anyio.connect(
                url, error_cb=on_error, reconnected_cb=on_reconnect, reconnect_time_wait=0.05
            ) as nc:
                first = connecting.result()
                assert isinstance(nc._transport, AsyncioTransport)
                first.writer.write(b"GARBAGE FROM THE SERVER\r\n")
                second = await accepted.get()
                await second.handshake()
                with anyio.fail_after(5):
                    await reconnected.wait()
                assert any(isinstance(e, RemoteProtocolError) for e in errors)
                assert nc.is_connected


async def test_close_flushes_what_asyncio_still_buffers(nats_server: NatsServer) -> None:
    payload = b"y" * 60_000
    async with nats_anyio.connect(nats_server.url) as sc:
        sub = await sc.subscribe("bulk", pending_msgs_limit=-1, pending_bytes_limit=-1)
        await sc.flush()
        async with nats_anyio.connect(nats_server.url) as nc:
            for _ in range(200):  # 12 MB: past the high-water mark many times
                await nc.publish("bulk", payload)
        # leaving the block closed nc without a flush(): close() wrote everything
        for i in range(200):
            msg = await sub.next_msg(timeout=10)
            assert len(msg.data) == len(payload), i


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_request_deadlines_expire_and_answered_ones_do_not(
    nats_server: NatsServer,
) -> None:
    async with nats_anyio.connect(nats_server.url) as nc:
        await nc.subscribe("slow", cb=_answer_after(0.5))
        await nc.subscribe("fast", cb=_answer_after(0.0))
        await nc.flush()
        start = anyio.current_time()
        with pytest.raises(NatsTimeoutError, match="'slow'"):
            await nc.request("slow", b"", timeout=0.2)
        assert 0.15 < anyio.current_time() - start < 0.45
        # many short answered requests: their deadlines do not fire late
        for _ in range(50):
            assert (await nc.request("fast", b"", timeout=0.3)).data == b"ok"
        await anyio.sleep(0.4)  # past every deadline above: nothing fires twice
        assert (await nc.request("fast", b"", timeout=1)).data == b"ok"
        # a later request with a shorter timeout still times out on time
        async with anyio.create_task_group() as tg:
            results: list[str] = []

            async def ask(timeout: float) -> None:
                try:
                    await nc.request("slow", b"", timeout=timeout)
                    results.append(f"reply {timeout}")
                except NatsTimeoutError:
                    results.append(f"timeout {timeout}")

            tg.start_soon(ask, 5.0)
            await anyio.sleep(0.05)
            t0 = anyio.current_time()
            await ask(0.1)
            assert anyio.current_time() - t0 < 0.4
        assert sorted(results) == ["reply 5.0", "timeout 0.1"]
        assert not nc._req_waiters


def _answer_after(delay: float) -> Any:
    async def cb(msg: nats_anyio.Msg) -> None:
        if delay:
            await anyio.sleep(delay)
        await msg.respond(b"ok")

    return cb


async def test_many_deadlines_are_compacted(nats_server: NatsServer) -> None:
    async with nats_anyio.connect(nats_server.url) as nc:
        await nc.subscribe("fast", cb=_answer_after(0.0))
        await nc.flush()
        for _ in range(5000):
            await nc.request("fast", b"", timeout=60)
        assert len(nc._deadlines._heap) < 4096 + 10  # answered ones were dropped
        assert all(entry[2].value is None for entry in nc._deadlines._heap)  # no replies kept
