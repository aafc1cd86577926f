"""A 3-node JetStream cluster: the leader of an R3 stream is stopped while a
publisher publishes with acks. Every acknowledged message must be in the
stream, and a durable explicit-ack consumer must get each exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

import nats_sync
from js_helpers import uniq
from nats_core.errors import NatsError
from nats_sync import JetStream
from pynats.pytest_plugin import NatsServerFactory
from pynats.server import NatsServer, free_port
from sync_helpers import wait_until

TOTAL = 400


@pytest.fixture
def cluster(nats_server_factory: NatsServerFactory) -> Iterator[list[NatsServer]]:
    ports = [free_port() for _ in range(3)]
    routes = [f"nats://127.0.0.1:{p}" for p in ports]
    name = uniq("C")
    servers = [
        nats_server_factory(
            jetstream=True,
            server_name=f"{name}-n{i}",
            cluster_name=name,
            cluster_port=port,
            routes=routes,
        )
        for i, port in enumerate(ports)
    ]
    yield servers


def _ready(nc: nats_sync.Client) -> bool:
    try:
        nc.jetstream(timeout=1).account_info()
    except (NatsError, TimeoutError):
        return False
    return True


def test_r3_stream_survives_its_leader_stopping(cluster: list[NatsServer]) -> None:
    nc = nats_sync.connect([s.url for s in cluster], reconnect_time_wait=0.1)
    try:
        wait_until(lambda: _ready(nc), 20, "the jetstream meta leader")
        js = nc.jetstream(timeout=2)
        stream, subj = uniq("R"), uniq("r")
        info = js.create_stream(
            name=stream, subjects=[f"{subj}.>"], num_replicas=3, duplicate_window=120
        )
        assert info.config.num_replicas == 3
        consumer = js.create_consumer(
            stream, durable_name="worker", ack_policy="explicit", ack_wait=10
        )

        acked: dict[int, int] = {}  # message number -> stream sequence
        failures: list[BaseException] = []
        halfway = threading.Event()

        def publisher() -> None:
            for i in range(TOTAL):
                deadline = time.monotonic() + 30
                while True:
                    try:
                        ack = js.publish(f"{subj}.m", b"%d" % i, msg_id=f"m{i}", timeout=1)
                    except (NatsError, TimeoutError) as exc:  # leader gone, election...
                        if time.monotonic() > deadline:
                            failures.append(exc)
                            return
                        time.sleep(0.05)
                        continue
                    acked[i] = ack.seq
                    break
                if i == TOTAL // 4:
                    halfway.set()

        t = threading.Thread(target=publisher)
        t.start()
        assert halfway.wait(20)
        leader = js.stream_info(stream).cluster
        assert leader is not None and leader.leader
        victim = cluster[int(leader.leader.rpartition("-n")[2])]  # names end in -n<index>
        at_stop = len(acked)
        victim.stop()
        t.join(60)
        assert not t.is_alive()
        assert failures == []
        assert len(acked) == TOTAL
        assert at_stop < TOTAL  # the leader went away while publishing

        # every acknowledged message is stored, once (the msg ids deduplicate retries)
        wait_until(lambda: _stream_count(js, stream) == TOTAL, 20, "the stream to settle")
        new_leader = js.stream_info(stream).cluster
        assert new_leader is not None and new_leader.leader != leader.leader
        assert len(set(acked.values())) == TOTAL

        got: Counter[int] = Counter()
        deadline = time.monotonic() + 30
        while sum(got.values()) < TOTAL and time.monotonic() < deadline:
            try:
                batch = consumer.fetch(100, max_wait=1)
            except (NatsError, TimeoutError):
                continue
            for msg in batch:
                got[int(msg.data)] += 1
                msg.ack_sync(timeout=5)
        assert set(got) == set(range(TOTAL))
        assert max(got.values()) == 1  # exactly once
        assert consumer.fetch(10, max_wait=0.5) == []
        assert consumer.info().num_ack_pending == 0
    finally:
        nc.close()


def _stream_count(js: JetStream, stream: str) -> int:
    try:
        return js.stream_info(stream).state.messages
    except (NatsError, TimeoutError):
        return -1
