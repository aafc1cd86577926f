"""Service discovery for callers (discover.ping / info / stats) and the service
hooks (endpoint metadata, stats handler, error handler) against a real
nats-server: the blocking client, and the async one on asyncio and Trio.
(The answers' parsing: tests/test_core_micro_discovery.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import nats_anyio
import nats_sync
from nats_core.micro import EndpointStats, ServiceInfo, ServicePing, ServiceStats
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


def test_sync_discovery(server: NatsServer) -> None:
    errors: list[tuple[str, str]] = []

    def on_error(svc: nats_sync.Service, req: nats_sync.Request, exc: Exception) -> None:
        errors.append((svc.name, str(exc)))

    def boom(req: nats_sync.Request) -> None:
        raise RuntimeError("kaput")

    def data(ep: EndpointStats) -> Any:
        return {"seen": ep.num_requests}

    with nats_sync.connect(server.url) as nc, nats_sync.connect(server.url) as caller:
        assert nats_sync.discover.ping(caller, "sdisc", timeout=0.5) == []  # none yet
        svcs = [
            nats_sync.add_service(
                nc,
                "sdisc",
                "1.2.3",
                metadata={"zone": "a"},
                stats_handler=data,
                error_handler=on_error,
            )
            for _ in range(2)
        ]
        for svc in svcs:
            svc.add_endpoint("echo", lambda r: r.respond(r.data), metadata={"kind": "echo"})
            svc.add_endpoint("boom", boom)
        other = nats_sync.add_service(nc, "sother", "0.1.0")
        nc.flush()

        start = time.monotonic()
        pings = nats_sync.discover.ping(caller, "sdisc")
        assert time.monotonic() - start < 1.5  # the stall, not the timeout
        assert all(isinstance(p, ServicePing) for p in pings)
        assert sorted(p.id for p in pings) == sorted(s.id for s in svcs)
        assert {p.metadata["zone"] for p in pings if p.metadata} == {"a"}
        everyone = {p.name for p in nats_sync.discover.ping(caller)}
        assert {"sdisc", "sother"} <= everyone

        (one,) = nats_sync.discover.info(caller, "sdisc", svcs[0].id)
        assert isinstance(one, ServiceInfo) and one.id == svcs[0].id
        eps = {e.name: e for e in one.endpoints or []}
        assert eps["echo"].metadata == {"kind": "echo"}
        assert eps["echo"].queue_group == "q"

        assert caller.request("echo", b"hi").data == b"hi"
        err = caller.request("boom", b"")
        assert err.headers is not None and err.headers.get("Nats-Service-Error-Code") == "500"
        deadline = time.monotonic() + 2
        while not errors and time.monotonic() < deadline:
            time.sleep(0.01)
        assert errors == [("sdisc", "kaput")]

        deadline = time.monotonic() + 2
        while True:  # statistics are recorded after the answer
            stats = nats_sync.discover.stats(caller, "sdisc")
            counts = [
                (e.name, e.num_requests, e.num_errors, e.data)
                for s in stats
                for e in s.endpoints or []
                if e.num_requests
            ]
            if len(counts) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert all(isinstance(s, ServiceStats) for s in stats) and len(stats) == 2
        assert sorted(counts) == [("boom", 1, 1, {"seen": 1}), ("echo", 1, 0, {"seen": 1})]
        for svc in [*svcs, other]:
            svc.stop()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_discovery(server: NatsServer) -> None:
    errors: list[str] = []

    async def on_error(svc: nats_anyio.Service, req: nats_anyio.Request, exc: Exception) -> None:
        errors.append(f"{svc.name}:{req.subject}:{exc}")

    def boom(req: nats_anyio.Request) -> None:
        raise ValueError("nope")

    async with nats_anyio.connect(server.url) as nc, nats_anyio.connect(server.url) as caller:
        assert await nats_anyio.discover.stats(caller, "adisc", timeout=0.5) == []
        svc = await nats_anyio.add_service(nc, "adisc", "2.0.0", error_handler=on_error)
        async with svc:
            await svc.add_endpoint("boom", boom, subject="adisc.boom", metadata={"m": "1"})
            await nc.flush()
            (p,) = await nats_anyio.discover.ping(caller, "adisc")
            assert (p.name, p.id, p.version) == ("adisc", svc.id, "2.0.0")
            (i,) = await nats_anyio.discover.info(caller, "adisc", svc.id)
            assert [(e.subject, e.metadata) for e in i.endpoints or []] == [
                ("adisc.boom", {"m": "1"})
            ]
            await caller.request("adisc.boom", b"")
            for _ in range(200):
                if errors:
                    break
                await nats_anyio.discover.ping(caller, "adisc", svc.id)  # a short wait
            assert errors == ["adisc:adisc.boom:nope"]
            (s,) = await nats_anyio.discover.stats(caller, "adisc", svc.id, timeout=1)
            assert s.started is not None
