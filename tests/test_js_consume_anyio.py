"""Draining a pull consume, and consumers that go away, against a real nats-server
on the async client, on asyncio and on Trio (issue #13).

``drain()`` of ``messages()`` / ``consume()`` sends no new pull and hands out
what the pulls in flight bring, then ends; a consumer that does not exist
fails at once with ``ConsumerNotFoundError``; one deleted while consuming ends
the iterator or the consume with the error reported. Pull requests are counted
by a plain subscription on the consumer's ``CONSUMER.MSG.NEXT`` subject.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

import nats_anyio
from anyio_helpers import Event, uniq, wait_until
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import (
    ConsumerDeletedError,
    ConsumerNotFoundError,
    MissedHeartbeatError,
    StreamNotFoundError,
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
    """A fresh stream capturing ``<subj>.>`` with ``count`` messages ``b"0"``...;
    returns (stream name, subject token)."""
    name, subj = uniq("S"), uniq("s")
    await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    for i in range(count):
        await js.publish(f"{subj}.a", b"%d" % i)
    return name, subj


async def count_pulls(nc: nats_anyio.Client, stream: str, consumer: str) -> list[int]:
    """A list that grows by one for every pull request sent to ``consumer`` (a
    callback adds it: let it run, :func:`settled`, before reading the count)."""
    pulls: list[int] = []
    subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
    await nc.subscribe(subject, cb=lambda m: pulls.append(1))
    await nc.flush()
    return pulls


async def all_delivered(c: nats_anyio.Consumer, count: int) -> bool:
    """True once the server delivered ``count`` messages and holds no pull of ``c``."""
    info = await c.info()
    return info.delivered.consumer_seq >= count and info.num_waiting == 0


async def settled(nc: nats_anyio.Client) -> None:
    """Let pulls in flight reach the server and the counting callback run."""
    await nc.flush()
    await anyio.sleep(0.2)


# ====================================================================== drain


async def test_messages_drain_hands_out_what_was_pulled_and_pulls_no_more(
    nc: nats_anyio.Client, js: nats_anyio.JetStream
) -> None:
    name, _ = await make_stream(js, 50)
    c = await js.create_consumer(name, durable_name="d", ack_policy="explicit")
    pulls = await count_pulls(nc, name, "d")
    it = c.messages(max_messages=10)
    got = [await it.next(timeout=2) for _ in range(3)]
    await wait_until(lambda: len(pulls) == 1)  # 7 of 10 still pending: no refill yet
    await it.drain()
    assert it.is_draining and not it.is_stopped
    async for msg in it:
        got.append(msg)
    assert [int(m.data) for m in got] == list(range(10))  # the first pull, all of it
    assert it.is_stopped and it.error is None
    with pytest.raises(SubscriptionClosedError):
        await it.next(timeout=0.1)
    await settled(nc)
    info = await js.consumer_info(name, "d")
    assert (info.num_ack_pending, info.num_pending, info.num_waiting) == (10, 40, 0)
    assert len(pulls) == 1  # nothing pulled after the drain


async def test_messages_drain_waits_for_the_pull_in_flight(
    nc: nats_anyio.Client, js: nats_anyio.JetStream
) -> None:
    name, subj = await make_stream(js, 3)
    c = await js.create_consumer(name, durable_name="w", ack_policy="explicit")
    pulls = await count_pulls(nc, name, "w")
    it = c.messages(max_messages=10, expires=2)
    got = [int((await it.next(timeout=2)).data) for _ in range(3)]
    t0 = time.monotonic()
    await it.drain()
    for i in (3, 4):  # still taken by the pull in flight (7 more wanted)
        await js.publish(f"{subj}.a", b"%d" % i)
    got += [int(m.data) async for m in it]  # ends when the pull expires on the server
    assert got == [0, 1, 2, 3, 4]
    assert time.monotonic() - t0 < 4.5
    await js.publish(f"{subj}.a", b"5")
    await settled(nc)
    info = await js.consumer_info(name, "w")
    assert (info.num_ack_pending, info.num_pending, info.num_waiting) == (5, 1, 0)
    assert len(pulls) == 1


async def test_drain_before_the_first_message_sends_nothing(
    nc: nats_anyio.Client, js: nats_anyio.JetStream
) -> None:
    name, _ = await make_stream(js, 5)
    c = await js.create_consumer(name, durable_name="n")
    pulls = await count_pulls(nc, name, "n")
    it = c.messages()
    await it.drain()
    assert [m async for m in it] == []
    await settled(nc)
    assert pulls == []


async def test_consume_drain_runs_the_callback_for_what_was_pulled(
    nc: nats_anyio.Client, js: nats_anyio.JetStream
) -> None:
    name, _ = await make_stream(js, 50)
    c = await js.create_consumer(name, durable_name="cd", ack_policy="explicit")
    pulls = await count_pulls(nc, name, "cd")
    seen: list[int] = []
    errors: list[BaseException] = []
    third, go_on = Event(), Event()

    async def handle(msg: nats_anyio.Msg) -> None:
        seen.append(int(msg.data))
        if len(seen) == 3:
            third.set()
            await go_on.wait(5)

    ctx = await c.consume(handle, error_cb=errors.append, max_messages=10)
    assert await third.wait(5)
    await ctx.drain()
    assert ctx.is_draining
    go_on.set()
    assert await ctx.wait_closed(5)
    assert seen == list(range(10))
    assert ctx.error is None and errors == []
    await settled(nc)
    info = await js.consumer_info(name, "cd")
    assert (info.num_ack_pending, info.num_waiting) == (10, 0)
    assert len(pulls) == 1


async def test_ordered_consumer_drains_too(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js, 30)
    oc = await js.ordered_consumer(name)
    it = oc.messages(max_messages=10)
    got = [int((await it.next(timeout=2)).data) for _ in range(2)]
    await it.drain()
    got += [int(m.data) async for m in it]
    assert got == list(range(10))


# ======================================================= consumers that go away


async def test_a_missing_consumer_fails_at_once(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js, 3)
    c = await js.create_consumer(name, durable_name="gone")
    await js.delete_consumer(name, "gone")

    t0 = time.monotonic()
    it = c.messages()
    with pytest.raises(ConsumerNotFoundError):
        await it.next(timeout=10)
    assert it.is_stopped and isinstance(it.error, ConsumerNotFoundError)
    with pytest.raises(ConsumerNotFoundError):  # it stays failed
        async for _ in it:
            pass
    with pytest.raises(ConsumerNotFoundError):
        await c.consume(lambda m: None)
    await js.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        await c.messages().next(timeout=10)
    assert time.monotonic() - t0 < 3  # no retrying: each asks the server once


@pytest.mark.server_2_10  # 2.9 does not answer a pull for a missing consumer at all
async def test_fetch_from_a_missing_consumer_fails_at_once(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js, 3)
    c = await js.create_consumer(name, durable_name="gone")
    await js.delete_consumer(name, "gone")
    t0 = time.monotonic()
    with pytest.raises(ConsumerNotFoundError):
        await c.fetch(1, max_wait=10)
    with pytest.raises(ConsumerNotFoundError):
        await c.next(timeout=10)
    await js.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        await c.fetch_no_wait(1)
    assert time.monotonic() - t0 < 3


async def test_consumer_deleted_while_no_pull_waits_ends_the_consume(
    js: nats_anyio.JetStream,
) -> None:
    # With a one-message buffer the server holds no pull between two messages:
    # the deletion sends no 409, and the next pull finds no consumer (2.10+
    # answers it with a 503, 2.9 not at all: the heartbeats stop, and the check
    # that follows finds no consumer).
    name, _ = await make_stream(js, 2)
    c = await js.create_consumer(name, durable_name="del")
    opts = {"max_messages": 1, "expires": 2, "idle_heartbeat": 0.5}
    it = c.messages(**opts)
    assert (await it.next(timeout=2)).data == b"0"
    await wait_until(lambda: all_delivered(c, 2), what="the refill pull to be served")
    await js.delete_consumer(name, "del")
    assert (await it.next(timeout=2)).data == b"1"  # delivered before the deletion
    t0 = time.monotonic()
    with pytest.raises(ConsumerNotFoundError):
        for _ in range(3):
            try:
                await it.next(timeout=5)
            except MissedHeartbeatError:
                continue  # (2.9) then the check
    assert time.monotonic() - t0 < 4
    assert isinstance(it.error, ConsumerNotFoundError)

    c2 = await js.create_consumer(name, durable_name="del2", deliver_policy="all")
    seen: list[bytes] = []
    errors: list[BaseException] = []
    first, go_on = Event(), Event()

    async def handle(msg: nats_anyio.Msg) -> None:
        seen.append(msg.data)
        if len(seen) == 1:
            first.set()
            await go_on.wait(5)

    ctx = await c2.consume(handle, error_cb=errors.append, **opts)
    assert await first.wait(5)
    await wait_until(lambda: all_delivered(c2, 2), what="the refill pull to be served")
    await js.delete_consumer(name, "del2")
    go_on.set()
    assert await ctx.wait_closed(5)
    assert seen == [b"0", b"1"]
    assert isinstance(ctx.error, ConsumerNotFoundError)
    assert any(isinstance(e, ConsumerNotFoundError) for e in errors)


async def test_consumer_deleted_while_pulling_ends_with_the_409(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js)
    c = await js.create_consumer(name, durable_name="d409")
    it = c.messages()
    errors: list[BaseException] = []
    ctx = await c.consume(lambda m: None, error_cb=errors.append)
    with pytest.raises(NatsTimeoutError):  # the pull waits on the server now
        await it.next(timeout=0.3)
    await js.delete_consumer(name, "d409")
    with pytest.raises(ConsumerDeletedError):
        await it.next(timeout=5)
    assert isinstance(it.error, ConsumerDeletedError)
    assert await ctx.wait_closed(5)
    assert isinstance(ctx.error, ConsumerDeletedError)
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)
