"""The ordered consumer state machine: configs, cursor, gaps, resets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nats_core import Headers, Msg
from nats_core.jetstream import (
    AckPolicy,
    ConsumerDeletedError,
    ConsumerNotFoundError,
    DeliverPolicy,
    InvalidNameError,
    InvalidOptionError,
    JSApi,
    LeadershipChangedError,
    MissedHeartbeatError,
    NotJetStreamMessageError,
    OrderedConsumerState,
    PullStatusError,
    ReplayPolicy,
)
from nats_core.jetstream.ordered import serial_from_name


def delivered(state: OrderedConsumerState, sseq: int, cseq: int, name: str | None = None) -> Msg:
    consumer = name or state.name
    reply = f"$JS.ACK.ORDERS.{consumer}.1.{sseq}.{cseq}.1700000000000000000.0"
    return Msg("orders.x", reply, b"data", None, 1)


def create_body(plan: Any) -> Any:
    return json.loads(plan.create.payload)


def test_first_consumer_config() -> None:
    o = OrderedConsumerState("ORDERS", name_prefix="NUID123")
    plan = o.start()
    assert plan.serial == 1 and plan.name == "NUID123_1" and plan.reason == "start"
    assert plan.delete is None and plan.start_seq == 0
    cfg = plan.config
    assert cfg.name == "NUID123_1"
    assert cfg.durable_name is None
    assert cfg.ack_policy is AckPolicy.NONE
    assert cfg.mem_storage is True and cfg.num_replicas == 1
    assert cfg.inactive_threshold == timedelta(minutes=5)
    assert cfg.deliver_policy is DeliverPolicy.ALL and cfg.opt_start_seq is None
    assert plan.create.subject == "$JS.API.CONSUMER.CREATE.ORDERS.NUID123_1"
    assert create_body(plan) == {
        "stream_name": "ORDERS",
        "config": {
            "name": "NUID123_1",
            "deliver_policy": "all",
            "ack_policy": "none",
            "inactive_threshold": 300_000_000_000,
            "num_replicas": 1,
            "mem_storage": True,
        },
    }
    with pytest.raises(InvalidOptionError):
        o.start()


def test_options_reach_the_config() -> None:
    o = OrderedConsumerState(
        "ORDERS",
        name_prefix="p",
        filter_subjects="orders.new",
        replay_policy=ReplayPolicy.ORIGINAL,
        inactive_threshold=timedelta(minutes=1),
        headers_only=True,
        metadata={"app": "x"},
        api=JSApi(domain="hub"),
    )
    plan = o.start()
    cfg = plan.config
    assert cfg.filter_subject == "orders.new" and cfg.filter_subjects is None
    assert cfg.replay_policy is ReplayPolicy.ORIGINAL
    assert cfg.inactive_threshold == timedelta(minutes=1)
    assert cfg.headers_only is True and cfg.metadata == {"app": "x"}
    # a single literal filter goes in the subject (permission scoping)
    assert plan.create.subject == "$JS.hub.API.CONSUMER.CREATE.ORDERS.p_1.orders.new"
    multi = OrderedConsumerState("S", name_prefix="p", filter_subjects=["a.*", "b"]).start()
    assert multi.config.filter_subjects == ["a.*", "b"] and multi.config.filter_subject is None
    assert multi.create.subject == "$JS.API.CONSUMER.CREATE.S.p_1"


@pytest.mark.parametrize(
    ("kwargs", "expect"),
    [
        (
            {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": 42},
            {"deliver_policy": "by_start_sequence", "opt_start_seq": 42},
        ),
        (
            {
                "deliver_policy": DeliverPolicy.BY_START_TIME,
                "opt_start_time": datetime(2024, 1, 2, tzinfo=UTC),
            },
            {"deliver_policy": "by_start_time", "opt_start_time": "2024-01-02T00:00:00Z"},
        ),
        ({"deliver_policy": DeliverPolicy.LAST}, {"deliver_policy": "last"}),
        ({"deliver_policy": DeliverPolicy.NEW}, {"deliver_policy": "new"}),
        (
            {"deliver_policy": DeliverPolicy.LAST_PER_SUBJECT},
            {"deliver_policy": "last_per_subject", "filter_subjects": [">"]},
        ),
        (
            {"deliver_policy": "last_per_subject", "filter_subjects": ["a.>"]},
            {"deliver_policy": "last_per_subject", "filter_subject": "a.>"},
        ),
    ],
)
def test_initial_deliver_policy(kwargs: dict[str, Any], expect: dict[str, Any]) -> None:
    cfg = create_body(OrderedConsumerState("S", name_prefix="p", **kwargs).start())["config"]
    for key, value in expect.items():
        assert cfg[key] == value
    for key in {"opt_start_seq", "opt_start_time", "filter_subjects", "filter_subject"} - set(
        expect
    ):
        assert key not in cfg


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE},
        {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": 0},
        {"opt_start_seq": 5},
        {"deliver_policy": DeliverPolicy.BY_START_TIME},
        {"opt_start_time": datetime(2024, 1, 1, tzinfo=UTC)},
        {"inactive_threshold": 0},
        {"inactive_threshold": "5m"},
        {"max_reset_attempts": 0},
    ],
)
def test_option_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError):
        OrderedConsumerState("S", name_prefix="p", **kwargs)


def test_name_validation() -> None:
    with pytest.raises(InvalidNameError):
        OrderedConsumerState("S.x", name_prefix="p")
    with pytest.raises(InvalidNameError):
        OrderedConsumerState("S", name_prefix="p.q")


def test_in_order_delivery_tracks_the_cursor() -> None:
    o = OrderedConsumerState("ORDERS", name_prefix="p")
    o.start()
    for cseq, sseq in [(1, 3), (2, 7), (3, 8)]:
        out = o.on_msg(delivered(o, sseq, cseq))
        assert out.deliver and out.reset is None
        assert out.metadata is not None and out.metadata.sequence.stream == sseq
    assert (o.consumer_seq, o.stream_seq) == (3, 8)


def test_gap_resets_from_last_stream_sequence() -> None:
    o = OrderedConsumerState("ORDERS", name_prefix="p", filter_subjects=["orders.*"])
    o.start()
    o.on_msg(delivered(o, 10, 1))
    o.on_msg(delivered(o, 11, 2))
    out = o.on_msg(delivered(o, 14, 4))  # cseq 3 went missing
    assert not out.deliver
    plan = out.reset
    assert plan is not None and plan.reason == "gap"
    assert plan.serial == 2 and plan.name == "p_2" and o.name == "p_2"
    assert plan.start_seq == 12
    assert plan.config.deliver_policy is DeliverPolicy.BY_START_SEQUENCE
    assert plan.config.opt_start_seq == 12
    assert plan.config.filter_subject == "orders.*"
    assert plan.delete is not None
    assert plan.delete.subject == "$JS.API.CONSUMER.DELETE.ORDERS.p_1"
    assert (o.consumer_seq, o.stream_seq) == (0, 11)
    # messages of the old consumer still in flight are dropped
    stale = o.on_msg(delivered(o, 12, 3, name="p_1"))
    assert not stale.deliver and stale.reset is None
    # the new consumer starts at consumer sequence 1
    assert o.on_msg(delivered(o, 12, 1)).deliver
    assert o.stream_seq == 12


def test_reset_before_any_delivery_keeps_the_initial_policy() -> None:
    o = OrderedConsumerState(
        "S",
        name_prefix="p",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=100,
    )
    o.start()
    plan = o.reset("heartbeat")
    assert plan.config.deliver_policy is DeliverPolicy.BY_START_SEQUENCE
    assert plan.config.opt_start_seq == 100 and plan.start_seq == 100
    o2 = OrderedConsumerState("S", name_prefix="p", deliver_policy=DeliverPolicy.NEW)
    o2.start()
    assert o2.reset().config.deliver_policy is DeliverPolicy.NEW
    o2.on_msg(delivered(o2, 50, 1))
    after = o2.reset()
    assert after.config.deliver_policy is DeliverPolicy.BY_START_SEQUENCE
    assert after.config.opt_start_seq == 51


def test_error_driven_resets() -> None:
    o = OrderedConsumerState("S", name_prefix="p")
    o.start()
    o.on_msg(delivered(o, 5, 1))
    for err, reason in [
        (MissedHeartbeatError("x"), "heartbeat"),
        (ConsumerDeletedError(409, "Consumer Deleted"), "deleted"),
        (ConsumerNotFoundError(404, 10014, "consumer not found"), "deleted"),
        (PullStatusError(503), "deleted"),
    ]:
        assert o.should_reset(err)
        plan = o.on_error(err)
        assert plan is not None and plan.reason == reason and plan.config.opt_start_seq == 6
    assert not o.should_reset(LeadershipChangedError(409, "Leadership Change"))
    assert o.on_error(ValueError("nope")) is None
    plan = o.on_reconnect()
    assert plan.reason == "reconnect" and plan.serial == 6
    fetch = o.begin_fetch()
    assert fetch.reason == "fetch" and fetch.serial == 7


def test_statuses_and_foreign_messages() -> None:
    o = OrderedConsumerState("S", name_prefix="p")
    o.start()
    hb = Msg("_INBOX.x", "", b"", Headers(status=100, description="Idle Heartbeat"), 1)
    assert o.on_msg(hb) == type(o.on_msg(hb))()
    out = o.on_msg(Msg("x", "_INBOX.not.js", b"d", None, 1))
    assert not out.deliver and isinstance(out.error, NotJetStreamMessageError)
    assert o.consumer_seq == 0


def test_reset_delay() -> None:
    o = OrderedConsumerState("S", name_prefix="p")
    assert [o.reset_delay(a) for a in range(0, 7)] == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert o.reset_delay(10_000) == 10.0
    limited = OrderedConsumerState("S", name_prefix="p", max_reset_attempts=2)
    assert limited.reset_delay(2) == 2.0 and limited.reset_delay(3) is None


def test_serial_from_name() -> None:
    assert serial_from_name("ABC_12") == 12
    assert serial_from_name("a_b_3") == 3
    assert serial_from_name("plain") == 0
    assert serial_from_name("x_") == 0
