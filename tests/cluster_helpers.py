"""Helpers of the cluster tests: a full-mesh cluster of real nats-servers on
loopback and a check that its routes are up (both from :mod:`pynats.topology`)."""

from __future__ import annotations

from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer
from pynats.topology import advertised_ports, server_info
from pynats.topology import start_cluster as _start_cluster
from pynats.topology import wait_meshed as _wait_meshed

__all__ = ["advertised", "server_info", "start_cluster", "wait_meshed"]


def advertised(server: NatsServer) -> set[int]:
    """Ports of the servers ``server`` advertises to clients (``connect_urls``)."""
    return advertised_ports(server)


def wait_meshed(servers: list[NatsServer], timeout: float = 10.0) -> None:
    """Wait until every server advertises every other: the routes are up."""
    _wait_meshed(servers, timeout)


def start_cluster(factory: NatsServerFactory, n: int = 3, name: str = "pynats") -> list[NatsServer]:
    """``n`` servers on loopback (``<name>-0``...), each routed to the ones before it, meshed."""
    return list(_start_cluster(n, name, factory=factory))
