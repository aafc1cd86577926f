"""JetStream on the async client against a real nats-server, on asyncio and on
Trio: management, publish, async publish, pull consumers, acks, the ordered
consumer, cancellation. (The blocking client's suite, test_js_sync.py, runs
the same code generated from this client's, with more error paths.)"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

import nats_anyio
from js_helpers import SERVER_VERSION, frozen, needs_server, uniq
from nats_anyio import JetStream, Msg
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import (
    AckPolicy,
    AsyncPublishTimeoutError,
    ConsumerAlreadyExistsError,
    ConsumerDeletedError,
    ConsumerNotFoundError,
    ExpectedStreamMismatchError,
    InvalidOptionError,
    JetStreamNotEnabledError,
    MissedHeartbeatError,
    MsgAlreadyAckedError,
    MsgNotFoundError,
    MsgTTLDisabledError,
    NoStreamResponseError,
    NotJetStreamMessageError,
    NotPullConsumerError,
    StreamConfig,
    StreamNameInUseError,
    StreamNotFoundError,
    TooManyPendingError,
    WrongLastMsgIdError,
    WrongLastSequenceError,
)
from pynats.server import NatsServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[nats_anyio.Client]:
    async with nats_anyio.connect(server.url) as client:
        yield client


@pytest.fixture
def js(nc: nats_anyio.Client) -> JetStream:
    return nc.jetstream(timeout=3.0)


async def make_stream(js: JetStream, storage: str = "memory", **fields: object) -> tuple[str, str]:
    name, subj = uniq("A"), uniq("a")
    fields.setdefault("subjects", [f"{subj}.>"])
    await js.create_stream(name=name, storage=storage, **fields)
    return name, subj


# ================================================================= management


@pytest.mark.parametrize("storage", ["file", "memory"])
async def test_stream_management(js: JetStream, storage: str) -> None:
    streams_before = (await js.account_info()).streams
    name, subj = await make_stream(js, storage, allow_direct=True)
    assert (await js.account_info()).streams == streams_before + 1
    with pytest.raises(StreamNameInUseError):
        await js.create_stream(name=name, subjects=[f"{subj}.x"], storage=storage)
    cfg = (await js.stream_info(name)).config
    info = await js.update_stream(cfg, max_msgs=100)
    assert info.config.max_msgs == 100 and info.config.allow_direct
    with pytest.raises(StreamNotFoundError):
        await js.update_stream(StreamConfig(name=uniq("A"), subjects=[uniq("a")]))
    again = await js.create_or_update_stream(info.config, description="d")
    assert again.config.description == "d"
    for tok in ("a", "b", "a"):
        await js.publish(f"{subj}.{tok}", tok.encode(), headers={"T": tok})
    assert await js.find_stream_by_subject(f"{subj}.a") == name
    assert name in [n async for n in js.stream_names()]
    assert name in [i.config.name async for i in js.list_streams(subject=f"{subj}.>")]
    detailed = await js.stream_info(name, subjects_filter=">", deleted_details=True)
    assert detailed.state.subjects == {f"{subj}.a": 2, f"{subj}.b": 1}
    got = await js.get_msg(name, 2)
    assert got.data == b"b" and got.headers is not None and got.headers["T"] == "b"
    last = await js.get_msg(name, last_by_subject=f"{subj}.a", direct=True)
    assert last.seq == 3 and last.stream == name
    assert (await js.get_msg(name, 1, next_by_subject=f"{subj}.b", direct=True)).seq == 2
    assert await js.delete_msg(name, 2, secure_erase=True)
    with pytest.raises(MsgNotFoundError):
        await js.get_msg(name, 2)
    deleted = await js.stream_info(name, deleted_details=True)
    assert deleted.state.deleted == [2]
    assert await js.purge_stream(name, keep=1) == 1
    assert await js.purge_stream(name, subject=f"{subj}.a") == 1
    assert await js.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        await js.stream_info(name)


async def test_consumer_management(js: JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="d", ack_policy=AckPolicy.EXPLICIT)
    assert c.name == "d" and c.cached_info.config.ack_policy == AckPolicy.EXPLICIT
    eph = await js.create_consumer(name, filter_subject=f"{subj}.a")
    assert eph.name != "d"
    assert set([n async for n in js.consumer_names(name)]) == {"d", eph.name}
    assert len([i async for i in js.list_consumers(name)]) == 2
    upd = await js.create_or_update_consumer(
        name, durable_name="d", ack_policy="explicit", max_deliver=3
    )
    assert upd.cached_info.config.max_deliver == 3
    assert (await (await js.consumer(name, "d")).info()).config.max_deliver == 3
    assert await js.delete_consumer(name, "d")
    with pytest.raises(ConsumerNotFoundError):
        await js.consumer(name, "d")


@needs_server(2, 10)
async def test_consumer_create_action(js: JetStream) -> None:
    name, _ = await make_stream(js)
    await js.create_consumer(name, durable_name="c", description="one")
    with pytest.raises(ConsumerAlreadyExistsError):
        await js.create_consumer(name, durable_name="c", description="two")
    assert (await js.update_consumer(name, durable_name="c", description="two")).name == "c"


@needs_server(2, 11)
async def test_pause_resume(js: JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="p")
    await js.publish(f"{subj}.a", b"x")
    resp = await js.pause_consumer(name, "p", datetime.now(UTC) + timedelta(minutes=1))
    assert resp.paused
    assert await c.fetch(1, max_wait=0.4) == []
    assert not (await js.resume_consumer(name, "p")).paused
    assert [m.data for m in await c.fetch(1, max_wait=2)] == [b"x"]


async def test_not_enabled(nats_server: NatsServer) -> None:
    async with nats_anyio.connect(nats_server.url) as plain:
        js = plain.jetstream(timeout=1)
        with pytest.raises(JetStreamNotEnabledError):
            await js.account_info()


# ==================================================================== publish


async def test_publish_options_and_errors(js: JetStream) -> None:
    name, subj = await make_stream(js)
    ack = await js.publish(f"{subj}.a", b"1", msg_id="one")
    assert (ack.stream, ack.seq) == (name, 1)
    assert (await js.publish(f"{subj}.a", b"1", msg_id="one")).duplicate is True
    with pytest.raises(ExpectedStreamMismatchError):
        await js.publish(f"{subj}.a", b"x", expected_stream="NOPE")
    with pytest.raises(WrongLastSequenceError):
        await js.publish(f"{subj}.a", b"x", expected_last_seq=7)
    with pytest.raises(WrongLastSequenceError):
        await js.publish(f"{subj}.a", b"x", expected_last_subject_seq=7)
    with pytest.raises(WrongLastMsgIdError):
        await js.publish(f"{subj}.a", b"x", expected_last_msg_id="two")
    ok = await js.publish(
        f"{subj}.a",
        b"2",
        msg_id="two",
        expected_stream=name,
        expected_last_seq=1,
        expected_last_subject_seq=1,
        expected_last_msg_id="one",
    )
    assert ok.seq == 2
    t0 = anyio.current_time()
    with pytest.raises(NoStreamResponseError):
        await js.publish(f"{uniq('none')}.x", b"", retry_attempts=2, retry_wait=0.1)
    assert anyio.current_time() - t0 >= 0.2


@needs_server(2, 11)
async def test_publish_ttl(js: JetStream) -> None:
    name, subj = await make_stream(js, allow_msg_ttl=True)
    await js.publish(f"{subj}.a", b"x", ttl=timedelta(seconds=1))
    assert (await js.stream_info(name)).state.messages == 1
    with anyio.fail_after(5):
        while (await js.stream_info(name)).state.messages:
            await anyio.sleep(0.1)
    _, other = await make_stream(js)
    with pytest.raises(MsgTTLDisabledError):
        await js.publish(f"{other}.a", b"x", ttl=2)


async def test_publish_async(nc: nats_anyio.Client) -> None:
    js = nc.jetstream(publish_async_max_pending=10)
    name, subj = await make_stream(js)
    peak = 0
    futs = []
    for i in range(200):
        futs.append(await js.publish_async(f"{subj}.a", b"%d" % i))
        peak = max(peak, js.publish_async_pending)
    await js.publish_async_complete(timeout=10)
    assert 1 <= peak <= 10
    assert [(await f).seq for f in futs] == list(range(1, 201))
    assert futs[0].done() and futs[0].result().stream == name
    bad = await js.publish_async(f"{subj}.a", b"x", expected_last_seq=3)
    with pytest.raises(WrongLastSequenceError):
        await bad
    assert isinstance(bad.exception(), WrongLastSequenceError)


async def test_publish_async_stall_and_ack_timeout(nc: nats_anyio.Client) -> None:
    subj = uniq("mute")
    await nc.subscribe(f"{subj}.>")  # takes the messages, never acks
    js = nc.jetstream(publish_async_max_pending=1, publish_async_timeout=0.5)
    fut = await js.publish_async(f"{subj}.a", b"1")
    with pytest.raises(TooManyPendingError):
        await js.publish_async(f"{subj}.a", b"2", stall_timeout=0.1)
    with pytest.raises(NatsTimeoutError):
        await js.publish_async_complete(timeout=0.1)
    with pytest.raises(AsyncPublishTimeoutError):
        await fut.wait(3)
    # room again: this one waits for the first to time out, then goes
    second = await js.publish_async(f"{subj}.a", b"3", stall_timeout=2)
    with pytest.raises(TimeoutError):
        await second.wait(0.05)


# ==================================================================== pulling


async def test_fetch_variants(js: JetStream) -> None:
    name, subj = await make_stream(js)
    for i in range(6):
        await js.publish(f"{subj}.a", b"x%d" % i)
    c = await js.create_consumer(name, durable_name="f", ack_policy="explicit")
    batch = await c.fetch(4, max_wait=2)
    assert [m.data for m in batch] == [b"x0", b"x1", b"x2", b"x3"]
    for m in batch:
        await m.ack()
    assert [m.data for m in await c.fetch_no_wait(10)] == [b"x4", b"x5"]
    assert await c.fetch_no_wait(10) == []
    await js.publish(f"{subj}.a", b"y" * 200)
    assert await c.fetch_bytes(100, max_wait=1) == []
    assert [m.data[:1] for m in await c.fetch_bytes(1000, max_wait=0.5)] == [b"y"]
    with pytest.raises(NatsTimeoutError):
        await c.next(timeout=0.3)
    push = await js.create_consumer(name, durable_name="push", deliver_subject=uniq("dlv"))
    with pytest.raises(NotPullConsumerError):
        await push.fetch(1, max_wait=1)


async def test_messages_and_consume(js: JetStream) -> None:
    name, subj = await make_stream(js)
    for i in range(50):
        await js.publish(f"{subj}.a", b"%d" % i)
    c = await js.create_consumer(name, durable_name="it", ack_policy="explicit")
    got = []
    async with c.messages(max_messages=7) as it:
        async for msg in it:
            got.append(int(msg.data))
            await msg.ack()
            if len(got) == 50:
                break
    assert got == list(range(50))
    with pytest.raises(SubscriptionClosedError):
        await it.next()

    seen: list[int] = []
    errors: list[BaseException] = []
    done = anyio.Event()

    async def handle(msg: Msg) -> None:
        seen.append(int(msg.data))
        await msg.ack()
        if len(seen) == 10:
            done.set()
            raise ValueError("the tenth")

    ctx = await c.consume(handle, error_cb=errors.append, max_bytes=4096)
    for i in range(50, 60):
        await js.publish(f"{subj}.a", b"%d" % i)
    with anyio.fail_after(5):
        await done.wait()
    await ctx.stop()
    assert await ctx.wait_closed(2)
    assert seen == list(range(50, 60))
    assert any(isinstance(e, ValueError) for e in errors)


async def test_cancelled_next_keeps_the_iterator(js: JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, ack_policy="none")
    async with c.messages() as it:
        with anyio.move_on_after(0.3) as scope:
            await it.next()
        assert scope.cancelled_caught
        await js.publish(f"{subj}.a", b"later")
        assert (await it.next(timeout=3)).data == b"later"


async def test_deleted_consumer_ends_messages(js: JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="gone")
    it = c.messages()
    await js.publish(f"{subj}.a", b"x")
    assert (await it.next(timeout=2)).data == b"x"
    await js.delete_consumer(name, "gone")
    with pytest.raises(ConsumerDeletedError):
        async for _ in it:
            pass


async def restart_and_wait(server: NatsServer, nc: nats_anyio.Client) -> None:
    """Restart the server and wait for the reconnect: the restart blocks the event
    loop, so a request sent before the client noticed would be lost with the old
    socket (at most once, as in every NATS client)."""
    before = nc.stats.reconnects
    server.restart()
    with anyio.fail_after(10):
        while nc.stats.reconnects == before or not nc.is_connected:
            await anyio.sleep(0.02)


async def test_missed_heartbeats_then_reconnect(nats_server_js: NatsServer) -> None:
    async with nats_anyio.connect(nats_server_js.url, reconnect_time_wait=0.05) as nc:
        js = nc.jetstream()
        name, subj = await make_stream(js, "file")
        c = await js.create_consumer(name, durable_name="hb", ack_policy="explicit")
        async with c.messages(expires=2, idle_heartbeat=0.5) as it:
            await js.publish(f"{subj}.a", b"0")
            await (await it.next(timeout=2)).ack()
            t0 = time.monotonic()
            with frozen(nats_server_js), pytest.raises(MissedHeartbeatError):
                await it.next(timeout=5)
            assert 0.8 <= time.monotonic() - t0 < 3
            await js.publish(f"{subj}.a", b"1")
            await (await it.next(timeout=5)).ack_sync()
        # default expires (30 s): only the re-pull after the reconnect brings "2" in time
        async with c.messages() as it:
            await js.publish(f"{subj}.a", b"x")
            await (await it.next(timeout=2)).ack_sync()
            await restart_and_wait(nats_server_js, nc)
            await js.publish(f"{subj}.a", b"2", retry_attempts=20, retry_wait=0.1)
            assert (await it.next(timeout=5)).data == b"2"


# ======================================================================= acks


async def test_acks(js: JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="a", ack_policy="explicit", ack_wait=3)
    for tok in ("ack", "nak", "term", "wpi"):
        await js.publish(f"{subj}.{tok}", tok.encode())
    msgs = {m.data: m for m in await c.fetch(4, max_wait=1)}
    await msgs[b"ack"].ack_sync()
    await msgs[b"nak"].nak(delay=timedelta(milliseconds=300))
    await msgs[b"term"].term(reason="bad" if SERVER_VERSION >= (2, 10) else None)
    await msgs[b"wpi"].in_progress()
    with pytest.raises(MsgAlreadyAckedError):
        await msgs[b"ack"].ack()
    again = await c.next(timeout=3)
    assert again.data == b"nak" and again.metadata.num_delivered == 2
    await again.ack()
    await msgs[b"wpi"].ack()
    await js.client.flush()
    assert (await c.info()).num_ack_pending == 0
    meta = again.metadata
    assert (meta.stream, meta.consumer, meta.sequence.stream) == (name, "a", 2)
    v2 = Msg("x", "$JS.ACK.dom.ACC.S.c.1.2.3.1700000000000000000.4.tok", b"")
    assert v2.metadata.domain == "dom" and v2.metadata.num_pending == 4
    with pytest.raises(NotJetStreamMessageError):
        await Msg("x", "not.an.ack", b"", client=js.client).ack()


# ============================================================ ordered consumer


async def test_ordered_consumer(js: JetStream) -> None:
    name, subj = await make_stream(js)
    for i in range(8):
        await js.publish(f"{subj}.a", b"%d" % i)
    oc = await js.ordered_consumer(name)
    assert [int(m.data) for m in await oc.fetch(5, max_wait=1)] == list(range(5))
    assert (await oc.next(timeout=2)).data == b"5"
    errors: list[BaseException] = []
    async with oc.messages(error_cb=errors.append) as it:
        got = [int((await it.next(timeout=2)).data) for _ in range(2)]
        live = oc.name
        assert live is not None
        await js.delete_consumer(name, live)  # recreated from the next sequence
        for i in range(8, 12):
            await js.publish(f"{subj}.a", b"%d" % i)
        async for msg in it:
            got.append(int(msg.data))
            if len(got) == 6:
                break
    assert got == list(range(6, 12))
    assert oc.name != live
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)
    with pytest.raises(InvalidOptionError):
        await js.ordered_consumer(name, deliver_policy="by_start_sequence")


async def test_ordered_consumer_gap(js: JetStream, monkeypatch: pytest.MonkeyPatch) -> None:
    import nats_anyio._jetstream as mod

    name, subj = await make_stream(js)
    for i in range(8):
        await js.publish(f"{subj}.a", b"%d" % i)
    real = mod._next_or_none
    lost: list[bytes] = []

    async def lossy(sub: nats_anyio.Subscription, timeout: float) -> Msg | None:
        msg = await real(sub, timeout)
        if msg is not None and msg.data == b"3" and not lost:
            lost.append(msg.data)
            return await real(sub, timeout)
        return msg

    monkeypatch.setattr(mod, "_next_or_none", lossy)
    oc = await js.ordered_consumer(name)
    async with oc.messages() as it:
        got = [int((await it.next(timeout=3)).data) for _ in range(8)]
    assert lost == [b"3"]
    assert got == list(range(8))


async def test_ordered_consumer_reconnect(nats_server_js: NatsServer) -> None:
    async with nats_anyio.connect(nats_server_js.url, reconnect_time_wait=0.05) as nc:
        js = nc.jetstream(timeout=2)
        name, subj = await make_stream(js, "file")
        await js.publish(f"{subj}.a", b"0")
        oc = await js.ordered_consumer(name)
        async with oc.messages() as it:
            assert (await it.next(timeout=2)).data == b"0"
            before = oc.name
            await restart_and_wait(nats_server_js, nc)
            await js.publish(f"{subj}.a", b"1", retry_attempts=20, retry_wait=0.1)
            assert (await it.next(timeout=10)).data == b"1"
            assert oc.name != before
