"""Topologies beyond one cluster, on real nats-servers on loopback (pynats.topology):
two 3-node clusters joined by gateways (a supercluster), and a leaf node with its own
JetStream domain connected to a hub with another. Both clients: blocking, and anyio on
asyncio and Trio."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core.errors import NatsTimeoutError, NoRespondersError
from pynats.server import NatsServer
from pynats.topology import Cluster, Supercluster, Topology, start_leaf
from sync_helpers import wait_until


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def supercluster() -> Iterator[Supercluster]:
    """Clusters ``east`` and ``west``, 3 servers each, joined by gateways; shared by the
    tests that stop no server (each uses subjects of its own)."""
    with Topology() as topo:
        yield topo.supercluster(["east", "west"], size=3)


@pytest.fixture(scope="module")
def hub_and_leaf() -> Iterator[tuple[NatsServer, NatsServer]]:
    """A hub (JetStream domain ``hub``) and its leaf node (JetStream domain ``leaf``)."""
    with Topology() as topo:
        hub = topo.server(
            server_name="hub", jetstream_domain="hub", accept_leafnodes=True, monitor=True
        )
        yield hub, topo.leaf(hub, server_name="leaf", jetstream_domain="leaf")


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def short_id() -> str:
    return uuid.uuid4().hex[:8].upper()


async def eventually(cond: Callable[[], Any], timeout: float = 5.0, what: str = "") -> None:
    """Await ``cond()`` (a coroutine function) until it is true; fail after ``timeout`` s."""
    with anyio.move_on_after(timeout):
        while not await cond():
            await anyio.sleep(0.01)
        return
    pytest.fail(f"timed out after {timeout} s waiting for {what or cond}")


# ------------------------------------------------------------ the config we write


def test_gateway_leafnode_domain_and_monitor_options_are_written_to_the_config() -> None:
    srv = NatsServer(
        cluster_name="east",
        gateways={"west": ["nats://127.0.0.1:7222"]},
        accept_leafnodes=True,
        leafnode_remotes=["nats-leaf://127.0.0.1:7422", ["nats://127.0.0.1:1", "nats://[::1]:2"]],
        jetstream_domain="edge",
        monitor=True,
        config="max_payload: 1024\n",
    )
    assert srv.gateway_name == "east" and srv.jetstream_domain == "edge"
    for url in (srv.gateway_url, srv.leafnode_url, srv.monitor_url):
        assert url is not None and url.startswith(("nats://127.0.0.1:", "nats-leaf://", "http://"))
    conf = srv._generated_config()
    assert 'name: "east"' in conf
    assert '{name: "west", urls: ["nats://127.0.0.1:7222"]}' in conf
    assert '{urls: ["nats-leaf://127.0.0.1:7422"]}' in conf
    assert '{urls: ["nats://127.0.0.1:1", "nats://[::1]:2"]}' in conf
    assert 'domain: "edge"' in conf
    assert f'http: "127.0.0.1:{srv.monitor_url.rsplit(":", 1)[1]}"' in conf  # type: ignore[union-attr]

    plain = NatsServer()
    assert plain._generated_config() == ""
    assert plain.gateway_url is plain.leafnode_url is plain.monitor_url is None
    with pytest.raises(ValueError, match="gateway needs a name"):
        NatsServer(gateways={"west": ["nats://127.0.0.1:7222"]})
    with pytest.raises(ValueError, match="accepts no leaf nodes"):
        start_leaf(plain)
    with pytest.raises(ValueError, match="distinct cluster names"):
        Topology().supercluster(["same", "same"])


# ------------------------------------------------------------------ supercluster


def test_every_server_has_a_gateway_to_the_other_cluster(supercluster: Supercluster) -> None:
    east, west = supercluster
    assert isinstance(east, Cluster) and supercluster["west"] is west
    assert [s.server_name for s in east] == ["east-0", "east-1", "east-2"]
    assert len(east.gateway_urls) == len(west.gateway_urls) == 3
    for cluster, other in ((east, "west"), (west, "east")):
        for server in cluster:
            gatewayz = server.monitoring("gatewayz")
            assert gatewayz["name"] == cluster.name
            assert other in gatewayz["outbound_gateways"]
    # a client learns the servers of its own cluster only
    with nats_sync.connect(east[0].url) as nc:
        assert sorted(nc.servers) == sorted(east.urls)


def ask(nc: nats_sync.Client, subject: str, timeout: float = 0.25) -> bytes | None:
    """The answer to a request, or ``None`` (no responders, or none in ``timeout`` s: a
    request may go to a member whose unsubscription has not crossed the routes yet)."""
    try:
        return nc.request(subject, b"?", timeout=timeout).data
    except (NoRespondersError, NatsTimeoutError):
        return None


def test_request_reply_and_pubsub_across_the_gateways_sync(supercluster: Supercluster) -> None:
    east, west = supercluster
    svc, news = unique("svc"), unique("news")
    with (
        nats_sync.connect(east[0].url) as on_east,
        nats_sync.connect(west[2].url) as on_west,
    ):
        on_west.subscribe(svc, cb=lambda m: m.respond(b"west:" + m.data))
        on_west.flush(timeout=2)
        wait_until(lambda: ask(on_east, svc) is not None, what="the responder across the gateway")
        assert on_east.request(svc, b"hi", timeout=2).data == b"west:hi"

        sub = on_east.subscribe(news)
        on_east.flush(timeout=2)

        def delivered() -> bool:
            on_west.publish(news, b"probe")
            on_west.flush(timeout=2)
            try:
                sub.next_msg(timeout=0.05)
            except NatsTimeoutError:
                return False
            return True

        wait_until(delivered, what="east's interest to reach west")
        while True:  # drop the extra probes
            try:
                sub.next_msg(timeout=0.05)
            except NatsTimeoutError:
                break
        for i in range(100):
            on_west.publish(news, b"%d" % i, headers={"From": "west"})
        on_west.flush(timeout=2)
        got = [sub.next_msg(timeout=2) for _ in range(100)]
        assert [m.data for m in got] == [b"%d" % i for i in range(100)]  # in order
        assert got[0].headers is not None and got[0].headers["From"] == "west"


@pytest.mark.anyio
async def test_request_reply_and_pubsub_across_the_gateways_anyio(
    supercluster: Supercluster,
) -> None:
    east, west = supercluster
    svc, news = unique("svc"), unique("news")
    async with (
        nats_anyio.connect(west[1].url) as on_west,
        nats_anyio.connect(east[2].url) as on_east,
    ):

        async def respond(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"east:" + msg.data)

        await on_east.subscribe(svc, cb=respond)
        await on_east.flush(timeout=2)

        async def answered() -> bool:
            try:
                await on_west.request(svc, b"warm", timeout=1)
            except (NoRespondersError, NatsTimeoutError):
                return False
            return True

        await eventually(answered, what="the responder across the gateway")
        assert (await on_west.request(svc, b"hi", timeout=2)).data == b"east:hi"

        sub = await on_west.subscribe(news)
        await on_west.flush(timeout=2)

        async def delivered() -> bool:
            await on_east.publish(news, b"probe")
            await on_east.flush(timeout=2)
            try:
                await sub.next_msg(timeout=0.05)
            except NatsTimeoutError:
                return False
            return True

        await eventually(delivered, what="west's interest to reach east")
        while True:
            try:
                await sub.next_msg(timeout=0.05)
            except NatsTimeoutError:
                break
        for i in range(100):
            await on_east.publish(news, b"%d" % i)
        await on_east.flush(timeout=2)
        got = [(await sub.next_msg(timeout=2)).data for _ in range(100)]
        assert got == [b"%d" % i for i in range(100)]


def test_a_queue_group_prefers_members_in_the_local_cluster_sync(
    supercluster: Supercluster,
) -> None:
    east, west = supercluster
    subject = unique("work")
    with (
        nats_sync.connect(east[0].url) as asker_east,
        nats_sync.connect(west[0].url) as asker_west,
        nats_sync.connect(east[1].url) as member_east,
        nats_sync.connect(west[1].url) as member_west,
    ):
        member_west.subscribe(subject, queue="workers", cb=lambda m: m.respond(b"west"))
        member_west.flush(timeout=2)
        # west's member alone: east's requests cross the gateway to it
        wait_until(lambda: ask(asker_east, subject) == b"west", what="west's queue member")

        east_sub = member_east.subscribe(subject, queue="workers", cb=lambda m: m.respond(b"east"))
        member_east.flush(timeout=2)
        wait_until(lambda: ask(asker_east, subject) == b"east", what="east's queue member")
        # both known: a cluster's requests go to its own member, every time
        assert [ask(asker_east, subject, 2) for _ in range(20)] == [b"east"] * 20
        assert [ask(asker_west, subject, 2) for _ in range(20)] == [b"west"] * 20

        # east's member leaves: east's requests cross to west again
        east_sub.unsubscribe()
        member_east.flush(timeout=2)
        wait_until(lambda: ask(asker_east, subject) == b"west", what="the fallback to west")


@pytest.mark.anyio
async def test_a_queue_group_prefers_members_in_the_local_cluster_anyio(
    supercluster: Supercluster,
) -> None:
    east, west = supercluster
    subject = unique("work")
    async with (
        nats_anyio.connect(west[2].url) as asker_west,
        nats_anyio.connect(east[2].url) as asker_east,
        nats_anyio.connect(west[0].url) as member_west,
        nats_anyio.connect(east[0].url) as member_east,
    ):

        async def ask_async(nc: nats_anyio.Client, timeout: float = 0.25) -> bytes | None:
            try:
                return (await nc.request(subject, b"?", timeout=timeout)).data
            except (NoRespondersError, NatsTimeoutError):
                return None

        def answering(name: bytes) -> Callable[[nats_anyio.Msg], Any]:
            async def respond(msg: nats_anyio.Msg) -> None:
                await msg.respond(name)

            return respond

        await member_east.subscribe(subject, queue="workers", cb=answering(b"east"))
        await member_east.flush(timeout=2)

        async def west_reaches_east() -> bool:
            return await ask_async(asker_west) == b"east"

        await eventually(west_reaches_east, what="east's queue member")

        west_sub = await member_west.subscribe(subject, queue="workers", cb=answering(b"west"))
        await member_west.flush(timeout=2)

        async def west_answers_west() -> bool:
            return await ask_async(asker_west) == b"west"

        await eventually(west_answers_west, what="west's queue member")
        assert [await ask_async(asker_west, 2) for _ in range(20)] == [b"west"] * 20
        assert [await ask_async(asker_east, 2) for _ in range(20)] == [b"east"] * 20

        await west_sub.unsubscribe()
        await member_west.flush(timeout=2)
        await eventually(west_reaches_east, what="the fallback to east")


# ---------------------------------------------------------------- failover


def test_a_client_fails_over_to_the_other_cluster_when_its_own_dies_sync(
    nats_topology: Topology,
) -> None:
    east, west = nats_topology.supercluster(["east", "west"], size=3)
    reconnected = threading.Event()
    seen: list[str] = []
    nc = nats_sync.connect(
        [*east.urls, *west.urls],
        dont_randomize=True,
        reconnect_time_wait=0.05,
        disconnected_cb=lambda: seen.append("disconnected"),
        reconnected_cb=lambda: (seen.append("reconnected"), reconnected.set()),
    )
    try:
        with nats_sync.connect(west[1].url) as on_west:
            on_west.subscribe("svc", cb=lambda m: m.respond(b"west:" + m.data))
            on_west.flush(timeout=2)
            assert nc.connected_url == east[0].url
            wait_until(lambda: ask(nc, "svc") is not None, what="the responder across the gateway")
            news = nc.subscribe("news")  # made on east, must follow the client to west
            nc.flush(timeout=2)

            # the client's whole cluster dies (its own server last, so that it moves once)
            for server in sorted(east, key=lambda s: s.url == nc.connected_url):
                server.stop()
            assert reconnected.wait(10), seen
            assert seen == ["disconnected", "reconnected"]
            assert nc.connected_url in west.urls
            assert nc.stats.reconnects == 1

            # request/reply after the failover
            assert nc.request("svc", b"after", timeout=2).data == b"west:after"

            # the subscription made on east now gets messages published on west
            def delivered() -> bool:
                on_west.publish("news", b"probe")
                on_west.flush(timeout=2)
                try:
                    return news.next_msg(timeout=0.05).data == b"probe"
                except NatsTimeoutError:
                    return False

            wait_until(delivered, what="the resubscribed interest on west")

            # publish and a new subscription after the failover
            fresh = nc.subscribe("fresh")
            nc.publish("fresh", b"mine")
            assert fresh.next_msg(timeout=2).data == b"mine"
            seen_on_west = on_west.subscribe("from.client")
            on_west.flush(timeout=2)

            def reached() -> bool:
                nc.publish("from.client", b"hello")
                nc.flush(timeout=2)
                try:
                    return seen_on_west.next_msg(timeout=0.05).data == b"hello"
                except NatsTimeoutError:
                    return False

            wait_until(reached, what="the client's publish to reach west")
    finally:
        nc.close()


@pytest.mark.anyio
async def test_a_client_fails_over_to_the_other_cluster_when_its_own_dies_anyio(
    nats_topology: Topology,
) -> None:
    west, east = nats_topology.supercluster(["west", "east"], size=3)
    reconnected = anyio.Event()
    seen: list[str] = []

    def on_reconnect() -> None:
        seen.append("reconnected")
        reconnected.set()

    async with (
        nats_anyio.connect(
            [*west.urls, *east.urls],
            dont_randomize=True,
            reconnect_time_wait=0.05,
            disconnected_cb=lambda: seen.append("disconnected"),
            reconnected_cb=on_reconnect,
        ) as nc,
        nats_anyio.connect(east[2].url) as on_east,
    ):

        async def respond(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"east:" + msg.data)

        await on_east.subscribe("svc", cb=respond)
        await on_east.flush(timeout=2)
        assert nc.connected_url == west[0].url

        async def answered() -> bool:
            try:
                await nc.request("svc", b"warm", timeout=1)
            except (NoRespondersError, NatsTimeoutError):
                return False
            return True

        await eventually(answered, what="the responder across the gateway")
        news = await nc.subscribe("news")
        await nc.flush(timeout=2)

        for server in sorted(west, key=lambda s: s.url == nc.connected_url):
            server.stop()
        with anyio.fail_after(10):
            await reconnected.wait()
        assert seen == ["disconnected", "reconnected"]
        assert nc.connected_url in east.urls
        assert nc.stats.reconnects == 1

        assert (await nc.request("svc", b"after", timeout=2)).data == b"east:after"

        async def delivered() -> bool:
            await on_east.publish("news", b"probe")
            await on_east.flush(timeout=2)
            try:
                return (await news.next_msg(timeout=0.05)).data == b"probe"
            except NatsTimeoutError:
                return False

        await eventually(delivered, what="the resubscribed interest on east")

        fresh = await nc.subscribe("fresh")
        await nc.publish("fresh", b"mine")
        assert (await fresh.next_msg(timeout=2)).data == b"mine"
        on_east_sub = await on_east.subscribe("from.client")
        await on_east.flush(timeout=2)

        async def reached() -> bool:
            await nc.publish("from.client", b"hello")
            await nc.flush(timeout=2)
            try:
                return (await on_east_sub.next_msg(timeout=0.05)).data == b"hello"
            except NatsTimeoutError:
                return False

        await eventually(reached, what="the client's publish to reach east")


# -------------------------------------------------------- leaf node, two domains


def test_hub_and_leaf_reach_each_others_jetstream_domain_sync(
    hub_and_leaf: tuple[NatsServer, NatsServer],
) -> None:
    hub, leaf = hub_and_leaf
    tag = short_id()
    with nats_sync.connect(hub.url) as on_hub, nats_sync.connect(leaf.url) as on_leaf:
        assert on_hub.jetstream().account_info().domain == "hub"
        assert on_leaf.jetstream().account_info().domain == "leaf"
        to_leaf = on_hub.jetstream(domain="leaf", timeout=3)
        to_hub = on_leaf.jetstream(domain="hub", timeout=3)
        assert to_leaf.account_info().domain == "leaf"
        assert to_hub.account_info().domain == "hub"

        # a stream in the leaf's domain, made, fed and consumed from the hub
        subj = f"at.leaf.{tag}"
        to_leaf.create_stream(name=f"AT_LEAF_{tag}", subjects=[f"{subj}.>"])
        ack = to_leaf.publish(f"{subj}.a", b"from the hub")
        assert (ack.stream, ack.seq, ack.domain) == (f"AT_LEAF_{tag}", 1, "leaf")
        assert on_leaf.jetstream().publish(f"{subj}.b", b"local").seq == 2
        consumer = to_leaf.create_consumer(
            f"AT_LEAF_{tag}", durable_name="hubside", ack_policy="explicit"
        )
        batch = consumer.fetch(2, max_wait=2)
        assert [(m.subject, m.data) for m in batch] == [
            (f"{subj}.a", b"from the hub"),
            (f"{subj}.b", b"local"),
        ]
        for m in batch:
            m.ack_sync(timeout=2)  # the acks cross the leaf node connection too
        assert consumer.info().num_ack_pending == 0
        assert f"AT_LEAF_{tag}" not in list(on_hub.jetstream().stream_names())

        # and the other way: a stream in the hub's domain, from the leaf
        subj = f"at.hub.{tag}"
        to_hub.create_stream(name=f"AT_HUB_{tag}", subjects=[f"{subj}.>"])
        assert to_hub.publish(f"{subj}.x", b"from the leaf").domain == "hub"
        assert on_hub.jetstream().publish(f"{subj}.y", b"local").seq == 2
        got = to_hub.create_consumer(f"AT_HUB_{tag}").fetch(2, max_wait=2)
        assert [m.data for m in got] == [b"from the leaf", b"local"]

        # Key-Value: each side reads and watches the other domain's bucket
        leaf_kv = on_leaf.jetstream().create_key_value(bucket=f"cfg_{tag}", history=3)
        leaf_kv.put("color", b"red")
        remote = to_leaf.key_value(f"cfg_{tag}")
        assert remote.get("color").value == b"red"
        with remote.watch("color") as watcher:
            first = watcher.next(timeout=2)
            assert first is not None and first.value == b"red"
            assert watcher.next(timeout=2) is None  # the end of the current values
            leaf_kv.put("color", b"blue")
            update = watcher.next(timeout=2)
            assert update is not None and (update.value, update.revision) == (b"blue", 2)
        assert [e.value for e in remote.history("color")] == [b"red", b"blue"]
        assert remote.keys() == ["color"]

        hub_kv = on_hub.jetstream().create_key_value(bucket=f"hcfg_{tag}")
        hub_kv.put("size", b"xl")
        assert to_hub.key_value(f"hcfg_{tag}").get("size").value == b"xl"


@pytest.mark.anyio
async def test_hub_and_leaf_reach_each_others_jetstream_domain_anyio(
    hub_and_leaf: tuple[NatsServer, NatsServer],
) -> None:
    hub, leaf = hub_and_leaf
    tag = short_id()
    async with nats_anyio.connect(hub.url) as on_hub, nats_anyio.connect(leaf.url) as on_leaf:
        to_leaf = on_hub.jetstream(domain="leaf", timeout=3)
        to_hub = on_leaf.jetstream(domain="hub", timeout=3)
        assert (await to_leaf.account_info()).domain == "leaf"
        assert (await to_hub.account_info()).domain == "hub"

        subj = f"at.leaf.{tag}"
        await to_leaf.create_stream(name=f"AT_LEAF_{tag}", subjects=[f"{subj}.>"])
        ack = await to_leaf.publish(f"{subj}.a", b"from the hub")
        assert (ack.seq, ack.domain) == (1, "leaf")
        consumer = await to_leaf.create_consumer(
            f"AT_LEAF_{tag}", durable_name="hubside", ack_policy="explicit"
        )
        msg = await consumer.next(timeout=2)
        assert msg.data == b"from the hub"
        await msg.ack_sync(timeout=2)
        assert (await consumer.info()).num_ack_pending == 0

        subj = f"at.hub.{tag}"
        await to_hub.create_stream(name=f"AT_HUB_{tag}", subjects=[f"{subj}.>"])
        assert (await to_hub.publish(f"{subj}.x", b"from the leaf")).domain == "hub"
        got = await (await to_hub.create_consumer(f"AT_HUB_{tag}")).fetch(1, max_wait=2)
        assert [m.data for m in got] == [b"from the leaf"]

        leaf_kv = await on_leaf.jetstream().create_key_value(bucket=f"cfg_{tag}")
        await leaf_kv.put("color", b"red")
        remote = await to_leaf.key_value(f"cfg_{tag}")
        assert (await remote.get("color")).value == b"red"
        async with await remote.watch("color", updates_only=True) as watcher:
            await leaf_kv.put("color", b"blue")
            update = await watcher.next(timeout=2)
            assert update is not None and update.value == b"blue"
        assert await remote.keys() == ["color"]

        hub_kv = await on_hub.jetstream().create_key_value(bucket=f"hcfg_{tag}")
        await hub_kv.put("size", b"xl")
        assert (await (await to_hub.key_value(f"hcfg_{tag}")).get("size")).value == b"xl"


def test_key_value_writes_into_another_domain_sync(
    hub_and_leaf: tuple[NatsServer, NatsServer],
) -> None:
    hub, leaf = hub_and_leaf
    tag = short_id()
    with nats_sync.connect(hub.url) as on_hub, nats_sync.connect(leaf.url) as on_leaf:
        kv = on_hub.jetstream(domain="leaf", timeout=3).create_key_value(bucket=f"w_{tag}")
        assert kv.put("k", b"from the hub") == 1
        assert on_leaf.jetstream().key_value(f"w_{tag}").get("k").value == b"from the hub"


@pytest.mark.anyio
async def test_key_value_writes_into_another_domain_anyio(
    hub_and_leaf: tuple[NatsServer, NatsServer],
) -> None:
    hub, leaf = hub_and_leaf
    tag = short_id()
    async with nats_anyio.connect(leaf.url) as on_leaf, nats_anyio.connect(hub.url) as on_hub:
        js = on_leaf.jetstream(domain="hub", timeout=3)
        kv = await js.create_key_value(bucket=f"w_{tag}")
        assert await kv.put("k", b"from the leaf") == 1
        entry = await (await on_hub.jetstream().key_value(f"w_{tag}")).get("k")
        assert entry.value == b"from the leaf"
