"""Priority groups (ADR-42) in the core: config fields, pull request fields and their
checks, the pin id kept by the fetch and consume state machines, the unpin request.

The status lines are those nats-server 2.14 sends (server/consumer.go):
``423 Nats-Pin-Id mismatch`` answers a new pull whose ``id`` is not the current
pin, ``423 Nats-Wrong-Pin-Id`` (with the pending counts) a waiting pull whose
``id`` went stale when another client was pinned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nats_core import Headers, Msg
from nats_core._headers import decode_headers
from nats_core.jetstream import (
    ConsumerConfig,
    ConsumerInfo,
    FetchState,
    InvalidOptionError,
    JSApi,
    PinIdMismatchError,
    PinState,
    PriorityGroupState,
    PriorityPolicy,
    PullBadRequestError,
    PullConsumeState,
    PullRequest,
    StatusKind,
    check_priority_pull,
    validate_priority_group,
)
from nats_core.jetstream import requests as r
from nats_core.jetstream.errors import APIError
from nats_core.jetstream.pull import PIN_ID_HEADER

INBOX = "_INBOX.prio.x"
MISMATCH = "NATS/1.0 423 Nats-Pin-Id mismatch\r\n\r\n"
WRONG_PIN = (
    "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: 7\r\nNats-Pending-Bytes: 0\r\n\r\n"
)


def user(seq: int = 1, pin: str | None = None) -> Msg:
    reply = f"$JS.ACK.S.C.1.{seq}.{seq}.1700000000000000000.0"
    headers = Headers({PIN_ID_HEADER: pin}) if pin is not None else None
    return Msg("jobs.new", reply, b"job", headers, 1)


def status(raw: str) -> Msg:
    return Msg(INBOX, "", b"", decode_headers(raw.encode()), 1)


def body(req: PullRequest | None) -> dict[str, Any]:
    assert req is not None
    return json.loads(req.payload())


# ------------------------------------------------------------------ config


def test_priority_policy_values_are_the_servers() -> None:
    assert [p.value for p in PriorityPolicy] == [
        "none",
        "overflow",
        "pinned_client",
        "prioritized",
    ]


def test_consumer_config_priority_fields_round_trip() -> None:
    cfg = ConsumerConfig(
        durable_name="C",
        priority_groups=["jobs"],
        priority_policy=PriorityPolicy.PINNED_CLIENT,
        priority_timeout=timedelta(seconds=90),
    )
    out = cfg.to_json()
    assert out["priority_groups"] == ["jobs"]
    assert out["priority_policy"] == "pinned_client"
    assert out["priority_timeout"] == 90_000_000_000
    back = ConsumerConfig.from_json(json.loads(json.dumps(out)))
    assert back == cfg
    assert back.priority_policy is PriorityPolicy.PINNED_CLIENT


def test_unknown_priority_policy_from_a_newer_server_is_kept() -> None:
    cfg = ConsumerConfig.from_json({"priority_policy": "weighted", "priority_groups": ["g"]})
    assert cfg.priority_policy is None
    assert cfg.to_json()["priority_policy"] == "weighted"


def test_consumer_info_priority_group_state() -> None:
    raw = {
        "stream_name": "S",
        "name": "C",
        "config": {"priority_groups": ["jobs"], "priority_policy": "pinned_client"},
        "priority_groups": [
            {
                "group": "jobs",
                "pinned_client_id": "ABCDEF",
                "pinned_ts": "2026-01-02T03:04:05.123456789Z",
            }
        ],
    }
    info = ConsumerInfo.from_json(raw)
    assert info.priority_groups == [
        PriorityGroupState(
            group="jobs",
            pinned_client_id="ABCDEF",
            pinned_ts=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        )
    ]
    # No pin: Go's zero time, no id.
    idle = ConsumerInfo.from_json(
        {"priority_groups": [{"group": "jobs", "pinned_ts": "0001-01-01T00:00:00Z"}]}
    )
    assert idle.priority_groups == [PriorityGroupState(group="jobs")]


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        (ConsumerConfig(priority_groups=["g"]), "need a priority_policy"),
        (
            ConsumerConfig(priority_policy=PriorityPolicy.NONE, priority_groups=["g"]),
            "need a priority_policy",
        ),
        (ConsumerConfig(priority_timeout=timedelta(seconds=5)), "priority_timeout needs"),
        (ConsumerConfig(priority_policy=PriorityPolicy.OVERFLOW), "at least one priority group"),
        (
            ConsumerConfig(priority_policy=PriorityPolicy.OVERFLOW, priority_groups=[]),
            "at least one priority group",
        ),
        (
            ConsumerConfig(
                priority_policy=PriorityPolicy.PINNED_CLIENT,
                priority_groups=["g"],
                deliver_subject="push.here",
            ),
            "pull consumers",
        ),
        (
            ConsumerConfig(priority_policy=PriorityPolicy.OVERFLOW, priority_groups=["a.b"]),
            "invalid priority group",
        ),
        (
            ConsumerConfig(priority_policy=PriorityPolicy.OVERFLOW, priority_groups=["x" * 17]),
            "invalid priority group",
        ),
        (
            ConsumerConfig(priority_policy="sticky", priority_groups=["g"]),  # type: ignore[arg-type]
            "unknown priority_policy",
        ),
    ],
)
def test_consumer_config_priority_rules_checked_locally(cfg: ConsumerConfig, words: str) -> None:
    with pytest.raises(InvalidOptionError, match=words):
        r.create_consumer("S", cfg)


def test_consumer_config_priority_accepted() -> None:
    for policy in (PriorityPolicy.OVERFLOW, "pinned_client", PriorityPolicy.PRIORITIZED):
        cfg = ConsumerConfig(
            durable_name="C",
            priority_policy=policy,  # type: ignore[arg-type]
            priority_groups=["jobs", "a/b=c_d-9"],
        )
        req = r.create_consumer("S", cfg)
        sent = json.loads(req.payload)["config"]
        assert sent["priority_policy"] == str(policy)
        assert sent["priority_groups"] == ["jobs", "a/b=c_d-9"]
    # Policy "none" without groups, and a zero timeout, are fine.
    r.create_consumer("S", ConsumerConfig(priority_policy=PriorityPolicy.NONE))
    r.create_consumer("S", ConsumerConfig(priority_timeout=timedelta(0)))


@pytest.mark.parametrize("name", ["", "a b", "a.b", "g*", "x" * 17, 5, None])
def test_validate_priority_group_rejects(name: object) -> None:
    with pytest.raises(InvalidOptionError):
        validate_priority_group(name)


def test_validate_priority_group_accepts() -> None:
    for name in ("g", "A-Z_a/z=0", "x" * 16):
        assert validate_priority_group(name) == name


# ------------------------------------------------------------------- unpin


def test_unpin_request() -> None:
    req = r.unpin_consumer("S", "C", "jobs")
    assert req.subject == "$JS.API.CONSUMER.UNPIN.S.C"
    assert json.loads(req.payload) == {"group": "jobs"}
    req = r.unpin_consumer("S", "C", "jobs", api=JSApi(domain="hub"))
    assert req.subject == "$JS.hub.API.CONSUMER.UNPIN.S.C"
    with pytest.raises(InvalidOptionError):
        r.unpin_consumer("S", "C", "no.dots")


def test_parse_unpin() -> None:
    ok = b'{"type":"io.nats.jetstream.api.v1.consumer_unpin_response"}'
    assert r.parse_unpin(ok) is None
    bad = (
        b'{"type":"io.nats.jetstream.api.v1.consumer_unpin_response","error":{"code":400,'
        b'"err_code":10160,"description":"Provided priority group does not exist for this '
        b'consumer"}}'
    )
    with pytest.raises(APIError) as info:
        r.parse_unpin(bad)
    assert info.value.err_code == 10160


# ------------------------------------------------------------ pull requests


def test_pull_request_priority_fields() -> None:
    req = PullRequest(batch=5, expires=10.0, group="jobs", min_pending=100, min_ack_pending=3)
    assert body(req) == {
        "batch": 5,
        "expires": 10_000_000_000,
        "group": "jobs",
        "min_pending": 100,
        "min_ack_pending": 3,
    }
    assert body(PullRequest(batch=1, group="jobs", priority=0)) == {
        "batch": 1,
        "group": "jobs",
        "priority": 0,
    }
    assert body(PullRequest(batch=1, group="jobs", pin_id="PIN")) == {
        "batch": 1,
        "group": "jobs",
        "id": "PIN",
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"min_pending": 5}, "give the consumer's group"),
        ({"priority": 1}, "give the consumer's group"),
        ({"pin_id": "X"}, "give the consumer's group"),
        ({"min_pending": 1, "min_ack_pending": 1}, "are for priority groups"),
        ({"group": "a.b"}, "invalid priority group"),
        ({"group": ""}, "required"),
        ({"group": "g", "min_pending": 0}, "min_pending"),
        ({"group": "g", "min_ack_pending": -1}, "min_ack_pending"),
        ({"group": "g", "priority": 10}, "priority must be"),
        ({"group": "g", "priority": -1}, "priority must be"),
        ({"group": "g", "priority": True}, "priority must be"),
        ({"group": "g", "pin_id": ""}, "pin_id"),
    ],
)
def test_pull_request_priority_checks(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidOptionError, match=words):
        PullRequest(batch=1, **fields)


OVERFLOW = ConsumerConfig(priority_policy=PriorityPolicy.OVERFLOW, priority_groups=["jobs"])
PINNED = ConsumerConfig(priority_policy=PriorityPolicy.PINNED_CLIENT, priority_groups=["jobs"])
PLAIN = ConsumerConfig()


def test_check_priority_pull_against_the_consumer() -> None:
    check_priority_pull(OVERFLOW, "jobs", min_pending=10, min_ack_pending=2)
    check_priority_pull(PINNED, "jobs")
    check_priority_pull(PLAIN, None)
    check_priority_pull(None, "anything")  # consumer unknown: only the options' own rules
    # A missing group is the server's 400 "Priority Group missing".
    check_priority_pull(PINNED, None)
    with pytest.raises(InvalidOptionError, match="not one of the consumer's: 'jobs'"):
        check_priority_pull(PINNED, "other")
    with pytest.raises(InvalidOptionError, match="has no priority groups"):
        check_priority_pull(PLAIN, "jobs")
    with pytest.raises(InvalidOptionError, match="'overflow', not 'pinned_client'"):
        check_priority_pull(PINNED, "jobs", min_pending=5)
    with pytest.raises(InvalidOptionError, match="give the consumer's group"):
        check_priority_pull(OVERFLOW, None, min_ack_pending=5)


# ---------------------------------------------------------------- pin state


def test_pin_state_observe_and_clear() -> None:
    pin = PinState()
    assert pin.pin_id is None
    assert not pin.observe(user())
    assert pin.observe(user(pin="A"))
    assert not pin.observe(user(pin="A"))
    assert not pin.observe(user())  # a message without the header keeps the pin
    assert pin.pin_id == "A"
    assert pin.observe(user(pin="B"))
    assert pin.clear()
    assert not pin.clear()
    assert pin.pin_id is None
    assert repr(PinState("X")) == "<PinState 'X'>"


# ------------------------------------------------------------------- fetch


def test_fetch_carries_priority_fields() -> None:
    st = FetchState(
        3, expires=5.0, now=0.0, group="jobs", min_pending=10, min_ack_pending=4, priority=2
    )
    assert body(st.request) == {
        "batch": 3,
        "expires": 5_000_000_000,
        "group": "jobs",
        "min_pending": 10,
        "min_ack_pending": 4,
        "priority": 2,
    }
    with pytest.raises(InvalidOptionError):
        FetchState(1, now=0.0, min_pending=3)


def test_fetch_learns_the_pin_and_the_next_fetch_sends_it() -> None:
    pin = PinState()
    st = FetchState(2, expires=5.0, now=0.0, group="jobs", pin=pin)
    assert "id" not in body(st.request)
    assert st.on_msg(user(1, pin="PIN1"), 0.1).deliver
    assert pin.pin_id == "PIN1"
    assert st.on_msg(user(2, pin="PIN1"), 0.2).done
    nxt = FetchState(2, expires=5.0, now=1.0, group="jobs", pin=pin)
    assert body(nxt.request)["id"] == "PIN1"
    # After a reconnect the rest of the fetch keeps the pin too.
    assert body(nxt.on_reconnect(2.0))["id"] == "PIN1"


@pytest.mark.parametrize("raw", [MISMATCH, WRONG_PIN])
def test_fetch_pin_mismatch_clears_the_pin_and_pulls_again(raw: str) -> None:
    pin = PinState("OLD")
    st = FetchState(4, expires=10.0, idle_heartbeat=2.0, now=0.0, group="jobs", pin=pin)
    assert body(st.request)["id"] == "OLD"
    out = st.on_msg(status(raw), 3.0)
    assert out.status is not None and out.status.kind is StatusKind.PIN_ID_MISMATCH
    assert out.error is None and not out.done and not out.deliver
    assert pin.pin_id is None
    again = body(out.pull)
    assert "id" not in again
    assert again["group"] == "jobs"
    assert again["batch"] == 4
    assert again["expires"] == 7_000_000_000  # the time left
    assert again["idle_heartbeat"] == 2_000_000_000
    assert not st.done
    # Now a standby: the server pins us later and we deliver.
    assert st.on_msg(user(1, pin="NEW"), 5.0).deliver
    assert pin.pin_id == "NEW"
    assert st.deadline is not None


def test_fetch_pin_mismatch_with_no_time_left_ends_quietly() -> None:
    pin = PinState("OLD")
    st = FetchState(4, expires=1.0, now=0.0, group="jobs", pin=pin)
    out = st.on_msg(status(MISMATCH), 1.0)
    assert out.done and out.error is None and out.pull is None
    assert st.done and st.error is None
    assert pin.pin_id is None


def test_fetch_no_wait_pin_mismatch_pulls_again_no_wait() -> None:
    pin = PinState("OLD")
    st = FetchState(2, no_wait=True, now=0.0, group="jobs", pin=pin)
    out = st.on_msg(status(MISMATCH), 0.01)
    assert body(out.pull) == {"batch": 2, "no_wait": True, "group": "jobs"}


def test_fetch_pin_mismatch_after_some_messages_asks_for_the_rest() -> None:
    pin = PinState()
    st = FetchState(5, expires=10.0, now=0.0, group="jobs", pin=pin)
    st.on_msg(user(1, pin="P"), 1.0)
    st.on_msg(user(2, pin="P"), 1.0)
    out = st.on_msg(status(WRONG_PIN), 2.0)
    assert body(out.pull)["batch"] == 3
    assert "id" not in body(out.pull)


def test_fetch_without_a_pin_state_reports_the_mismatch() -> None:
    st = FetchState(1, expires=5.0, now=0.0)
    out = st.on_msg(status(MISMATCH), 1.0)
    assert out.done
    assert isinstance(out.error, PinIdMismatchError)


def test_fetch_ignores_the_pin_without_a_group() -> None:
    pin = PinState("P")
    st = FetchState(1, expires=5.0, now=0.0, pin=pin)
    assert "id" not in body(st.request)
    st.on_msg(user(1, pin="Q"), 1.0)
    assert pin.pin_id == "P"


def test_fetch_group_missing_is_the_servers_400() -> None:
    st = FetchState(1, expires=5.0, now=0.0)
    out = st.on_msg(status("NATS/1.0 400 Bad Request - Priority Group missing\r\n\r\n"), 0.1)
    assert out.done
    assert isinstance(out.error, PullBadRequestError)
    assert "Priority Group missing" in str(out.error)


# ----------------------------------------------------------------- consume


def test_consume_pulls_carry_group_and_pin() -> None:
    pin = PinState()
    st = PullConsumeState(max_messages=4, expires=10.0, group="jobs", min_pending=20, pin=pin)
    first = body(st.start(0.0))
    assert first["group"] == "jobs" and first["min_pending"] == 20 and "id" not in first
    st.on_msg(user(1, pin="PIN"), 0.1)
    assert st.on_msg(user(2, pin="PIN"), 0.2).pull is None  # 2 pending: not below 2
    out = st.on_msg(user(3, pin="PIN"), 0.3)
    refill = body(out.pull)
    assert refill["id"] == "PIN" and refill["group"] == "jobs" and refill["batch"] == 3
    assert body(st.on_reconnect(1.0))["id"] == "PIN"
    check = st.check(100.0)
    assert check is not None and body(check.pull)["id"] == "PIN"


@pytest.mark.parametrize("raw", [MISMATCH, WRONG_PIN])
def test_consume_pin_mismatch_clears_pin_and_pulls_whole_buffer(raw: str) -> None:
    pin = PinState("OLD")
    st = PullConsumeState(max_messages=10, expires=10.0, group="jobs", pin=pin)
    assert body(st.start(0.0))["id"] == "OLD"
    out = st.on_msg(status(raw), 1.0)
    assert out.error is None and not out.done
    assert out.status is not None and out.status.kind is StatusKind.PIN_ID_MISMATCH
    assert pin.pin_id is None
    again = body(out.pull)
    assert again["batch"] == 10 and "id" not in again and again["group"] == "jobs"
    assert not st.done


def test_consume_priority_option_checks() -> None:
    with pytest.raises(InvalidOptionError, match="give the consumer's group"):
        PullConsumeState(priority=1)
    with pytest.raises(InvalidOptionError, match="priority must be"):
        PullConsumeState(group="g", priority=12)
    st = PullConsumeState(group="g", priority=3)
    assert body(st.start(0.0))["priority"] == 3


def test_consume_group_missing_ends_the_consume() -> None:
    st = PullConsumeState(max_messages=10)
    st.start(0.0)
    out = st.on_msg(status("NATS/1.0 400 Bad Request - Priority Group missing\r\n\r\n"), 0.1)
    assert out.done and isinstance(out.error, PullBadRequestError)
