"""JetStream models and codecs: durations, times, enums, round trips, unknown fields."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Headers
from nats_core.jetstream import (
    AccountInfo,
    AckPolicy,
    ClusterInfo,
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPauseResponse,
    DeliverPolicy,
    DiscardPolicy,
    ExternalStream,
    PeerInfo,
    Placement,
    PubAck,
    RawStreamMsg,
    ReplayPolicy,
    RePublish,
    RetentionPolicy,
    SequenceInfo,
    StorageType,
    StoreCompression,
    StoredMsg,
    StreamConfig,
    StreamConsumerLimits,
    StreamInfo,
    StreamSource,
    StreamSourceInfo,
    StreamState,
    SubjectTransform,
    format_go_duration,
    format_time,
    from_nanos,
    parse_time,
    to_nanos,
)
from nats_core.jetstream.models import AccountLimits, AccountTier, APIStats

# Replies captured from nats-server 2.14.0 (the "type" and paging keys removed
# where a parser would remove them).
STREAM_INFO_214 = json.loads(
    '{"config":{"name":"ORDERS","subjects":["orders.\\u003e"],"retention":"limits",'
    '"max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":5,'
    '"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,'
    '"duplicate_window":120000000000,"compression":"none","allow_direct":true,'
    '"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,'
    '"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":true,"metadata":'
    '{"_nats.level":"4","_nats.req.level":"1","_nats.ver":"2.14.0","owner":"me"}},'
    '"created":"2026-11-27T07:45:47.387502638Z","state":{"messages":3,"bytes":206,'
    '"first_seq":1,"first_ts":"2026-11-27T07:45:47.390656323Z","last_seq":3,'
    '"last_ts":"2026-11-27T07:45:47.392254587Z","num_subjects":3,"subjects":'
    '{"orders.new":1,"orders.old":1,"orders.ttl":1},"consumer_count":0},'
    '"cluster":{"leader":"cap"},"ts":"2026-11-27T07:45:47.392863327Z"}'
)
CONSUMER_INFO_214 = json.loads(
    '{"stream_name":"ORDERS","name":"proc","created":"2026-11-27T07:45:47.39608001Z",'
    '"config":{"durable_name":"proc","name":"proc","deliver_policy":"all",'
    '"ack_policy":"explicit","ack_wait":1000000000,"max_deliver":5,'
    '"backoff":[1000000000,2000000000],"filter_subject":"orders.new",'
    '"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,'
    '"metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0","k":"v"}},'
    '"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,'
    '"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,'
    '"num_pending":1,"ts":"2026-11-27T07:45:47.39847238Z"}'
)
ACCOUNT_INFO_214 = json.loads(
    '{"memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"streams":0,'
    '"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,'
    '"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,'
    '"storage_max_stream_bytes":-1,"max_bytes_required":false},'
    '"api":{"level":4,"total":0,"errors":0}}'
)
STORED_MSG_214 = json.loads(
    '{"subject":"orders.new","seq":1,"hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBhMQ0KRm9vOiBiYXINCg0K",'
    '"data":"aGVsbG8=","time":"2026-11-27T07:45:47.390656323Z"}'
)


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("ns", "td"),
    [
        (0, timedelta(0)),
        (1_000, timedelta(microseconds=1)),
        (1_999, timedelta(microseconds=1)),  # floored to microseconds
        (30_000_000_000, timedelta(seconds=30)),
        (120_000_000_000, timedelta(minutes=2)),
        (86_400_000_000_000 * 3 + 5_000, timedelta(days=3, microseconds=5)),
        (-1, timedelta(microseconds=-1)),  # "never active" stays negative
    ],
)
def test_from_nanos(ns: int, td: timedelta) -> None:
    assert from_nanos(ns) == td


def test_to_nanos_exact_for_timedeltas_and_numbers() -> None:
    assert to_nanos(timedelta(days=1, seconds=2, microseconds=3)) == 86_402_000_003_000
    assert to_nanos(1.5) == 1_500_000_000
    assert to_nanos(2) == 2_000_000_000
    with pytest.raises(TypeError):
        to_nanos("5s")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_nanos(True)


@given(st.integers(min_value=-(10**17), max_value=10**17))
def test_duration_round_trip_at_microsecond_resolution(ns: int) -> None:
    micros = ns // 1000
    assert to_nanos(from_nanos(ns)) == micros * 1000


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0s"),
        (5, "5s"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (timedelta(hours=26, minutes=3, seconds=4, microseconds=500), "26h3m4.0005s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (timedelta(microseconds=7), "7µs"),
        (1e-9, "1ns"),
        (-90, "-1m30s"),
    ],
)
def test_format_go_duration(value: timedelta | float, text: str) -> None:
    assert format_go_duration(value) == text


# -------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02T03:04:05.1Z", datetime(2024, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)),
        ("2024-01-02T05:04:05.5+02:00", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2024-01-01T23:00:00-05:00", datetime(2024, 1, 2, 4, 0, 0, tzinfo=UTC)),
        # Go's time.String form, seen in old direct-get Nats-Time-Stamp headers
        (
            "2022-08-06 00:29:27.587861324 +0000 UTC",
            datetime(2022, 8, 6, 0, 29, 27, 587861, tzinfo=UTC),
        ),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    got = parse_time(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "bad", ["", "yesterday", "2024-01-02", "2024-01-02T03:04:05", "2024-13-02T03:04:05Z"]
)
def test_parse_time_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_time(bad)


def test_format_time() -> None:
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == (
        "2024-01-02T03:04:05.12Z"
    )
    plus2 = timezone(timedelta(hours=2))
    assert format_time(datetime(2024, 1, 2, 5, 4, 5, tzinfo=plus2)) == "2024-01-02T03:04:05Z"
    assert format_time(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"  # naive = UTC
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00Z"


@given(st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC)))
def test_time_round_trip(dt: datetime) -> None:
    assert parse_time(format_time(dt)) == dt


# -------------------------------------------------------------------- enums


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (RetentionPolicy, ["limits", "interest", "workqueue"]),
        (DiscardPolicy, ["old", "new"]),
        (StorageType, ["file", "memory"]),
        (StoreCompression, ["none", "s2"]),
        (
            DeliverPolicy,
            ["all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"],
        ),
        (AckPolicy, ["none", "all", "explicit", "flow_control"]),
        (ReplayPolicy, ["instant", "original"]),
    ],
)
def test_enum_json_values(enum: Any, values: list[str]) -> None:
    assert [e.value for e in enum] == values
    for v in values:
        assert str(enum(v)) == v


def test_enum_fields_encode_and_decode() -> None:
    cfg = StreamConfig.from_json({"name": "S", "retention": "workqueue", "discard": "New"})
    assert cfg.retention is RetentionPolicy.WORK_QUEUE
    assert cfg.discard is DiscardPolicy.NEW  # Go lower-cases discard
    assert cfg.to_json() == {"name": "S", "retention": "workqueue", "discard": "new"}
    # a plain string is accepted where an enum is expected
    assert StreamConfig("S", storage="memory").to_json() == {  # type: ignore[arg-type]
        "name": "S",
        "storage": "memory",
    }


def test_unknown_enum_value_is_kept_raw() -> None:
    cfg = ConsumerConfig.from_json({"ack_policy": "telepathic", "deliver_policy": "all"})
    assert cfg.ack_policy is None
    assert cfg.deliver_policy is DeliverPolicy.ALL
    assert cfg.extra == {"ack_policy": "telepathic"}
    assert cfg.to_json() == {"deliver_policy": "all", "ack_policy": "telepathic"}
    cfg.ack_policy = AckPolicy.EXPLICIT  # setting the field wins over the raw value
    assert cfg.to_json()["ack_policy"] == "explicit"


# --------------------------------------------------------------- round trips

SAMPLES: list[Any] = [
    StreamConfig(
        "ORDERS",
        description="all orders",
        subjects=["orders.>", "refunds.*"],
        retention=RetentionPolicy.INTEREST,
        max_consumers=10,
        max_msgs=1000,
        max_bytes=1 << 30,
        discard=DiscardPolicy.NEW,
        discard_new_per_subject=True,
        max_age=timedelta(days=7),
        max_msgs_per_subject=5,
        max_msg_size=1024,
        storage=StorageType.MEMORY,
        num_replicas=3,
        no_ack=False,
        duplicate_window=timedelta(minutes=2),
        placement=Placement(cluster="east", tags=["ssd"]),
        mirror=None,
        sources=[
            StreamSource(
                name="OTHER",
                opt_start_seq=10,
                opt_start_time=datetime(2024, 1, 2, tzinfo=UTC),
                filter_subject="x.>",
                subject_transforms=[SubjectTransform(src="x.>", dest="y.>")],
                external=ExternalStream(api="$JS.hub.API", deliver="deliver.hub"),
            )
        ],
        sealed=False,
        deny_delete=True,
        deny_purge=False,
        allow_rollup_hdrs=True,
        allow_direct=True,
        mirror_direct=False,
        republish=RePublish(src=">", dest="re.>", headers_only=True),
        subject_transform=SubjectTransform(src="orders.>", dest="o.>"),
        compression=StoreCompression.S2,
        first_seq=100,
        consumer_limits=StreamConsumerLimits(
            inactive_threshold=timedelta(minutes=5), max_ack_pending=100
        ),
        metadata={"owner": "team"},
        allow_msg_ttl=True,
        subject_delete_marker_ttl=timedelta(minutes=1),
        allow_msg_counter=False,
        allow_atomic=True,
        allow_msg_schedules=False,
    ),
    StreamInfo(
        config=StreamConfig("S", subjects=["s"]),
        created=datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        state=StreamState(
            messages=3,
            bytes=100,
            first_seq=1,
            first_ts=datetime(2024, 1, 2, tzinfo=UTC),
            last_seq=3,
            last_ts=datetime(2024, 1, 3, tzinfo=UTC),
            consumer_count=2,
            num_deleted=1,
            deleted=[2],
            num_subjects=1,
            subjects={"s": 2},
        ),
        cluster=ClusterInfo(
            name="c",
            raft_group="S-R3F",
            leader="n1",
            leader_since=datetime(2024, 1, 1, tzinfo=UTC),
            replicas=[
                PeerInfo(name="n2", current=True, active=timedelta(milliseconds=5), lag=0),
                PeerInfo(name="n3", current=False, offline=True, active=timedelta(seconds=1)),
            ],
        ),
        mirror=StreamSourceInfo(name="M", lag=4, active=timedelta(microseconds=-1)),
        sources=[StreamSourceInfo(name="A", lag=0, active=timedelta(seconds=1))],
        ts=datetime(2024, 1, 4, tzinfo=UTC),
    ),
    ConsumerConfig(
        name="proc",
        durable_name="proc",
        description="processor",
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_seq=None,
        opt_start_time=datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=timedelta(seconds=30),
        max_deliver=5,
        backoff=[timedelta(seconds=1), timedelta(seconds=5)],
        filter_subjects=["a.*", "b.>"],
        replay_policy=ReplayPolicy.ORIGINAL,
        rate_limit_bps=1000,
        sample_freq="50%",
        max_waiting=512,
        max_ack_pending=1000,
        headers_only=True,
        max_batch=100,
        max_expires=timedelta(seconds=60),
        max_bytes=1 << 20,
        inactive_threshold=timedelta(minutes=5),
        num_replicas=1,
        mem_storage=True,
        metadata={"k": "v"},
        pause_until=datetime(2099, 1, 1, tzinfo=UTC),
        priority_policy="pinned_client",
        priority_groups=["g"],
        priority_timeout=timedelta(seconds=2),
    ),
    ConsumerConfig(
        deliver_subject="push.here",
        deliver_group="workers",
        flow_control=True,
        idle_heartbeat=timedelta(seconds=5),
    ),
    ConsumerInfo(
        stream_name="S",
        name="C",
        created=datetime(2024, 1, 2, tzinfo=UTC),
        config=ConsumerConfig(durable_name="C", ack_policy=AckPolicy.NONE),
        delivered=SequenceInfo(
            consumer_seq=5, stream_seq=10, last_active=datetime(2024, 1, 3, tzinfo=UTC)
        ),
        ack_floor=SequenceInfo(consumer_seq=4, stream_seq=9),
        num_ack_pending=1,
        num_redelivered=2,
        num_waiting=3,
        num_pending=4,
        cluster=ClusterInfo(leader="n1"),
        push_bound=True,
        paused=True,
        pause_remaining=timedelta(hours=1),
        ts=datetime(2024, 1, 4, tzinfo=UTC),
    ),
    ConsumerPauseResponse(
        paused=True,
        pause_until=datetime(2099, 1, 1, tzinfo=UTC),
        pause_remaining=timedelta(days=365),
    ),
    AccountInfo(
        memory=1,
        storage=2,
        reserved_memory=3,
        reserved_storage=4,
        streams=5,
        consumers=6,
        limits=AccountLimits(
            max_memory=-1,
            max_storage=-1,
            max_streams=-1,
            max_consumers=-1,
            max_ack_pending=-1,
            memory_max_stream_bytes=-1,
            storage_max_stream_bytes=-1,
            max_bytes_required=False,
        ),
        domain="hub",
        api=APIStats(level=1, total=10, errors=1, inflight=0),
        tiers={"R1": AccountTier(memory=1, storage=2, streams=1, consumers=1)},
    ),
    PubAck(stream="S", seq=7, duplicate=True, domain="hub"),
    StoredMsg(
        subject="a.b",
        seq=3,
        data=b"\x00\xffbinary",
        headers=Headers({"Foo": ["1", "2"], "Bar": "x"}),
        time=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_model_round_trip(obj: Any) -> None:
    data = obj.to_json()
    assert json.loads(json.dumps(data)) == data  # plain JSON
    back = type(obj).from_json(data)
    assert back == obj
    assert back.to_json() == data
    assert back.extra == {}


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_unknown_fields_are_kept(obj: Any) -> None:
    data = obj.to_json()
    data["future_field"] = {"nested": [1, 2]}
    data["another"] = None
    back = type(obj).from_json(data)
    assert back.extra == {"future_field": {"nested": [1, 2]}, "another": None}
    out = back.to_json()
    assert out["future_field"] == {"nested": [1, 2]}
    assert out == data


def test_unknown_fields_in_nested_models_are_kept() -> None:
    data = StreamInfo(config=StreamConfig("S")).to_json()
    data["config"]["new_knob"] = 7
    data["state"]["lost"] = {"msgs": [1]}
    info = StreamInfo.from_json(data)
    assert info.config.extra == {"new_knob": 7}
    assert info.state.extra == {"lost": {"msgs": [1]}}
    assert info.to_json() == data


def test_none_fields_are_omitted() -> None:
    assert StreamConfig("S").to_json() == {"name": "S"}
    assert ConsumerConfig(ack_policy=None).to_json() == {}
    assert ConsumerConfig(durable_name="d", ack_policy=AckPolicy.EXPLICIT).to_json() == {
        "durable_name": "d",
        "ack_policy": "explicit",
    }
    assert PubAck(stream="S", seq=1).to_json() == {"stream": "S", "seq": 1}


def test_odd_values_never_fail() -> None:
    cfg = StreamConfig.from_json(
        {"name": "S", "max_age": "forever", "subjects": "x", "max_msgs": True, "created": 5}
    )
    assert cfg.name == "S"
    assert cfg.max_age is None and cfg.subjects is None and cfg.max_msgs is None
    assert cfg.extra == {"max_age": "forever", "subjects": "x", "max_msgs": True, "created": 5}
    info = StreamInfo.from_json({"config": "nope", "created": "not a time"})
    assert info.config == StreamConfig()
    assert info.extra == {"config": "nope", "created": "not a time"}
    msg = StoredMsg.from_json({"subject": "a", "seq": 1, "data": "***", "hdrs": "bm9wZQ=="})
    assert msg.data == b"" and msg.headers is None
    assert msg.extra == {"data": "***", "hdrs": "bm9wZQ=="}
    with pytest.raises(TypeError):
        StreamConfig.from_json(["not", "an", "object"])  # type: ignore[arg-type]


def test_every_model_has_slots_and_extra() -> None:
    for cls in {type(s) for s in SAMPLES} | {
        Placement,
        ExternalStream,
        PeerInfo,
        StreamSourceInfo,
        SequenceInfo,
        APIStats,
        AccountLimits,
        AccountTier,
    }:
        assert hasattr(cls, "__slots__"), cls
        assert "extra" in {f.name for f in fields(cls)}, cls
        assert not hasattr(cls(), "__dict__"), cls


# -------------------------------------------------------- real server replies


def test_stream_info_from_server() -> None:
    info = StreamInfo.from_json(STREAM_INFO_214)
    cfg = info.config
    assert cfg.name == "ORDERS"
    assert cfg.subjects == ["orders.>"]
    assert cfg.retention is RetentionPolicy.LIMITS
    assert cfg.discard is DiscardPolicy.OLD
    assert cfg.storage is StorageType.FILE
    assert cfg.compression is StoreCompression.NONE
    assert cfg.max_age == timedelta(0)
    assert cfg.duplicate_window == timedelta(minutes=2)
    assert cfg.max_msgs == -1 and cfg.max_msgs_per_subject == 5
    assert cfg.allow_direct is True and cfg.allow_msg_ttl is True and cfg.sealed is False
    assert cfg.consumer_limits == StreamConsumerLimits()
    assert cfg.metadata is not None and cfg.metadata["owner"] == "me"
    assert info.created == datetime(2026, 11, 27, 7, 45, 47, 387502, tzinfo=UTC)
    st_ = info.state
    assert (st_.messages, st_.bytes, st_.first_seq, st_.last_seq) == (3, 206, 1, 3)
    assert st_.subjects == {"orders.new": 1, "orders.old": 1, "orders.ttl": 1}
    assert info.cluster == ClusterInfo(leader="cap")
    assert info.extra == {}
    assert info.to_json()["config"] == {
        **STREAM_INFO_214["config"],
        "subjects": ["orders.>"],
    }


def test_zero_times_become_none() -> None:
    info = StreamInfo.from_json(
        {
            "config": {"name": "S"},
            "state": {"messages": 0, "first_ts": "0001-01-01T00:00:00Z", "last_seq": 0},
        }
    )
    assert info.state.first_ts is None
    assert "first_ts" not in info.state.to_json()


def test_consumer_info_from_server() -> None:
    info = ConsumerInfo.from_json(CONSUMER_INFO_214)
    assert info.stream_name == "ORDERS" and info.name == "proc"
    c = info.config
    assert c.durable_name == "proc" and c.name == "proc"
    assert c.deliver_policy is DeliverPolicy.ALL
    assert c.ack_policy is AckPolicy.EXPLICIT
    assert c.ack_wait == timedelta(seconds=1)
    assert c.backoff == [timedelta(seconds=1), timedelta(seconds=2)]
    assert c.replay_policy is ReplayPolicy.INSTANT
    assert c.num_replicas == 0
    assert info.delivered == SequenceInfo(consumer_seq=0, stream_seq=0)
    assert info.num_pending == 1
    assert info.ts == datetime(2026, 11, 27, 7, 45, 47, 398472, tzinfo=UTC)
    assert info.extra == {}


def test_account_info_from_server() -> None:
    info = AccountInfo.from_json(ACCOUNT_INFO_214)
    assert info.limits.max_streams == -1
    assert info.limits.max_bytes_required is False
    assert info.api == APIStats(level=4, total=0, errors=0)
    assert info.domain is None
    assert info.to_json() == ACCOUNT_INFO_214


def test_stored_msg_from_server() -> None:
    msg = StoredMsg.from_json(STORED_MSG_214)
    assert msg.subject == "orders.new" and msg.seq == 1
    assert msg.data == b"hello"
    assert msg.headers == Headers({"Nats-Msg-Id": "a1", "Foo": "bar"})
    assert msg.time == datetime(2026, 11, 27, 7, 45, 47, 390656, tzinfo=UTC)
    assert RawStreamMsg is StoredMsg
    again = StoredMsg.from_json(msg.to_json())
    assert again == msg


def test_codec_edge_cases() -> None:
    state = StreamState.from_json({"messages": 1, "deleted": None, "subjects": {"a": "x"}})
    assert state.deleted is None and "deleted" not in state.extra  # null = unset
    assert state.subjects is None and state.extra == {"subjects": {"a": "x"}}
    cfg = StreamConfig.from_json({"name": 5, "retention": 5, "sealed": "yes", "placement": []})
    assert (cfg.name, cfg.retention, cfg.sealed, cfg.placement) == ("", None, None, None)
    assert cfg.extra == {"name": 5, "retention": 5, "sealed": "yes", "placement": []}
    info = StreamInfo.from_json({"created": 12})
    assert info.created is None and info.extra == {"created": 12}
    empty_hdrs = StoredMsg.from_json({"subject": "a", "seq": 1, "hdrs": "", "data": 7})
    assert empty_hdrs.headers is None and empty_hdrs.extra == {"data": 7}
    src = StreamSourceInfo.from_json({"name": "x", "error": {"code": 500, "description": "d"}})
    assert src.error == {"code": 500, "description": "d"}
    assert src.to_json() == {"name": "x", "error": {"code": 500, "description": "d"}}
