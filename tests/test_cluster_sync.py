"""nats_sync against a real 3-node cluster on loopback (routes): discovery of the
other servers, failover without losing a message, requests across a failover,
and giving up once every server used its reconnect attempts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import nats_sync
from cluster_helpers import start_cluster, wait_meshed
from nats_core.errors import ConnectionClosedError, NatsTimeoutError, NoRespondersError
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from sync_helpers import wait_until


class Events:
    """Connection callbacks, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self.reconnected = threading.Event()
        self.closed = threading.Event()

    def options(self) -> dict[str, Any]:
        def reconnected() -> None:
            self.seen.append("reconnected")
            self.reconnected.set()

        def closed() -> None:
            self.seen.append("closed")
            self.closed.set()

        return {
            "disconnected_cb": lambda: self.seen.append("disconnected"),
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": self.errors.append,
        }


class DialGate:
    """Holds the client's reconnect dials until :attr:`opened`: an outage of a
    known length, during which every publish goes to the reconnect buffer."""

    def __init__(self, nc: nats_sync.Client) -> None:
        self.opened = threading.Event()
        self.waiting = threading.Event()
        self.dialed: list[str] = []
        dial: Callable[..., Any] = nc._dial

        def gated(server: Any, *args: Any, **kwargs: Any) -> Any:
            self.dialed.append(server.url)
            self.waiting.set()
            self.opened.wait(10)
            return dial(server, *args, **kwargs)

        nc._dial = gated  # type: ignore[method-assign]


class Counter:
    """Receives sequence numbers; remembers duplicates."""

    def __init__(self) -> None:
        self.got: set[int] = set()
        self.dups: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, msg: nats_sync.Msg) -> None:
        i = int(msg.data)
        with self.lock:
            if i in self.got:
                self.dups.append(i)
            self.got.add(i)

    def wait_for(self, expected: set[int], timeout: float = 5.0) -> None:
        wait_until(lambda: expected <= self.got, timeout, what=f"{len(expected)} messages")


def publish_range(nc: nats_sync.Client, subject: str, numbers: range) -> None:
    for i in numbers:
        nc.publish(subject, b"%d" % i)


def probe_until_delivered(pub: nats_sync.Client, sub: nats_sync.Subscription) -> None:
    """Publish probes until one arrives: the subscription's interest reached ``pub``'s server."""

    def delivered() -> bool:
        pub.publish(sub.subject, b"probe")
        pub.flush(timeout=2)
        try:
            sub.next_msg(timeout=0.05)
        except TimeoutError:
            return False
        return True

    wait_until(delivered, what="interest to cross the routes")
    while True:  # drop the extra probes
        try:
            sub.next_msg(timeout=0.05)
        except TimeoutError:
            return


def request_until_answered(nc: nats_sync.Client, subject: str) -> None:
    """Request until a reply comes: the responder's interest reached ``nc``'s server."""

    def answered() -> bool:
        try:
            nc.request(subject, b"warm", timeout=0.5)
        except (NoRespondersError, NatsTimeoutError):
            return False
        return True

    wait_until(answered, what=f"a responder on {subject!r}")


@pytest.fixture
def cluster(nats_server_factory: NatsServerFactory) -> list[NatsServer]:
    return start_cluster(nats_server_factory)


# ------------------------------------------------------------------ discovery


def test_a_client_given_one_url_learns_the_cluster(
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
    nc = nats_sync.connect(a.url, discovered_servers_cb=added.append)
    try:
        assert nc.servers == [a.url]
        b, c = node(1), node(2)
        wait_until(lambda: len(nc.servers) == 3, what="the other two servers")
        assert set(nc.servers) == {a.url, b.url, c.url}
        wait_until(lambda: {u for batch in added for u in batch} == {b.url, c.url})
        assert all(batch for batch in added)  # called with what was added, never empty

        # a discovered server that leaves the cluster leaves the pool; the given one stays
        c.stop()
        wait_until(lambda: c.url not in nc.servers, what=f"{c.url} to leave the pool")
        assert set(nc.servers) == {a.url, b.url}
        before = len(added)
        c.start()
        wait_until(lambda: c.url in nc.servers, what=f"{c.url} to come back")
        wait_until(lambda: len(added) > before, what="the callback for the returning server")
        assert added[-1] == [c.url]
        assert nc.stats.reconnects == 0  # learning servers never moved the client
        assert nc.connected_url == a.url
    finally:
        nc.close()


def test_ignore_discovered_servers(cluster: list[NatsServer]) -> None:
    a = cluster[0]
    added: list[list[str]] = []
    nc = nats_sync.connect(
        a.url, ignore_discovered_servers=True, discovered_servers_cb=added.append
    )
    try:
        nc.flush(timeout=2)
        assert nc.server_info is not None and len(nc.server_info.connect_urls) == 3
        assert nc.servers == [a.url]
        assert added == []
    finally:
        nc.close()


# ------------------------------------------------------------------- failover


def test_failover_loses_no_buffered_or_later_message(cluster: list[NatsServer]) -> None:
    a, b, c = cluster
    ev = Events()
    counter = Counter()
    nc = nats_sync.connect(a.url, name="pair", reconnect_time_wait=0.05, **ev.options())
    try:
        assert set(nc.servers) == {a.url, b.url, c.url}  # learned from the first INFO
        sub = nc.subscribe("seq", cb=counter)
        publish_range(nc, "seq", range(0, 100))
        nc.flush(timeout=2)
        counter.wait_for(set(range(100)))

        gate = DialGate(nc)
        a.stop()  # the server the client is on
        assert gate.waiting.wait(5), "no reconnect attempt"
        assert nc.status == "reconnecting" and not nc.is_connected
        assert ev.seen == ["disconnected"]
        publish_range(nc, "seq", range(100, 300))  # the outage: all buffered
        assert nc._conn.pending_bytes > 0
        assert not counter.got & set(range(100, 300))
        gate.opened.set()

        assert ev.reconnected.wait(5), ev.seen
        assert nc.connected_url in (b.url, c.url)
        assert nc.status == "connected"
        assert nc._conn.pending_bytes == 0
        assert nc.stats.reconnects == 1
        publish_range(nc, "seq", range(300, 400))  # after the reconnect, same client
        nc.flush(timeout=2)
        counter.wait_for(set(range(400)))

        # a publisher on the surviving node the client moved to
        current = nc.connected_url
        assert current is not None
        with nats_sync.connect(current, name="other") as other:
            publish_range(other, "seq", range(400, 500))
            other.flush(timeout=2)
        counter.wait_for(set(range(500)))

        # the killed server comes back and rejoins; its clients reach us over the routes
        a.start()
        wait_meshed(cluster)
        with nats_sync.connect(a.url, ignore_discovered_servers=True) as on_a:
            probe_sub = nc.subscribe("probe.a")
            nc.flush(timeout=2)
            probe_until_delivered(on_a, probe_sub)
            publish_range(on_a, "seq", range(500, 600))
            on_a.flush(timeout=2)
        counter.wait_for(set(range(600)))

        assert counter.got == set(range(600))  # every one, none missing
        assert counter.dups == []  # and each exactly once
        assert sub.delivered == 600
        assert nc.stats.reconnects == 1  # the restart did not move the client
        assert ev.seen == ["disconnected", "reconnected"]
        assert not ev.errors
    finally:
        nc.close()


def test_requests_across_a_failover(nats_server_factory: NatsServerFactory) -> None:
    a, b, _ = start_cluster(nats_server_factory)
    ev = Events()
    # a and b only, in order: the client fails over to b, where the responder is
    nc = nats_sync.connect(
        [a.url, b.url],
        dont_randomize=True,
        ignore_discovered_servers=True,
        reconnect_time_wait=0.05,
        **ev.options(),
    )
    held: list[nats_sync.Msg] = []
    release = threading.Event()
    with nats_sync.connect(b.url) as responder:

        def respond(msg: nats_sync.Msg) -> None:
            if msg.data == b"hold":
                held.append(msg)
                release.wait(10)
            msg.respond(b"re:" + msg.data)

        responder.subscribe("svc", cb=respond)
        responder.flush(timeout=2)
        try:
            request_until_answered(nc, "svc")

            result: list[object] = []
            waiter = threading.Thread(
                target=lambda: result.append(nc.request("svc", b"hold", timeout=8).data)
            )
            waiter.start()
            wait_until(lambda: held, what="the request to reach the responder")

            gate = DialGate(nc)
            a.stop()
            assert gate.waiting.wait(5)
            # made while disconnected: buffered, sent after the reconnect
            late: list[object] = []
            late_thread = threading.Thread(
                target=lambda: late.append(nc.request("svc", b"late", timeout=8).data)
            )
            late_thread.start()
            wait_until(lambda: nc._conn.pending_bytes > 0, what="the request in the buffer")
            gate.opened.set()
            assert ev.reconnected.wait(5)
            assert nc.connected_url == b.url
            nc.flush(timeout=2)  # b has our subscriptions (the inbox too) by now
            # the reply to the request in flight goes to the resubscribed inbox
            release.set()
            waiter.join(10)
            late_thread.join(10)
            assert result == [b"re:hold"]
            assert late == [b"re:late"]
            assert nc.request("svc", b"after", timeout=2).data == b"re:after"
        finally:
            release.set()
            nc.close()


def test_a_request_whose_reply_is_lost_waits_for_its_timeout(cluster: list[NatsServer]) -> None:
    a, b, _ = cluster
    ev = Events()
    nc = nats_sync.connect(
        [a.url, b.url],
        dont_randomize=True,
        ignore_discovered_servers=True,
        reconnect_time_wait=0.05,
        **ev.options(),
    )
    try:
        with nats_sync.connect(a.url) as silent:
            asked = threading.Event()
            silent.subscribe("svc.silent", cb=lambda m: asked.set())
            silent.flush(timeout=2)
            errors: list[BaseException] = []

            def ask() -> None:
                try:
                    nc.request("svc.silent", b"?", timeout=2)
                except BaseException as e:
                    errors.append(e)

            t = threading.Thread(target=ask)
            t.start()
            assert asked.wait(5)
            a.stop()  # the responder's server and ours: the reply can never come
            assert ev.reconnected.wait(5)
            t.join(0.3)
            assert t.is_alive(), "the request ended at the reconnect instead of its timeout"
            t.join(5)
        assert len(errors) == 1 and isinstance(errors[0], NatsTimeoutError), errors
        assert nc.is_connected
    finally:
        nc.close()


# ---------------------------------------------------------------- giving up


def test_attempts_are_counted_per_server_then_the_client_closes(
    cluster: list[NatsServer],
) -> None:
    urls = sorted(s.url for s in cluster)
    ev = Events()
    # given, not discovered: servers that stop stay in the pool
    nc = nats_sync.connect(urls, reconnect_time_wait=0.02, max_reconnect_attempts=2, **ev.options())
    sub = nc.subscribe("gone")
    assert sorted(nc.servers) == urls
    gate = DialGate(nc)
    gate.opened.set()  # only counts the dials
    for s in sorted(cluster, key=lambda s: s.url == nc.connected_url):
        s.stop()  # ours last, so that the client does not move meanwhile
    assert ev.closed.wait(10), ev.seen
    assert sorted(gate.dialed) == sorted(urls * 2)  # 2 per server
    assert nc.status == "closed" and nc.is_closed and not nc.is_reconnecting
    assert ev.seen == ["disconnected", "closed"]
    assert sub.is_closed
    with pytest.raises(ConnectionClosedError):
        nc.publish("gone", b"x")
    with pytest.raises(ConnectionClosedError):
        nc.force_reconnect()
