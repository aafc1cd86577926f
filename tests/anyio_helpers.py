"""Helpers shared by the async client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

import nats_anyio
from nats_anyio import Client, MemoryServer, MemoryServerConnection

__all__ = ["URL", "memory_client"]

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
