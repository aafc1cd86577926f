"""Pytest fixtures that run real nats-server processes (registered as the ``pynats`` plugin).

Fixtures: ``nats_server`` (per test), ``nats_server_js`` (per test, JetStream enabled),
``nats_server_session`` (shared by the whole session) and ``nats_server_factory`` (a callable
taking :class:`~pynats.server.NatsServer` keyword arguments; every server it started is stopped
at teardown, which makes it the tool for clusters) and ``nats_topology`` (a
:class:`~pynats.topology.Topology`: clusters, superclusters and leaf nodes, stopped at teardown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import NatsServer
from .topology import Topology

__all__ = [
    "nats_server",
    "nats_server_factory",
    "nats_server_js",
    "nats_server_session",
    "nats_topology",
]

NatsServerFactory = Callable[..., NatsServer]


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A fresh nats-server for one test."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def nats_server_js() -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream (temporary store) for one test."""
    with NatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(scope="session")
def nats_server_session() -> Iterator[NatsServer]:
    """One nats-server shared by every test in the session."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def nats_server_factory() -> Iterator[NatsServerFactory]:
    """``factory(**kwargs) -> NatsServer``: start servers; all are stopped at teardown."""
    servers: list[NatsServer] = []

    def factory(**kwargs: Any) -> NatsServer:
        server = NatsServer(**kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def nats_topology() -> Iterator[Topology]:
    """A :class:`~pynats.topology.Topology` for one test: ``nats_topology.cluster()``,
    ``.supercluster()``, ``.server()``, ``.leaf(hub)``; every server is stopped at teardown."""
    with Topology() as topology:
        yield topology
