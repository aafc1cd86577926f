"""Subscription status listeners (#21, nats.go's ``Subscription.StatusChanged``):
``sub.status_changed(cb, *statuses)`` in both clients, against a real nats-server:
slow consumer and recovery, drain, unsubscribe, auto-unsubscribe, connection
close, filtering and removal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import anyio
import pytest

import nats_anyio
import nats_sync
from pynats.server import NatsServer
from sync_helpers import wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def recorder(seen: list[tuple[str, str]], name: str) -> Callable[[str], None]:
    """A listener that records ``(name, status)``."""
    return lambda status: seen.append((name, status))


async def until(cond: Callable[[], object], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.005)


# ------------------------------------------------------------- blocking client


def test_sync_slow_consumer_then_active(server: NatsServer) -> None:
    """A queue past its limit is a slow consumer; once read empty it is active
    again. The listener runs on the callback thread, not the reader."""
    with nats_sync.connect(server.url, error_cb=lambda e: None) as nc:
        sub = nc.subscribe("st.slow", pending_msgs_limit=2)
        seen: list[tuple[str, str]] = []
        sub.status_changed(lambda s: seen.append((s, threading.current_thread().name)))
        for _ in range(4):
            nc.publish("st.slow", b"x")
        nc.flush()
        wait_until(lambda: seen)
        assert seen == [("slow_consumer", "nats-callbacks")]
        assert sub.status == "slow_consumer" and sub.dropped == 2
        sub.next_msg()
        assert sub.status == "slow_consumer"  # not yet: one still queued
        sub.next_msg()
        wait_until(lambda: len(seen) == 2)
        assert [s for s, _ in seen] == ["slow_consumer", "active"]
        assert sub.status == "active"
        # a second episode is told again
        for _ in range(3):
            nc.publish("st.slow", b"y")
        nc.flush()
        wait_until(lambda: len(seen) == 3)
        assert seen[2][0] == "slow_consumer"


def test_sync_callback_slow_consumer_then_active(server: NatsServer) -> None:
    """A callback that holds its messages: the subscription turns slow; once the
    callback takes the backlog it is active again."""
    started, release = threading.Event(), threading.Event()

    def cb(msg: nats_sync.Msg) -> None:
        started.set()
        release.wait(5)

    with nats_sync.connect(server.url, error_cb=lambda e: None) as nc:
        sub = nc.subscribe("st.cbslow", cb=cb, pending_msgs_limit=2)
        seen: list[str] = []
        sub.status_changed(seen.append)
        nc.publish("st.cbslow", b"first")
        nc.flush()
        assert started.wait(5)
        for _ in range(5):
            nc.publish("st.cbslow", b"more")
        nc.flush()
        wait_until(lambda: seen == ["slow_consumer"])
        assert sub.dropped == 4
        release.set()
        wait_until(lambda: seen == ["slow_consumer", "active"])
        wait_until(lambda: sub.pending_msgs == 0)
        assert sub.status == "active"


def test_sync_drain_and_filter(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        got: list[bytes] = []
        sub = nc.subscribe("st.drain", cb=lambda m: got.append(m.data))
        every: list[str] = []
        closed_only: list[str] = []
        sub.status_changed(every.append)
        sub.status_changed(closed_only.append, "closed")
        nc.publish("st.drain", b"a")
        nc.flush()
        sub.drain(timeout=5)
        wait_until(lambda: every == ["draining", "closed"])
        wait_until(lambda: closed_only == ["closed"])
        assert got == [b"a"] and sub.status == "closed"


def test_sync_unsubscribe_auto_unsubscribe_and_close(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url)
    try:
        plain = nc.subscribe("st.unsub")
        auto = nc.subscribe("st.auto", cb=lambda m: None)
        last = nc.subscribe("st.last")
        seen: list[tuple[str, str]] = []
        for sub in (plain, auto, last):
            sub.status_changed(recorder(seen, sub.subject))
        plain.unsubscribe()
        wait_until(lambda: seen == [("st.unsub", "closed")])
        auto.auto_unsubscribe(2)
        for _ in range(3):
            nc.publish("st.auto", b"x")
        nc.flush()
        # "closed" comes from the reader; the worker may still be handing over the batch
        wait_until(lambda: len(seen) == 2 and auto.delivered == 2)
        assert seen[1] == ("st.auto", "closed")
    finally:
        nc.close()
    wait_until(lambda: len(seen) == 3)
    assert seen[2] == ("st.last", "closed")


def test_sync_remove_listener(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        sub = nc.subscribe("st.remove")
        removed: list[str] = []
        kept: list[str] = []
        remove = sub.status_changed(removed.append)
        sub.status_changed(kept.append)
        remove()
        remove()  # twice is harmless
        sub.unsubscribe()
        wait_until(lambda: kept == ["closed"])
        assert removed == []
        with pytest.raises(ValueError, match="unknown subscription status"):
            sub.status_changed(kept.append, "connected")


# ---------------------------------------------------------------- async client


@pytest.mark.anyio
async def test_anyio_slow_consumer_then_active(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("ast.slow", pending_msgs_limit=2)
        seen: list[str] = []
        sub.status_changed(seen.append)
        for _ in range(4):
            await nc.publish("ast.slow", b"x")
        await nc.flush()
        await until(lambda: seen)
        assert seen == ["slow_consumer"]
        assert sub.status == "slow_consumer" and sub.dropped == 2
        await sub.next_msg()
        assert sub.status == "slow_consumer"  # not yet: one still queued
        async for _ in sub:
            break
        await until(lambda: len(seen) == 2)
        assert seen == ["slow_consumer", "active"] and sub.status == "active"


@pytest.mark.anyio
async def test_anyio_callback_slow_consumer_then_active(server: NatsServer) -> None:
    started, release = anyio.Event(), anyio.Event()

    async def cb(msg: nats_anyio.Msg) -> None:
        started.set()
        await release.wait()

    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("ast.cbslow", cb=cb, pending_msgs_limit=2)
        seen: list[str] = []

        async def listener(status: str) -> None:  # an async listener is awaited
            await anyio.sleep(0)
            seen.append(status)

        sub.status_changed(listener)
        await nc.publish("ast.cbslow", b"first")
        await nc.flush()
        with anyio.fail_after(5):
            await started.wait()
        for _ in range(5):
            await nc.publish("ast.cbslow", b"more")
        await nc.flush()
        await until(lambda: seen == ["slow_consumer"])
        assert sub.dropped == 4
        release.set()
        await until(lambda: seen == ["slow_consumer", "active"])
        await until(lambda: sub.pending_msgs == 0)
        assert sub.status == "active"


@pytest.mark.anyio
async def test_anyio_drain_and_filter(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        got: list[bytes] = []
        sub = await nc.subscribe("ast.drain", cb=lambda m: got.append(m.data))
        every: list[str] = []
        closed_only: list[str] = []
        sub.status_changed(every.append)
        sub.status_changed(closed_only.append, "closed")
        await nc.publish("ast.drain", b"a")
        await nc.flush()
        await sub.drain(timeout=5)
        await until(lambda: every == ["draining", "closed"])
        await until(lambda: closed_only == ["closed"])
        assert got == [b"a"] and sub.status == "closed"


@pytest.mark.anyio
async def test_anyio_unsubscribe_auto_unsubscribe_and_close(server: NatsServer) -> None:
    seen: list[tuple[str, str]] = []
    async with nats_anyio.connect(server.url) as nc:
        plain = await nc.subscribe("ast.unsub")
        auto = await nc.subscribe("ast.auto", cb=lambda m: None)
        last = await nc.subscribe("ast.last")
        for sub in (plain, auto, last):
            sub.status_changed(recorder(seen, sub.subject))
        await plain.unsubscribe()
        await until(lambda: seen == [("ast.unsub", "closed")])
        await auto.auto_unsubscribe(2)
        for _ in range(3):
            await nc.publish("ast.auto", b"x")
        await nc.flush()
        # "closed" comes from the reader; the dispatcher may still be running the callbacks
        await until(lambda: len(seen) == 2 and auto.delivered == 2)
        assert seen[1] == ("ast.auto", "closed")
    # the dispatcher runs the callbacks queued before the client closed
    assert seen[2:] == [("ast.last", "closed")]


@pytest.mark.anyio
async def test_anyio_remove_listener(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        sub = await nc.subscribe("ast.remove")
        removed: list[str] = []
        kept: list[str] = []
        remove = sub.status_changed(removed.append)
        sub.status_changed(kept.append)
        remove()
        remove()
        await sub.unsubscribe()
        await until(lambda: kept == ["closed"])
        assert removed == []
        with pytest.raises(ValueError, match="unknown subscription status"):
            sub.status_changed(kept.append, "connected")
