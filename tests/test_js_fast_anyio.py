"""Fast-ingest batch publish (nats-server 2.14+, ``allow_batched``) against a real
nats-server, on the async client, on asyncio and on Trio: messages stored in
order as they are added, the server's flow acknowledgements, a lost
acknowledgement requested again by a ping, the commit's final acknowledgement;
and listing the schedules of a stream.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import nats_anyio
from anyio_helpers import needs_server, uniq
from nats_core.jetstream import InvalidOptionError
from nats_core.jetstream.errors import (
    BatchPublishDisabledError,
    FastBatchEndedError,
    JetStreamError,
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


async def fast_stream(js: nats_anyio.JetStream, storage: str = "memory") -> tuple[str, str]:
    name, subj = uniq("F"), uniq("f")
    await js.create_stream(
        name=name, subjects=[f"{subj}.>"], storage=storage, allow_batched=True, allow_direct=True
    )
    return name, subj


async def stored(js: nats_anyio.JetStream, name: str, n: int) -> list[bytes]:
    return [m.data for m in await js.get_batch(name, n + 10).collect()]


@needs_server(2, 14)
async def test_messages_are_stored_in_order_and_commit_returns_the_last(
    js: nats_anyio.JetStream,
) -> None:
    name, subj = await fast_stream(js, "file")
    await js.publish(f"{subj}.before", b"x")
    pub = js.fast_publisher(flow=10)
    for i in range(200):
        assert await pub.add(f"{subj}.{i % 3}", str(i).encode()) == i + 1
    ack = await pub.commit(f"{subj}.last", b"last")
    assert (ack.stream, ack.seq, ack.count, ack.batch) == (name, 202, 201, pub.batch_id)
    assert pub.closed
    data = await stored(js, name, 202)
    assert data == [b"x", *[str(i).encode() for i in range(200)], b"last"]
    # the server acknowledged every 10 messages (its first ack says so)
    assert 18 <= pub.acks_received <= 21 and pub.flow == 10
    with pytest.raises(FastBatchEndedError):
        await pub.add(f"{subj}.0", b"late")


@needs_server(2, 14)
async def test_the_publisher_stalls_until_acknowledged(js: nats_anyio.JetStream) -> None:
    name, subj = await fast_stream(js)
    pub = js.fast_publisher(flow=1, max_outstanding_acks=1)
    for i in range(30):
        await pub.add(f"{subj}.a", str(i).encode())
        assert pub.ack_seq == pub.size  # at most 1 * 1 outstanding: waited for each
    ack = await pub.close()  # commit without a last message
    assert ack.count == 30 and ack.seq == 30
    assert pub.acks_received >= 30
    assert await stored(js, name, 30) == [str(i).encode() for i in range(30)]


@needs_server(2, 14)
async def test_a_lost_ack_is_recovered_by_a_ping(js: nats_anyio.JetStream) -> None:
    name, subj = await fast_stream(js)
    pub = js.fast_publisher(flow=5, max_outstanding_acks=1, ack_timeout=1.5)
    dropped: list[bytes] = []
    deliver = pub._on_reply

    def lossy(msg: nats_anyio.Msg, fb: object) -> None:
        # lose the server's first acknowledgement after the start (seq 5)
        if not dropped and msg.data.startswith(b'{"type":"ack","seq":5,'):
            dropped.append(msg.data)
            return
        deliver(msg, fb)  # type: ignore[arg-type]

    pub._on_reply = lossy  # type: ignore[method-assign]
    for i in range(12):
        await pub.add(f"{subj}.a", str(i).encode())
    assert dropped and pub.pings_sent >= 1
    ack = await pub.commit(f"{subj}.a", b"end")
    assert ack.count == 13 and ack.seq == 13
    assert len(await stored(js, name, 13)) == 13


@needs_server(2, 14)
async def test_one_message_batch_and_context_manager(js: nats_anyio.JetStream) -> None:
    name, subj = await fast_stream(js)
    ack = await js.fast_publisher().commit(f"{subj}.one", b"1")
    assert (ack.seq, ack.count) == (1, 1)
    async with js.fast_publisher() as pub:
        await pub.add(f"{subj}.a", b"2")
        await pub.add(f"{subj}.a", b"3")
    assert pub.closed
    assert await stored(js, name, 3) == [b"1", b"2", b"3"]


@needs_server(2, 14)
async def test_a_stream_without_allow_batched_refuses(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("F"), uniq("f")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    pub = js.fast_publisher()
    with pytest.raises(BatchPublishDisabledError):
        await pub.add(f"{subj}.a", b"x")
    assert pub.closed
    with pytest.raises(BatchPublishDisabledError):
        await pub.add(f"{subj}.a", b"x")


@needs_server(2, 14)
async def test_a_failed_check_ends_the_batch_with_gap_fail(js: nats_anyio.JetStream) -> None:
    name, subj = await fast_stream(js)
    pub = js.fast_publisher(flow=1, max_outstanding_acks=1)
    await pub.add(f"{subj}.a", b"1")
    await pub.add(f"{subj}.a", b"2")
    with pytest.raises(FastBatchEndedError) as info:
        await pub.add(f"{subj}.a", b"3", expected_last_seq=99)
        await pub.add(f"{subj}.a", b"4")  # if the end was not seen yet
    assert isinstance(info.value.cause, WrongLastSequenceError)
    assert info.value.ack is not None and info.value.ack.seq == 2
    assert await stored(js, name, 2) == [b"1", b"2"]


@needs_server(2, 14)
async def test_continue_on_gap_reports_errors_and_goes_on(js: nats_anyio.JetStream) -> None:
    name, subj = await fast_stream(js)
    seen: list[JetStreamError] = []
    pub = js.fast_publisher(
        flow=1, max_outstanding_acks=1, continue_on_gap=True, error_cb=seen.append
    )
    await pub.add(f"{subj}.a", b"1")
    await pub.add(f"{subj}.a", b"2", expected_last_seq=99)
    await pub.add(f"{subj}.a", b"3")
    ack = await pub.commit(f"{subj}.a", b"4")
    assert ack.seq == 3
    assert [type(e) for e in seen] == [WrongLastSequenceError]
    assert len(pub.errors) == 1 and pub.errors[0].seq == 2
    assert await stored(js, name, 3) == [b"1", b"3", b"4"]


async def test_options_are_checked_before_anything_is_sent(js: nats_anyio.JetStream) -> None:
    with pytest.raises(InvalidOptionError):
        js.fast_publisher(flow=0)
    with pytest.raises(InvalidOptionError):
        await js.fast_publisher().close()


# ------------------------------------------------- listing schedules (2.12+)
# (kept here, with the other 2.14 additions of issue #19's second part)


@needs_server(2, 14)
async def test_list_schedules(js: nats_anyio.JetStream) -> None:
    name, subj = uniq("SC"), uniq("sc")
    await js.create_stream(
        name=name,
        subjects=[f"{subj}.>"],
        storage="memory",
        allow_msg_schedules=True,
        allow_msg_ttl=True,
        allow_direct=True,
    )
    at = datetime.now(UTC) + timedelta(hours=1)
    await js.publish_schedule(f"{subj}.sched.a", b"A", target=f"{subj}.run.a", at=at)
    await js.publish_schedule(f"{subj}.sched.b", b"B", target=f"{subj}.run.b", every=3600, ttl=60)
    await js.publish(f"{subj}.other", b"not a schedule")
    got = {s.subject: s for s in await js.list_schedules(name)}
    assert set(got) == {f"{subj}.sched.a", f"{subj}.sched.b"}
    a, b = got[f"{subj}.sched.a"], got[f"{subj}.sched.b"]
    assert a.pattern.startswith("@at ") and a.target == f"{subj}.run.a" and a.data == b"A"
    assert b.pattern == "@every 1h0m0s" and b.ttl == "1m0s" and b.seq == 2
    only = await js.list_schedules(name, f"{subj}.sched.b")
    assert [s.subject for s in only] == [f"{subj}.sched.b"]
    assert await js.cancel_schedule(name, f"{subj}.sched.a")
    assert [s.subject for s in await js.list_schedules(name)] == [f"{subj}.sched.b"]
