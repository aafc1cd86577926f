"""JetStream against a real nats-server on the async client, on asyncio and on Trio:
management, publish, async publish, pull consumers (ADR-37), acks, the ordered
consumer; file and memory storage, and every error path the API reports.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(Tests of one client only: tests/test_js_anyio_only.py.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

import nats_anyio
from anyio_helpers import (
    SERVER_VERSION,
    Event,
    background,
    frozen,
    needs_server,
    restart_and_wait,
    result_within,
    uniq,
    wait_until,
)
from nats_core.errors import NatsTimeoutError, SubscriptionClosedError
from nats_core.jetstream import (
    AckPolicy,
    APIError,
    AsyncPublishTimeoutError,
    ConsumerAlreadyExistsError,
    ConsumerConfig,
    ConsumerDeletedError,
    ConsumerDoesNotExistError,
    ConsumerNotFoundError,
    DeliverPolicy,
    ExpectedStreamMismatchError,
    InvalidNameError,
    InvalidOptionError,
    JetStreamNotEnabledError,
    MissedHeartbeatError,
    MsgAlreadyAckedError,
    MsgNotFoundError,
    MsgTTLDisabledError,
    NoStreamResponseError,
    NotJetStreamMessageError,
    NotPullConsumerError,
    PullRequestRejectedError,
    ReplayPolicy,
    StorageType,
    StreamConfig,
    StreamNameInUseError,
    StreamNotFoundError,
    TooManyPendingError,
    WrongLastMsgIdError,
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


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def make_stream(
    js: nats_anyio.JetStream, storage: str = "memory", **fields: object
) -> tuple[str, str]:
    """A fresh stream capturing ``<subj>.>``; returns (stream name, subject token)."""
    name, subj = uniq("S"), uniq("s")
    fields.setdefault("subjects", [f"{subj}.>"])
    await js.create_stream(name=name, storage=storage, **fields)
    return name, subj


# ================================================================= management


async def test_account_info_counts_streams(js: nats_anyio.JetStream) -> None:
    before = await js.account_info()
    await make_stream(js)
    after = await js.account_info()
    assert after.streams == before.streams + 1
    assert after.limits.max_streams == -1


async def test_stream_create_update_info_delete(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = uniq("S"), uniq("s")
    info = await js.create_stream(name=name, subjects=[f"{subj}.>"], storage=storage)
    assert info.config.name == name
    assert info.config.storage == StorageType(storage)
    assert info.state.messages == 0
    # the same configuration again is fine; another one is not
    again = await js.create_stream(StreamConfig(name=name, subjects=[f"{subj}.>"], storage=storage))
    assert again.config.subjects == [f"{subj}.>"]
    with pytest.raises(StreamNameInUseError) as exc:
        await js.create_stream(name=name, subjects=[f"{subj}.other"], storage=storage)
    assert exc.value.err_code == 10058
    updated = await js.update_stream(info.config, max_msgs=10, description="ten")
    assert updated.config.max_msgs == 10 and updated.config.description == "ten"
    assert (await js.stream_info(name)).config.max_msgs == 10
    assert await js.delete_stream(name) is True
    with pytest.raises(StreamNotFoundError):
        await js.stream_info(name)
    with pytest.raises(StreamNotFoundError):
        await js.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        await js.update_stream(name=name, subjects=[f"{subj}.>"])


async def test_create_or_update_stream(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = uniq("S"), uniq("s")
    created = await js.create_or_update_stream(name=name, subjects=[f"{subj}.>"], storage=storage)
    assert created.config.max_msgs in (None, -1)
    updated = await js.create_or_update_stream(
        name=name, subjects=[f"{subj}.>"], storage=storage, max_msgs=5
    )
    assert updated.config.max_msgs == 5


async def test_stream_info_subjects_and_deleted_details(
    js: nats_anyio.JetStream,
    storage: str,
) -> None:
    name, subj = await make_stream(js, storage)
    for tok, n in (("a", 3), ("b", 2), ("c", 1)):
        for _ in range(n):
            await js.publish(f"{subj}.{tok}", b"x")
    await js.delete_msg(name, 2)
    await js.delete_msg(name, 4)
    info = await js.stream_info(name, subjects_filter=f"{subj}.>", deleted_details=True)
    assert info.state.subjects == {f"{subj}.a": 2, f"{subj}.b": 1, f"{subj}.c": 1}
    assert sorted(info.state.deleted or []) == [2, 4]
    assert info.state.num_deleted == 2
    only_b = await js.stream_info(name, subjects_filter=f"{subj}.b")
    assert only_b.state.subjects == {f"{subj}.b": 1}
    plain = await js.stream_info(name)
    assert plain.state.subjects is None and plain.state.deleted is None


async def test_purge_all_subject_seq_keep(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    for i in range(10):  # seq i + 1; odd sequences on b, even ones on a
        await js.publish(f"{subj}.{'a' if i % 2 else 'b'}", b"%d" % i)
    assert await js.purge_stream(name, keep=8) == 2
    assert (await js.stream_info(name)).state.first_seq == 3
    assert await js.purge_stream(name, seq=5) == 2
    assert (await js.stream_info(name)).state.first_seq == 5
    assert await js.purge_stream(name, subject=f"{subj}.a") == 3  # 6, 8, 10
    assert (await js.stream_info(name)).state.messages == 3
    assert (await js.get_msg(name, 9)).data == b"8"
    assert await js.purge_stream(name) == 3
    assert (await js.stream_info(name)).state.messages == 0
    with pytest.raises(InvalidOptionError):
        await js.purge_stream(name, seq=1, keep=1)
    with pytest.raises(StreamNotFoundError):
        await js.purge_stream(uniq("S"))


async def test_stream_names_and_list_page_through_everything(js: nats_anyio.JetStream) -> None:
    subj = uniq("pg")
    names = {f"{subj}N{i}" for i in range(260)}  # STREAM.LIST pages hold 256
    for n in names:
        await js.create_stream(name=n, subjects=[f"{subj}.{n}"], storage="memory")
    assert {n async for n in js.stream_names(subject=f"{subj}.>")} == names
    listed = [i.config.name async for i in js.list_streams(subject=f"{subj}.>")]
    assert len(listed) == 260 and set(listed) == names
    assert names <= {n async for n in js.stream_names()}
    for n in names:
        await js.delete_stream(n)


async def test_find_stream_by_subject(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    assert await js.find_stream_by_subject(f"{subj}.x.y") == name
    assert await js.stream_name_by_subject(f"{subj}.>") == name
    with pytest.raises(StreamNotFoundError):
        await js.find_stream_by_subject(uniq("nothing"))


async def test_get_msg_by_seq_last_next_and_headers(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    await js.publish(f"{subj}.a", b"a1", headers={"H": ["1", "2"]})
    await js.publish(f"{subj}.b", b"b1")
    await js.publish(f"{subj}.a", b"a2")
    first = await js.get_msg(name, 1)
    assert (first.subject, first.seq, first.data) == (f"{subj}.a", 1, b"a1")
    assert first.headers is not None and first.headers.get_all("H") == ["1", "2"]
    assert first.time is not None
    last = await js.get_msg(name, last_by_subject=f"{subj}.a")
    assert (last.seq, last.data) == (3, b"a2")
    nxt = await js.get_msg(name, 2, next_by_subject=f"{subj}.a")
    assert nxt.seq == 3
    assert (await js.get_last_msg_for_subject(name, f"{subj}.b")).data == b"b1"
    with pytest.raises(MsgNotFoundError):
        await js.get_msg(name, 99)
    with pytest.raises(MsgNotFoundError):
        await js.get_msg(name, last_by_subject=f"{subj}.zzz")
    with pytest.raises(InvalidOptionError):
        await js.get_msg(name)
    with pytest.raises(StreamNotFoundError):
        await js.get_msg(uniq("S"), 1)


async def test_direct_get(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage, allow_direct=True)
    await js.publish(f"{subj}.a", b"a1", headers={"K": "v"})
    await js.publish(f"{subj}.b", b"b1")
    await js.publish(f"{subj}.a", b"a2")
    by_seq = await js.get_msg(name, 1, direct=True)
    assert (by_seq.seq, by_seq.data, by_seq.stream) == (1, b"a1", name)
    assert by_seq.headers is not None and by_seq.headers["K"] == "v"
    last = await js.get_msg(name, last_by_subject=f"{subj}.a", direct=True)
    assert (last.seq, last.data) == (3, b"a2")
    nxt = await js.get_msg(name, 2, next_by_subject=f"{subj}.a", direct=True)
    assert nxt.seq == 3
    with pytest.raises(MsgNotFoundError):
        await js.get_msg(name, 50, direct=True)


@needs_server(2, 10)
async def test_direct_get_needs_allow_direct(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    await js.publish(f"{subj}.a", b"x")
    with pytest.raises(JetStreamNotEnabledError) as exc:
        await js.get_msg(name, 1, direct=True)
    assert "allow_direct" in str(exc.value)


async def test_delete_msg_and_secure_erase(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    for i in range(3):
        await js.publish(f"{subj}.a", b"%d" % i)
    assert await js.delete_msg(name, 1) is True
    assert await js.delete_msg(name, 2, secure_erase=True) is True
    assert await js.secure_delete_msg(name, 3) is True
    for seq in (1, 2, 3):
        with pytest.raises(MsgNotFoundError):
            await js.get_msg(name, seq)
    with pytest.raises(APIError) as exc:  # 10043 or 10057 depending on the store
        await js.delete_msg(name, 1)
    assert exc.value.code in (400, 500) and exc.value.err_code in (10043, 10057)
    assert (await js.stream_info(name)).state.messages == 0


@pytest.mark.parametrize("storage", ["file", "memory"])
async def test_stream_management(js: nats_anyio.JetStream, storage: str) -> None:
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


# ------------------------------------------------------------------ consumers


async def test_consumer_crud_info_list_names(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    durable = await js.create_consumer(name, durable_name="dur", ack_policy=AckPolicy.EXPLICIT)
    assert durable.name == "dur" and durable.stream == name
    assert durable.cached_info.config.ack_policy == AckPolicy.EXPLICIT
    eph = await js.create_consumer(name, ConsumerConfig(filter_subject=f"{subj}.a"))
    assert eph.name and eph.name != "dur"
    assert eph.cached_info.config.durable_name is None
    assert (await js.consumer_info(name, "dur")).name == "dur"
    handle = await js.consumer(name, "dur")
    assert (await handle.info()).stream_name == name
    assert {n async for n in js.consumer_names(name)} == {"dur", eph.name}
    assert {c.name async for c in js.list_consumers(name)} == {"dur", eph.name}
    updated = await js.create_or_update_consumer(
        name, durable_name="dur", ack_policy="explicit", max_ack_pending=7
    )
    assert updated.cached_info.config.max_ack_pending == 7
    assert await js.delete_consumer(name, "dur") is True
    with pytest.raises(ConsumerNotFoundError):
        await js.consumer_info(name, "dur")
    with pytest.raises(ConsumerNotFoundError):
        await js.consumer(name, "dur")
    with pytest.raises(ConsumerNotFoundError):
        await js.delete_consumer(name, "dur")
    with pytest.raises(InvalidNameError):
        await js.create_consumer(name, durable_name="bad.name")
    with pytest.raises(StreamNotFoundError):
        await js.create_consumer(uniq("S"), durable_name="x")


async def test_consumer_names_page_through_everything(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js)
    for i in range(260):  # CONSUMER.LIST pages hold 256
        await js.create_consumer(name, durable_name=f"c{i}", inactive_threshold=60)
    assert len({n async for n in js.consumer_names(name)}) == 260
    assert len({c.name async for c in js.list_consumers(name)}) == 260


@needs_server(2, 10)
async def test_consumer_create_update_actions(js: nats_anyio.JetStream) -> None:
    name, _subj = await make_stream(js)
    await js.create_consumer(name, durable_name="c", description="one")
    assert (await js.create_consumer(name, durable_name="c", description="one")).name == "c"
    with pytest.raises(ConsumerAlreadyExistsError):
        await js.create_consumer(name, durable_name="c", description="two")
    assert (await js.update_consumer(name, durable_name="c", description="two")).name == "c"
    assert (await js.consumer_info(name, "c")).config.description == "two"
    with pytest.raises(ConsumerDoesNotExistError):
        await js.update_consumer(name, durable_name="missing")


@needs_server(2, 10)
async def test_consumer_with_many_filter_subjects(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    for tok in ("a", "b", "c", "a"):
        await js.publish(f"{subj}.{tok}", tok.encode())
    c = await js.create_consumer(
        name, name="multi", filter_subjects=[f"{subj}.a", f"{subj}.c"], ack_policy="none"
    )
    assert c.cached_info.config.filter_subjects == [f"{subj}.a", f"{subj}.c"]
    got = await c.fetch(10, max_wait=0.5)
    assert [m.data for m in got] == [b"a", b"c", b"a"]


@pytest.mark.parametrize(
    ("policy", "extra", "first"),
    [
        (DeliverPolicy.ALL, {}, [1, 2, 3, 4]),
        (DeliverPolicy.LAST, {}, [4]),
        (DeliverPolicy.NEW, {}, []),
        (DeliverPolicy.BY_START_SEQUENCE, {"opt_start_seq": 3}, [3, 4]),
        (DeliverPolicy.LAST_PER_SUBJECT, {"filter_subject": True}, [3, 4]),
    ],
)
async def test_deliver_policies(
    js: nats_anyio.JetStream, policy: DeliverPolicy, extra: dict[str, object], first: list[int]
) -> None:
    name, subj = await make_stream(js)
    for tok in ("a", "b", "a", "b"):
        await js.publish(f"{subj}.{tok}", b"x")
    if extra.get("filter_subject"):
        extra = {"filter_subject": f"{subj}.>"}  # servers want one with last per subject
    c = await js.create_consumer(name, deliver_policy=policy, ack_policy="none", **extra)
    got = await c.fetch(10, max_wait=0.3)
    assert [m.metadata.sequence.stream for m in got] == first


async def test_deliver_by_start_time_and_replay_original(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    await js.publish(f"{subj}.a", b"old")
    await anyio.sleep(0.05)
    start = datetime.now(UTC)
    await anyio.sleep(0.05)
    for _ in range(2):
        await js.publish(f"{subj}.a", b"new")
        await anyio.sleep(0.2)
    c = await js.create_consumer(
        name,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        replay_policy=ReplayPolicy.ORIGINAL,
    )
    t0 = time.monotonic()
    got = await c.fetch(2, max_wait=3)
    assert [m.data for m in got] == [b"new", b"new"]
    assert time.monotonic() - t0 >= 0.15  # replayed at the original pace


async def test_ack_policy_all_acks_everything_before(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    for i in range(5):
        await js.publish(f"{subj}.a", b"%d" % i)
    c = await js.create_consumer(name, durable_name="all", ack_policy=AckPolicy.ALL)
    got = await c.fetch(5, max_wait=0.5)
    await got[3].ack_sync()
    info = await c.info()
    assert info.ack_floor.stream_seq == 4
    assert info.num_ack_pending == 1


@needs_server(2, 11)
async def test_pause_and_resume_consumer(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="p")
    await js.publish(f"{subj}.a", b"x")
    until = datetime.now(UTC) + timedelta(seconds=60)
    paused = await js.pause_consumer(name, "p", until)
    assert paused.paused is True
    assert paused.pause_until is not None and abs(paused.pause_until - until) < timedelta(seconds=1)
    assert (await c.info()).paused is True
    assert await c.fetch(1, max_wait=0.5) == []
    resumed = await js.resume_consumer(name, "p")
    assert resumed.paused is False
    assert [m.data for m in await c.fetch(1, max_wait=2)] == [b"x"]
    with pytest.raises(ConsumerNotFoundError):
        await js.pause_consumer(name, "nope", until)


async def test_consumer_management(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="d", ack_policy=AckPolicy.EXPLICIT)
    assert c.name == "d" and c.cached_info.config.ack_policy == AckPolicy.EXPLICIT
    eph = await js.create_consumer(name, filter_subject=f"{subj}.a")
    assert eph.name != "d"
    assert set([n async for n in js.consumer_names(name)]) == {"d", eph.name}
    assert len([i async for i in js.list_consumers(name)]) == 2
    upd = await js.create_or_update_consumer(
        name,
        durable_name="d",
        ack_policy="explicit",
        max_deliver=3,
    )
    assert upd.cached_info.config.max_deliver == 3
    assert (await (await js.consumer(name, "d")).info()).config.max_deliver == 3
    assert await js.delete_consumer(name, "d")
    with pytest.raises(ConsumerNotFoundError):
        await js.consumer(name, "d")


async def test_jetstream_not_enabled(nats_server: NatsServer) -> None:
    async with nats_anyio.connect(nats_server.url) as plain:
        js = plain.jetstream(timeout=1.0)
        with pytest.raises(JetStreamNotEnabledError) as exc:
            await js.account_info()
        assert exc.value.code == 503
        with pytest.raises(NoStreamResponseError):
            await js.publish("anything", b"x", retry_attempts=0)


async def test_domain_and_prefix(nc: nats_anyio.Client) -> None:
    js = nc.jetstream(domain="elsewhere", timeout=0.5)
    assert js.api.prefix == "$JS.elsewhere.API"
    with pytest.raises(JetStreamNotEnabledError):
        await js.account_info()
    assert (await nc.jetstream(api_prefix="$JS.API").account_info()).limits is not None
    with pytest.raises(ValueError):
        nc.jetstream(domain="a", api_prefix="$JS.b.API")


# ==================================================================== publish


async def test_publish_options_and_errors(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage, duplicate_window=60)
    ack = await js.publish(f"{subj}.a", b"1", msg_id="m1")
    assert (ack.stream, ack.seq, ack.duplicate) == (name, 1, None)
    dup = await js.publish(f"{subj}.a", b"1 again", msg_id="m1")
    assert dup.seq == 1 and dup.duplicate is True
    assert (await js.stream_info(name)).state.messages == 1
    assert (await js.publish(f"{subj}.a", b"2", expected_stream=name)).seq == 2
    with pytest.raises(ExpectedStreamMismatchError):
        await js.publish(f"{subj}.a", b"x", expected_stream="OTHER")
    assert (await js.publish(f"{subj}.a", b"3", expected_last_seq=2)).seq == 3
    with pytest.raises(WrongLastSequenceError):
        await js.publish(f"{subj}.a", b"x", expected_last_seq=2)
    assert (await js.publish(f"{subj}.b", b"4", expected_last_subject_seq=0)).seq == 4
    assert (await js.publish(f"{subj}.b", b"5", expected_last_subject_seq=4)).seq == 5
    with pytest.raises(WrongLastSequenceError):
        await js.publish(f"{subj}.b", b"x", expected_last_subject_seq=4)
    await js.publish(f"{subj}.a", b"6", msg_id="m6")
    seven = await js.publish(f"{subj}.a", b"7", msg_id="m7", expected_last_msg_id="m6")
    assert seven.seq == 7
    with pytest.raises(WrongLastMsgIdError):
        await js.publish(f"{subj}.a", b"x", expected_last_msg_id="m6")
    assert (await js.stream_info(name)).state.messages == 7
    stored = await js.get_msg(name, 7)
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == "m7"


async def test_publish_expectations_combined(js: nats_anyio.JetStream) -> None:
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


@needs_server(2, 11)
async def test_publish_ttl(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage, allow_msg_ttl=True)
    await js.publish(f"{subj}.keep", b"forever", ttl="never")
    await js.publish(f"{subj}.gone", b"brief", ttl=1)
    await js.publish(f"{subj}.gone", b"brief too", ttl=timedelta(seconds=1))
    assert (await js.stream_info(name)).state.messages == 3
    for seq in (2, 3):
        stored = await js.get_msg(name, seq)
        assert stored.headers is not None and stored.headers["Nats-TTL"] == "1s"

    async def expired() -> bool:
        return (await js.stream_info(name)).state.messages == 1

    await wait_until(expired, timeout=5, what="ttl expiry")
    assert (await js.get_msg(name, 1)).data == b"forever"
    _other, osubj = await make_stream(js, storage)
    with pytest.raises(MsgTTLDisabledError):
        await js.publish(f"{osubj}.a", b"x", ttl=5)
    with pytest.raises(InvalidOptionError):
        await js.publish(f"{subj}.a", b"x", ttl=0.5)


async def test_publish_retries_on_no_responders(js: nats_anyio.JetStream) -> None:
    subj = uniq("late")
    t0 = time.monotonic()
    with pytest.raises(NoStreamResponseError):
        await js.publish(f"{subj}.a", b"x", retry_attempts=2, retry_wait=0.2)
    assert time.monotonic() - t0 >= 0.4  # two waits between three attempts

    async def create_later() -> None:
        await anyio.sleep(0.3)
        await js.create_stream(name=uniq("S"), subjects=[f"{subj}.>"], storage="memory")

    async with background(create_later):
        ack = await js.publish(f"{subj}.a", b"x", retry_attempts=20, retry_wait=0.1)
    assert ack.seq == 1


async def test_publish_async_futures_and_complete(js: nats_anyio.JetStream) -> None:
    _name, subj = await make_stream(js)
    futs = [await js.publish_async(f"{subj}.a", b"%d" % i, msg_id=f"id{i}") for i in range(300)]
    await js.publish_async_complete(timeout=10)
    assert js.publish_async_pending == 0
    assert [(await result_within(f, 0)).seq for f in futs] == list(range(1, 301))
    bad = await js.publish_async(f"{subj}.a", b"x", expected_last_seq=1)
    with pytest.raises(WrongLastSequenceError):
        await result_within(bad, 5)
    nostream = await js.publish_async(f"{uniq('none')}.x", b"x")
    with pytest.raises(NoStreamResponseError):
        await result_within(nostream, 5)


async def test_publish_async_bounds_the_pending(nc: nats_anyio.Client) -> None:
    js = nc.jetstream(publish_async_max_pending=8)
    name, subj = await make_stream(js)
    peak = 0
    futs = []
    for i in range(400):
        futs.append(await js.publish_async(f"{subj}.a", b"%d" % i))
        peak = max(peak, js.publish_async_pending)
    await js.publish_async_complete(timeout=10)
    assert 1 <= peak <= 8
    assert (await js.stream_info(name)).state.messages == 400
    assert all(f.done() for f in futs)


async def test_publish_async_results_in_order(nc: nats_anyio.Client) -> None:
    js = nc.jetstream(publish_async_max_pending=10)
    name, subj = await make_stream(js)
    peak = 0
    futs = []
    for i in range(200):
        futs.append(await js.publish_async(f"{subj}.a", b"%d" % i))
        peak = max(peak, js.publish_async_pending)
    await js.publish_async_complete(timeout=10)
    assert 1 <= peak <= 10
    assert [(await result_within(f, 5)).seq for f in futs] == list(range(1, 201))
    assert futs[0].done() and futs[0].result().stream == name
    bad = await js.publish_async(f"{subj}.a", b"x", expected_last_seq=3)
    with pytest.raises(WrongLastSequenceError):
        await result_within(bad, 5)
    assert isinstance(bad.exception(), WrongLastSequenceError)


async def test_publish_async_stalls_and_times_out(nc: nats_anyio.Client) -> None:
    # Someone answers nothing: a core subscriber takes the publishes, so acks never come.
    subj = uniq("mute")
    mute = await nc.subscribe(f"{subj}.>")
    js = nc.jetstream(publish_async_max_pending=2, publish_async_timeout=1.0)
    f1 = await js.publish_async(f"{subj}.a", b"1")
    f2 = await js.publish_async(f"{subj}.a", b"2")
    t0 = time.monotonic()
    with pytest.raises(TooManyPendingError):
        await js.publish_async(f"{subj}.a", b"3", stall_timeout=0.2)
    assert 0.15 <= time.monotonic() - t0 < 1.0
    with pytest.raises(NatsTimeoutError):
        await js.publish_async_complete(timeout=0.1)
    with pytest.raises(AsyncPublishTimeoutError):
        await result_within(f1, 3)
    with pytest.raises(AsyncPublishTimeoutError):
        await result_within(f2, 3)
    await js.publish_async_complete(timeout=1)  # failed ones count as complete
    assert mute.pending_msgs == 2


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
        await result_within(fut, 3)
    # room again: this one waits for the first to time out, then goes
    second = await js.publish_async(f"{subj}.a", b"3", stall_timeout=2)
    with pytest.raises(TimeoutError):
        await result_within(second, 0.05)


async def test_publish_async_fails_pending_on_close(js_server: NatsServer) -> None:
    async with nats_anyio.connect(js_server.url) as nc:
        subj = uniq("mute")
        await nc.subscribe(f"{subj}.>")
        js = nc.jetstream()
        fut = await js.publish_async(f"{subj}.a", b"1")
        await nc.close()
        with pytest.raises(Exception, match="closed") as exc:
            await result_within(fut, 3)
        assert not isinstance(exc.value, TimeoutError)


# ==================================================================== pulling


async def test_fetch_batch_max_wait_and_no_wait(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    for i in range(5):
        await js.publish(f"{subj}.a", b"%d" % i)
    c = await js.create_consumer(name, durable_name="f", ack_policy="explicit")
    got = await c.fetch(3, max_wait=2)
    assert [m.data for m in got] == [b"0", b"1", b"2"] and got.error is None
    for m in got:
        await m.ack()
    t0 = time.monotonic()
    rest = await c.fetch(10, max_wait=0.5)
    assert [m.data for m in rest] == [b"3", b"4"]
    assert 0.4 <= time.monotonic() - t0 < 2.5  # waited for more until max_wait
    for m in rest:
        await m.ack()
    t0 = time.monotonic()
    assert await c.fetch_no_wait(5) == []  # 404: nothing now
    assert time.monotonic() - t0 < 0.5
    await js.publish(f"{subj}.a", b"5")
    # The stream has it once acked; the consumer may see it a moment later (an
    # older server answers no_wait with 404 in between), so ask again until then.
    deadline = time.monotonic() + 3
    now_ = await c.fetch_no_wait(5)
    while not now_ and time.monotonic() < deadline:
        await anyio.sleep(0.02)
        now_ = await c.fetch_no_wait(5)
    assert [m.data for m in now_] == [b"5"]
    await now_[0].ack()
    t0 = time.monotonic()
    assert await c.fetch(1, max_wait=0.3) == []  # 408 after the wait
    assert time.monotonic() - t0 < 2


async def test_fetch_bytes(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    for _ in range(10):
        await js.publish(f"{subj}.a", b"x" * 100)
    c = await js.create_consumer(name, ack_policy="none")
    got = await c.fetch_bytes(450, max_wait=1)
    assert 2 <= len(got) <= 3  # ~130 bytes each as the server counts them
    assert await c.fetch_bytes(50, max_wait=1) == []  # 409 message size exceeds max bytes
    assert len(await c.fetch_bytes(10_000, max_wait=0.3)) == 10 - len(got)


async def test_next_and_timeout(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, ack_policy="none")
    await js.publish(f"{subj}.a", b"one")
    assert (await c.next(timeout=2)).data == b"one"
    with pytest.raises(NatsTimeoutError):
        await c.next(timeout=0.3)


async def test_fetch_variants(js: nats_anyio.JetStream) -> None:
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


async def test_fetch_status_errors(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    await js.publish(f"{subj}.a", b"x")
    push = await js.create_consumer(name, durable_name="push", deliver_subject=uniq("dlv"))
    with pytest.raises(NotPullConsumerError) as exc:
        await push.fetch(1, max_wait=1)
    assert exc.value.status == 409 and exc.value.terminal
    small = await js.create_consumer(name, durable_name="mb", max_batch=2)
    with pytest.raises(PullRequestRejectedError):
        await small.fetch(5, max_wait=1)
    one = await js.create_consumer(name, durable_name="mw", max_waiting=1, deliver_policy="new")
    results: list[object] = []

    async def fetch_one() -> None:
        results.append(await one.fetch(1, max_wait=1.0))

    async with background(fetch_one):
        await anyio.sleep(0.2)
        with pytest.raises(PullRequestRejectedError) as rej:
            await one.fetch(1, max_wait=1.0)
        assert "MaxWaiting" in str(rej.value)
    assert results == [[]]


async def test_fetch_with_heartbeats_on_idle_consumer(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js)
    c = await js.create_consumer(name, ack_policy="none")
    t0 = time.monotonic()
    assert await c.fetch(1, max_wait=1.6, idle_heartbeat=0.5) == []  # heartbeats kept it alive
    assert time.monotonic() - t0 >= 1.5


async def test_messages_iterator_keeps_pulling(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    for i in range(100):
        await js.publish(f"{subj}.a", b"%d" % i)
    c = await js.create_consumer(name, durable_name="it", ack_policy="explicit")
    got = []
    async with c.messages(max_messages=10) as it:
        async for msg in it:
            got.append(int(msg.data))
            await msg.ack()
            if len(got) == 100:
                break
    assert got == list(range(100))
    with pytest.raises(SubscriptionClosedError):
        await it.next(timeout=0.1)
    by_bytes = await js.create_consumer(name, ack_policy="none")
    async with by_bytes.messages(max_bytes=1024) as it2:
        assert [int((await it2.next(timeout=2)).data) for _ in range(100)] == list(range(100))
        with pytest.raises(NatsTimeoutError):
            await it2.next(timeout=0.3)


async def test_messages_rejects_bad_options(js: nats_anyio.JetStream) -> None:
    name, _ = await make_stream(js)
    c = await js.create_consumer(name)
    with pytest.raises(InvalidOptionError):
        c.messages(max_messages=10, max_bytes=100)
    with pytest.raises(InvalidOptionError):
        c.messages(expires=0.5)
    with pytest.raises(InvalidOptionError):
        c.messages(max_messages=10, threshold_messages=20)


async def test_consume_callback_and_stop(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="cb", ack_policy="explicit")
    seen: list[bytes] = []
    errors: list[BaseException] = []
    done = Event()

    async def handle(msg: nats_anyio.Msg) -> None:
        seen.append(msg.data)
        await msg.ack()
        if len(seen) == 21:
            done.set()
        if msg.data == b"boom":
            raise RuntimeError("handler failed")

    ctx = await c.consume(handle, error_cb=errors.append, max_messages=5)
    for i in range(20):
        await js.publish(f"{subj}.a", b"%d" % i)
    await js.publish(f"{subj}.a", b"boom")
    assert await done.wait(5)
    await ctx.stop()
    assert await ctx.wait_closed(2) and ctx.is_closed
    assert seen[:20] == [b"%d" % i for i in range(20)]
    assert any(isinstance(e, RuntimeError) for e in errors)
    await js.publish(f"{subj}.a", b"after")
    await anyio.sleep(0.3)
    assert b"after" not in seen


async def test_messages_and_consume(js: nats_anyio.JetStream) -> None:
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
    done = Event()

    async def handle(msg: nats_anyio.Msg) -> None:
        seen.append(int(msg.data))
        await msg.ack()
        if len(seen) == 10:
            done.set()
            raise ValueError("the tenth")

    ctx = await c.consume(handle, error_cb=errors.append, max_bytes=4096)
    for i in range(50, 60):
        await js.publish(f"{subj}.a", b"%d" % i)
    assert await done.wait(5)
    await ctx.stop()
    assert await ctx.wait_closed(2)
    assert seen == list(range(50, 60))
    assert any(isinstance(e, ValueError) for e in errors)


async def test_closing_the_client_ends_consume_and_iterator(js_server: NatsServer) -> None:
    async with nats_anyio.connect(js_server.url) as nc:
        js = nc.jetstream()
        name, _ = await make_stream(js)
        c = await js.create_consumer(name, durable_name="closing")
        ctx = await c.consume(lambda m: None)
        it = c.messages()
        with pytest.raises(NatsTimeoutError):
            await it.next(timeout=0.2)
        await nc.close()
        assert await ctx.wait_closed(3)
        with pytest.raises(SubscriptionClosedError):
            await it.next(timeout=1)
        assert [m async for m in it] == []


async def test_consumer_deleted_ends_iterator_and_consume(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="del")
    it = c.messages()
    await js.publish(f"{subj}.a", b"x")
    assert (await it.next(timeout=2)).data == b"x"
    await js.delete_consumer(name, "del")
    with pytest.raises(ConsumerDeletedError):
        await it.next(timeout=5)
    assert it.is_stopped
    with pytest.raises(ConsumerDeletedError):  # it stays failed
        await it.next(timeout=0.1)

    c2 = await js.create_consumer(name, durable_name="del2")
    errors: list[BaseException] = []
    ctx = await c2.consume(lambda m: None, error_cb=errors.append)
    await anyio.sleep(0.2)
    await js.delete_consumer(name, "del2")
    assert await ctx.wait_closed(5)
    assert isinstance(ctx.error, ConsumerDeletedError)
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)


async def test_deleted_consumer_ends_messages(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="gone")
    it = c.messages()
    await js.publish(f"{subj}.a", b"x")
    assert (await it.next(timeout=2)).data == b"x"
    await js.delete_consumer(name, "gone")
    with pytest.raises(ConsumerDeletedError):
        async for _ in it:
            pass


async def test_missed_heartbeats_raise_then_consume_goes_on(nats_server_js: NatsServer) -> None:
    async with nats_anyio.connect(nats_server_js.url) as nc:
        js = nc.jetstream()
        name, subj = await make_stream(js)
        c = await js.create_consumer(name, durable_name="hb")
        it = c.messages(expires=2, idle_heartbeat=0.5)
        await js.publish(f"{subj}.a", b"before")
        assert (await it.next(timeout=2)).data == b"before"
        t0 = time.monotonic()
        with frozen(nats_server_js), pytest.raises(MissedHeartbeatError):
            await it.next(timeout=5)
        assert 0.8 <= time.monotonic() - t0 < 3
        await js.publish(f"{subj}.a", b"after")
        assert (await it.next(timeout=5)).data == b"after"  # pulled again
        await it.stop()

        errors: list[BaseException] = []
        ctx = await c.consume(lambda m: None, error_cb=errors.append, expires=2, idle_heartbeat=0.5)
        await anyio.sleep(0.3)
        with frozen(nats_server_js):
            await anyio.sleep(1.6)
        await wait_until(lambda: any(isinstance(e, MissedHeartbeatError) for e in errors), 3)
        assert not ctx.is_closed  # not terminal
        await ctx.stop()


async def test_consume_pulls_again_after_reconnect(nats_server_js: NatsServer) -> None:
    reconnected = Event()
    async with nats_anyio.connect(
        nats_server_js.url, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    ) as nc:
        js = nc.jetstream()
        name, subj = await make_stream(js, "file")
        c = await js.create_consumer(name, durable_name="rc", ack_policy="explicit")
        # expires 30 s (heartbeat 15 s): only the re-pull on reconnect can bring
        # the next message within the few seconds this test waits.
        async with c.messages(max_messages=5) as it:
            await js.publish(f"{subj}.a", b"1")
            m = await it.next(timeout=2)
            await m.ack_sync()
            nats_server_js.restart()
            assert await reconnected.wait(10)
            await js.publish(f"{subj}.a", b"2", retry_attempts=20, retry_wait=0.1)
            m2 = await it.next(timeout=5)
            assert m2.data == b"2"
            await m2.ack()


# ======================================================================= acks


async def test_acks_nak_delay_in_progress_term(js: nats_anyio.JetStream, storage: str) -> None:
    name, subj = await make_stream(js, storage)
    c = await js.create_consumer(name, durable_name="acks", ack_policy="explicit", ack_wait=2)
    for tok in ("ack", "nak", "term", "wpi"):
        await js.publish(f"{subj}.{tok}", tok.encode())
    msgs = {m.data: m for m in await c.fetch(4, max_wait=1)}
    assert set(msgs) == {b"ack", b"nak", b"term", b"wpi"}
    await msgs[b"ack"].ack()
    t0 = time.monotonic()
    await msgs[b"nak"].nak(delay=0.5)
    # servers before 2.10 ignore a +TERM that carries a reason
    await msgs[b"term"].term(reason="not for me" if SERVER_VERSION >= (2, 10) else None)
    await msgs[b"wpi"].in_progress()
    await msgs[b"wpi"].in_progress()  # not final: may repeat
    with pytest.raises(MsgAlreadyAckedError):
        await msgs[b"ack"].ack()
    with pytest.raises(MsgAlreadyAckedError):
        await msgs[b"term"].nak()
    again = await c.fetch(1, max_wait=2)
    assert [m.data for m in again] == [b"nak"]
    assert time.monotonic() - t0 >= 0.45
    assert again[0].metadata.num_delivered == 2
    await again[0].ack_sync()
    await msgs[b"wpi"].ack_sync()
    info = await c.info()
    assert info.num_ack_pending == 0
    assert info.delivered.consumer_seq == 5  # four first deliveries and one redelivery
    assert await c.fetch(1, max_wait=0.5) == []  # term'd and acked ones never come back


async def test_nak_without_delay_redelivers_at_once(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    c = await js.create_consumer(name, durable_name="n", ack_policy="explicit")
    await js.publish(f"{subj}.a", b"x")
    first = await c.next(timeout=2)
    await first.nak()
    second = await c.next(timeout=2)
    assert second.metadata.sequence.stream == 1 and second.metadata.num_delivered == 2
    await second.term()


async def test_acks(js: nats_anyio.JetStream) -> None:
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
    v2 = nats_anyio.Msg("x", "$JS.ACK.dom.ACC.S.c.1.2.3.1700000000000000000.4.tok", b"")
    assert v2.metadata.domain == "dom" and v2.metadata.num_pending == 4
    with pytest.raises(NotJetStreamMessageError):
        await nats_anyio.Msg("x", "not.an.ack", b"", client=js.client).ack()


async def test_metadata_from_delivered_message(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    for _ in range(3):
        await js.publish(f"{subj}.a", b"x", headers={"Trace": "t"})
    c = await js.create_consumer(name, durable_name="meta")
    msg = (await c.fetch(2, max_wait=1))[1]
    meta = msg.metadata
    assert (meta.stream, meta.consumer) == (name, "meta")
    assert meta.sequence.stream == 2 and meta.sequence.consumer == 2
    assert meta.num_delivered == 1 and meta.num_pending == 1
    assert abs(meta.timestamp - datetime.now(UTC)) < timedelta(seconds=30)
    assert meta.domain is None
    assert msg.headers is not None and msg.headers["Trace"] == "t"


async def test_metadata_and_acks_of_other_messages(nc: nats_anyio.Client) -> None:
    v2 = nats_anyio.Msg("x", "$JS.ACK.hub.ACC.ORDERS.proc.2.10.7.1700000000123456789.42.tok", b"")
    meta = v2.metadata
    assert (meta.domain, meta.stream, meta.consumer) == ("hub", "ORDERS", "proc")
    assert (meta.num_delivered, meta.sequence.stream, meta.sequence.consumer) == (2, 10, 7)
    assert meta.num_pending == 42 and meta.timestamp_ns == 1700000000123456789
    v1 = nats_anyio.Msg("x", "$JS.ACK.ORDERS.proc.1.5.5.1700000000000000000.0", b"")
    assert v1.metadata.domain is None and v1.metadata.sequence.stream == 5
    sub = await nc.subscribe("plain.msg")
    await nc.publish("plain.msg", b"x", reply="some.reply")
    plain = await sub.next_msg(timeout=2)
    with pytest.raises(NotJetStreamMessageError):
        plain.metadata  # noqa: B018
    with pytest.raises(NotJetStreamMessageError):
        await plain.ack()


async def test_ack_sync_times_out_without_server_confirmation(nc: nats_anyio.Client) -> None:
    # A fake ack subject nobody answers: the double ack must not pretend it worked.
    subj = "$JS.ACK.FAKE.c.1.1.1.1700000000000000000.0"
    await nc.subscribe(subj)  # takes it, never replies
    fake = nats_anyio.Msg("x", subj, b"", client=nc)
    with pytest.raises(NatsTimeoutError):
        await fake.ack_sync(timeout=0.3)
    await fake.ack()  # it was not acknowledged, so a plain ack is still allowed


# ============================================================ ordered consumer


async def test_ordered_consumer_fetch_next_and_messages(
    js: nats_anyio.JetStream,
    storage: str,
) -> None:
    name, subj = await make_stream(js, storage)
    for i in range(30):
        await js.publish(f"{subj}.{'a' if i % 3 else 'b'}", b"%d" % i)
    oc = await js.ordered_consumer(name)
    first = await oc.fetch(10, max_wait=1)
    assert [int(m.data) for m in first] == list(range(10))
    name1 = oc.name
    assert (await oc.next(timeout=2)).data == b"10"
    assert oc.name != name1  # each fetch runs on a fresh consumer
    assert oc.stream_seq == 11
    async with oc.messages() as it:
        rest = [int((await it.next(timeout=2)).data) for _ in range(19)]
    assert rest == list(range(11, 30))
    filtered = await js.ordered_consumer(name, filter_subjects=f"{subj}.b")
    assert [int(m.data) for m in await filtered.fetch(20, max_wait=0.5)] == list(range(0, 30, 3))
    last = await js.ordered_consumer(name, deliver_policy="last")
    assert [int(m.data) for m in await last.fetch_no_wait(5)] == [29]
    by_seq = await js.ordered_consumer(name, deliver_policy="by_start_sequence", opt_start_seq=28)
    tail = await by_seq.fetch(5, max_wait=0.3)
    assert [m.metadata.sequence.stream for m in tail] == [28, 29, 30]
    with pytest.raises(NatsTimeoutError):
        await by_seq.next(timeout=0.3)
    assert await by_seq.fetch_bytes(10_000, max_wait=0.3) == []
    with pytest.raises(StreamNotFoundError):
        await (await js.ordered_consumer(uniq("S"))).fetch(1, max_wait=0.2)


async def test_ordered_consumer_survives_deleted_consumer(js: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(js)
    for i in range(5):
        await js.publish(f"{subj}.a", b"%d" % i)
    oc = await js.ordered_consumer(name)
    errors: list[BaseException] = []
    async with oc.messages(error_cb=errors.append) as it:
        got = [int((await it.next(timeout=2)).data) for _ in range(3)]
        first = oc.name
        assert first is not None
        await js.delete_consumer(name, first)
        for i in range(5, 8):
            await js.publish(f"{subj}.a", b"%d" % i)
        got += [int((await it.next(timeout=5)).data) for _ in range(5)]
    assert got == list(range(8))
    assert oc.name != first
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)


async def test_ordered_consumer(js: nats_anyio.JetStream) -> None:
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


async def test_ordered_consumer_recreates_after_a_gap(
    js: nats_anyio.JetStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nats_anyio._js_consume as mod  # the iterator reads through it

    name, subj = await make_stream(js)
    for i in range(10):
        await js.publish(f"{subj}.a", b"%d" % i)
    real = mod._next_or_none
    dropped: list[int] = []

    async def lossy(sub: nats_anyio.Subscription, timeout: float) -> nats_anyio.Msg | None:
        msg = await real(sub, timeout)
        if msg is not None and msg.data == b"4" and not dropped:
            dropped.append(msg.metadata.sequence.stream)
            return await real(sub, timeout)  # message 4 is lost on the way
        return msg

    monkeypatch.setattr(mod, "_next_or_none", lossy)
    oc = await js.ordered_consumer(name)
    async with oc.messages() as it:
        first = None
        got = []
        for _ in range(10):
            got.append(int((await it.next(timeout=3)).data))
            first = first or oc.name
    assert dropped == [5]
    assert got == list(range(10))  # 4 came again from the new consumer
    assert oc.name != first


async def test_ordered_consumer_after_missed_heartbeats_and_reconnect(
    nats_server_js: NatsServer,
) -> None:
    async with nats_anyio.connect(nats_server_js.url, reconnect_time_wait=0.05) as nc:
        js = nc.jetstream(timeout=2)
        name, subj = await make_stream(js, "file")
        await js.publish(f"{subj}.a", b"0")
        oc = await js.ordered_consumer(name)
        errors: list[BaseException] = []
        async with oc.messages(expires=2, idle_heartbeat=0.5, error_cb=errors.append) as it:
            assert (await it.next(timeout=2)).data == b"0"
            first = oc.name
            got: list[nats_anyio.Msg] = []

            async def wait_next() -> None:
                got.append(await it.next(timeout=8))

            async with background(wait_next):  # waiting in next() while the server is frozen
                with frozen(nats_server_js):
                    await anyio.sleep(1.5)
                await js.publish(f"{subj}.a", b"1")
            assert [m.data for m in got] == [b"1"]
            assert any(isinstance(e, MissedHeartbeatError) for e in errors)
            second = oc.name
            assert second != first
            await restart_and_wait(nats_server_js, nc)
            await js.publish(f"{subj}.a", b"2", retry_attempts=20, retry_wait=0.1)
            assert (await it.next(timeout=10)).data == b"2"
            assert oc.name != second
            assert oc.stream_seq == 3
