"""Start NATS topologies beyond one server on loopback: clusters (routes), superclusters
(clusters joined by gateways) and leaf nodes, for tests and local development.

Every starter returns once the topology is connected (routes meshed, gateways up, leaf
node connections made and their interest exchanged), or raises :class:`TopologyTimeoutError`.
Servers are started through a *factory*, ``factory(**NatsServer kwargs) -> started
NatsServer``: the default starts a plain :class:`~pynats.server.NatsServer`; the pytest
plugin's ``nats_server_factory`` (or a :class:`Topology`) also stops them all at the end.

>>> with Topology() as topo:                                  # doctest: +SKIP
...     east, west = topo.supercluster(["east", "west"], size=3)
...     hub = topo.server(jetstream_domain="hub", accept_leafnodes=True, monitor=True)
...     leaf = topo.leaf(hub, jetstream_domain="leaf")
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self, overload

from .server import NatsServer, NatsServerError

__all__ = [
    "Cluster",
    "ServerFactory",
    "Supercluster",
    "Topology",
    "TopologyTimeoutError",
    "advertised_ports",
    "server_info",
    "start_cluster",
    "start_leaf",
    "start_supercluster",
    "wait_gateways",
    "wait_leafnode",
    "wait_meshed",
]

ServerFactory = Callable[..., NatsServer]
"""``factory(**kwargs) -> NatsServer``: build a server from NatsServer kwargs and start it."""


class TopologyTimeoutError(NatsServerError, TimeoutError):
    """The servers started but did not connect to each other in time."""


def _start_server(**kwargs: Any) -> NatsServer:
    return NatsServer(**kwargs).start()


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if cond():
                return
        except OSError:  # a port not answering yet, or a monitoring request that failed
            pass
        if time.monotonic() > deadline:
            raise TopologyTimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


# ----------------------------------------------------------------- probes


def server_info(server: NatsServer, timeout: float = 2.0) -> dict[str, Any]:
    """The INFO ``server`` greets a new client with (read over a raw socket)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        raise NatsServerError(f"{server.url} did not greet with INFO: {line[:80]!r}")
    info: dict[str, Any] = json.loads(line[5:])
    return info


def advertised_ports(server: NatsServer) -> set[int]:
    """Client ports of the servers ``server`` advertises to clients (``connect_urls``)."""
    urls = server_info(server).get("connect_urls") or []
    return {int(str(u).rsplit(":", 1)[1]) for u in urls}


def wait_meshed(servers: Sequence[NatsServer], timeout: float = 10.0) -> None:
    """Wait until every server of one cluster advertises every other: the routes are up."""
    ports = {s.port for s in servers}
    if len(ports) < 2:
        return
    _wait(
        lambda: all(advertised_ports(s) == ports for s in servers),
        timeout,
        f"a full mesh of the servers on ports {sorted(ports)}",
    )


def _monitored(server: NatsServer, why: str) -> NatsServer:
    if server.monitor_url is None:
        raise ValueError(f"{why} needs monitoring: start {server.url} with monitor=True")
    return server


def wait_gateways(clusters: Sequence[Sequence[NatsServer]], timeout: float = 10.0) -> None:
    """Wait until every server of every cluster has its outbound gateway to every other
    cluster (read from ``/gatewayz``; the servers need ``monitor=True``)."""
    wanted: list[tuple[NatsServer, str]] = []
    for cluster in clusters:
        for server in cluster:
            _monitored(server, "wait_gateways")
            if server.gateway_name is None:
                raise ValueError(f"{server.url} has no gateway: give it a gateway_name")
            wanted.append((server, server.gateway_name))
    names = {name for _, name in wanted}

    def connected() -> bool:
        for server, name in wanted:
            outbound = server.monitoring("gatewayz").get("outbound_gateways") or {}
            if not names - {name} <= set(outbound):
                return False
        return True

    _wait(connected, timeout, f"the gateways between {sorted(names)}")


def _leaf_interest(server: NatsServer) -> tuple[list[dict[str, Any]], set[str]]:
    leafz = server.monitoring("leafz", subs=True)
    conns: list[dict[str, Any]] = leafz.get("leafs") or []
    subs = {s for conn in conns for s in conn.get("subscriptions_list") or []}
    return conns, subs


def wait_leafnode(
    hub: NatsServer | Sequence[NatsServer], leaf: NatsServer, timeout: float = 10.0
) -> None:
    """Wait until ``leaf`` is connected to (one server of) ``hub``, and, where either side
    has a JetStream domain, until the other side has learned that domain's API subjects.

    ``leaf`` needs ``monitor=True``; the hub side is checked too when its servers have it.
    """
    _monitored(leaf, "wait_leafnode")
    hubs = [hub] if isinstance(hub, NatsServer) else list(hub)
    hub_domains = {s.jetstream_domain for s in hubs} - {None}

    def connected() -> bool:
        conns, subs = _leaf_interest(leaf)  # what the hub is interested in, seen by the leaf
        if not conns or any(f"$JS.{d}.API.INFO" not in subs for d in hub_domains):
            return False
        watched = [s for s in hubs if s.monitor_url is not None]
        if not watched:
            return True
        seen = [_leaf_interest(s) for s in watched]
        if leaf.server_name is not None and not any(
            c.get("name") == leaf.server_name for conns, _ in seen for c in conns
        ):
            return False
        domain = leaf.jetstream_domain
        return domain is None or any(f"$JS.{domain}.API.INFO" in subs for _, subs in seen)

    _wait(connected, timeout, f"leaf node {leaf.url} to connect to {[s.url for s in hubs]}")


# --------------------------------------------------------------- topologies


class Cluster(Sequence[NatsServer]):
    """The servers of one cluster, in start order; a sequence of
    :class:`~pynats.server.NatsServer`."""

    def __init__(self, name: str, servers: Sequence[NatsServer]) -> None:
        self.name = name
        self.servers = list(servers)

    def __repr__(self) -> str:
        return f"<Cluster {self.name!r} {self.urls}>"

    @overload
    def __getitem__(self, index: int) -> NatsServer: ...
    @overload
    def __getitem__(self, index: slice) -> list[NatsServer]: ...
    def __getitem__(self, index: int | slice) -> NatsServer | list[NatsServer]:
        return self.servers[index]

    def __len__(self) -> int:
        return len(self.servers)

    def __iter__(self) -> Iterator[NatsServer]:
        return iter(self.servers)

    @property
    def urls(self) -> list[str]:
        """Client URLs of the servers (for a client's server pool)."""
        return [s.url for s in self.servers]

    @property
    def gateway_urls(self) -> list[str]:
        """Gateway URLs of the servers (empty when the cluster has no gateway)."""
        return [s.gateway_url for s in self.servers if s.gateway_url is not None]

    @property
    def leafnode_urls(self) -> list[str]:
        """Leaf node URLs of the servers (empty unless they accept leaf nodes)."""
        return [s.leafnode_url for s in self.servers if s.leafnode_url is not None]

    def stop(self) -> None:
        """Stop every server of the cluster."""
        for server in reversed(self.servers):
            server.stop()


class Supercluster(Sequence[Cluster]):
    """Clusters joined by gateways; index by position or by cluster name."""

    def __init__(self, clusters: Sequence[Cluster]) -> None:
        self.clusters = list(clusters)

    def __repr__(self) -> str:
        return f"<Supercluster {[c.name for c in self.clusters]}>"

    @overload
    def __getitem__(self, index: int | str) -> Cluster: ...
    @overload
    def __getitem__(self, index: slice) -> list[Cluster]: ...
    def __getitem__(self, index: int | str | slice) -> Cluster | list[Cluster]:
        if isinstance(index, str):
            for cluster in self.clusters:
                if cluster.name == index:
                    return cluster
            raise KeyError(index)
        return self.clusters[index]

    def __len__(self) -> int:
        return len(self.clusters)

    def __iter__(self) -> Iterator[Cluster]:
        return iter(self.clusters)

    @property
    def servers(self) -> list[NatsServer]:
        """Every server of every cluster."""
        return [s for c in self.clusters for s in c]

    def stop(self) -> None:
        """Stop every server."""
        for cluster in reversed(self.clusters):
            cluster.stop()


def start_cluster(
    size: int = 3,
    name: str = "pynats",
    *,
    factory: ServerFactory | None = None,
    timeout: float = 10.0,
    **server_kwargs: Any,
) -> Cluster:
    """Start ``size`` servers named ``<name>-0``... in cluster ``name`` and wait for the mesh.

    Each server routes to the ones started before it, so every pair has a configured route
    (a restarted server is found again) and no route port is chosen before it is bound.
    ``server_kwargs`` go to every server (``jetstream=True``, ``gateways=...``,
    ``monitor=True``...). On failure the servers already started are stopped.
    """
    if size < 1:
        raise ValueError(f"a cluster needs at least one server, not {size}")
    start = factory or _start_server
    servers: list[NatsServer] = []
    try:
        for i in range(size):
            routes = [s.cluster_url for s in servers if s.cluster_url is not None]
            servers.append(
                start(server_name=f"{name}-{i}", cluster_name=name, routes=routes, **server_kwargs)
            )
        wait_meshed(servers, timeout)
    except BaseException:
        for server in reversed(servers):
            server.stop()
        raise
    return Cluster(name, servers)


def start_supercluster(
    names: Sequence[str] = ("A", "B"),
    size: int = 3,
    *,
    factory: ServerFactory | None = None,
    timeout: float = 10.0,
    **server_kwargs: Any,
) -> Supercluster:
    """Start one cluster of ``size`` servers per name, join them with gateways and wait
    until every server has a gateway to every other cluster.

    Cluster *k* lists the gateways of the clusters before it; those learn of it when it
    connects. Monitoring is on (``monitor=True``) unless ``server_kwargs`` says otherwise
    (readiness is read from ``/gatewayz``). On failure every server started is stopped.
    """
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"a supercluster needs two or more distinct cluster names: {names!r}")
    server_kwargs.setdefault("monitor", True)
    clusters: list[Cluster] = []
    try:
        for name in names:
            gateways = {c.name: c.gateway_urls for c in clusters}
            clusters.append(
                start_cluster(
                    size,
                    name,
                    factory=factory,
                    timeout=timeout,
                    gateway_name=name,
                    gateways=gateways,
                    **server_kwargs,
                )
            )
        wait_gateways(clusters, timeout)
    except BaseException:
        for cluster in reversed(clusters):
            cluster.stop()
        raise
    return Supercluster(clusters)


def start_leaf(
    hub: NatsServer | Sequence[NatsServer],
    *,
    factory: ServerFactory | None = None,
    timeout: float = 10.0,
    **server_kwargs: Any,
) -> NatsServer:
    """Start a server that is a leaf node of ``hub`` (a server or a cluster accepting leaf
    nodes: ``accept_leafnodes=True``) and wait until the connection is up.

    ``server_kwargs`` go to the leaf (``jetstream_domain="leaf"``, ``server_name``...);
    monitoring is on unless they say otherwise. With JetStream domains, the wait lasts
    until each side has learned the other's API subjects, so ``nc.jetstream(domain=...)``
    works at once.
    """
    hubs = [hub] if isinstance(hub, NatsServer) else list(hub)
    urls = [s.leafnode_url for s in hubs if s.leafnode_url is not None]
    if not urls:
        raise ValueError("the hub accepts no leaf nodes: start it with accept_leafnodes=True")
    server_kwargs.setdefault("monitor", True)
    remotes = [*(server_kwargs.pop("leafnode_remotes", None) or ()), urls]
    leaf = (factory or _start_server)(leafnode_remotes=remotes, **server_kwargs)
    try:
        wait_leafnode(hubs, leaf, timeout)
    except BaseException:
        leaf.stop()
        raise
    return leaf


class Topology:
    """Start servers, clusters, superclusters and leaf nodes; :meth:`stop` (or leaving the
    ``with`` block) stops every server started through it, newest first.

    ``defaults`` are NatsServer kwargs given to every server (for instance ``binary=``).
    The pytest plugin's ``nats_topology`` fixture is one of these, stopped after the test.
    """

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.servers: list[NatsServer] = []

    def server(self, **kwargs: Any) -> NatsServer:
        """Start one :class:`~pynats.server.NatsServer` (``defaults`` updated by ``kwargs``)."""
        server = NatsServer(**{**self.defaults, **kwargs})
        self.servers.append(server)
        return server.start()

    def cluster(self, size: int = 3, name: str = "pynats", **kwargs: Any) -> Cluster:
        """:func:`start_cluster` through this topology."""
        return start_cluster(size, name, factory=self.server, **kwargs)

    def supercluster(
        self, names: Sequence[str] = ("A", "B"), size: int = 3, **kwargs: Any
    ) -> Supercluster:
        """:func:`start_supercluster` through this topology."""
        return start_supercluster(names, size, factory=self.server, **kwargs)

    def leaf(self, hub: NatsServer | Sequence[NatsServer], **kwargs: Any) -> NatsServer:
        """:func:`start_leaf` through this topology."""
        return start_leaf(hub, factory=self.server, **kwargs)

    def stop(self) -> None:
        """Stop every server started through this topology."""
        while self.servers:
            self.servers.pop().stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
