"""Priority groups (ADR-42) against a real nats-server (2.11+; ``prioritized`` 2.12+):
which of two clients gets which messages, for each policy, on the blocking client
and on the async one (asyncio and Trio).

The clients are two connections, each with its own handle of the same durable
consumer (a handle keeps its pin id).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import anyio
import pytest

import nats_anyio
import nats_sync
from anyio_helpers import wait_until as await_until
from js_helpers import needs_server, uniq
from nats_core.errors import NatsTimeoutError
from nats_core.jetstream import (
    ConsumerConfig,
    InvalidOptionError,
    PriorityPolicy,
    PullBadRequestError,
)
from nats_core.jetstream.pull import PIN_ID_HEADER
from pynats.server import NatsServer
from sync_helpers import wait_until

GROUP = "jobs"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ------------------------------------------------------------------ helpers


@contextmanager
def two_clients(
    server: NatsServer,
) -> Iterator[tuple[nats_sync.JetStream, nats_sync.JetStream]]:
    with nats_sync.connect(server.url) as nc1, nats_sync.connect(server.url) as nc2:
        yield nc1.jetstream(timeout=5.0), nc2.jetstream(timeout=5.0)


def setup(js: nats_sync.JetStream, policy: PriorityPolicy, **fields: object) -> tuple[str, str]:
    """A fresh stream on ``<subj>.>`` and a durable consumer ``C`` with group ``jobs``."""
    stream, subj = uniq("PRIO"), uniq("prio")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    js.create_consumer(
        stream,
        ConsumerConfig(
            durable_name="C",
            priority_groups=[GROUP],
            priority_policy=policy,
            **fields,  # type: ignore[arg-type]
        ),
    )
    return stream, subj


def publish(js: nats_sync.JetStream, subj: str, first: int, count: int) -> None:
    for i in range(first, first + count):
        js.publish(f"{subj}.job", b"%d" % i)


def numbers(msgs: list[nats_sync.Msg]) -> list[int]:
    return [int(m.data) for m in msgs]


def ack_all(msgs: list[nats_sync.Msg]) -> None:
    for m in msgs:
        m.ack()


# ========================================================== the blocking client


@needs_server(2, 11)
def test_pinned_client_one_gets_everything_until_unpinned(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, js2):
        stream, subj = setup(js1, PriorityPolicy.PINNED_CLIENT)
        publish(js1, subj, 0, 10)
        a, b = js1.consumer(stream, "C"), js2.consumer(stream, "C")

        first = a.fetch(3, max_wait=2, group=GROUP)
        assert numbers(first) == [0, 1, 2]
        pin = a.pin_id
        assert pin and all(m.headers and m.headers.get(PIN_ID_HEADER) == pin for m in first)
        ack_all(first)
        # b waits as a standby: nothing for it while a is pinned.
        assert b.fetch(3, max_wait=0.5, group=GROUP) == []
        assert b.pin_id is None
        again = a.fetch(3, max_wait=2, group=GROUP)
        assert numbers(again) == [3, 4, 5]
        ack_all(again)
        state = a.info().priority_groups
        assert state is not None and state[0].group == GROUP
        assert state[0].pinned_client_id == pin

        a.unpin(GROUP)
        taken = b.fetch(2, max_wait=2, group=GROUP)
        assert numbers(taken) == [6, 7]
        assert b.pin_id not in (None, pin)
        ack_all(taken)
        # a's pin is stale now: 423, dropped quietly, a waits as a standby.
        assert a.fetch(2, max_wait=0.5, group=GROUP) == []
        assert a.pin_id is None
        rest = b.fetch(5, max_wait=1, group=GROUP)
        assert numbers(rest) == [8, 9]
        ack_all(rest)


@needs_server(2, 11)
def test_pinned_client_gone_the_other_takes_over(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, js2):
        stream, subj = setup(
            js1, PriorityPolicy.PINNED_CLIENT, priority_timeout=timedelta(seconds=1)
        )
        publish(js1, subj, 0, 4)
        a, b = js1.consumer(stream, "C"), js2.consumer(stream, "C")
        got = a.fetch(2, max_wait=2, group=GROUP)
        assert numbers(got) == [0, 1] and a.pin_id
        ack_all(got)
        # a stops pulling: after priority_timeout (1 s) the server pins b's pull.
        taken = b.fetch(2, max_wait=5, group=GROUP)
        assert numbers(taken) == [2, 3]
        assert b.pin_id not in (None, a.pin_id)
        ack_all(taken)
        # js.unpin_consumer is the same call as Consumer.unpin.
        js1.unpin_consumer(stream, "C", GROUP)
        state = js1.consumer_info(stream, "C").priority_groups
        assert state is not None and state[0].pinned_client_id is None


@needs_server(2, 11)
def test_overflow_only_past_min_pending(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, js2):
        stream, subj = setup(js1, PriorityPolicy.OVERFLOW)
        a, b = js1.consumer(stream, "C"), js2.consumer(stream, "C")
        publish(js1, subj, 0, 5)
        # 5 pending < 10: the overflow client gets nothing.
        assert b.fetch(5, max_wait=0.5, group=GROUP, min_pending=10) == []
        assert b.fetch_no_wait(5, group=GROUP, min_pending=10) == []
        publish(js1, subj, 5, 15)
        # 20 pending >= 10: it is served.
        over = b.fetch(5, max_wait=2, group=GROUP, min_pending=10)
        assert numbers(over) == [0, 1, 2, 3, 4]
        ack_all(over)
        # The main client takes everything, thresholds or not.
        main = a.fetch(15, max_wait=2, group=GROUP)
        assert numbers(main) == list(range(5, 20))
        # min_ack_pending: 15 unacked >= 3 now, so the overflow client is served.
        publish(js1, subj, 20, 1)
        msg = b.next(timeout=2, group=GROUP, min_ack_pending=3)
        assert int(msg.data) == 20
        ack_all([*main, msg])


@needs_server(2, 12)
def test_prioritized_lower_priority_value_first(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, js2):
        stream, subj = setup(js1, PriorityPolicy.PRIORITIZED)
        a, b = js1.consumer(stream, "C"), js2.consumer(stream, "C")

        def waiting() -> int:
            return js1.consumer_info(stream, "C").num_waiting

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            low = pool.submit(a.fetch, 1, max_wait=5, group=GROUP, priority=5)
            wait_until(lambda: waiting() == 1, what="a's pull")
            high = pool.submit(b.fetch, 1, max_wait=5, group=GROUP, priority=1)
            wait_until(lambda: waiting() == 2, what="b's pull")
            publish(js1, subj, 0, 1)
            assert numbers(high.result(5)) == [0]  # b asked later, with priority 1 < 5
            assert not low.done()
            publish(js1, subj, 1, 1)
            assert numbers(low.result(5)) == [1]


@needs_server(2, 11)
def test_priority_group_checks(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, _):
        stream, subj = setup(js1, PriorityPolicy.OVERFLOW)
        c = js1.consumer(stream, "C")
        publish(js1, subj, 0, 1)
        # Without the group, the server refuses the pull (what issue #13 saw).
        with pytest.raises(PullBadRequestError, match="Priority Group missing"):
            c.fetch(1, max_wait=1)
        with pytest.raises(InvalidOptionError, match="not one of the consumer's"):
            c.fetch(1, max_wait=1, group="other")
        with pytest.raises(InvalidOptionError, match="give the consumer's group"):
            c.fetch(1, max_wait=1, min_pending=3)
        with pytest.raises(InvalidOptionError, match="priority must be"):
            c.next(timeout=1, group=GROUP, priority=10)
        with pytest.raises(InvalidOptionError, match="not one of the consumer's"):
            c.messages(group="other")
        plain = js1.create_consumer(stream, durable_name="P")
        with pytest.raises(InvalidOptionError, match="no priority groups"):
            plain.fetch_no_wait(1, group=GROUP)
        with pytest.raises(InvalidOptionError, match="'overflow'"):
            js1.create_consumer(
                stream,
                durable_name="Q",
                priority_policy=PriorityPolicy.PINNED_CLIENT,
                priority_groups=[GROUP],
            ).fetch(1, group=GROUP, min_pending=2)
        assert [int(m.data) for m in c.fetch_no_wait(1, group=GROUP)] == [0]


@needs_server(2, 11)
def test_pinned_consume_blocking(js_server: NatsServer) -> None:
    with two_clients(js_server) as (js1, js2):
        stream, subj = setup(js1, PriorityPolicy.PINNED_CLIENT)
        a, b = js1.consumer(stream, "C"), js2.consumer(stream, "C")
        got_a: list[int] = []
        got_b: list[int] = []

        def into(box: list[int]) -> Callable[[nats_sync.Msg], None]:
            def cb(msg: nats_sync.Msg) -> None:
                box.append(int(msg.data))
                msg.ack()

            return cb

        publish(js1, subj, 0, 3)
        with a.consume(into(got_a), group=GROUP):
            wait_until(lambda: len(got_a) == 3, what="a's messages")  # a is pinned
            with b.consume(into(got_b), group=GROUP):
                wait_until(lambda: js1.consumer_info(stream, "C").num_waiting >= 2, what="b's pull")
                publish(js1, subj, 3, 3)
                wait_until(lambda: len(got_a) == 6, what="a's next messages")
                assert got_b == []
                js2.unpin_consumer(stream, "C", GROUP)
                publish(js1, subj, 6, 3)
                wait_until(lambda: len(got_b) == 3, what="b's messages after the unpin")
                assert got_a == list(range(6)) and got_b == [6, 7, 8]
                wait_until(lambda: a.pin_id is None, what="a dropping its stale pin")
                assert b.pin_id


# ============================================================= the async client


async def asetup(js: nats_anyio.JetStream, policy: PriorityPolicy) -> tuple[str, str]:
    stream, subj = uniq("PRIO"), uniq("prio")
    await js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    await js.create_consumer(
        stream, durable_name="C", priority_groups=[GROUP], priority_policy=policy
    )
    return stream, subj


async def apublish(js: nats_anyio.JetStream, subj: str, first: int, count: int) -> None:
    for i in range(first, first + count):
        await js.publish(f"{subj}.job", b"%d" % i)


@needs_server(2, 11)
@pytest.mark.anyio
async def test_pinned_client_async(js_server: NatsServer) -> None:
    async with (
        nats_anyio.connect(js_server.url) as nc1,
        nats_anyio.connect(js_server.url) as nc2,
    ):
        js1, js2 = nc1.jetstream(timeout=5.0), nc2.jetstream(timeout=5.0)
        stream, subj = await asetup(js1, PriorityPolicy.PINNED_CLIENT)
        await apublish(js1, subj, 0, 6)
        a, b = await js1.consumer(stream, "C"), await js2.consumer(stream, "C")
        got_a: list[int] = []
        got_b: list[int] = []

        async def run_b() -> None:
            async with b.messages(group=GROUP, max_messages=10) as it:
                async for msg in it:
                    got_b.append(int(msg.data))
                    await msg.ack()
                    if len(got_b) == 3:
                        return

        async with a.messages(group=GROUP, max_messages=10) as it_a:
            for _ in range(3):
                msg = await it_a.next(timeout=2)
                got_a.append(int(msg.data))
                await msg.ack()
            assert a.pin_id
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_b)
                await await_until(
                    lambda: _waiting(js1, stream, 2), what="both clients' pulls waiting"
                )
                for _ in range(3):  # a is pinned: the rest is a's
                    msg = await it_a.next(timeout=2)
                    got_a.append(int(msg.data))
                    await msg.ack()
                assert got_b == []
                await a.unpin(GROUP)
                await apublish(js1, subj, 6, 3)
        assert got_a == [0, 1, 2, 3, 4, 5]
        assert got_b == [6, 7, 8]
        assert b.pin_id and b.pin_id != a.pin_id


async def _waiting(js: nats_anyio.JetStream, stream: str, n: int) -> bool:
    return (await js.consumer_info(stream, "C")).num_waiting >= n


@needs_server(2, 11)
@pytest.mark.anyio
async def test_overflow_async(js_server: NatsServer) -> None:
    async with (
        nats_anyio.connect(js_server.url) as nc1,
        nats_anyio.connect(js_server.url) as nc2,
    ):
        js1, js2 = nc1.jetstream(timeout=5.0), nc2.jetstream(timeout=5.0)
        stream, subj = await asetup(js1, PriorityPolicy.OVERFLOW)
        a, b = await js1.consumer(stream, "C"), await js2.consumer(stream, "C")
        await apublish(js1, subj, 0, 3)
        with pytest.raises(NatsTimeoutError):
            await b.next(timeout=0.5, group=GROUP, min_pending=5)
        await apublish(js1, subj, 3, 5)
        over = await b.fetch(2, max_wait=2, group=GROUP, min_pending=5)
        assert [int(m.data) for m in over] == [0, 1]
        rest = await a.fetch_no_wait(10, group=GROUP)
        assert [int(m.data) for m in rest] == [2, 3, 4, 5, 6, 7]
        got: list[int] = []
        await apublish(js1, subj, 8, 1)
        async with await b.consume(
            lambda m: got.append(int(m.data)), group=GROUP, min_ack_pending=8
        ):
            await await_until(lambda: got == [8], what="the overflow consume")


@needs_server(2, 12)
@pytest.mark.anyio
async def test_prioritized_async(js_server: NatsServer) -> None:
    async with (
        nats_anyio.connect(js_server.url) as nc1,
        nats_anyio.connect(js_server.url) as nc2,
    ):
        js1, js2 = nc1.jetstream(timeout=5.0), nc2.jetstream(timeout=5.0)
        stream, subj = await asetup(js1, PriorityPolicy.PRIORITIZED)
        a, b = await js1.consumer(stream, "C"), await js2.consumer(stream, "C")
        got: dict[str, list[int]] = {"a": [], "b": []}

        async def pull(name: str, c: nats_anyio.Consumer, priority: int) -> None:
            batch = await c.fetch(1, max_wait=5, group=GROUP, priority=priority)
            got[name] += [int(m.data) for m in batch]

        async with anyio.create_task_group() as tg:
            tg.start_soon(pull, "a", a, 3)
            await await_until(lambda: _waiting(js1, stream, 1), what="a's pull")
            tg.start_soon(pull, "b", b, 0)
            await await_until(lambda: _waiting(js1, stream, 2), what="b's pull")
            await apublish(js1, subj, 0, 1)
            await await_until(lambda: got["b"] == [0], what="b served first")
            assert got["a"] == []
            await apublish(js1, subj, 1, 1)
        assert got == {"a": [1], "b": [0]}
