"""Push consumers (``js.subscribe``, issue #13) against a real nats-server, on the
async client, on asyncio and on Trio: ephemeral and durable consumers, binding
and its errors, callbacks with and without auto-ack, redelivery, queue groups,
flow control and heartbeats, the ordered consumer, drain.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import nats_anyio
from anyio_helpers import restart_and_wait, uniq, wait_until
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import (
    ConsumerConfig,
    ConsumerNotFoundError,
    DeliverGroupMismatchError,
    FilterSubjectMismatchError,
    InvalidOptionError,
    MissedHeartbeatError,
    NotPushConsumerError,
)
from pynats.server import NatsServer

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


@pytest.fixture
async def nc(js_server: NatsServer) -> AsyncIterator[nats_anyio.Client]:
    """A client of the module's JetStream server (conftest's ``js_server``)."""
    async with nats_anyio.connect(js_server.url) as client:
        yield client


@pytest.fixture
def js(nc: nats_anyio.Client) -> nats_anyio.JetStream:
    return nc.jetstream(timeout=3.0)


async def make_stream(js: nats_anyio.JetStream, count: int = 0) -> tuple[str, str]:
    """A fresh memory stream capturing ``<subj>.>`` with ``count`` messages
    ``0``, ``1``... on ``<subj>.a``; returns (stream name, subject token)."""
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    for i in range(count):
        await js.publish(f"{subj}.a", str(i).encode())
    return name, subj


async def gone(js: nats_anyio.JetStream, stream: str, name: str) -> bool:
    try:
        await js.consumer_info(stream, name)
    except ConsumerNotFoundError:
        return True
    return False


# ================================================================ ephemeral


async def test_ephemeral_subscribe_next_iterate_and_unsubscribe(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js, 3)
    sub = await js.subscribe(f"{subj}.>")  # the stream is found by subject
    assert sub.stream == stream and sub.subject == f"{subj}.>"
    first = await sub.next_msg(timeout=2)
    assert first.data == b"0" and first.metadata.sequence.stream == 1
    await first.ack()
    got = []
    async for msg in sub:
        got.append(msg.data)
        await msg.ack()
        if len(got) == 2:
            break
    assert got == [b"1", b"2"]
    with pytest.raises(NatsTimeoutError):
        await sub.next_msg(timeout=0.2)
    info = await sub.consumer_info()
    assert info.config.deliver_subject == sub.deliver_subject
    assert info.config.durable_name is None
    name = sub.consumer
    assert name is not None
    await sub.unsubscribe()  # it created the consumer: deleted
    assert await gone(js, stream, name)
    with pytest.raises(SubscriptionClosedError):
        await sub.next_msg(timeout=0.2)


async def test_subscribe_options_are_checked(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js)
    with pytest.raises(InvalidOptionError):
        await js.subscribe(f"{subj}.a", consumer="c")  # a consumer to bind needs its stream
    with pytest.raises(InvalidOptionError):
        await js.subscribe(f"{subj}.a", queue="q", idle_heartbeat=1)
    with pytest.raises(InvalidOptionError):
        await js.subscribe(f"{subj}.a", ordered_consumer=True, durable="d")
    with pytest.raises(InvalidOptionError):  # flow control needs heartbeats
        await js.subscribe(f"{subj}.a", stream=stream, flow_control=True)


# ================================================================ callbacks


async def test_callback_auto_ack_and_manual_ack(js: nats_anyio.JetStream) -> None:
    _, subj = await make_stream(js, 5)
    auto: list[bytes] = []

    async def handle(msg: nats_anyio.Msg) -> None:
        auto.append(msg.data)

    sub = await js.subscribe(f"{subj}.a", handle)
    await wait_until(lambda: len(auto) == 5, what="5 messages")
    assert auto == [str(i).encode() for i in range(5)]

    async def acked() -> bool:
        info = await sub.consumer_info()
        return info.ack_floor.stream_seq == 5 and info.num_ack_pending == 0

    await wait_until(acked, what="the ack floor at 5")
    await sub.unsubscribe()

    manual: list[nats_anyio.Msg] = []
    sub = await js.subscribe(f"{subj}.a", manual.append, manual_ack=True)
    await wait_until(lambda: len(manual) == 5, what="5 messages")
    info = await sub.consumer_info()
    assert info.num_ack_pending == 5 and info.ack_floor.stream_seq == 0
    await manual[0].ack()  # the application acks itself
    await wait_until(lambda: _ack_floor(sub, 1), what="the ack floor at 1")
    await sub.unsubscribe()


async def _ack_floor(sub: nats_anyio.PushSubscription, seq: int) -> bool:
    return (await sub.consumer_info()).ack_floor.stream_seq == seq


async def test_callback_error_is_reported_and_not_acked(js: nats_anyio.JetStream) -> None:
    _, subj = await make_stream(js, 1)
    errors: list[BaseException] = []

    def boom(msg: nats_anyio.Msg) -> None:
        raise ValueError(msg.data)

    sub = await js.subscribe(f"{subj}.a", boom, error_cb=errors.append)
    await wait_until(lambda: errors, what="the callback's error")
    assert isinstance(errors[0], ValueError)
    assert (await sub.consumer_info()).num_ack_pending == 1
    await sub.unsubscribe()


async def test_ack_wait_redelivers_an_unacked_message(js: nats_anyio.JetStream) -> None:
    _, subj = await make_stream(js, 1)
    sub = await js.subscribe(f"{subj}.a", config=ConsumerConfig(ack_wait=timedelta(seconds=0.5)))
    first = await sub.next_msg(timeout=2)
    assert first.metadata.num_delivered == 1
    again = await sub.next_msg(timeout=3)  # not acked: delivered again after the ack wait
    assert again.data == first.data
    assert again.metadata.sequence.stream == 1 and again.metadata.num_delivered == 2
    await again.ack()
    await sub.unsubscribe()


# ================================================================ durables and binding


async def test_durable_created_is_deleted_bound_one_stays(
    js: nats_anyio.JetStream, nc: nats_anyio.Client
) -> None:
    stream, subj = await make_stream(js, 1)
    sub = await js.subscribe(f"{subj}.a", durable="made")
    assert (await sub.next_msg(timeout=2)).data == b"0"
    assert not await gone(js, stream, "made")
    await sub.unsubscribe()  # it made the durable: deleted, as nats.go does
    assert await gone(js, stream, "made")

    await js.create_consumer(
        stream, durable_name="kept", deliver_subject=nc.new_inbox(), ack_policy="explicit"
    )
    sub = await js.subscribe(f"{subj}.a", durable="kept")  # looked up and bound
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"0" and msg.metadata.consumer == "kept"
    await msg.ack()
    await sub.unsubscribe()
    assert not await gone(js, stream, "kept")
    # bound again by stream + consumer: it goes on after the acked message
    sub = await js.subscribe("", stream=stream, consumer="kept")
    await js.publish(f"{subj}.a", b"1")
    assert (await sub.next_msg(timeout=2)).data == b"1"
    await sub.unsubscribe()
    assert not await gone(js, stream, "kept")


async def test_bind_errors(js: nats_anyio.JetStream, nc: nats_anyio.Client) -> None:
    stream, subj = await make_stream(js)
    with pytest.raises(ConsumerNotFoundError):
        await js.subscribe(f"{subj}.a", stream=stream, consumer="nobody")
    await js.create_consumer(
        stream, durable_name="grp", deliver_subject=nc.new_inbox(), deliver_group="g"
    )
    with pytest.raises(DeliverGroupMismatchError):
        await js.subscribe(f"{subj}.>", stream=stream, consumer="grp")  # no queue
    with pytest.raises(DeliverGroupMismatchError):
        await js.subscribe(f"{subj}.>", stream=stream, consumer="grp", queue="other")
    await js.create_consumer(
        stream, durable_name="solo", deliver_subject=nc.new_inbox(), filter_subject=f"{subj}.a"
    )
    with pytest.raises(DeliverGroupMismatchError):
        await js.queue_subscribe(f"{subj}.a", "q", stream=stream, consumer="solo")
    with pytest.raises(FilterSubjectMismatchError):
        await js.subscribe(f"{subj}.b", stream=stream, consumer="solo")
    await js.create_consumer(stream, durable_name="puller")
    with pytest.raises(NotPushConsumerError):
        await js.subscribe(f"{subj}.>", stream=stream, consumer="puller")


async def test_queue_members_share_a_durable(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js)
    one: list[bytes] = []
    two: list[bytes] = []
    a = await js.queue_subscribe(f"{subj}.>", "workers", lambda m: one.append(m.data))
    b = await js.queue_subscribe(f"{subj}.>", "workers", lambda m: two.append(m.data))
    assert a.consumer == b.consumer == "workers"
    info = await b.consumer_info()
    assert info.config.deliver_group == "workers"
    for i in range(40):
        await js.publish(f"{subj}.a", str(i).encode())
    await wait_until(lambda: len(one) + len(two) == 40, what="40 messages")
    assert sorted(one + two, key=int) == [str(i).encode() for i in range(40)]  # each once
    await b.unsubscribe()  # bound, not created: the durable stays for the other member
    assert not await gone(js, stream, "workers")
    await a.unsubscribe()  # the member that created it deletes it
    assert await gone(js, stream, "workers")


# ================================================================ flow control, heartbeats


async def test_flow_control_and_heartbeats_on_a_fast_producer(
    js: nats_anyio.JetStream, nc: nats_anyio.Client
) -> None:
    _, subj = await make_stream(js)
    sub = await js.subscribe(f"{subj}.a", idle_heartbeat=0.5, flow_control=True)
    info = await sub.consumer_info()
    assert info.config.flow_control is True
    payload = b"x" * 4096
    count = 3000  # 12 MiB: more than the server sends before asking for flow control
    for _ in range(count):
        await nc.publish(f"{subj}.a", payload)
    await nc.flush()
    seqs = []
    for _ in range(count):
        msg = await sub.next_msg(timeout=5)
        seqs.append(msg.metadata.sequence.stream)
        await msg.ack()
    assert seqs == list(range(1, count + 1))
    await sub.unsubscribe()


async def test_missed_heartbeats_are_reported(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js)
    seen: list[BaseException] = []
    sub = await js.subscribe(f"{subj}.a", lambda m: None, idle_heartbeat=0.2, error_cb=seen.append)
    name = sub.consumer
    assert name is not None
    await js.delete_consumer(stream, name)  # no more heartbeats
    await wait_until(lambda: seen, what="the missed heartbeats")
    assert isinstance(seen[0], MissedHeartbeatError)
    await sub.unsubscribe()


# ================================================================ ordered consumer


async def test_ordered_consumer_recreates_after_a_loss(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js, 30)
    errors: list[BaseException] = []
    sub = await js.subscribe(
        f"{subj}.>", ordered_consumer=True, idle_heartbeat=0.2, error_cb=errors.append
    )
    seqs = [(await sub.next_msg(timeout=2)).metadata.sequence.stream for _ in range(30)]
    assert seqs == list(range(1, 31))
    first = sub.consumer
    assert first is not None
    info = await sub.consumer_info()
    assert info.config.ack_policy == "none" and info.config.flow_control is True
    await js.delete_consumer(stream, first)  # the server lost it
    for i in range(30, 60):
        await js.publish(f"{subj}.b", str(i).encode())
    got = [await sub.next_msg(timeout=5) for _ in range(30)]
    assert [m.metadata.sequence.stream for m in got] == list(range(31, 61))  # no gap, no repeat
    assert [m.data for m in got] == [str(i).encode() for i in range(30, 60)]
    assert sub.consumer != first
    assert any(isinstance(e, MissedHeartbeatError) for e in errors)
    with pytest.raises(NatsTimeoutError):
        await sub.next_msg(timeout=0.3)
    last = sub.consumer
    assert last is not None
    await sub.unsubscribe()
    assert await gone(js, stream, last)


async def test_ordered_consumer_after_a_reconnect(nats_server_js: NatsServer) -> None:
    async with nats_anyio.connect(nats_server_js.url, reconnect_time_wait=0.05) as nc:
        js = nc.jetstream(timeout=2)
        stream, subj = uniq("S"), uniq("s")
        await js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="file")
        await js.publish(f"{subj}.a", b"0")
        sub = await js.subscribe(f"{subj}.a", ordered_consumer=True, idle_heartbeat=0.5)
        assert (await sub.next_msg(timeout=2)).data == b"0"
        first = sub.consumer
        await restart_and_wait(nats_server_js, nc)
        await js.publish(f"{subj}.a", b"1", retry_attempts=20, retry_wait=0.1)
        msg = await sub.next_msg(timeout=10)
        assert msg.data == b"1" and msg.metadata.sequence.stream == 2
        assert sub.consumer != first  # recreated from the next sequence
        await sub.unsubscribe()


async def test_ordered_consumer_callback(js: nats_anyio.JetStream) -> None:
    _, subj = await make_stream(js, 20)
    seqs: list[int] = []
    sub = await js.subscribe(
        f"{subj}.a", lambda m: seqs.append(m.metadata.sequence.stream), ordered_consumer=True
    )
    await wait_until(lambda: len(seqs) == 20, what="20 messages")
    assert seqs == list(range(1, 21))
    await sub.unsubscribe()


# ================================================================ drain


async def test_drain_hands_over_what_arrived_then_deletes(js: nats_anyio.JetStream) -> None:
    stream, subj = await make_stream(js, 10)
    handled: list[bytes] = []
    sub = await js.subscribe(f"{subj}.a", lambda m: handled.append(m.data))
    name = sub.consumer
    assert name is not None
    await wait_until(lambda: len(handled) == 10, what="10 messages")
    await sub.drain(timeout=5)
    assert handled == [str(i).encode() for i in range(10)]
    assert sub.is_closed
    assert await gone(js, stream, name)

    reader = await js.subscribe(f"{subj}.a", durable="drained")
    await wait_until(lambda: reader.pending_msgs >= 10, what="10 messages queued")
    await reader.drain(timeout=5)
    left = [msg.data async for msg in reader]  # what arrived is still there to read
    assert left == [str(i).encode() for i in range(10)]
    assert await gone(js, stream, "drained")
