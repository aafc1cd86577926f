"""Helpers shared by the async client's tests."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import pytest

import nats_anyio
from js_helpers import SERVER_VERSION, frozen, needs_server, uniq
from nats_anyio import Client, MemoryServer, MemoryServerConnection
from nats_anyio._compat import Future
from pynats.server import NatsServer

__all__ = [
    "SERVER_VERSION",
    "URL",
    "Event",
    "background",
    "frozen",
    "memory_client",
    "needs_server",
    "restart_and_wait",
    "result_within",
    "uniq",
    "wait_until",
]

URL = "nats://memory:4222"


@asynccontextmanager
async def memory_client(
    mem: MemoryServer | None = None, **opts: Any
) -> AsyncIterator[tuple[Client, MemoryServer, MemoryServerConnection]]:
    """A client connected to a scripted in-memory server (handshake done)."""
    mem = mem or MemoryServer()
    accepted: list[MemoryServerConnection] = []

    async def first() -> None:
        conn = await mem.accept()
        accepted.append(conn)
        await conn.handshake()

    opts = {
        "reconnect_time_wait": 0.01,
        "reconnect_jitter": 0,
        "transport_factory": mem.connect,
        **opts,
    }
    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        async with nats_anyio.connect(URL, **opts) as nc:
            yield nc, mem, accepted[0]
        tg.cancel_scope.cancel()


# ------------------------------------------------ async twins of js_helpers' ones
#
# The async JetStream, Key-Value, Object Store and service tests are the source of
# the blocking ones (scripts/unasync.py generates tests/test_js_sync.py and the like,
# turning ``from anyio_helpers import`` into ``from js_helpers import``): the names
# below exist in js_helpers.py too, as blocking functions of the same signature.

T = TypeVar("T")


async def wait_until(cond: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``cond`` (a function; it may be async) until it is true; fail the test
    after ``timeout`` seconds."""
    deadline = anyio.current_time() + timeout
    while True:
        value = cond()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if anyio.current_time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or cond}")
        await anyio.sleep(0.005)


class Event:
    """A flag: ``set()`` from any task; ``await wait(timeout)`` says whether it was
    set in time (as :meth:`threading.Event.wait`)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:
        with anyio.move_on_after(timeout):
            await self._event.wait()
        return self._event.is_set()


@asynccontextmanager
async def background(fn: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Run ``fn()`` as a task for the length of the block; at its end wait for the
    task and raise what ``fn`` raised."""
    errors: list[BaseException] = []

    async def run() -> None:
        try:
            await fn()
        except Exception as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, name="test-background")
        yield
    if errors:
        raise errors[0]


async def result_within(fut: Future[T], timeout: float) -> T:
    """The future's result, waiting up to ``timeout`` seconds (:class:`TimeoutError` after)."""
    return await fut.wait(timeout)


async def restart_and_wait(server: NatsServer, nc: Client) -> None:
    """Restart the server and wait until the client has reconnected: the restart
    blocks the event loop, so a request sent before the client noticed would be
    lost with the old socket (at most once, as in every NATS client)."""
    before = nc.stats.reconnects
    server.restart()
    await wait_until(lambda: nc.stats.reconnects > before and nc.is_connected, 10, "the reconnect")
