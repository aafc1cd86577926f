"""JetStream on the blocking client against a real nats-server: management,
publish, pull consumers (ADR-37), acks, the ordered consumer; file and memory
storage, and every error path the API reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import nats_sync
from js_helpers import SERVER_VERSION, frozen, needs_server, uniq
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
from nats_sync import JetStream, Msg
from pynats.server import NatsServer
from sync_helpers import wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One JetStream server for the module; tests use streams of their own."""
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def nc(server: NatsServer) -> Iterator[nats_sync.Client]:
    client = nats_sync.connect(server.url)
    yield client
    client.close()


@pytest.fixture
def js(nc: nats_sync.Client) -> JetStream:
    return nc.jetstream(timeout=3.0)


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_stream(js: JetStream, storage: str = "memory", **fields: object) -> tuple[str, str]:
    """A fresh stream capturing ``<subj>.>``; returns (stream name, subject token)."""
    name, subj = uniq("S"), uniq("s")
    fields.setdefault("subjects", [f"{subj}.>"])
    js.create_stream(name=name, storage=storage, **fields)
    return name, subj


# ================================================================= management


def test_account_info_counts_streams(js: JetStream) -> None:
    before = js.account_info()
    make_stream(js)
    after = js.account_info()
    assert after.streams == before.streams + 1
    assert after.limits.max_streams == -1


def test_stream_create_update_info_delete(js: JetStream, storage: str) -> None:
    name, subj = uniq("S"), uniq("s")
    info = js.create_stream(name=name, subjects=[f"{subj}.>"], storage=storage)
    assert info.config.name == name
    assert info.config.storage == StorageType(storage)
    assert info.state.messages == 0
    # the same configuration again is fine; another one is not
    again = js.create_stream(StreamConfig(name=name, subjects=[f"{subj}.>"], storage=storage))
    assert again.config.subjects == [f"{subj}.>"]
    with pytest.raises(StreamNameInUseError) as exc:
        js.create_stream(name=name, subjects=[f"{subj}.other"], storage=storage)
    assert exc.value.err_code == 10058
    updated = js.update_stream(info.config, max_msgs=10, description="ten")
    assert updated.config.max_msgs == 10 and updated.config.description == "ten"
    assert js.stream_info(name).config.max_msgs == 10
    assert js.delete_stream(name) is True
    with pytest.raises(StreamNotFoundError):
        js.stream_info(name)
    with pytest.raises(StreamNotFoundError):
        js.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        js.update_stream(name=name, subjects=[f"{subj}.>"])


def test_create_or_update_stream(js: JetStream, storage: str) -> None:
    name, subj = uniq("S"), uniq("s")
    created = js.create_or_update_stream(name=name, subjects=[f"{subj}.>"], storage=storage)
    assert created.config.max_msgs in (None, -1)
    updated = js.create_or_update_stream(
        name=name, subjects=[f"{subj}.>"], storage=storage, max_msgs=5
    )
    assert updated.config.max_msgs == 5


def test_stream_info_subjects_and_deleted_details(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for tok, n in (("a", 3), ("b", 2), ("c", 1)):
        for _ in range(n):
            js.publish(f"{subj}.{tok}", b"x")
    js.delete_msg(name, 2)
    js.delete_msg(name, 4)
    info = js.stream_info(name, subjects_filter=f"{subj}.>", deleted_details=True)
    assert info.state.subjects == {f"{subj}.a": 2, f"{subj}.b": 1, f"{subj}.c": 1}
    assert sorted(info.state.deleted or []) == [2, 4]
    assert info.state.num_deleted == 2
    only_b = js.stream_info(name, subjects_filter=f"{subj}.b")
    assert only_b.state.subjects == {f"{subj}.b": 1}
    plain = js.stream_info(name)
    assert plain.state.subjects is None and plain.state.deleted is None


def test_purge_all_subject_seq_keep(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for i in range(10):  # seq i + 1; odd sequences on b, even ones on a
        js.publish(f"{subj}.{'a' if i % 2 else 'b'}", b"%d" % i)
    assert js.purge_stream(name, keep=8) == 2
    assert js.stream_info(name).state.first_seq == 3
    assert js.purge_stream(name, seq=5) == 2
    assert js.stream_info(name).state.first_seq == 5
    assert js.purge_stream(name, subject=f"{subj}.a") == 3  # 6, 8, 10
    assert js.stream_info(name).state.messages == 3
    assert js.get_msg(name, 9).data == b"8"
    assert js.purge_stream(name) == 3
    assert js.stream_info(name).state.messages == 0
    with pytest.raises(InvalidOptionError):
        js.purge_stream(name, seq=1, keep=1)
    with pytest.raises(StreamNotFoundError):
        js.purge_stream(uniq("S"))


def test_stream_names_and_list_page_through_everything(js: JetStream) -> None:
    subj = uniq("pg")
    names = {f"{subj}N{i}" for i in range(260)}  # STREAM.LIST pages hold 256
    for n in names:
        js.create_stream(name=n, subjects=[f"{subj}.{n}"], storage="memory")
    assert set(js.stream_names(subject=f"{subj}.>")) == names
    listed = [i.config.name for i in js.list_streams(subject=f"{subj}.>")]
    assert len(listed) == 260 and set(listed) == names
    assert names <= set(js.stream_names())
    for n in names:
        js.delete_stream(n)


def test_find_stream_by_subject(js: JetStream) -> None:
    name, subj = make_stream(js)
    assert js.find_stream_by_subject(f"{subj}.x.y") == name
    assert js.stream_name_by_subject(f"{subj}.>") == name
    with pytest.raises(StreamNotFoundError):
        js.find_stream_by_subject(uniq("nothing"))


def test_get_msg_by_seq_last_next_and_headers(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    js.publish(f"{subj}.a", b"a1", headers={"H": ["1", "2"]})
    js.publish(f"{subj}.b", b"b1")
    js.publish(f"{subj}.a", b"a2")
    first = js.get_msg(name, 1)
    assert (first.subject, first.seq, first.data) == (f"{subj}.a", 1, b"a1")
    assert first.headers is not None and first.headers.get_all("H") == ["1", "2"]
    assert first.time is not None
    last = js.get_msg(name, last_by_subject=f"{subj}.a")
    assert (last.seq, last.data) == (3, b"a2")
    nxt = js.get_msg(name, 2, next_by_subject=f"{subj}.a")
    assert nxt.seq == 3
    assert js.get_last_msg_for_subject(name, f"{subj}.b").data == b"b1"
    with pytest.raises(MsgNotFoundError):
        js.get_msg(name, 99)
    with pytest.raises(MsgNotFoundError):
        js.get_msg(name, last_by_subject=f"{subj}.zzz")
    with pytest.raises(InvalidOptionError):
        js.get_msg(name)
    with pytest.raises(StreamNotFoundError):
        js.get_msg(uniq("S"), 1)


def test_direct_get(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage, allow_direct=True)
    js.publish(f"{subj}.a", b"a1", headers={"K": "v"})
    js.publish(f"{subj}.b", b"b1")
    js.publish(f"{subj}.a", b"a2")
    by_seq = js.get_msg(name, 1, direct=True)
    assert (by_seq.seq, by_seq.data, by_seq.stream) == (1, b"a1", name)
    assert by_seq.headers is not None and by_seq.headers["K"] == "v"
    last = js.get_msg(name, last_by_subject=f"{subj}.a", direct=True)
    assert (last.seq, last.data) == (3, b"a2")
    nxt = js.get_msg(name, 2, next_by_subject=f"{subj}.a", direct=True)
    assert nxt.seq == 3
    with pytest.raises(MsgNotFoundError):
        js.get_msg(name, 50, direct=True)


@needs_server(2, 10)
def test_direct_get_needs_allow_direct(js: JetStream) -> None:
    name, subj = make_stream(js)
    js.publish(f"{subj}.a", b"x")
    with pytest.raises(JetStreamNotEnabledError) as exc:
        js.get_msg(name, 1, direct=True)
    assert "allow_direct" in str(exc.value)


def test_delete_msg_and_secure_erase(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for i in range(3):
        js.publish(f"{subj}.a", b"%d" % i)
    assert js.delete_msg(name, 1) is True
    assert js.delete_msg(name, 2, secure_erase=True) is True
    assert js.secure_delete_msg(name, 3) is True
    for seq in (1, 2, 3):
        with pytest.raises(MsgNotFoundError):
            js.get_msg(name, seq)
    with pytest.raises(APIError) as exc:  # 10043 or 10057 depending on the store
        js.delete_msg(name, 1)
    assert exc.value.code in (400, 500) and exc.value.err_code in (10043, 10057)
    assert js.stream_info(name).state.messages == 0


# ------------------------------------------------------------------ consumers


def test_consumer_crud_info_list_names(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    durable = js.create_consumer(name, durable_name="dur", ack_policy=AckPolicy.EXPLICIT)
    assert durable.name == "dur" and durable.stream == name
    assert durable.cached_info.config.ack_policy == AckPolicy.EXPLICIT
    eph = js.create_consumer(name, ConsumerConfig(filter_subject=f"{subj}.a"))
    assert eph.name and eph.name != "dur"
    assert eph.cached_info.config.durable_name is None
    assert js.consumer_info(name, "dur").name == "dur"
    handle = js.consumer(name, "dur")
    assert handle.info().stream_name == name
    assert set(js.consumer_names(name)) == {"dur", eph.name}
    assert {c.name for c in js.list_consumers(name)} == {"dur", eph.name}
    updated = js.create_or_update_consumer(
        name, durable_name="dur", ack_policy="explicit", max_ack_pending=7
    )
    assert updated.cached_info.config.max_ack_pending == 7
    assert js.delete_consumer(name, "dur") is True
    with pytest.raises(ConsumerNotFoundError):
        js.consumer_info(name, "dur")
    with pytest.raises(ConsumerNotFoundError):
        js.consumer(name, "dur")
    with pytest.raises(ConsumerNotFoundError):
        js.delete_consumer(name, "dur")
    with pytest.raises(InvalidNameError):
        js.create_consumer(name, durable_name="bad.name")
    with pytest.raises(StreamNotFoundError):
        js.create_consumer(uniq("S"), durable_name="x")


def test_consumer_names_page_through_everything(js: JetStream) -> None:
    name, _ = make_stream(js)
    for i in range(260):  # CONSUMER.LIST pages hold 256
        js.create_consumer(name, durable_name=f"c{i}", inactive_threshold=60)
    assert len(set(js.consumer_names(name))) == 260
    assert len({c.name for c in js.list_consumers(name)}) == 260


@needs_server(2, 10)
def test_consumer_create_update_actions(js: JetStream) -> None:
    name, _subj = make_stream(js)
    js.create_consumer(name, durable_name="c", description="one")
    assert js.create_consumer(name, durable_name="c", description="one").name == "c"
    with pytest.raises(ConsumerAlreadyExistsError):
        js.create_consumer(name, durable_name="c", description="two")
    assert js.update_consumer(name, durable_name="c", description="two").name == "c"
    assert js.consumer_info(name, "c").config.description == "two"
    with pytest.raises(ConsumerDoesNotExistError):
        js.update_consumer(name, durable_name="missing")


@needs_server(2, 10)
def test_consumer_with_many_filter_subjects(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for tok in ("a", "b", "c", "a"):
        js.publish(f"{subj}.{tok}", tok.encode())
    c = js.create_consumer(
        name, name="multi", filter_subjects=[f"{subj}.a", f"{subj}.c"], ack_policy="none"
    )
    assert c.cached_info.config.filter_subjects == [f"{subj}.a", f"{subj}.c"]
    got = c.fetch(10, max_wait=0.5)
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
def test_deliver_policies(
    js: JetStream, policy: DeliverPolicy, extra: dict[str, object], first: list[int]
) -> None:
    name, subj = make_stream(js)
    for tok in ("a", "b", "a", "b"):
        js.publish(f"{subj}.{tok}", b"x")
    if extra.get("filter_subject"):
        extra = {"filter_subject": f"{subj}.>"}  # servers want one with last per subject
    c = js.create_consumer(name, deliver_policy=policy, ack_policy="none", **extra)
    got = c.fetch(10, max_wait=0.3)
    assert [m.metadata.sequence.stream for m in got] == first


def test_deliver_by_start_time_and_replay_original(js: JetStream) -> None:
    name, subj = make_stream(js)
    js.publish(f"{subj}.a", b"old")
    time.sleep(0.05)
    start = datetime.now(UTC)
    time.sleep(0.05)
    for _ in range(2):
        js.publish(f"{subj}.a", b"new")
        time.sleep(0.2)
    c = js.create_consumer(
        name,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        replay_policy=ReplayPolicy.ORIGINAL,
    )
    t0 = time.monotonic()
    got = c.fetch(2, max_wait=3)
    assert [m.data for m in got] == [b"new", b"new"]
    assert time.monotonic() - t0 >= 0.15  # replayed at the original pace


def test_ack_policy_all_acks_everything_before(js: JetStream) -> None:
    name, subj = make_stream(js)
    for i in range(5):
        js.publish(f"{subj}.a", b"%d" % i)
    c = js.create_consumer(name, durable_name="all", ack_policy=AckPolicy.ALL)
    got = c.fetch(5, max_wait=0.5)
    got[3].ack_sync()
    info = c.info()
    assert info.ack_floor.stream_seq == 4
    assert info.num_ack_pending == 1


@needs_server(2, 11)
def test_pause_and_resume_consumer(js: JetStream) -> None:
    name, subj = make_stream(js)
    c = js.create_consumer(name, durable_name="p")
    js.publish(f"{subj}.a", b"x")
    until = datetime.now(UTC) + timedelta(seconds=60)
    paused = js.pause_consumer(name, "p", until)
    assert paused.paused is True
    assert paused.pause_until is not None and abs(paused.pause_until - until) < timedelta(seconds=1)
    assert c.info().paused is True
    assert c.fetch(1, max_wait=0.5) == []
    resumed = js.resume_consumer(name, "p")
    assert resumed.paused is False
    assert [m.data for m in c.fetch(1, max_wait=2)] == [b"x"]
    with pytest.raises(ConsumerNotFoundError):
        js.pause_consumer(name, "nope", until)


def test_jetstream_not_enabled(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as plain:
        js = plain.jetstream(timeout=1.0)
        with pytest.raises(JetStreamNotEnabledError) as exc:
            js.account_info()
        assert exc.value.code == 503
        with pytest.raises(NoStreamResponseError):
            js.publish("anything", b"x", retry_attempts=0)


def test_domain_and_prefix(nc: nats_sync.Client) -> None:
    js = nc.jetstream(domain="elsewhere", timeout=0.5)
    assert js.api.prefix == "$JS.elsewhere.API"
    with pytest.raises(JetStreamNotEnabledError):
        js.account_info()
    assert nc.jetstream(api_prefix="$JS.API").account_info().limits is not None
    with pytest.raises(ValueError):
        nc.jetstream(domain="a", api_prefix="$JS.b.API")


# ==================================================================== publish


def test_publish_options_and_errors(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage, duplicate_window=60)
    ack = js.publish(f"{subj}.a", b"1", msg_id="m1")
    assert (ack.stream, ack.seq, ack.duplicate) == (name, 1, None)
    dup = js.publish(f"{subj}.a", b"1 again", msg_id="m1")
    assert dup.seq == 1 and dup.duplicate is True
    assert js.stream_info(name).state.messages == 1
    assert js.publish(f"{subj}.a", b"2", expected_stream=name).seq == 2
    with pytest.raises(ExpectedStreamMismatchError):
        js.publish(f"{subj}.a", b"x", expected_stream="OTHER")
    assert js.publish(f"{subj}.a", b"3", expected_last_seq=2).seq == 3
    with pytest.raises(WrongLastSequenceError):
        js.publish(f"{subj}.a", b"x", expected_last_seq=2)
    assert js.publish(f"{subj}.b", b"4", expected_last_subject_seq=0).seq == 4
    assert js.publish(f"{subj}.b", b"5", expected_last_subject_seq=4).seq == 5
    with pytest.raises(WrongLastSequenceError):
        js.publish(f"{subj}.b", b"x", expected_last_subject_seq=4)
    js.publish(f"{subj}.a", b"6", msg_id="m6")
    assert js.publish(f"{subj}.a", b"7", msg_id="m7", expected_last_msg_id="m6").seq == 7
    with pytest.raises(WrongLastMsgIdError):
        js.publish(f"{subj}.a", b"x", expected_last_msg_id="m6")
    assert js.stream_info(name).state.messages == 7
    stored = js.get_msg(name, 7)
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == "m7"


@needs_server(2, 11)
def test_publish_ttl(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage, allow_msg_ttl=True)
    js.publish(f"{subj}.keep", b"forever", ttl="never")
    js.publish(f"{subj}.gone", b"brief", ttl=1)
    stored = js.get_msg(name, 2)
    assert stored.headers is not None and stored.headers["Nats-TTL"] == "1s"
    wait_until(lambda: js.stream_info(name).state.messages == 1, timeout=5, what="ttl expiry")
    assert js.get_msg(name, 1).data == b"forever"
    _other, osubj = make_stream(js, storage)
    with pytest.raises(MsgTTLDisabledError):
        js.publish(f"{osubj}.a", b"x", ttl=5)
    with pytest.raises(InvalidOptionError):
        js.publish(f"{subj}.a", b"x", ttl=0.5)


def test_publish_retries_on_no_responders(js: JetStream) -> None:
    subj = uniq("late")
    t0 = time.monotonic()
    with pytest.raises(NoStreamResponseError):
        js.publish(f"{subj}.a", b"x", retry_attempts=2, retry_wait=0.2)
    assert time.monotonic() - t0 >= 0.4  # two waits between three attempts

    def create_later() -> None:
        time.sleep(0.3)
        js.create_stream(name=uniq("S"), subjects=[f"{subj}.>"], storage="memory")

    t = threading.Thread(target=create_later)
    t.start()
    ack = js.publish(f"{subj}.a", b"x", retry_attempts=20, retry_wait=0.1)
    t.join()
    assert ack.seq == 1


def test_publish_async_futures_and_complete(js: JetStream) -> None:
    _name, subj = make_stream(js)
    futs = [js.publish_async(f"{subj}.a", b"%d" % i, msg_id=f"id{i}") for i in range(300)]
    js.publish_async_complete(timeout=10)
    assert js.publish_async_pending == 0
    assert [f.result(0).seq for f in futs] == list(range(1, 301))
    bad = js.publish_async(f"{subj}.a", b"x", expected_last_seq=1)
    with pytest.raises(WrongLastSequenceError):
        bad.result(5)
    nostream = js.publish_async(f"{uniq('none')}.x", b"x")
    with pytest.raises(NoStreamResponseError):
        nostream.result(5)


def test_publish_async_bounds_the_pending(nc: nats_sync.Client) -> None:
    js = nc.jetstream(publish_async_max_pending=8)
    name, subj = make_stream(js)
    peak = 0
    futs = []
    for i in range(400):
        futs.append(js.publish_async(f"{subj}.a", b"%d" % i))
        peak = max(peak, js.publish_async_pending)
    js.publish_async_complete(timeout=10)
    assert 1 <= peak <= 8
    assert js.stream_info(name).state.messages == 400
    assert all(f.done() for f in futs)


def test_publish_async_stalls_and_times_out(nc: nats_sync.Client) -> None:
    # Someone answers nothing: a core subscriber takes the publishes, so acks never come.
    subj = uniq("mute")
    mute = nc.subscribe(f"{subj}.>")
    js = nc.jetstream(publish_async_max_pending=2, publish_async_timeout=1.0)
    f1 = js.publish_async(f"{subj}.a", b"1")
    f2 = js.publish_async(f"{subj}.a", b"2")
    t0 = time.monotonic()
    with pytest.raises(TooManyPendingError):
        js.publish_async(f"{subj}.a", b"3", stall_timeout=0.2)
    assert 0.15 <= time.monotonic() - t0 < 1.0
    with pytest.raises(NatsTimeoutError):
        js.publish_async_complete(timeout=0.1)
    with pytest.raises(AsyncPublishTimeoutError):
        f1.result(3)
    with pytest.raises(AsyncPublishTimeoutError):
        f2.result(3)
    js.publish_async_complete(timeout=1)  # failed ones count as complete
    assert mute.pending_msgs == 2


def test_publish_async_fails_pending_on_close(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url)
    subj = uniq("mute")
    nc.subscribe(f"{subj}.>")
    js = nc.jetstream()
    fut = js.publish_async(f"{subj}.a", b"1")
    nc.close()
    with pytest.raises(Exception, match="closed") as exc:
        fut.result(3)
    assert not isinstance(exc.value, TimeoutError)


# ==================================================================== pulling


def test_fetch_batch_max_wait_and_no_wait(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for i in range(5):
        js.publish(f"{subj}.a", b"%d" % i)
    c = js.create_consumer(name, durable_name="f", ack_policy="explicit")
    got = c.fetch(3, max_wait=2)
    assert [m.data for m in got] == [b"0", b"1", b"2"] and got.error is None
    for m in got:
        m.ack()
    t0 = time.monotonic()
    rest = c.fetch(10, max_wait=0.5)
    assert [m.data for m in rest] == [b"3", b"4"]
    assert 0.4 <= time.monotonic() - t0 < 2.5  # waited for more until max_wait
    for m in rest:
        m.ack()
    t0 = time.monotonic()
    assert c.fetch_no_wait(5) == []  # 404: nothing now
    assert time.monotonic() - t0 < 0.5
    js.publish(f"{subj}.a", b"5")
    # The stream has it once acked; the consumer may see it a moment later (an
    # older server answers no_wait with 404 in between), so ask again until then.
    deadline = time.monotonic() + 3
    now_ = c.fetch_no_wait(5)
    while not now_ and time.monotonic() < deadline:
        time.sleep(0.02)
        now_ = c.fetch_no_wait(5)
    assert [m.data for m in now_] == [b"5"]
    now_[0].ack()
    t0 = time.monotonic()
    assert c.fetch(1, max_wait=0.3) == []  # 408 after the wait
    assert time.monotonic() - t0 < 2


def test_fetch_bytes(js: JetStream) -> None:
    name, subj = make_stream(js)
    for _ in range(10):
        js.publish(f"{subj}.a", b"x" * 100)
    c = js.create_consumer(name, ack_policy="none")
    got = c.fetch_bytes(450, max_wait=1)
    assert 2 <= len(got) <= 3  # ~130 bytes each as the server counts them
    assert c.fetch_bytes(50, max_wait=1) == []  # 409 message size exceeds max bytes
    assert len(c.fetch_bytes(10_000, max_wait=0.3)) == 10 - len(got)


def test_next_and_timeout(js: JetStream) -> None:
    name, subj = make_stream(js)
    c = js.create_consumer(name, ack_policy="none")
    js.publish(f"{subj}.a", b"one")
    assert c.next(timeout=2).data == b"one"
    with pytest.raises(NatsTimeoutError):
        c.next(timeout=0.3)


def test_fetch_status_errors(js: JetStream) -> None:
    name, subj = make_stream(js)
    js.publish(f"{subj}.a", b"x")
    push = js.create_consumer(name, durable_name="push", deliver_subject=uniq("dlv"))
    with pytest.raises(NotPullConsumerError) as exc:
        push.fetch(1, max_wait=1)
    assert exc.value.status == 409 and exc.value.terminal
    small = js.create_consumer(name, durable_name="mb", max_batch=2)
    with pytest.raises(PullRequestRejectedError):
        small.fetch(5, max_wait=1)
    one = js.create_consumer(name, durable_name="mw", max_waiting=1, deliver_policy="new")
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(one.fetch(1, max_wait=1.0)))
    t.start()
    time.sleep(0.2)
    with pytest.raises(PullRequestRejectedError) as rej:
        one.fetch(1, max_wait=1.0)
    assert "MaxWaiting" in str(rej.value)
    t.join()
    assert results == [[]]


def test_fetch_with_heartbeats_on_idle_consumer(js: JetStream) -> None:
    name, _ = make_stream(js)
    c = js.create_consumer(name, ack_policy="none")
    t0 = time.monotonic()
    assert c.fetch(1, max_wait=1.6, idle_heartbeat=0.5) == []  # heartbeats kept it alive
    assert time.monotonic() - t0 >= 1.5


def test_messages_iterator_keeps_pulling(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for i in range(100):
        js.publish(f"{subj}.a", b"%d" % i)
    c = js.create_consumer(name, durable_name="it", ack_policy="explicit")
    got = []
    with c.messages(max_messages=10) as it:
        for msg in it:
            got.append(int(msg.data))
            msg.ack()
            if len(got) == 100:
                break
    assert got == list(range(100))
    with pytest.raises(SubscriptionClosedError):
        it.next(timeout=0.1)
    by_bytes = js.create_consumer(name, ack_policy="none")
    with by_bytes.messages(max_bytes=1024) as it2:
        assert [int(it2.next(timeout=2).data) for _ in range(100)] == list(range(100))
        with pytest.raises(NatsTimeoutError):
            it2.next(timeout=0.3)


def test_messages_rejects_bad_options(js: JetStream) -> None:
    name, _ = make_stream(js)
    c = js.create_consumer(name)
    with pytest.raises(InvalidOptionError):
        c.messages(max_messages=10, max_bytes=100)
    with pytest.raises(InvalidOptionError):
        c.messages(expires=0.5)
    with pytest.raises(InvalidOptionError):
        c.messages(max_messages=10, threshold_messages=20)


def test_consume_callback_and_stop(js: JetStream) -> None:
    name, subj = make_stream(js)
    c = js.create_consumer(name, durable_name="cb", ack_policy="explicit")
    seen: list[bytes] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def handle(msg: Msg) -> None:
        seen.append(msg.data)
        msg.ack()
        if len(seen) == 21:
            done.set()
        if msg.data == b"boom":
            raise RuntimeError("handler failed")

    ctx = c.consume(handle, error_cb=errors.append, max_messages=5)
    for i in range(20):
        js.publish(f"{subj}.a", b"%d" % i)
    js.publish(f"{subj}.a", b"boom")
    assert done.wait(5)
    ctx.stop()
    assert ctx.wait_closed(2) and ctx.is_closed
    assert seen[:20] == [b"%d" % i for i in range(20)]
    assert any(isinstance(e, RuntimeError) for e in errors)
    js.publish(f"{subj}.a", b"after")
    time.sleep(0.3)
    assert b"after" not in seen


def test_closing_the_client_ends_consume_and_iterator(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url)
    js = nc.jetstream()
    name, _ = make_stream(js)
    c = js.create_consumer(name, durable_name="closing")
    ctx = c.consume(lambda m: None)
    it = c.messages()
    with pytest.raises(NatsTimeoutError):
        it.next(timeout=0.2)
    nc.close()
    assert ctx.wait_closed(3)
    with pytest.raises(SubscriptionClosedError):
        it.next(timeout=1)
    assert list(it) == []


def test_consumer_deleted_ends_iterator_and_consume(js: JetStream) -> None:
    name, subj = make_stream(js)
    c = js.create_consumer(name, durable_name="del")
    it = c.messages()
    js.publish(f"{subj}.a", b"x")
    assert it.next(timeout=2).data == b"x"
    js.delete_consumer(name, "del")
    with pytest.raises(ConsumerDeletedError):
        it.next(timeout=5)
    assert it.is_stopped
    with pytest.raises(ConsumerDeletedError):  # it stays failed
        it.next(timeout=0.1)

    c2 = js.create_consumer(name, durable_name="del2")
    errors: list[BaseException] = []
    ctx = c2.consume(lambda m: None, error_cb=errors.append)
    time.sleep(0.2)
    js.delete_consumer(name, "del2")
    assert ctx.wait_closed(5)
    assert isinstance(ctx.error, ConsumerDeletedError)
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)


def test_missed_heartbeats_raise_then_consume_goes_on(nats_server_js: NatsServer) -> None:
    with nats_sync.connect(nats_server_js.url) as nc:
        js = nc.jetstream()
        name, subj = make_stream(js)
        c = js.create_consumer(name, durable_name="hb")
        it = c.messages(expires=2, idle_heartbeat=0.5)
        js.publish(f"{subj}.a", b"before")
        assert it.next(timeout=2).data == b"before"
        t0 = time.monotonic()
        with frozen(nats_server_js), pytest.raises(MissedHeartbeatError):
            it.next(timeout=5)
        assert 0.8 <= time.monotonic() - t0 < 3
        js.publish(f"{subj}.a", b"after")
        assert it.next(timeout=5).data == b"after"  # pulled again
        it.stop()

        errors: list[BaseException] = []
        ctx = c.consume(lambda m: None, error_cb=errors.append, expires=2, idle_heartbeat=0.5)
        time.sleep(0.3)
        with frozen(nats_server_js):
            time.sleep(1.6)
        wait_until(lambda: any(isinstance(e, MissedHeartbeatError) for e in errors), 3)
        assert not ctx.is_closed  # not terminal
        ctx.stop()


def test_consume_pulls_again_after_reconnect(nats_server_js: NatsServer) -> None:
    reconnected = threading.Event()
    with nats_sync.connect(
        nats_server_js.url, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    ) as nc:
        js = nc.jetstream()
        name, subj = make_stream(js, "file")
        c = js.create_consumer(name, durable_name="rc", ack_policy="explicit")
        # expires 30 s (heartbeat 15 s): only the re-pull on reconnect can bring
        # the next message within the few seconds this test waits.
        with c.messages(max_messages=5) as it:
            js.publish(f"{subj}.a", b"1")
            m = it.next(timeout=2)
            m.ack_sync()
            nats_server_js.restart()
            assert reconnected.wait(10)
            js.publish(f"{subj}.a", b"2", retry_attempts=20, retry_wait=0.1)
            m2 = it.next(timeout=5)
            assert m2.data == b"2"
            m2.ack()


# ======================================================================= acks


def test_acks_nak_delay_in_progress_term(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    c = js.create_consumer(name, durable_name="acks", ack_policy="explicit", ack_wait=2)
    for tok in ("ack", "nak", "term", "wpi"):
        js.publish(f"{subj}.{tok}", tok.encode())
    msgs = {m.data: m for m in c.fetch(4, max_wait=1)}
    assert set(msgs) == {b"ack", b"nak", b"term", b"wpi"}
    msgs[b"ack"].ack()
    t0 = time.monotonic()
    msgs[b"nak"].nak(delay=0.5)
    # servers before 2.10 ignore a +TERM that carries a reason
    msgs[b"term"].term(reason="not for me" if SERVER_VERSION >= (2, 10) else None)
    msgs[b"wpi"].in_progress()
    msgs[b"wpi"].in_progress()  # not final: may repeat
    with pytest.raises(MsgAlreadyAckedError):
        msgs[b"ack"].ack()
    with pytest.raises(MsgAlreadyAckedError):
        msgs[b"term"].nak()
    again = c.fetch(1, max_wait=2)
    assert [m.data for m in again] == [b"nak"]
    assert time.monotonic() - t0 >= 0.45
    assert again[0].metadata.num_delivered == 2
    again[0].ack_sync()
    msgs[b"wpi"].ack_sync()
    info = c.info()
    assert info.num_ack_pending == 0
    assert info.delivered.consumer_seq == 5  # four first deliveries and one redelivery
    assert c.fetch(1, max_wait=0.5) == []  # term'd and acked ones never come back


def test_nak_without_delay_redelivers_at_once(js: JetStream) -> None:
    name, subj = make_stream(js)
    c = js.create_consumer(name, durable_name="n", ack_policy="explicit")
    js.publish(f"{subj}.a", b"x")
    first = c.next(timeout=2)
    first.nak()
    second = c.next(timeout=2)
    assert second.metadata.sequence.stream == 1 and second.metadata.num_delivered == 2
    second.term()


def test_metadata_from_delivered_message(js: JetStream) -> None:
    name, subj = make_stream(js)
    for _ in range(3):
        js.publish(f"{subj}.a", b"x", headers={"Trace": "t"})
    c = js.create_consumer(name, durable_name="meta")
    msg = c.fetch(2, max_wait=1)[1]
    meta = msg.metadata
    assert (meta.stream, meta.consumer) == (name, "meta")
    assert meta.sequence.stream == 2 and meta.sequence.consumer == 2
    assert meta.num_delivered == 1 and meta.num_pending == 1
    assert abs(meta.timestamp - datetime.now(UTC)) < timedelta(seconds=30)
    assert meta.domain is None
    assert msg.headers is not None and msg.headers["Trace"] == "t"


def test_metadata_and_acks_of_other_messages(nc: nats_sync.Client) -> None:
    v2 = Msg("x", "$JS.ACK.hub.ACC.ORDERS.proc.2.10.7.1700000000123456789.42.tok", b"")
    meta = v2.metadata
    assert (meta.domain, meta.stream, meta.consumer) == ("hub", "ORDERS", "proc")
    assert (meta.num_delivered, meta.sequence.stream, meta.sequence.consumer) == (2, 10, 7)
    assert meta.num_pending == 42 and meta.timestamp_ns == 1700000000123456789
    v1 = Msg("x", "$JS.ACK.ORDERS.proc.1.5.5.1700000000000000000.0", b"")
    assert v1.metadata.domain is None and v1.metadata.sequence.stream == 5
    sub = nc.subscribe("plain.msg")
    nc.publish("plain.msg", b"x", reply="some.reply")
    plain = sub.next_msg(timeout=2)
    with pytest.raises(NotJetStreamMessageError):
        plain.metadata  # noqa: B018
    with pytest.raises(NotJetStreamMessageError):
        plain.ack()


def test_ack_sync_times_out_without_server_confirmation(nc: nats_sync.Client) -> None:
    # A fake ack subject nobody answers: the double ack must not pretend it worked.
    subj = "$JS.ACK.FAKE.c.1.1.1.1700000000000000000.0"
    nc.subscribe(subj)  # takes it, never replies
    fake = Msg("x", subj, b"", client=nc)
    with pytest.raises(NatsTimeoutError):
        fake.ack_sync(timeout=0.3)
    fake.ack()  # it was not acknowledged, so a plain ack is still allowed


# ============================================================ ordered consumer


def test_ordered_consumer_fetch_next_and_messages(js: JetStream, storage: str) -> None:
    name, subj = make_stream(js, storage)
    for i in range(30):
        js.publish(f"{subj}.{'a' if i % 3 else 'b'}", b"%d" % i)
    oc = js.ordered_consumer(name)
    first = oc.fetch(10, max_wait=1)
    assert [int(m.data) for m in first] == list(range(10))
    name1 = oc.name
    assert oc.next(timeout=2).data == b"10"
    assert oc.name != name1  # each fetch runs on a fresh consumer
    assert oc.stream_seq == 11
    with oc.messages() as it:
        rest = [int(it.next(timeout=2).data) for _ in range(19)]
    assert rest == list(range(11, 30))
    filtered = js.ordered_consumer(name, filter_subjects=f"{subj}.b")
    assert [int(m.data) for m in filtered.fetch(20, max_wait=0.5)] == list(range(0, 30, 3))
    last = js.ordered_consumer(name, deliver_policy="last")
    assert [int(m.data) for m in last.fetch_no_wait(5)] == [29]
    by_seq = js.ordered_consumer(name, deliver_policy="by_start_sequence", opt_start_seq=28)
    assert [m.metadata.sequence.stream for m in by_seq.fetch(5, max_wait=0.3)] == [28, 29, 30]
    with pytest.raises(NatsTimeoutError):
        by_seq.next(timeout=0.3)
    assert by_seq.fetch_bytes(10_000, max_wait=0.3) == []
    with pytest.raises(StreamNotFoundError):
        js.ordered_consumer(uniq("S")).fetch(1, max_wait=0.2)


def test_ordered_consumer_survives_deleted_consumer(js: JetStream) -> None:
    name, subj = make_stream(js)
    for i in range(5):
        js.publish(f"{subj}.a", b"%d" % i)
    oc = js.ordered_consumer(name)
    errors: list[BaseException] = []
    with oc.messages(error_cb=errors.append) as it:
        got = [int(it.next(timeout=2).data) for _ in range(3)]
        first = oc.name
        assert first is not None
        js.delete_consumer(name, first)
        for i in range(5, 8):
            js.publish(f"{subj}.a", b"%d" % i)
        got += [int(it.next(timeout=5).data) for _ in range(5)]
    assert got == list(range(8))
    assert oc.name != first
    assert any(isinstance(e, ConsumerDeletedError) for e in errors)


def test_ordered_consumer_recreates_after_a_gap(
    js: JetStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nats_sync._jetstream as mod

    name, subj = make_stream(js)
    for i in range(10):
        js.publish(f"{subj}.a", b"%d" % i)
    real = mod._next_or_none
    dropped: list[int] = []

    def lossy(sub: nats_sync.Subscription, timeout: float) -> Msg | None:
        msg = real(sub, timeout)
        if msg is not None and msg.data == b"4" and not dropped:
            dropped.append(msg.metadata.sequence.stream)
            return real(sub, timeout)  # message 4 is lost on the way
        return msg

    monkeypatch.setattr(mod, "_next_or_none", lossy)
    oc = js.ordered_consumer(name)
    with oc.messages() as it:
        first = None
        got = []
        for _ in range(10):
            got.append(int(it.next(timeout=3).data))
            first = first or oc.name
    assert dropped == [5]
    assert got == list(range(10))  # 4 came again from the new consumer
    assert oc.name != first


def test_ordered_consumer_after_missed_heartbeats_and_reconnect(
    nats_server_js: NatsServer,
) -> None:
    with nats_sync.connect(nats_server_js.url, reconnect_time_wait=0.05) as nc:
        js = nc.jetstream(timeout=2)
        name, subj = make_stream(js, "file")
        js.publish(f"{subj}.a", b"0")
        oc = js.ordered_consumer(name)
        errors: list[BaseException] = []
        with oc.messages(expires=2, idle_heartbeat=0.5, error_cb=errors.append) as it:
            assert it.next(timeout=2).data == b"0"
            first = oc.name
            got: list[Msg] = []
            waiter = threading.Thread(target=lambda: got.append(it.next(timeout=8)))
            waiter.start()  # waiting in next() while the server is frozen
            with frozen(nats_server_js):
                time.sleep(1.5)
            js.publish(f"{subj}.a", b"1")
            waiter.join()
            assert [m.data for m in got] == [b"1"]
            assert any(isinstance(e, MissedHeartbeatError) for e in errors)
            second = oc.name
            assert second != first
            before = nc.stats.reconnects
            nats_server_js.restart()
            wait_until(lambda: nc.stats.reconnects > before and nc.is_connected, 10)
            js.publish(f"{subj}.a", b"2", retry_attempts=20, retry_wait=0.1)
            assert it.next(timeout=10).data == b"2"
            assert oc.name != second
            assert oc.stream_seq == 3
