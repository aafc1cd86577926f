"""The system account's monitoring client (SystemClient) against real
nats-servers with a system account: one server, and a 3-node cluster for the
every-server form. The blocking client, and the async one on asyncio and Trio.
(Requests and models: tests/test_core_system.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import nats_anyio
import nats_sync
from nats_core.errors import NatsTimeoutError, NoRespondersError
from nats_core.system import (
    Connz,
    Healthz,
    ServerAPIError,
    ServerAPIResponse,
    Statsz,
    SysServerInfo,
    Varz,
)
from pynats.server import NatsServer
from pynats.topology import Cluster, start_cluster

SYS_CONFIG = """
accounts {
  SYS { users = [{user: sys, password: pw}] }
  APP { users = [{user: app, password: pw}] }
}
system_account: SYS
"""


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(config=SYS_CONFIG) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = start_cluster(3, "sys", config=SYS_CONFIG)
    try:
        _wait_system_account(c)
        yield c
    finally:
        for s in reversed(c.servers):
            s.stop()


def _wait_system_account(c: Cluster) -> None:
    """Routes up is not yet every server answering a system request sent to one
    of them (the system account's interest crosses the routes after): wait for it."""
    deadline = time.monotonic() + 15
    with nats_sync.connect(c[0].url, user="sys", password="pw") as nc:
        sysc = nats_sync.SystemClient(nc, timeout=2, stall=0.5)
        while len(sysc.varz()) < len(c.servers) and time.monotonic() < deadline:
            time.sleep(0.1)


def _ok(results: list[ServerAPIResponse[Varz] | ServerAPIError]) -> list[ServerAPIResponse[Varz]]:
    out = [r for r in results if isinstance(r, ServerAPIResponse)]
    assert len(out) == len(results), results
    return out


def test_sync_one_server(server: NatsServer) -> None:
    with (
        nats_sync.connect(server.url, user="sys", password="pw") as nc,
        nats_sync.connect(server.url, user="app", password="pw") as app,
    ):
        sysc = nats_sync.SystemClient(nc, stall=0.2)
        (varz,) = _ok(sysc.varz())
        assert isinstance(varz.data, Varz) and varz.server.ver
        sid = varz.server.id
        # one server by id: no stall wait
        start = time.monotonic()
        (byid,) = sysc.varz(sid)
        assert isinstance(byid, ServerAPIResponse) and byid.server.id == sid
        assert time.monotonic() - start < 0.2
        (connz,) = sysc.connz(sid, auth=True, subscriptions=True)
        assert isinstance(connz, ServerAPIResponse) and isinstance(connz.data, Connz)
        assert {c.account for c in connz.data.connections or []} >= {"APP"}
        (health,) = sysc.healthz(sid)
        assert isinstance(health, ServerAPIResponse) and isinstance(health.data, Healthz)
        assert health.data.ok
        (statsz,) = sysc.statsz(sid)
        assert isinstance(statsz, ServerAPIResponse) and isinstance(statsz.data, Statsz)
        assert statsz.data.connections >= 2
        (idz,) = sysc.idz()
        assert isinstance(idz, ServerAPIResponse) and isinstance(idz.data, SysServerInfo)
        assert idz.data.id == sid
        for kind in ("routez", "gatewayz", "leafz", "subsz", "jsz", "accountz"):
            (res,) = getattr(sysc, kind)(sid)
            assert isinstance(res, ServerAPIResponse), (kind, res)
        (gz,) = sysc.request("subsz", sid, gzip=True, subscriptions=True)
        assert isinstance(gz, ServerAPIResponse)
        # a server error is one item of the answers, not an exception
        (err,) = sysc.connz(sid, sort="stop")
        assert isinstance(err, ServerAPIError) and err.code == 500 and err.server is not None
        # nobody answers an unknown id; a user outside the system account has no server
        with pytest.raises(NoRespondersError):
            sysc.varz("NOSUCHSERVER")
        with pytest.raises(NoRespondersError):
            nats_sync.SystemClient(app).varz()


def test_sync_cluster(cluster: Cluster) -> None:
    with nats_sync.connect(cluster[0].url, user="sys", password="pw") as nc:
        sysc = nats_sync.SystemClient(nc, timeout=5, stall=1.0)
        answers = _ok(sysc.varz())
        assert sorted(a.server.name for a in answers) == ["sys-0", "sys-1", "sys-2"]
        assert all(a.server.cluster == "sys" for a in answers)
        # the filters pick servers; one server by the id another one told
        (one,) = sysc.routez(server_name="sys-2", exact_match=True)
        assert isinstance(one, ServerAPIResponse) and one.server.name == "sys-2"
        assert len(one.data.routes or []) >= 2
        far = next(a.server.id for a in answers if a.server.name == "sys-1")
        (st,) = sysc.statsz(far)
        assert isinstance(st, ServerAPIResponse) and st.server.name == "sys-1"
        assert len(sysc.healthz()) == 3


def test_sync_one_server_timeout(server: NatsServer) -> None:
    with nats_sync.connect(server.url, user="sys", password="pw") as nc:
        # a subscriber on the id subject that never answers
        nc.subscribe("$SYS.REQ.SERVER.SILENT.VARZ")
        nc.flush()
        with pytest.raises(NatsTimeoutError):
            nats_sync.SystemClient(nc).varz("SILENT", timeout=0.2)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_system(cluster: Cluster) -> None:
    async with nats_anyio.connect(cluster[1].url, user="sys", password="pw") as nc:
        sysc = nats_anyio.SystemClient(nc, timeout=5, stall=1.0)
        answers = _ok(await sysc.varz())
        assert sorted(a.server.name for a in answers) == ["sys-0", "sys-1", "sys-2"]
        sid = answers[0].server.id
        (connz,) = await sysc.connz(sid, limit=5)
        assert isinstance(connz, ServerAPIResponse) and connz.data.limit == 5
        (err,) = await sysc.connz(sid, sort="reason")
        assert isinstance(err, ServerAPIError)
        with pytest.raises(NoRespondersError):
            await sysc.idz("NOSUCHSERVER")
