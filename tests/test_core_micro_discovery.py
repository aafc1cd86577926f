"""Service discovery, the requester's side (ADR-32): subjects and typed answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from nats_core import Headers, Msg
from nats_core.errors import LocalProtocolError
from nats_core.micro import (
    INFO_TYPE,
    PING_TYPE,
    STATS_TYPE,
    InvalidServiceResponseError,
    ServiceEndpointStats,
    ServiceInfo,
    ServicePing,
    ServiceState,
    ServiceStats,
    control_subject,
    control_subjects,
    parse_discovery,
    parse_info,
    parse_ping,
    parse_stats,
)

STARTED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def service() -> ServiceState:
    st = ServiceState(
        "orders",
        "1.2.3",
        "ID1",
        STARTED,
        description="the orders",
        metadata={"team": "a"},
    )
    ep = st.add_endpoint("create", "orders.create", "q", {"kind": "write"})
    st.add_endpoint("list", "orders.list", "")
    ServiceState.record(ep, 3_000_000)
    ServiceState.record(ep, 1_000_000, "500:boom")
    return st


# --------------------------------------------------------------- subjects


def test_control_subject_forms() -> None:
    assert control_subject("PING") == "$SRV.PING"
    assert control_subject("info", "orders") == "$SRV.INFO.orders"
    assert control_subject("Stats", "orders", "ID1") == "$SRV.STATS.orders.ID1"
    assert control_subject("PING", prefix="$SRV.acct") == "$SRV.acct.PING"


def test_control_subject_matches_what_a_service_listens_on() -> None:
    listened = set(control_subjects("orders", "ID1"))
    asked = {
        control_subject(verb, name, sid)
        for verb in ("PING", "INFO", "STATS")
        for name, sid in ((None, None), ("orders", None), ("orders", "ID1"))
    }
    assert asked == listened


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("PONG",), {}),
        (("PING", None, "ID1"), {}),
        (("PING", "bad name"), {}),
        (("PING", "a.b"), {}),
        (("PING", "orders", "x.y"), {}),
        (("PING", "orders", "*"), {}),
        (("PING", "orders", "a b"), {}),
        (("PING",), {"prefix": ""}),
        (("PING",), {"prefix": "$SRV."}),
        (("PING",), {"prefix": "a..b"}),
        (("PING",), {"prefix": "$SRV.*"}),
    ],
)
def test_control_subject_refuses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        control_subject(*args, **kwargs)


# ---------------------------------------------------------------- answers


def test_ping_round_trip_from_the_service_side() -> None:
    st = service()
    ping = parse_ping(st.answer("PING"))
    assert isinstance(ping, ServicePing)
    assert (ping.type, ping.name, ping.id, ping.version) == (PING_TYPE, "orders", "ID1", "1.2.3")
    assert ping.metadata == {"team": "a"}
    assert ping.extra == {}


def test_info_round_trip_from_the_service_side() -> None:
    info = parse_info(service().answer("INFO"))
    assert isinstance(info, ServiceInfo)
    assert info.type == INFO_TYPE and info.description == "the orders"
    assert info.endpoints is not None
    assert [(e.name, e.subject, e.queue_group, e.metadata) for e in info.endpoints] == [
        ("create", "orders.create", "q", {"kind": "write"}),
        ("list", "orders.list", "", {}),
    ]


def test_stats_round_trip_from_the_service_side() -> None:
    st = service()
    stats = parse_stats(st.answer("STATS", data=lambda ep: {"n": ep.num_requests}))
    assert isinstance(stats, ServiceStats)
    assert stats.type == STATS_TYPE and stats.started == STARTED
    assert stats.endpoints is not None
    create, lst = stats.endpoints
    assert isinstance(create, ServiceEndpointStats)
    assert (create.num_requests, create.num_errors, create.last_error) == (2, 1, "500:boom")
    assert create.processing_time == 4_000_000 and create.average_processing_time == 2_000_000
    assert create.data == {"n": 2}
    assert lst.num_requests == 0 and lst.data == {"n": 0}


def test_answers_from_a_msg_and_from_text() -> None:
    body = service().answer("PING")
    assert parse_ping(Msg("_INBOX.x", "", body)).id == "ID1"
    assert parse_ping(body.decode()).id == "ID1"
    assert parse_discovery("ping", body).id == "ID1"
    assert isinstance(parse_discovery("INFO", service().answer("INFO")), ServiceInfo)
    assert isinstance(parse_discovery("stats", service().answer("STATS")), ServiceStats)
    with pytest.raises(LocalProtocolError):
        parse_discovery("PONG", body)


def test_unknown_fields_are_kept() -> None:
    doc = {
        "type": STATS_TYPE,
        "name": "svc",
        "id": "X",
        "version": "0.0.1",
        "metadata": {},
        "started": "2024-01-02T03:04:05.123456789Z",
        "future": [1, 2],
        "endpoints": [
            {
                "name": "e",
                "subject": "s",
                "queue_group": "q",
                "num_requests": 1,
                "num_errors": 0,
                "last_error": "",
                "processing_time": 10,
                "average_processing_time": 10,
                "new_counter": 7,
            }
        ],
    }
    stats = parse_stats(json.dumps(doc).encode())
    assert stats.extra == {"future": [1, 2]}
    assert stats.endpoints is not None and stats.endpoints[0].extra == {"new_counter": 7}
    assert stats.endpoints[0].data is None
    assert stats.started == datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert stats.to_json()["future"] == [1, 2]


def test_odd_values_land_in_extra_not_in_an_error() -> None:
    doc = {"type": PING_TYPE, "name": "svc", "id": "X", "version": 3, "metadata": "none"}
    ping = parse_ping(json.dumps(doc))
    assert ping.version == "" and ping.extra == {"version": 3, "metadata": "none"}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"name": "svc"}',  # no type
        json.dumps({"type": INFO_TYPE, "name": "svc"}).encode(),  # the wrong answer
        json.dumps({"type": "io.nats.micro.v2.ping_response"}).encode(),
    ],
)
def test_not_a_ping_answer(payload: bytes) -> None:
    with pytest.raises(InvalidServiceResponseError):
        parse_ping(payload)


def test_a_status_message_is_not_an_answer() -> None:
    msg = Msg("_INBOX.x", "", b"", Headers(status=503, description="No Responders"))
    with pytest.raises(InvalidServiceResponseError, match="503"):
        parse_info(msg)
