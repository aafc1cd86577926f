"""Newer-server JetStream (issue #19) against a real nats-server, on the async
client, on asyncio and on Trio: batch direct get and last messages for many
subjects (2.11+), counters under concurrent adds from several connections,
atomic batches that store all or nothing (2.12+), message schedules that fire
on their target at their time and not before.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

import nats_anyio
from anyio_helpers import background, needs_server, uniq
from nats_core.jetstream import (
    AtomicPublishDisabledError,
    InvalidOptionError,
    JetStreamNotEnabledError,
    MsgCounterDisabledError,
    MsgNotFoundError,
    StoredMsg,
    StreamConfig,
    WrongLastSequenceError,
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


# ------------------------------------------------------------ batch direct get


@needs_server(2, 11)
async def test_get_batch_streams_messages_and_ends_on_the_marker(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory", allow_direct=True)
    for i in range(6):
        await js.publish(f"{subj}.{'a' if i % 2 else 'b'}", str(i).encode())
    async with js.get_batch(name, 4) as msgs:
        got = [m async for m in msgs]
    assert [m.seq for m in got] == [1, 2, 3, 4]
    assert [m.data for m in got] == [b"0", b"1", b"2", b"3"]
    assert msgs.num_pending == 2 and msgs.last_seq == 4
    only_a = await js.get_batch(name, 10, subject=f"{subj}.a", seq=3).collect()
    assert [m.seq for m in only_a] == [4, 6]
    assert all(m.subject == f"{subj}.a" and m.stream == name for m in only_a)
    future = datetime.now(UTC) + timedelta(hours=1)
    later = await js.get_batch(name, 10, start_time=future).collect()
    assert later == []
    small = await js.get_batch(name, 10, max_bytes=1).collect()
    assert len(small) == 1


@needs_server(2, 11)
async def test_get_last_msgs_for(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory", allow_direct=True)
    for i, key in enumerate(["a", "b", "a", "c", "b"]):
        await js.publish(f"{subj}.{key}", str(i).encode())
    async with js.get_last_msgs_for(name, [f"{subj}.a", f"{subj}.b"]) as msgs:
        last = {m.subject: m.data async for m in msgs}
    assert last == {f"{subj}.a": b"2", f"{subj}.b": b"4"}
    assert msgs.up_to_seq == 5
    old = await js.get_last_msgs_for(name, f"{subj}.*", up_to_seq=3).collect()
    assert {m.subject: m.seq for m in old} == {f"{subj}.a": 3, f"{subj}.b": 2}
    assert await js.get_last_msgs_for(name, f"{subj}.zzz").collect() == []


@needs_server(2, 11)
async def test_get_batch_without_direct_fails(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    with pytest.raises(JetStreamNotEnabledError):
        await js.get_batch(name, 2).collect()


# -------------------------------------------------------------------- counters


@needs_server(2, 12)
async def test_counter_add_get_and_many(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("C"), uniq("c")
    await js.create_stream(
        name=name,
        subjects=[f"{subj}.>"],
        storage="memory",
        allow_msg_counter=True,
        allow_direct=True,
    )
    counter = await js.counter(name)
    assert await counter.add(f"{subj}.a", 5) == 5
    assert await counter.add(f"{subj}.a", -7) == -2
    big = 10**40
    assert await counter.add(f"{subj}.b", big) == big
    assert await counter.increment(f"{subj}.b") == big + 1
    assert await counter.get(f"{subj}.a") == -2
    entry = await counter.entry(f"{subj}.b")
    assert entry.value == big + 1 and entry.incr == 1 and entry.sources == {}
    assert await counter.get_many(f"{subj}.*") == {f"{subj}.a": -2, f"{subj}.b": big + 1}
    with pytest.raises(MsgNotFoundError):
        await counter.get(f"{subj}.never")


@needs_server(2, 12)
async def test_counter_on_a_plain_stream_is_refused(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    with pytest.raises(MsgCounterDisabledError):
        await js.counter(name)
    cname, csubj = uniq("C"), uniq("c")
    ccfg = StreamConfig(name=cname, subjects=[f"{csubj}.>"], allow_msg_counter=True)
    await js.create_stream(ccfg)
    counter = await js.counter(cname)
    with pytest.raises(MsgCounterDisabledError) as exc:
        await counter.add(f"{subj}.x", 1)  # a subject of the plain stream
    assert exc.value.err_code == 10168
    with pytest.raises(InvalidOptionError):
        await counter.get_many(f"{csubj}.*")  # needs allow_direct


@needs_server(2, 12)
async def test_counter_sums_concurrent_adds_from_several_connections(
    js: nats_anyio.JetStream, js_server: NatsServer
) -> None:
    name, subj = uniq("C"), uniq("c")
    await js.create_stream(
        name=name, subjects=[f"{subj}.>"], storage="file", allow_msg_counter=True, allow_direct=True
    )
    rounds = 40
    async with (
        nats_anyio.connect(js_server.url) as nc1,
        nats_anyio.connect(js_server.url) as nc2,
    ):
        c0 = await js.counter(name)
        c1 = await nc1.jetstream().counter(name)
        c2 = await nc2.jetstream().counter(name)

        async def add_twos() -> None:
            for _ in range(rounds):
                await c1.add(f"{subj}.n", 2)

        async def subtract_ones() -> None:
            for _ in range(rounds):
                await c2.add(f"{subj}.n", -1)

        async with background(add_twos), background(subtract_ones):
            for _ in range(rounds):
                await c0.add(f"{subj}.n", 10)
    assert await c0.get(f"{subj}.n") == rounds * (2 - 1 + 10)
    info = await js.stream_info(name)
    assert info.state.last_seq == 3 * rounds  # one stored message per add


# ---------------------------------------------------------------- atomic batch


@needs_server(2, 12)
async def test_atomic_batch_commits_all(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory", allow_atomic=True)
    batch = js.batch_publish()
    await batch.add(f"{subj}.a", b"1", expected_last_seq=0)
    await batch.add(f"{subj}.b", b"2")
    ack = await batch.commit(f"{subj}.c", b"3")
    assert (ack.stream, ack.seq, ack.count, ack.batch) == (name, 3, 3, batch.batch_id)
    assert batch.closed and batch.size == 3
    assert (await js.stream_info(name)).state.messages == 3


@needs_server(2, 12)
async def test_failed_atomic_commit_leaves_the_stream_unchanged(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory", allow_atomic=True)
    await js.publish(f"{subj}.a", b"before")
    batch = js.batch_publish()
    await batch.add(f"{subj}.a", b"1")
    await batch.add(f"{subj}.b", b"2")
    with pytest.raises(WrongLastSequenceError):
        # the stream's last sequence is 1, not 5: the whole batch is refused
        await batch.commit(f"{subj}.c", b"3", expected_last_subject_seq=5)
    info = await js.stream_info(name)
    assert (info.state.messages, info.state.last_seq) == (1, 1)
    assert (await js.get_msg(name, 1)).data == b"before"


@needs_server(2, 12)
async def test_atomic_batch_on_a_stream_without_allow_atomic(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    batch = js.batch_publish()
    with pytest.raises(AtomicPublishDisabledError):
        await batch.add(f"{subj}.a", b"1")
    assert batch.closed
    assert (await js.stream_info(name)).state.messages == 0


@needs_server(2, 14)
async def test_atomic_batch_close_commits_without_a_last_message(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory", allow_atomic=True)
    batch = js.batch_publish(ack_every=2)
    for i in range(5):
        await batch.add(f"{subj}.a", str(i).encode())
    ack = await batch.close()
    assert (ack.seq, ack.count) == (5, 5)
    assert (await js.stream_info(name)).state.messages == 5


# ------------------------------------------------------------------- schedules


async def _last_or_none(js: nats_anyio.JetStream, stream: str, subject: str) -> StoredMsg | None:
    try:
        return await js.get_msg(stream, last_by_subject=subject)
    except MsgNotFoundError:
        return None


@needs_server(2, 12)
async def test_scheduled_message_arrives_after_its_time_not_before(
    js: nats_anyio.JetStream,
) -> None:
    name, subj = uniq("S"), uniq("s")
    cfg = StreamConfig(name=name, subjects=[f"{subj}.>"], allow_msg_schedules=True)
    await js.create_stream(cfg)
    start = time.monotonic()
    at = datetime.now(UTC) + timedelta(seconds=2)
    await js.publish_schedule(f"{subj}.sched.a", b"hello", target=f"{subj}.out.a", at=at)
    await js.publish_schedule(f"{subj}.sched.b", b"never", target=f"{subj}.out.b", delay=2)
    assert await js.cancel_schedule(name, f"{subj}.sched.b")
    await anyio.sleep(1.0)
    assert await _last_or_none(js, name, f"{subj}.out.a") is None  # not before its time
    got = None
    for _ in range(40):
        got = await _last_or_none(js, name, f"{subj}.out.a")
        if got is not None:
            break
        await anyio.sleep(0.25)
    assert got is not None, "the scheduled message never arrived"
    assert time.monotonic() - start >= 1.5
    assert got.data == b"hello"
    assert got.time is not None and got.time >= at
    assert got.headers is not None
    assert got.headers["Nats-Scheduler"] == f"{subj}.sched.a"
    assert await _last_or_none(js, name, f"{subj}.out.b") is None  # cancelled


async def test_schedule_validation_before_sending(js: nats_anyio.JetStream) -> None:
    with pytest.raises(InvalidOptionError):
        await js.publish_schedule("x.a", target="x.a", delay=1)  # target is itself
    with pytest.raises(InvalidOptionError):
        await js.publish_schedule("x.a", target="x.b", every=0.5)
    with pytest.raises(InvalidOptionError):
        await js.publish_schedule("x.a", target="x.b")  # no time
