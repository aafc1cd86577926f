"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import nats_sync
from pynats.server import NatsServer


@pytest.fixture
def nc(nats_server: NatsServer) -> Iterator[nats_sync.Client]:
    """A blocking client connected to the test's own server (closed afterwards)."""
    client = nats_sync.connect(nats_server.url)
    yield client
    client.close()
