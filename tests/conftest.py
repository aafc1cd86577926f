"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import nats_anyio
import nats_sync
from pynats.server import NatsServer


@pytest.fixture
def nc(nats_server: NatsServer) -> Iterator[nats_sync.Client]:
    """A blocking client connected to the test's own server (closed afterwards)."""
    client = nats_sync.connect(nats_server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def js_server() -> Iterator[NatsServer]:
    """One JetStream server for a module; its tests use buckets and streams of their own."""
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
async def ajs(js_server: NatsServer) -> AsyncIterator[nats_anyio.JetStream]:
    """The async client's JetStream on ``js_server`` (5 s API timeout)."""
    async with nats_anyio.connect(js_server.url) as nc:
        yield nc.jetstream(timeout=5.0)


@pytest.fixture
def sjs(js_server: NatsServer) -> Iterator[nats_sync.JetStream]:
    """The blocking client's JetStream on ``js_server`` (5 s API timeout)."""
    with nats_sync.connect(js_server.url) as nc:
        yield nc.jetstream(timeout=5.0)
