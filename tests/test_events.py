"""Lifecycle as data (#15): ``nc.events()`` in both clients, against real
nats-servers: connected (and ``connected_cb`` for a ``retry_on_failed_connect``
client), disconnected / reconnected (to which server), servers discovered, lame
duck, slow consumer, error, closed (the end); a bounded queue that reports its
drops; several readers; ``with`` / ``async with`` unregisters."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core import (
    ClientOptions,
    ClosedEvent,
    ConnectedEvent,
    DisconnectedEvent,
    ErrorEvent,
    EventQueue,
    EventsDropped,
    LameDuckEvent,
    LifecycleEvent,
    ReconnectedEvent,
    ServersDiscoveredEvent,
    SlowConsumerEvent,
)
from nats_core.errors import ConnectionClosedError, NatsTimeoutError, SlowConsumerError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from sync_helpers import wait_until

LDM_CONFIG = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "100ms"'


def _has_option(name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(ClientOptions))


#: connected_cb / token_file are ClientOptions fields once nats_core.typed_options
#: has their keys (tests/test_typed_config.py keeps the two in step).
needs_option = pytest.mark.skipif(
    not _has_option("connected_cb"), reason="connected_cb is not a ClientOptions field yet"
)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Boom(Exception):
    pass


def boom(msg: Any) -> None:
    raise Boom(msg.data.decode())


def until_type(events: nats_sync.Events, kind: type[LifecycleEvent]) -> LifecycleEvent:
    """The next event of type ``kind`` (others are skipped)."""
    while True:
        ev = events.next_event(timeout=5)
        if isinstance(ev, kind):
            return ev


async def auntil_type(events: nats_anyio.Events, kind: type[LifecycleEvent]) -> LifecycleEvent:
    while True:
        ev = await events.next_event(timeout=5)
        if isinstance(ev, kind):
            return ev


async def until(cond: Callable[[], object], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.005)


# ------------------------------------------------------------- the core's queue


def test_queue_drops_the_oldest_and_says_so_first() -> None:
    q = EventQueue(2)
    for i in range(5):
        q.put(ErrorEvent(Boom(str(i))))
    assert len(q) == 3  # two kept, and the drop report
    first = q.get()
    assert first == EventsDropped(3)
    kept = [q.get(), q.get()]
    assert [str(e.error) for e in kept if isinstance(e, ErrorEvent)] == ["3", "4"]
    assert q.get() is None
    q.put(ClosedEvent())
    q.put(ErrorEvent(Boom("late")))  # nothing after closed
    assert q.get() == ClosedEvent() and q.ended and q.get() is None
    with pytest.raises(ValueError):
        EventQueue(0)


def test_events_are_frozen_dataclasses() -> None:
    ev = ReconnectedEvent("nats://127.0.0.1:4222", "n1")
    with pytest.raises(AttributeError):
        ev.url = "x"  # type: ignore[misc]
    assert ev == ReconnectedEvent("nats://127.0.0.1:4222", "n1")
    assert isinstance(ev, LifecycleEvent)


# ------------------------------------------------------------- blocking client


def test_sync_lifecycle(server: NatsServer) -> None:
    """force_reconnect, a slow consumer, a failing callback, close: each is told,
    in order, and the iteration ends after closed."""
    errors: list[BaseException] = []
    nc = nats_sync.connect(server.url, reconnect_time_wait=0.05, error_cb=errors.append)
    with nc.events() as events:
        nc.force_reconnect()
        d = events.next_event(timeout=5)
        assert d == DisconnectedEvent(server.url, None)
        r = events.next_event(timeout=5)
        assert isinstance(r, ReconnectedEvent) and r.url == server.url
        assert r.server_name == nc.connected_server_name

        sub = nc.subscribe("ev.slow", pending_msgs_limit=1)
        for _ in range(3):
            nc.publish("ev.slow", b"x")
        nc.flush()
        slow = events.next_event(timeout=5)
        assert isinstance(slow, SlowConsumerEvent)
        assert (slow.sid, slow.subject, slow.dropped) == (sub.sid, "ev.slow", 2)
        assert isinstance(slow.error, SlowConsumerError)

        nc.subscribe("ev.boom", cb=boom)
        nc.publish("ev.boom", b"bad")
        err = events.next_event(timeout=5)
        assert isinstance(err, ErrorEvent) and isinstance(err.error, Boom)

        with pytest.raises(NatsTimeoutError):
            events.next_event(timeout=0.05)
        nc.close()
        assert list(events) == [ClosedEvent()]
        with pytest.raises(ConnectionClosedError):
            events.next_event(timeout=1)
    assert nc._event_readers == []


def test_sync_bounded_queue_reports_drops(server: NatsServer) -> None:
    seen: list[BaseException] = []
    nc = nats_sync.connect(server.url, error_cb=seen.append)
    events = nc.events(max_size=2)
    nc.subscribe("ev.many", cb=boom)
    for i in range(5):
        nc.publish("ev.many", b"%d" % i)
    nc.flush()
    wait_until(lambda: len(seen) == 5, what="five errors")
    nc.close()
    got = list(events)  # not read until now: 5 errors + closed into a queue of 2
    assert got[0] == EventsDropped(4)
    assert isinstance(got[1], ErrorEvent) and str(got[1].error) == "4"
    assert got[2:] == [ClosedEvent()]
    assert nc._event_readers == []  # ended: unregistered


def test_sync_several_readers(server: NatsServer) -> None:
    with nats_sync.connect(server.url, reconnect_time_wait=0.05) as nc:
        a, b = nc.events(), nc.events()
        got: list[LifecycleEvent] = []
        t = threading.Thread(target=lambda: got.extend(a))  # blocks until closed
        t.start()
        with b:
            nc.force_reconnect()
            assert isinstance(b.next_event(timeout=5), DisconnectedEvent)
        assert b not in nc._event_readers and a in nc._event_readers
        wait_until(lambda: nc.is_connected, what="reconnected")
    t.join(5)
    assert [type(e) for e in got] == [DisconnectedEvent, ReconnectedEvent, ClosedEvent]
    late = nc.events()  # opened on a closed client: closed at once
    assert list(late) == [ClosedEvent()]


@needs_option
def test_sync_connected_cb_with_retry_on_failed_connect(
    nats_server_factory: NatsServerFactory,
) -> None:
    port = free_port()
    connected, reconnected = threading.Event(), threading.Event()
    calls: list[str] = []

    def on_connect() -> None:
        calls.append("connected")
        connected.set()

    nc = nats_sync.connect(
        f"nats://127.0.0.1:{port}",
        retry_on_failed_connect=True,
        reconnect_time_wait=0.05,
        connected_cb=on_connect,
        reconnected_cb=reconnected.set,
    )
    try:
        with nc.events() as events:
            assert not nc.is_connected
            srv = nats_server_factory(port=port)
            assert connected.wait(5)
            ev = until_type(events, ConnectedEvent)
            assert isinstance(ev, ConnectedEvent) and ev.url == srv.url
            assert calls == ["connected"] and not reconnected.is_set()
    finally:
        nc.close()
    # a plain first connection calls it too (as nats.go's ConnectHandler)
    done = threading.Event()
    with nats_sync.connect(srv.url, connected_cb=done.set):
        assert done.wait(5)


def test_sync_discovered_and_lame_duck(nats_server_factory: NatsServerFactory) -> None:
    if not hasattr(signal, "SIGUSR2"):
        pytest.skip("needs POSIX signals")
    a = nats_server_factory(cluster_name="ev", server_name="a", config=LDM_CONFIG)
    assert a.cluster_url is not None
    with nats_sync.connect(a.url, reconnect_time_wait=0.05) as nc, nc.events() as events:
        b = nats_server_factory(cluster_name="ev", server_name="b", routes=[a.cluster_url])
        found = until_type(events, ServersDiscoveredEvent)
        assert isinstance(found, ServersDiscoveredEvent)
        assert any(str(b.port) in u for u in found.urls), found
        assert a.pid is not None
        os.kill(a.pid, signal.SIGUSR2)  # lame duck mode
        ldm = until_type(events, LameDuckEvent)
        assert ldm == LameDuckEvent(a.url)


# ---------------------------------------------------------------- async client


@pytest.mark.anyio
async def test_anyio_lifecycle(server: NatsServer) -> None:
    errors: list[BaseException] = []
    async with nats_anyio.connect(
        server.url, reconnect_time_wait=0.05, error_cb=errors.append
    ) as nc:
        async with nc.events() as events:
            await nc.force_reconnect()
            assert await events.next_event(timeout=5) == DisconnectedEvent(server.url, None)
            r = await events.next_event(timeout=5)
            assert isinstance(r, ReconnectedEvent) and r.url == server.url

            sub = await nc.subscribe("ev.slow", pending_msgs_limit=1)
            for _ in range(3):
                await nc.publish("ev.slow", b"x")
            await nc.flush()
            slow = await events.next_event(timeout=5)
            assert isinstance(slow, SlowConsumerEvent)
            assert (slow.sid, slow.subject, slow.dropped) == (sub.sid, "ev.slow", 2)

            await nc.subscribe("ev.boom", cb=boom)
            await nc.publish("ev.boom", b"bad")
            err = await events.next_event(timeout=5)
            assert isinstance(err, ErrorEvent) and isinstance(err.error, Boom)

            with pytest.raises(NatsTimeoutError):
                await events.next_event(timeout=0.05)
            await nc.close()
            assert [e async for e in events] == [ClosedEvent()]
            with pytest.raises(ConnectionClosedError):
                await events.next_event(timeout=1)
        assert nc._event_readers == []


@pytest.mark.anyio
async def test_anyio_bounded_queue_reports_drops(server: NatsServer) -> None:
    seen: list[BaseException] = []
    async with nats_anyio.connect(server.url, error_cb=seen.append) as nc:
        events = nc.events(max_size=2)
        await nc.subscribe("ev.many", cb=boom)
        for i in range(5):
            await nc.publish("ev.many", b"%d" % i)
        await nc.flush()
        await until(lambda: len(seen) == 5)
    got = [e async for e in events]
    assert got[0] == EventsDropped(4)
    assert isinstance(got[1], ErrorEvent) and str(got[1].error) == "4"
    assert got[2:] == [ClosedEvent()]
    assert nc._event_readers == []


@pytest.mark.anyio
async def test_anyio_several_readers(server: NatsServer) -> None:
    got: list[LifecycleEvent] = []

    async def read_all(events: nats_anyio.Events) -> None:
        got.extend([e async for e in events])

    async with (
        anyio.create_task_group() as tg,  # the reader outlives the client
        nats_anyio.connect(server.url, reconnect_time_wait=0.05) as nc,
    ):
        a = nc.events()
        tg.start_soon(read_all, a)
        async with nc.events() as b:
            await nc.force_reconnect()
            assert isinstance(await b.next_event(timeout=5), DisconnectedEvent)
        assert b not in nc._event_readers and a in nc._event_readers
        await until(lambda: nc.is_connected)
    assert [type(e) for e in got] == [DisconnectedEvent, ReconnectedEvent, ClosedEvent]
    assert [e async for e in nc.events()] == [ClosedEvent()]


@needs_option
@pytest.mark.anyio
async def test_anyio_connected_cb_with_retry_on_failed_connect(
    nats_server_factory: NatsServerFactory,
) -> None:
    port = free_port()
    calls: list[str] = []

    async def on_connect() -> None:  # async callbacks are awaited
        calls.append("connected")

    async with (
        nats_anyio.connect(
            f"nats://127.0.0.1:{port}",
            retry_on_failed_connect=True,
            reconnect_time_wait=0.05,
            connected_cb=on_connect,
            reconnected_cb=lambda: calls.append("reconnected"),
        ) as nc,
        nc.events() as events,
    ):
        assert not nc.is_connected
        srv = await anyio.to_thread.run_sync(lambda: nats_server_factory(port=port))
        ev = await auntil_type(events, ConnectedEvent)
        assert ev == ConnectedEvent(srv.url, nc.connected_server_name)
        await until(lambda: calls)
        assert calls == ["connected"]


@pytest.mark.anyio
async def test_anyio_discovered_and_lame_duck(nats_server_factory: NatsServerFactory) -> None:
    if not hasattr(signal, "SIGUSR2"):
        pytest.skip("needs POSIX signals")
    a = nats_server_factory(cluster_name="ev", server_name="a", config=LDM_CONFIG)
    assert a.cluster_url is not None and a.pid is not None
    async with nats_anyio.connect(a.url, reconnect_time_wait=0.05) as nc, nc.events() as events:
        b = await anyio.to_thread.run_sync(
            lambda: nats_server_factory(cluster_name="ev", server_name="b", routes=[a.cluster_url])
        )
        found = await auntil_type(events, ServersDiscoveredEvent)
        assert isinstance(found, ServersDiscoveredEvent)
        assert any(str(b.port) in u for u in found.urls), found
        os.kill(a.pid, signal.SIGUSR2)
        assert await auntil_type(events, LameDuckEvent) == LameDuckEvent(a.url)
