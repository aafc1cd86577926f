"""Helpers of the cluster tests: a full-mesh cluster of real nats-servers on
loopback, a check that its routes are up, and polling with a deadline."""

from __future__ import annotations

import json
import socket

from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, NatsServerError, free_port
from sync_helpers import wait_until


def server_info(server: NatsServer) -> dict[str, object]:
    """The INFO a server greets a new client with (read over a raw socket)."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0]
    assert line.startswith(b"INFO "), line
    info: dict[str, object] = json.loads(line[5:])
    return info


def advertised(server: NatsServer) -> set[int]:
    """Ports of the servers ``server`` advertises to clients (``connect_urls``)."""
    urls = server_info(server).get("connect_urls") or []
    assert isinstance(urls, list)
    return {int(str(u).rsplit(":", 1)[1]) for u in urls}


def wait_meshed(servers: list[NatsServer], timeout: float = 10.0) -> None:
    """Wait until every server advertises every other: the routes are up."""
    ports = {s.port for s in servers}
    wait_until(
        lambda: all(advertised(s) == ports for s in servers),
        timeout,
        what=f"a full mesh of {sorted(ports)}",
    )


def start_cluster(factory: NatsServerFactory, n: int = 3, name: str = "pynats") -> list[NatsServer]:
    """``n`` servers on loopback, each routed to all the others, meshed.

    The route ports are chosen before any server starts, so the first servers'
    outgoing route connections can take one of them as their own (ephemeral)
    port; then the whole cluster starts again on new ports.
    """
    for attempt in range(3):
        cluster_ports = [free_port() for _ in range(n)]
        servers: list[NatsServer] = []
        try:
            for i in range(n):
                routes = [f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i]
                servers.append(
                    factory(
                        server_name=f"n{i}",
                        cluster_name=name,
                        cluster_port=cluster_ports[i],
                        routes=routes,
                    )
                )
        except NatsServerError as e:
            for s in servers:
                s.stop()
            if "address already in use" not in str(e) or attempt == 2:
                raise
            continue
        wait_meshed(servers)
        return servers
    raise AssertionError("unreachable")
