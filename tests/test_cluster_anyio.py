"""nats_anyio (asyncio and Trio) against a real 3-node cluster on loopback
(routes): discovery, failover without losing a message, requests across a
failover, and giving up once every server used its reconnect attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

import nats_anyio
from cluster_helpers import start_cluster, wait_meshed
from nats_anyio import Client, Msg, Subscription
from nats_core.errors import ConnectionClosedError, NatsTimeoutError, NoRespondersError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cluster(nats_server_factory: NatsServerFactory) -> list[NatsServer]:
    return start_cluster(nats_server_factory)


async def eventually(cond: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``cond`` until it is true; fail the test after ``timeout`` seconds."""
    with anyio.move_on_after(timeout):
        while not cond():
            await anyio.sleep(0.005)
        return
    pytest.fail(f"timed out after {timeout} s waiting for {what or cond}")


class Events:
    """Connection callbacks, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []

    def options(self) -> dict[str, Any]:
        async def closed() -> None:  # an async callback...
            self.seen.append("closed")

        return {
            "disconnected_cb": lambda: self.seen.append("disconnected"),  # ...and plain ones
            "reconnected_cb": lambda: self.seen.append("reconnected"),
            "closed_cb": closed,
            "error_cb": self.errors.append,
        }


class DialGate:
    """Holds the client's reconnect dials until :meth:`open`: an outage of a known
    length, during which every publish goes to the reconnect buffer."""

    def __init__(self, nc: Client) -> None:
        self.opened = anyio.Event()
        self.dialed: list[str] = []
        dial: Callable[..., Any] = nc._dial

        async def gated(server: Any, *args: Any, **kwargs: Any) -> Any:
            self.dialed.append(server.url)
            await self.opened.wait()
            return await dial(server, *args, **kwargs)

        nc._dial = gated  # type: ignore[method-assign]


class Counter:
    """Receives sequence numbers; remembers duplicates."""

    def __init__(self) -> None:
        self.got: set[int] = set()
        self.dups: list[int] = []

    def __call__(self, msg: Msg) -> None:
        i = int(msg.data)
        if i in self.got:
            self.dups.append(i)
        self.got.add(i)

    async def wait_for(self, expected: set[int]) -> None:
        await eventually(lambda: expected <= self.got, what=f"{len(expected)} messages")


async def publish_range(nc: Client, subject: str, numbers: range) -> None:
    for i in numbers:
        await nc.publish(subject, b"%d" % i)


async def probe_until_delivered(pub: Client, sub: Subscription) -> None:
    """Publish probes until one arrives: the subscription's interest reached ``pub``'s server."""
    with anyio.fail_after(5):
        while True:
            await pub.publish(sub.subject, b"probe")
            await pub.flush(timeout=2)
            try:
                await sub.next_msg(timeout=0.05)
                break
            except NatsTimeoutError:
                pass
    while True:  # drop the extra probes
        try:
            await sub.next_msg(timeout=0.05)
        except NatsTimeoutError:
            return


async def request_until_answered(nc: Client, subject: str) -> None:
    with anyio.fail_after(5):
        while True:
            try:
                await nc.request(subject, b"warm", timeout=0.5)
                return
            except (NoRespondersError, NatsTimeoutError):
                await anyio.sleep(0.01)


# ------------------------------------------------------------------ discovery


async def test_a_client_given_one_url_learns_the_cluster(
    nats_server_factory: NatsServerFactory,
) -> None:
    cluster_ports = [free_port() for _ in range(3)]

    def node(i: int) -> NatsServer:
        routes = [f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i]
        return nats_server_factory(
            server_name=f"n{i}", cluster_name="learn", cluster_port=cluster_ports[i], routes=routes
        )

    a = node(0)
    added: list[list[str]] = []

    async def on_discovered(urls: list[str]) -> None:
        added.append(urls)

    async with nats_anyio.connect(a.url, discovered_servers_cb=on_discovered) as nc:
        assert nc.servers == [a.url]
        b, c = await anyio.to_thread.run_sync(lambda: (node(1), node(2)))
        await eventually(lambda: len(nc.servers) == 3, what="the other two servers")
        assert set(nc.servers) == {a.url, b.url, c.url}
        await eventually(lambda: {u for batch in added for u in batch} == {b.url, c.url})
        assert all(batch for batch in added)

        await anyio.to_thread.run_sync(c.stop)
        await eventually(lambda: c.url not in nc.servers, what=f"{c.url} to leave the pool")
        assert set(nc.servers) == {a.url, b.url}
        assert nc.connected_url == a.url and nc.stats.reconnects == 0


async def test_ignore_discovered_servers(cluster: list[NatsServer]) -> None:
    a = cluster[0]
    added: list[list[str]] = []
    async with nats_anyio.connect(
        a.url, ignore_discovered_servers=True, discovered_servers_cb=added.append
    ) as nc:
        await nc.flush(timeout=2)
        assert nc.server_info is not None and len(nc.server_info.connect_urls) == 3
        assert nc.servers == [a.url]
        assert added == []


# ------------------------------------------------------------------- failover


async def test_failover_loses_no_buffered_or_later_message(cluster: list[NatsServer]) -> None:
    a, b, c = cluster
    ev = Events()
    counter = Counter()
    async with nats_anyio.connect(
        a.url, name="pair", reconnect_time_wait=0.05, **ev.options()
    ) as nc:
        assert set(nc.servers) == {a.url, b.url, c.url}
        sub = await nc.subscribe("seq", cb=counter)
        await publish_range(nc, "seq", range(0, 100))
        await nc.flush(timeout=2)
        await counter.wait_for(set(range(100)))

        gate = DialGate(nc)
        await anyio.to_thread.run_sync(a.stop)  # the server the client is on
        await eventually(lambda: gate.dialed, what="a reconnect attempt")
        assert nc.status == "reconnecting" and not nc.is_connected
        assert ev.seen == ["disconnected"]
        await publish_range(nc, "seq", range(100, 300))  # the outage: all buffered
        assert nc._conn.pending_bytes > 0
        assert not counter.got & set(range(100, 300))
        gate.opened.set()

        await eventually(lambda: "reconnected" in ev.seen, what="the reconnect")
        assert nc.connected_url in (b.url, c.url)
        assert nc.status == "connected"
        assert nc._conn.pending_bytes == 0
        assert nc.stats.reconnects == 1
        await publish_range(nc, "seq", range(300, 400))
        await nc.flush(timeout=2)
        await counter.wait_for(set(range(400)))

        current = nc.connected_url
        assert current is not None
        async with nats_anyio.connect(current, name="other") as other:
            await publish_range(other, "seq", range(400, 500))
            await other.flush(timeout=2)
        await counter.wait_for(set(range(500)))

        await anyio.to_thread.run_sync(a.start)
        await anyio.to_thread.run_sync(wait_meshed, cluster)
        async with nats_anyio.connect(a.url, ignore_discovered_servers=True) as on_a:
            probe = await nc.subscribe("probe.a")
            await nc.flush(timeout=2)
            await probe_until_delivered(on_a, probe)
            await publish_range(on_a, "seq", range(500, 600))
            await on_a.flush(timeout=2)
        await counter.wait_for(set(range(600)))

        assert counter.got == set(range(600))
        assert counter.dups == []
        assert sub.delivered == 600
        assert nc.stats.reconnects == 1
        assert ev.seen == ["disconnected", "reconnected"]
        assert not ev.errors


async def test_requests_across_a_failover(cluster: list[NatsServer]) -> None:
    a, b, _ = cluster
    ev = Events()
    release = anyio.Event()
    held: list[Msg] = []

    async def respond(msg: Msg) -> None:
        if msg.data == b"hold":
            held.append(msg)
            await release.wait()
        await msg.respond(b"re:" + msg.data)

    async with (
        nats_anyio.connect(b.url) as responder,
        nats_anyio.connect(
            [a.url, b.url],
            dont_randomize=True,
            ignore_discovered_servers=True,
            reconnect_time_wait=0.05,
            **ev.options(),
        ) as nc,
    ):
        await responder.subscribe("svc", cb=respond)
        await responder.flush(timeout=2)
        await request_until_answered(nc, "svc")
        results: dict[str, bytes] = {}

        async def ask(what: bytes) -> None:
            results[what.decode()] = (await nc.request("svc", what, timeout=8)).data

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, b"hold")
            await eventually(lambda: held, what="the request to reach the responder")
            gate = DialGate(nc)
            await anyio.to_thread.run_sync(a.stop)
            await eventually(lambda: gate.dialed, what="a reconnect attempt")
            tg.start_soon(ask, b"late")  # made while disconnected
            await eventually(lambda: nc._conn.pending_bytes > 0, what="the buffered request")
            gate.opened.set()
            await eventually(lambda: "reconnected" in ev.seen, what="the reconnect")
            assert nc.connected_url == b.url
            await nc.flush(timeout=2)  # b has the resubscribed inbox
            release.set()
        assert results == {"hold": b"re:hold", "late": b"re:late"}
        assert (await nc.request("svc", b"after", timeout=2)).data == b"re:after"


async def test_a_request_whose_reply_is_lost_waits_for_its_timeout(
    cluster: list[NatsServer],
) -> None:
    a, b, _ = cluster
    ev = Events()
    asked = anyio.Event()
    async with (
        nats_anyio.connect(a.url) as silent,
        nats_anyio.connect(
            [a.url, b.url],
            dont_randomize=True,
            ignore_discovered_servers=True,
            reconnect_time_wait=0.05,
            **ev.options(),
        ) as nc,
    ):
        await silent.subscribe("svc.silent", cb=lambda m: asked.set())
        await silent.flush(timeout=2)
        start = anyio.current_time()

        async def kill_when_asked() -> None:
            await asked.wait()
            await anyio.to_thread.run_sync(a.stop)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_asked)
            with pytest.raises(NatsTimeoutError):
                await nc.request("svc.silent", b"?", timeout=2)
        assert anyio.current_time() - start >= 1.9  # its timeout, not the reconnect
        assert "reconnected" in ev.seen and nc.is_connected


# ---------------------------------------------------------------- giving up


async def test_attempts_are_counted_per_server_then_the_client_closes(
    cluster: list[NatsServer],
) -> None:
    urls = sorted(s.url for s in cluster)
    ev = Events()
    async with nats_anyio.connect(
        urls, reconnect_time_wait=0.02, max_reconnect_attempts=2, **ev.options()
    ) as nc:
        sub = await nc.subscribe("gone")
        gate = DialGate(nc)
        gate.opened.set()  # only counts the dials
        ours_last = sorted(cluster, key=lambda s: s.url == nc.connected_url)
        for s in ours_last:
            await anyio.to_thread.run_sync(s.stop)
        await eventually(lambda: "closed" in ev.seen, timeout=10, what="closed")
        assert sorted(gate.dialed) == sorted(urls * 2)  # 2 per server
        assert nc.status == "closed" and nc.is_closed and not nc.is_reconnecting
        assert ev.seen == ["disconnected", "closed"]
        assert sub.is_closed
        with pytest.raises(ConnectionClosedError):
            await nc.publish("gone", b"x")
        with pytest.raises(ConnectionClosedError):
            await nc.force_reconnect()
