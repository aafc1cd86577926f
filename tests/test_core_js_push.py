"""Push consumers: subscribe plans, binding checks, the subscription state machine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Msg
from nats_core.errors import BadSubjectError, ConnectionReconnectingError, NatsTimeoutError
from nats_core.jetstream import (
    AckPolicy,
    APIError,
    ConsumerAlreadyBoundError,
    ConsumerBindError,
    ConsumerConfig,
    ConsumerConfigMismatchError,
    ConsumerInfo,
    ConsumerSequenceMismatchError,
    DeliverGroupMismatchError,
    DeliverPolicy,
    FilterSubjectMismatchError,
    InvalidNameError,
    InvalidOptionError,
    JetStreamNotEnabledError,
    JetStreamNotEnabledForAccountError,
    JSApi,
    MissedHeartbeatError,
    NotPushConsumerError,
    PushBinding,
    PushSubscriptionState,
    ReplayPolicy,
    StatusKind,
    api_error,
    build_push_subscribe,
    check_push_consumer,
    should_auto_ack,
)
from nats_core.jetstream.push import HEARTBEAT_MISSES, ORDERED_ACK_WAIT, ORDERED_HEARTBEAT

INBOX = "_INBOX.push1"

# ---------------------------------------------------------------- helpers


def data(sseq: int, cseq: int, consumer: str = "C", body: bytes = b"x") -> Msg:
    reply = f"$JS.ACK.S.{consumer}.1.{sseq}.{cseq}.1700000000000000000.0"
    return Msg("orders.new", reply, body, None, 1)


def heartbeat(
    last_consumer: int | None = None, last_stream: int = 0, *, stalled: str = "", to: str = INBOX
) -> Msg:
    head = "NATS/1.0 100 Idle Heartbeat\r\n"
    if last_consumer is not None:
        head += f"Nats-Last-Consumer: {last_consumer}\r\nNats-Last-Stream: {last_stream}\r\n"
    if stalled:
        head += f"Nats-Consumer-Stalled: {stalled}\r\n"
    return Msg(to, "", b"", (head + "\r\n").encode(), 1)


def flow(reply: str, to: str = INBOX) -> Msg:
    return Msg(to, reply, b"", b"NATS/1.0 100 FlowControl Request\r\n\r\n", 1)


def info(*, name: str = "C", push_bound: bool | None = None, **config: Any) -> ConsumerInfo:
    config.setdefault("deliver_subject", "_INBOX.theirs")
    return ConsumerInfo(
        stream_name="S", name=name, config=ConsumerConfig(**config), push_bound=push_bound
    )


def body(req: Any) -> Any:
    return json.loads(req.payload)


def state(hb: float | None = 1.0, now: float = 0.0) -> PushSubscriptionState:
    return PushSubscriptionState(
        "S", deliver_subject=INBOX, now=now, consumer="C", idle_heartbeat=hb
    )


def ordered(now: float = 0.0, **opts: Any) -> PushSubscriptionState:
    plan = build_push_subscribe("orders.>", deliver_subject=INBOX, ordered_consumer=True, **opts)
    return PushSubscriptionState.for_ordered(plan, "S", name_prefix="NUID", now=now)


# ---------------------------------------------------------------- plans


def test_default_plan_creates_an_ephemeral_push_consumer() -> None:
    plan = build_push_subscribe("orders.*", deliver_subject=INBOX)
    assert plan.stream is None and plan.lookup is None and not plan.bind and not plan.ordered
    assert plan.queue is None and plan.auto_ack
    req = plan.create_request("S")
    assert req.subject == "$JS.API.CONSUMER.CREATE.S"
    assert body(req) == {
        "stream_name": "S",
        "action": "create",
        "config": {
            "deliver_subject": INBOX,
            "filter_subject": "orders.*",
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "replay_policy": "instant",
        },
    }
    # nothing was asked for: a found consumer is not checked field by field
    assert all(
        getattr(plan.requested, f) is None
        for f in ("ack_policy", "deliver_policy", "replay_policy", "idle_heartbeat", "flow_control")
    )


def test_durable_is_looked_up_then_created_with_its_name() -> None:
    plan = build_push_subscribe("orders.new", deliver_subject=INBOX, durable="dur", stream="S")
    assert plan.lookup == "dur" and not plan.bind and plan.stream == "S"
    assert plan.config.durable_name == "dur" and plan.requested.durable_name == "dur"
    req = plan.create_request("S", api=JSApi(domain="hub"))
    assert req.subject == "$JS.hub.API.CONSUMER.CREATE.S.dur.orders.new"


def test_queue_becomes_deliver_group_and_durable() -> None:
    plan = build_push_subscribe("orders.*", deliver_subject=INBOX, queue="workers")
    assert plan.queue == "workers" and plan.lookup == "workers"
    assert plan.config.deliver_group == "workers" and plan.config.durable_name == "workers"
    # an explicit durable keeps its name; a named consumer gets no durable
    plan = build_push_subscribe("o", deliver_subject=INBOX, queue="q", durable="d")
    assert plan.config.durable_name == "d" and plan.config.deliver_group == "q"
    plan = build_push_subscribe(
        "o", deliver_subject=INBOX, queue="q", config=ConsumerConfig(name="n")
    )
    assert plan.config.durable_name is None and plan.lookup is None
    # config.deliver_group is the queue when none is given
    plan = build_push_subscribe(
        "o", deliver_subject=INBOX, config=ConsumerConfig(deliver_group="g")
    )
    assert plan.queue == "g" and plan.lookup == "g"


@pytest.mark.parametrize(
    "opts",
    [
        {"idle_heartbeat": 1.0},
        {"flow_control": True},
        {"config": ConsumerConfig(idle_heartbeat=timedelta(seconds=1))},
        {"config": ConsumerConfig(flow_control=True)},
    ],
)
def test_queue_refuses_heartbeats_and_flow_control(opts: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError, match="queue subscription takes no"):
        build_push_subscribe("o", deliver_subject=INBOX, queue="q", **opts)


def test_queue_names() -> None:
    with pytest.raises(InvalidNameError, match="queue group"):
        build_push_subscribe("o", deliver_subject=INBOX, queue="a.b")  # not a durable name
    with pytest.raises(BadSubjectError):
        build_push_subscribe("o", deliver_subject=INBOX, queue="a b", durable="d")


def test_bind_needs_the_stream_and_one_name() -> None:
    plan = build_push_subscribe("o", deliver_subject=INBOX, stream="S", consumer="C")
    assert plan.lookup == "C" and plan.bind and plan.stream == "S"
    assert build_push_subscribe(
        "o", deliver_subject=INBOX, stream="S", consumer="C", durable="C"
    ).bind
    with pytest.raises(InvalidOptionError, match="needs its stream"):
        build_push_subscribe("o", deliver_subject=INBOX, consumer="C")
    with pytest.raises(InvalidOptionError, match="two consumer names"):
        build_push_subscribe("o", deliver_subject=INBOX, stream="S", consumer="C", durable="D")
    with pytest.raises(InvalidNameError):
        build_push_subscribe("o", deliver_subject=INBOX, stream="S", consumer="a.b")
    with pytest.raises(InvalidNameError):
        build_push_subscribe("o", deliver_subject=INBOX, stream="a.b")


def test_subject_and_filters() -> None:
    with pytest.raises(InvalidOptionError, match="subject is needed"):
        build_push_subscribe("", deliver_subject=INBOX)
    with pytest.raises(BadSubjectError):
        build_push_subscribe("a..b", deliver_subject=INBOX)
    plan = build_push_subscribe("", deliver_subject=INBOX, stream="S", consumer="C")
    assert plan.config.filter_subject is None
    multi = ConsumerConfig(filter_subjects=["a", "b"])
    plan = build_push_subscribe("", deliver_subject=INBOX, stream="S", config=multi)
    assert plan.config.filter_subjects == ["a", "b"] and plan.config.filter_subject is None
    with pytest.raises(InvalidOptionError, match="not both"):
        build_push_subscribe("a", deliver_subject=INBOX, config=multi)
    with pytest.raises(InvalidOptionError, match="differ"):
        build_push_subscribe("a", deliver_subject=INBOX, config=ConsumerConfig(filter_subject="b"))
    same = build_push_subscribe(
        "a", deliver_subject=INBOX, config=ConsumerConfig(filter_subject="a")
    )
    assert same.config.filter_subject == "a"
    only = build_push_subscribe(
        "", deliver_subject=INBOX, stream="S", config=ConsumerConfig(filter_subject="b")
    )
    assert only.config.filter_subject == "b"


def test_deliver_subject() -> None:
    plan = build_push_subscribe(
        "o", deliver_subject=INBOX, config=ConsumerConfig(deliver_subject="mine")
    )
    assert plan.config.deliver_subject == "mine"
    with pytest.raises(BadSubjectError, match="deliver subject"):
        build_push_subscribe("o", deliver_subject="_INBOX.*")


def test_start_position_and_options() -> None:
    plan = build_push_subscribe("o", deliver_subject=INBOX, opt_start_seq=10)
    assert plan.config.deliver_policy is DeliverPolicy.BY_START_SEQUENCE
    assert plan.config.opt_start_seq == 10 and plan.requested.opt_start_seq == 10
    at = datetime(2024, 1, 2, tzinfo=UTC)
    plan = build_push_subscribe("o", deliver_subject=INBOX, opt_start_time=at)
    assert (
        plan.config.deliver_policy is DeliverPolicy.BY_START_TIME
        and plan.config.opt_start_time == at
    )
    plan = build_push_subscribe("o", deliver_subject=INBOX, deliver_policy="new")
    assert plan.config.deliver_policy is DeliverPolicy.NEW
    assert plan.requested.deliver_policy is DeliverPolicy.NEW
    plan = build_push_subscribe(
        "o",
        deliver_subject=INBOX,
        idle_heartbeat=timedelta(milliseconds=500),
        flow_control=True,
        headers_only=True,
        inactive_threshold=30,
        ack_policy="all",
        manual_ack=True,
    )
    cfg = plan.config
    assert cfg.idle_heartbeat == timedelta(milliseconds=500) and cfg.flow_control is True
    assert cfg.headers_only is True and cfg.inactive_threshold == timedelta(seconds=30)
    assert cfg.ack_policy is AckPolicy.ALL and plan.requested.ack_policy is AckPolicy.ALL
    assert plan.requested.flow_control is True and not plan.auto_ack
    assert (
        build_push_subscribe("o", deliver_subject=INBOX, headers_only=False).config.headers_only
        is None
    )
    # keywords override config's fields
    plan = build_push_subscribe(
        "o",
        deliver_subject=INBOX,
        deliver_policy=DeliverPolicy.LAST,
        durable="kw",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW, durable_name="cfg"),
    )
    assert plan.config.deliver_policy is DeliverPolicy.LAST and plan.config.durable_name == "kw"


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"idle_heartbeat": 0.05}, "at least 0.1s"),
        ({"idle_heartbeat": 0}, "positive"),
        ({"idle_heartbeat": "1s"}, "seconds or a timedelta"),
        ({"idle_heartbeat": float("inf")}, "positive"),
        ({"inactive_threshold": -1}, "positive"),
    ],
)
def test_bad_durations(opts: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidOptionError, match=match):
        build_push_subscribe("o", deliver_subject=INBOX, **opts)


def test_config_ack_policy_counts_only_when_not_the_default() -> None:
    explicit = build_push_subscribe("o", deliver_subject=INBOX, config=ConsumerConfig())
    assert (
        explicit.requested.ack_policy is None and explicit.config.ack_policy is AckPolicy.EXPLICIT
    )
    none = build_push_subscribe(
        "o", deliver_subject=INBOX, config=ConsumerConfig(ack_policy=AckPolicy.NONE)
    )
    assert none.requested.ack_policy is AckPolicy.NONE and not none.auto_ack
    left_out = build_push_subscribe(
        "o", deliver_subject=INBOX, config=ConsumerConfig(ack_policy=None)
    )
    assert left_out.config.ack_policy is None and "ack_policy" not in left_out.config.to_json()


def test_ordered_plan() -> None:
    plan = build_push_subscribe(
        "orders.>", deliver_subject=INBOX, ordered_consumer=True, manual_ack=True
    )
    cfg = plan.config
    assert plan.ordered and plan.lookup is None and not plan.bind and not plan.auto_ack
    assert cfg.flow_control is True and cfg.ack_policy is AckPolicy.NONE
    assert cfg.max_deliver == 1 and cfg.ack_wait == ORDERED_ACK_WAIT == timedelta(hours=22)
    assert cfg.num_replicas == 1 and cfg.mem_storage is True
    assert cfg.idle_heartbeat == timedelta(seconds=ORDERED_HEARTBEAT) == timedelta(seconds=5)
    assert cfg.durable_name is None and cfg.deliver_subject == INBOX
    assert cfg.filter_subject == "orders.>" and cfg.inactive_threshold is None
    plan = build_push_subscribe(
        "o",
        deliver_subject=INBOX,
        ordered_consumer=True,
        idle_heartbeat=2,
        ack_policy="none",
        config=ConsumerConfig(max_deliver=1, replay_policy=ReplayPolicy.ORIGINAL),
    )
    assert plan.config.idle_heartbeat == timedelta(seconds=2)
    assert plan.config.replay_policy is ReplayPolicy.ORIGINAL


@pytest.mark.parametrize(
    ("opts", "what"),
    [
        ({"durable": "d"}, "durable"),
        ({"config": ConsumerConfig(durable_name="d")}, "durable"),
        ({"queue": "q"}, "queue"),
        ({"stream": "S", "consumer": "C"}, "consumer to bind"),
        ({"config": ConsumerConfig(deliver_subject="mine")}, "deliver subject"),
        ({"ack_policy": AckPolicy.EXPLICIT}, "ack policy explicit"),
        ({"config": ConsumerConfig(ack_policy=AckPolicy.ALL)}, "ack policy all"),
        ({"config": ConsumerConfig(max_deliver=3)}, "max_deliver 3"),
    ],
)
def test_ordered_refuses(opts: dict[str, Any], what: str) -> None:
    with pytest.raises(InvalidOptionError, match=f"ordered consumer takes no {what}"):
        build_push_subscribe("o", deliver_subject=INBOX, ordered_consumer=True, **opts)


def test_create_request_needs_heartbeat_with_flow_control() -> None:
    plan = build_push_subscribe(
        "o", deliver_subject=INBOX, config=ConsumerConfig(flow_control=True)
    )
    with pytest.raises(InvalidOptionError, match="10108"):
        plan.create_request("S")
    ok = build_push_subscribe("o", deliver_subject=INBOX, flow_control=True, idle_heartbeat=1)
    assert body(ok.create_request("S"))["config"]["idle_heartbeat"] == 1_000_000_000


def test_lookup_after_create_error() -> None:
    durable = build_push_subscribe("o", deliver_subject=INBOX, durable="d")
    named = build_push_subscribe("o", deliver_subject=INBOX, config=ConsumerConfig(name="n"))
    ephemeral = build_push_subscribe("o", deliver_subject=INBOX)
    for code in (10013, 10105, 10148):
        assert durable.lookup_after_create_error(api_error(400, code)) == "d"
        assert named.lookup_after_create_error(api_error(400, code)) == "n"
        assert ephemeral.lookup_after_create_error(api_error(400, code)) is None
    assert durable.lookup_after_create_error(api_error(404, 10059)) is None
    assert durable.lookup_after_create_error(TimeoutError()) is None


# ---------------------------------------------------------------- binding


def test_check_push_consumer_accepts() -> None:
    assert check_push_consumer(info()) == "_INBOX.theirs"
    assert check_push_consumer(info(filter_subject="a"), subjects="a") == "_INBOX.theirs"
    assert check_push_consumer(info(filter_subjects=["b", "a"]), subjects=["a", "b"])
    assert check_push_consumer(info(), subjects="anything")  # no filter: takes any subject
    assert check_push_consumer(info(filter_subject="a"))  # no subject asked for
    grouped = info(deliver_group="q", push_bound=True)
    assert check_push_consumer(grouped, queue="q")  # queue members share a bound consumer


def test_check_push_consumer_errors_name_both_sides() -> None:
    with pytest.raises(FilterSubjectMismatchError, match="filters a") as fe:
        check_push_consumer(info(filter_subject="a"), subjects="b")
    assert (fe.value.field, fe.value.requested, fe.value.actual) == (
        "filter_subjects",
        ["b"],
        ["a"],
    )
    assert fe.value.stream == "S" and fe.value.consumer == "C"
    with pytest.raises(NotPushConsumerError, match="pull consumer"):
        check_push_consumer(info(deliver_subject=None))
    with pytest.raises(DeliverGroupMismatchError, match=r"'q'.*no deliver group") as ge:
        check_push_consumer(info(), queue="q")
    assert ge.value.requested == "q" and ge.value.actual is None
    with pytest.raises(ConsumerAlreadyBoundError, match="already bound"):
        check_push_consumer(info(push_bound=True))
    with pytest.raises(DeliverGroupMismatchError, match=r"without a queue group.*'g'"):
        check_push_consumer(info(deliver_group="g"))
    with pytest.raises(DeliverGroupMismatchError, match=r"'q'.*deliver group 'g'") as ge:
        check_push_consumer(info(deliver_group="g"), queue="q")
    assert (ge.value.requested, ge.value.actual) == ("q", "g")
    assert isinstance(ge.value, ConsumerBindError)


@pytest.mark.parametrize(
    ("asked", "have", "field"),
    [
        ({"ack_policy": AckPolicy.EXPLICIT}, {"ack_policy": AckPolicy.NONE}, "ack_policy"),
        ({"idle_heartbeat": timedelta(seconds=1)}, {}, "idle_heartbeat"),
        ({"flow_control": True}, {"flow_control": False}, "flow_control"),
        ({"mem_storage": True}, {}, "mem_storage"),
        ({"max_ack_pending": 10}, {"max_ack_pending": 20}, "max_ack_pending"),
        ({"durable_name": "x"}, {"durable_name": "y"}, "durable_name"),
        (
            {"deliver_policy": DeliverPolicy.NEW},
            {"deliver_policy": DeliverPolicy.ALL},
            "deliver_policy",
        ),
    ],
)
def test_check_push_consumer_compares_what_was_asked(
    asked: dict[str, Any], have: dict[str, Any], field: str
) -> None:
    requested = ConsumerConfig(**{"ack_policy": None, **asked})
    with pytest.raises(ConsumerConfigMismatchError, match=field) as e:
        check_push_consumer(info(**have), requested=requested)
    assert e.value.field == field
    # what was not asked for is not compared
    assert check_push_consumer(info(**have), requested=ConsumerConfig(ack_policy=None))
    assert check_push_consumer(info(flow_control=True), requested=ConsumerConfig(ack_policy=None))


def test_binding_checks_found_consumers_only() -> None:
    plan = build_push_subscribe("a", deliver_subject=INBOX, durable="d", ack_policy="explicit")
    found = info(
        name="d",
        durable_name="d",
        filter_subject="a",
        ack_policy=AckPolicy.EXPLICIT,
        idle_heartbeat=timedelta(milliseconds=500),
        flow_control=True,
        max_ack_pending=1000,
    )
    b = plan.binding(found)
    assert b == PushBinding(
        stream="S",
        consumer="d",
        deliver_subject="_INBOX.theirs",
        queue=None,
        idle_heartbeat=0.5,
        flow_control=True,
        ack_policy=AckPolicy.EXPLICIT,
        max_ack_pending=1000,
        created=False,
    )
    assert b.auto_ack
    with pytest.raises(FilterSubjectMismatchError):
        plan.binding(info(name="d", filter_subject="b"))
    with pytest.raises(ConsumerConfigMismatchError):
        plan.binding(info(name="d", durable_name="d", ack_policy=AckPolicy.NONE))
    # the consumer this subscription made is not checked
    made = plan.binding(
        info(name="d", deliver_subject=None, ack_policy=AckPolicy.NONE), created=True
    )
    assert made.created and made.deliver_subject == INBOX and made.idle_heartbeat is None
    assert not made.auto_ack and not made.flow_control
    manual = build_push_subscribe("a", deliver_subject=INBOX, manual_ack=True).binding(info())
    assert manual.manual_ack and not manual.auto_ack
    # a plan with config.filter_subjects checks them as a set
    multi = build_push_subscribe(
        "", deliver_subject=INBOX, stream="S", config=ConsumerConfig(filter_subjects=["x", "y"])
    )
    assert multi.binding(info(filter_subjects=["y", "x"])).consumer == "C"


def test_should_auto_ack() -> None:
    assert should_auto_ack(manual_ack=False, ack_policy=AckPolicy.EXPLICIT)
    assert should_auto_ack(manual_ack=False, ack_policy="all")
    assert should_auto_ack(manual_ack=False, ack_policy=None)  # unknown: ack as nats.go does
    assert not should_auto_ack(manual_ack=True, ack_policy=AckPolicy.EXPLICIT)
    assert not should_auto_ack(manual_ack=False, ack_policy="none")


# ---------------------------------------------------------------- state


def test_data_messages_are_delivered_with_their_sequences() -> None:
    s = state()
    out = s.on_message(data(10, 1), 0.5)
    assert out.deliver and out.metadata is not None and out.metadata.sequence.stream == 10
    assert (s.consumer_seq, s.stream_seq, s.received, s.last_activity) == (1, 10, 1, 0.5)
    plain = s.on_message(Msg("x", "not.js", b"hi", None, 1), 0.6)
    assert plain.deliver and plain.metadata is None  # delivered as nats.go does
    assert (s.consumer_seq, s.stream_seq, s.received) == (1, 10, 2)
    assert s.on_message(Msg("x", "", b"hi", None, 1), 0.7).deliver


def test_flow_control_waits_for_the_messages_before_it() -> None:
    s = state()
    out = s.on_message(flow("$JS.FC.S.C.a"), 0)
    assert out.respond_to == "$JS.FC.S.C.a" and out.status is not None
    assert out.status.kind is StatusKind.FLOW_CONTROL and not out.deliver
    for i in range(1, 4):
        assert s.on_message(data(i, i), 0).deliver
    assert s.on_message(flow("$JS.FC.S.C.b"), 0).respond_to == ""
    assert s.on_delivered() == () and s.on_delivered() == ()
    assert s.on_message(data(4, 4), 0).deliver
    assert s.on_message(flow("$JS.FC.S.C.c"), 0).respond_to == ""
    assert s.on_delivered() == ("$JS.FC.S.C.b",)  # the 3 before it were handed over
    assert s.on_delivered() == ("$JS.FC.S.C.c",)
    assert s.on_delivered() == ()
    assert s.on_message(flow(""), 0).respond_to == ""  # no reply subject: nothing to answer


def test_heartbeats_check_the_consumer_sequence() -> None:
    s = state()
    out = s.on_message(heartbeat(5, 50), 1.0)  # nothing received yet: nothing to compare
    assert out.status is not None and out.status.kind is StatusKind.IDLE_HEARTBEAT
    assert out.error is None and out.status.last_stream == 50 and s.last_activity == 1.0
    s.on_message(data(7, 1), 1.1)
    assert s.on_message(heartbeat(1, 7), 2).error is None
    assert s.on_message(heartbeat(), 2).error is None  # no headers: no check
    out = s.on_message(heartbeat(3, 9), 3)
    assert isinstance(out.error, ConsumerSequenceMismatchError)
    e = out.error
    assert (e.stream_resume_sequence, e.consumer_sequence, e.last_consumer_sequence) == (7, 1, 3)
    assert "consumer sequence 1" in str(e) and "at 3" in str(e)
    assert s.on_message(heartbeat(3, 9), 4).error is None  # reported once
    assert s.consumer_seq == 3


def test_stalled_heartbeat_is_answered_at_once() -> None:
    s = state()
    s.on_message(data(1, 1), 0)
    s.on_message(flow("$JS.FC.S.C.a"), 0)
    s.on_message(data(2, 2), 0)
    s.on_message(flow("$JS.FC.S.C.b"), 0)
    out = s.on_message(heartbeat(2, 2, stalled="$JS.FC.S.C.b"), 1)
    assert out.respond_to == "$JS.FC.S.C.b" and out.error is None
    assert s.on_delivered() == ("$JS.FC.S.C.a",)
    assert s.on_delivered() == ()  # b was answered with the heartbeat, not twice


def test_other_statuses_are_dropped() -> None:
    s = state()
    out = s.on_message(Msg(INBOX, "", b"", b"NATS/1.0 409 Consumer Deleted\r\n\r\n", 1), 0)
    assert not out.deliver and out.error is None and out.reset is None
    assert out.status is not None and out.status.code == 409


def test_missed_heartbeats() -> None:
    s = state(hb=1.0, now=10.0)
    assert s.deadline == 10.0 + HEARTBEAT_MISSES * 1.0 == 12.0
    assert s.check(11.9) is None
    s.on_message(heartbeat(), 11.0)
    assert s.deadline == 13.0 and s.check(12.5) is None
    out = s.check(13.0)
    assert out is not None and isinstance(out.error, MissedHeartbeatError) and out.reset is None
    assert "2s" in str(out.error) and "'C'" in str(out.error)
    assert s.deadline == 15.0  # reported again every two intervals while silent
    s.on_message(data(1, 1), 14.0)
    assert s.deadline == 16.0


def test_no_heartbeats_no_watch() -> None:
    s = state(hb=None)
    assert s.deadline is None and s.check(1e9) is None
    s.on_message(data(1, 1), 5)
    assert s.deadline is None


def test_disconnect_pauses_the_watch_and_stop_ends_it() -> None:
    s = state(hb=1.0)
    s.on_disconnect()
    assert s.deadline is None and s.check(100.0) is None
    assert s.on_reconnect(100.0) is None and s.deadline == 102.0
    s.on_message(data(1, 1), 100)
    s.on_message(flow("$JS.FC.x"), 100)
    s.stop()
    assert s.deadline is None and s.check(1e9) is None
    assert s.on_message(data(2, 2), 101) == s.on_message(heartbeat(9), 101)
    assert not s.on_message(data(2, 2), 101).deliver
    assert s.on_delivered() == ()  # pending flow control dropped
    assert s.on_reconnect(200.0) is None and s.deadline is None


def test_for_binding() -> None:
    b = PushBinding("S", "C", INBOX, "q", 2.0, True, AckPolicy.ALL, None, True)
    s = PushSubscriptionState.for_binding(b, now=1.0)
    assert (s.stream, s.consumer, s.deliver_subject, s.idle_heartbeat) == ("S", "C", INBOX, 2.0)
    assert not s.ordered and s.deadline == 5.0
    with pytest.raises(InvalidOptionError, match="only an ordered consumer"):
        s.reset(0.0)


# ---------------------------------------------------------------- ordered


def test_ordered_start() -> None:
    o = ordered(now=1.0)
    assert o.ordered and o.idle_heartbeat == 5.0 and o.deadline == 11.0
    plan = o.start()
    assert (plan.serial, plan.name, plan.reason, plan.start_seq) == (1, "NUID_1", "start", 0)
    assert plan.delete is None and plan.config.deliver_subject == INBOX
    assert plan.create.subject == "$JS.API.CONSUMER.CREATE.S.NUID_1"
    cfg = body(plan.create)["config"]
    assert cfg == {
        "name": "NUID_1",
        "deliver_policy": "all",
        "ack_policy": "none",
        "ack_wait": 22 * 3600 * 10**9,
        "max_deliver": 1,
        "filter_subject": "orders.>",
        "replay_policy": "instant",
        "num_replicas": 1,
        "mem_storage": True,
        "deliver_subject": INBOX,
        "flow_control": True,
        "idle_heartbeat": 5 * 10**9,
    }
    assert o.consumer == "NUID_1" and o.deliver_subject == INBOX
    with pytest.raises(InvalidOptionError, match="already started"):
        o.start()


def test_ordered_gap_resets_after_the_last_stream_sequence() -> None:
    o = ordered()
    o.start()
    assert o.on_message(data(10, 1, "NUID_1"), 1).deliver
    assert o.on_message(data(12, 2, "NUID_1"), 1).deliver
    o.on_message(flow("$JS.FC.S.NUID_1.a"), 1)
    out = o.on_message(data(15, 4, "NUID_1"), 2)  # consumer sequence 3 went missing
    assert not out.deliver and out.reset is not None and out.metadata is not None
    plan = out.reset
    assert (plan.serial, plan.name, plan.reason, plan.start_seq) == (2, "NUID_2", "gap", 13)
    assert plan.config.deliver_subject == f"{INBOX}.2" == o.deliver_subject
    assert plan.config.deliver_policy is DeliverPolicy.BY_START_SEQUENCE
    assert plan.config.opt_start_seq == 13
    assert plan.delete is not None and plan.delete.subject == "$JS.API.CONSUMER.DELETE.S.NUID_1"
    assert o.on_delivered() == () and o.on_delivered() == ()  # the old consumer's request is gone
    assert o.deadline == 2 + 2 * 5.0
    # the old consumer's messages and statuses are dropped; the new one's delivered
    assert not o.on_message(data(13, 3, "NUID_1"), 3).deliver
    old = o.on_message(heartbeat(9, 9, to=INBOX), 3)
    assert old.reset is None and old.error is None and o.deadline == 12.0
    assert o.on_message(data(13, 1, "NUID_2"), 3).deliver
    assert o.on_message(heartbeat(1, 13, to=f"{INBOX}.2"), 4).reset is None


def test_ordered_heartbeat_mismatch_and_missed_heartbeats_reset() -> None:
    o = ordered()
    o.start()
    o.on_message(data(3, 1, "NUID_1"), 1)
    out = o.on_message(heartbeat(2, 4), 2)
    assert out.error is None and out.reset is not None and out.reset.reason == "mismatch"
    assert out.reset.start_seq == 4
    out2 = o.check(o.deadline or 0)
    assert out2 is not None and isinstance(out2.error, MissedHeartbeatError)
    assert out2.reset is not None and out2.reset.reason == "heartbeat" and out2.reset.serial == 3
    plan = o.on_reconnect(50.0)
    assert plan is not None and plan.reason == "reconnect" and plan.name == "NUID_4"
    assert plan.config.deliver_subject == f"{INBOX}.4" and o.deadline == 60.0


def test_ordered_reset_before_any_message_keeps_the_start_policy() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    o = ordered(opt_start_time=at)
    o.start()
    plan = o.reset(1.0, "manual", deliver_subject="_INBOX.other")
    assert plan.config.deliver_policy is DeliverPolicy.BY_START_TIME and plan.start_seq == 0
    assert plan.config.opt_start_time == at and o.deliver_subject == "_INBOX.other"
    o.on_message(data(7, 1, "NUID_2"), 2)
    plan = o.reset(3.0)
    assert plan.config.opt_start_time is None and plan.config.opt_start_seq == 8
    assert plan.reason == "reset"
    seq = ordered(opt_start_seq=5)
    assert seq.start().start_seq == 5
    with pytest.raises(BadSubjectError):
        seq.reset(1.0, deliver_subject="bad.*")


def test_ordered_construction_errors() -> None:
    with pytest.raises(InvalidNameError):
        PushSubscriptionState.for_ordered(
            build_push_subscribe("o", deliver_subject=INBOX, ordered_consumer=True),
            "S",
            name_prefix="a.b",
            now=0,
        )
    with pytest.raises(InvalidOptionError, match="not for an ordered"):
        PushSubscriptionState.for_ordered(
            build_push_subscribe("o", deliver_subject=INBOX), "S", name_prefix="p", now=0
        )
    custom = PushSubscriptionState(
        "S",
        deliver_subject=INBOX,
        now=0,
        template=ConsumerConfig(ack_policy=AckPolicy.NONE),
        name_prefix="p",
        api=JSApi(domain="d"),
    )
    assert custom.idle_heartbeat == ORDERED_HEARTBEAT
    assert custom.start().create.subject == "$JS.d.API.CONSUMER.CREATE.S.p_1"
    given = PushSubscriptionState(
        "S",
        deliver_subject=INBOX,
        now=0,
        template=ConsumerConfig(),
        name_prefix="p",
        idle_heartbeat=2,
    )
    assert given.ordered and given.idle_heartbeat == 2.0 and given.deadline == 4.0


def test_retryable_reset_errors() -> None:
    retry = PushSubscriptionState.is_retryable_reset_error
    assert retry(NatsTimeoutError("t")) and retry(TimeoutError())
    assert retry(ConnectionReconnectingError("lost"))
    assert retry(JetStreamNotEnabledError(503, 10076, "no responders"))
    assert not retry(JetStreamNotEnabledForAccountError(503, 10039))
    assert retry(api_error(503, 10008)) and retry(api_error(500, 10023))
    assert not retry(api_error(404, 10059)) and not retry(APIError(400, 10003))
    assert not retry(ValueError("x"))


# ---------------------------------------------------------------- properties

_OPS = st.lists(st.sampled_from(["data", "fc", "deliver", "hb"]), max_size=80)


@given(_OPS)
def test_flow_control_replies_follow_the_data_before_them(ops: list[str]) -> None:
    """Whatever the interleaving, a flow control reply goes out only once every data
    message received before the request was handed over, once, in order."""
    s = state()
    before: dict[str, int] = {}  # reply -> data messages received before it
    sent: list[str] = []
    received = delivered = 0
    for i, op in enumerate(ops):
        if op == "data":
            received += 1
            assert s.on_message(data(received, received), i).deliver
        elif op == "fc":
            reply = f"$JS.FC.S.C.{i}"
            before[reply] = received
            out = s.on_message(flow(reply), i)
            sent += [out.respond_to] if out.respond_to else []
        elif op == "hb":
            out = s.on_message(heartbeat(received or None, received), i)
            assert out.error is None and out.respond_to == ""
        elif delivered < received:
            delivered += 1
            sent += s.on_delivered()
        for reply in sent:
            assert delivered >= before[reply]
    while delivered < received:
        delivered += 1
        sent += s.on_delivered()
    assert sent == sorted(before, key=lambda r: int(r.rsplit(".", 1)[1]))


@given(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=40))
def test_ordered_delivers_consumer_sequences_without_gaps(steps: list[int]) -> None:
    """An ordered subscription delivers consecutive consumer sequences of its current
    consumer; any jump resets it after the last stream sequence delivered."""
    o = ordered()
    o.start()
    cseq = sseq = 0
    delivered: list[int] = []
    for step in steps:
        cseq += step
        sseq += step
        out = o.on_message(data(sseq, cseq, o.consumer or ""), 0)
        if step == 1:
            assert out.deliver and out.reset is None
            delivered.append(sseq)
        else:
            assert out.reset is not None and not out.deliver
            assert out.reset.start_seq == (delivered[-1] + 1 if delivered else 0)
            cseq, sseq = 0, (delivered[-1] if delivered else 0)
    assert delivered == sorted(set(delivered))
    assert o.stream_seq == (delivered[-1] if delivered else 0)
