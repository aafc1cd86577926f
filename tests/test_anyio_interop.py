"""nats_anyio and nats-py in the same asyncio event loop, through a real server."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import nats_anyio
from pynats.server import NatsServer

nats = pytest.importorskip("nats")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # nats-py is asyncio-only


@pytest.fixture
def url(nats_server_session: NatsServer) -> str:
    return nats_server_session.url


async def test_nats_py_publishes_with_headers_we_receive(url: str) -> None:
    peer = await nats.connect(url)
    try:
        async with nats_anyio.connect(url) as nc:
            sub = await nc.subscribe("interop.in.*")
            await nc.flush()
            await peer.publish("interop.in.x", b"from nats-py", headers={"Lang": "héllo"})
            await peer.flush()
            msg = await sub.next_msg(timeout=2)
            assert msg.subject == "interop.in.x" and msg.data == b"from nats-py"
            assert msg.headers is not None and msg.headers["Lang"] == "héllo"
    finally:
        await peer.close()


async def test_we_publish_nats_py_receives(url: str) -> None:
    peer = await nats.connect(url)
    try:
        psub = await peer.subscribe("interop.out")
        await peer.flush()
        async with nats_anyio.connect(url) as nc:
            await nc.publish("interop.out", b"plain")
            await nc.publish("interop.out", b"with headers", headers={"A": "1", "B": "two"})
            await nc.flush()
            first = await psub.next_msg(timeout=2)
            second = await psub.next_msg(timeout=2)
        assert first.data == b"plain"
        assert second.data == b"with headers"
        assert second.headers == {"A": "1", "B": "two"}
    finally:
        await peer.close()


async def test_request_reply_both_directions(url: str) -> None:
    peer = await nats.connect(url)
    try:

        async def peer_echo(msg: Any) -> None:
            await msg.respond(b"nats-py says " + msg.data)

        await peer.subscribe("interop.peer.echo", cb=peer_echo)
        await peer.flush()
        async with nats_anyio.connect(url) as nc:

            async def our_echo(msg: nats_anyio.Msg) -> None:
                await msg.respond(b"nats_anyio says " + msg.data)

            await nc.subscribe("interop.our.echo", cb=our_echo)
            await nc.flush()
            reply = await nc.request("interop.peer.echo", b"hi", timeout=2)
            assert reply.data == b"nats-py says hi"
            peer_reply = await peer.request("interop.our.echo", b"yo", timeout=2)
            assert peer_reply.data == b"nats_anyio says yo"
            # both at once, interleaved in one loop
            results: list[bytes] = []

            async def ours() -> None:
                results.append((await nc.request("interop.peer.echo", b"a", timeout=2)).data)

            async def theirs() -> None:
                results.append((await peer.request("interop.our.echo", b"b", timeout=2)).data)

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(ours)
                    tg.start_soon(theirs)
            assert sorted(results) == sorted([b"nats-py says a"] * 5 + [b"nats_anyio says b"] * 5)
    finally:
        await peer.close()


async def test_no_responders_seen_by_both(url: str) -> None:
    peer = await nats.connect(url)
    try:
        async with nats_anyio.connect(url) as nc:
            with pytest.raises(nats_anyio.NoRespondersError):
                await nc.request("interop.nobody", b"", timeout=2)
        with pytest.raises(nats.errors.NoRespondersError):
            await peer.request("interop.nobody", b"", timeout=2)
    finally:
        await peer.close()
