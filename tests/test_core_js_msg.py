"""JetStream message helpers: ack-subject metadata, ack payloads, status messages."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Headers, Msg
from nats_core.jetstream import (
    ACK,
    IN_PROGRESS,
    NAK,
    TERM,
    BatchCompletedError,
    ConsumerDeletedError,
    JSStatus,
    LeadershipChangedError,
    MaxBytesExceededError,
    MsgMetadata,
    NoMessagesError,
    NotJetStreamMessageError,
    NotPullConsumerError,
    PinIdMismatchError,
    PullBadRequestError,
    PullRequestRejectedError,
    PullRequestTimeoutError,
    PullStatusError,
    SequencePair,
    ServerShutdownError,
    StatusKind,
    is_status_message,
    jetstream_status,
    nak_payload,
    parse_metadata,
    status_error,
    term_payload,
)

# ------------------------------------------------------------------ metadata

# Reply subjects seen from nats-server 2.14.0 and 2.9.10.
V1_214 = "$JS.ACK.ORDERS.proc.2.1.2.1795765547390656323.0"
V1_29 = "$JS.ACK.ORDERS.6Q4cErwW.1.4.2.1795765552992322213.0"


def test_parse_v1_metadata() -> None:
    meta = parse_metadata(V1_214)
    assert meta == MsgMetadata(
        stream="ORDERS",
        consumer="proc",
        num_delivered=2,
        sequence=SequencePair(stream=1, consumer=2),
        timestamp=datetime(2026, 11, 27, 7, 45, 47, 390656, tzinfo=UTC),
        num_pending=0,
        domain=None,
        timestamp_ns=1795765547390656323,
    )
    other = parse_metadata(V1_29)
    assert other.consumer == "6Q4cErwW"
    assert other.sequence == SequencePair(4, 2)
    assert other.num_delivered == 1


def test_parse_v2_metadata() -> None:
    reply = "$JS.ACK.hub.ACCHASH.ORDERS.proc.3.10.7.1700000000123456789.42.randomtoken"
    meta = parse_metadata(reply)
    assert meta.domain == "hub"
    assert (meta.stream, meta.consumer) == ("ORDERS", "proc")
    assert meta.num_delivered == 3
    assert meta.sequence == SequencePair(stream=10, consumer=7)
    assert meta.num_pending == 42
    assert meta.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    # "_" means no domain; the trailing random token is optional
    no_domain = parse_metadata("$JS.ACK._.ACCHASH.S.C.1.2.3.1700000000000000000.0")
    assert no_domain.domain is None and no_domain.stream == "S"
    # newer servers may append tokens
    assert parse_metadata(reply + ".more.tokens").num_pending == 42


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "",
        "_INBOX.abc.1",
        "$JS.ACK.S.C.1.2.3.4",  # 8 tokens
        "$JS.ACK.a.b.S.C.1.2.3.4",  # 10 tokens
        "$JS.NAK.S.C.1.2.3.4.5",
        "$JS.ACK.S.C.x.2.3.4.5",
        "$JS.ACK.S.C.1.-2.3.4.5",
        "$JS.ACK.S.C.1.2.3.4.",
        "$JS.ACK..C.1.2.3.4.5",
        "$JS.ACK.S.C.1.2.3.٣.5",  # a non-ASCII digit
    ],
)
def test_parse_metadata_rejects(reply: str | None) -> None:
    with pytest.raises(NotJetStreamMessageError) as info:
        parse_metadata(reply)
    assert isinstance(info.value, ValueError)
    assert "jetstream" in str(info.value) or "ack subject" in str(info.value)


@given(
    stream=st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True),
    consumer=st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True),
    nums=st.lists(st.integers(min_value=0, max_value=2**63), min_size=5, max_size=5),
)
def test_metadata_v1_v2_agree(stream: str, consumer: str, nums: list[int]) -> None:
    delivered, sseq, cseq, ts, pending = nums
    tail = f"{stream}.{consumer}.{delivered}.{sseq}.{cseq}.{ts}.{pending}"
    v1 = parse_metadata(f"$JS.ACK.{tail}")
    v2 = parse_metadata(f"$JS.ACK._.HASH.{tail}.tok")
    assert v1 == v2
    assert (v1.num_delivered, v1.sequence, v1.timestamp_ns, v1.num_pending) == (
        delivered,
        SequencePair(sseq, cseq),
        ts,
        pending,
    )
    # built without the dataclass __init__: the same as one built with it
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts // 1000)
    built = MsgMetadata(stream, consumer, delivered, SequencePair(sseq, cseq), when, pending)
    built = dataclasses.replace(built, timestamp_ns=ts)
    assert v1 == built and hash(v1) == hash(built) and repr(v1) == repr(built)
    assert parse_metadata(f"$JS.ACK.{tail}") == v1  # kept from the last call, or parsed again


def test_metadata_is_frozen_and_kept() -> None:
    reply = "$JS.ACK.S.C.1.2.3.1764590000123456789.5"
    md = parse_metadata(reply)
    assert parse_metadata(reply) is md  # the last subject's metadata is kept
    assert parse_metadata("$JS.ACK.S.C.1.3.4.1764590000123456789.4").sequence.stream == 3
    assert parse_metadata(reply) == md
    with pytest.raises(dataclasses.FrozenInstanceError):
        md.stream = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        md.sequence.stream = 9  # type: ignore[misc]


# -------------------------------------------------------------- ack payloads


def test_ack_payloads() -> None:
    assert ACK == b"+ACK"
    assert NAK == b"-NAK"
    assert IN_PROGRESS == b"+WPI"
    assert TERM == b"+TERM"
    assert nak_payload() == b"-NAK"
    delayed = nak_payload(timedelta(seconds=5))
    assert delayed.startswith(b"-NAK ")
    assert json.loads(delayed[5:]) == {"delay": 5_000_000_000}
    assert nak_payload(0.25) == b'-NAK {"delay":250000000}'
    with pytest.raises(ValueError):
        nak_payload(-1)
    assert term_payload() == b"+TERM"
    assert term_payload("") == b"+TERM"
    assert term_payload("bad input") == b"+TERM bad input"
    assert term_payload("ünï") == "+TERM ünï".encode()
    with pytest.raises(ValueError):
        term_payload("two\nlines")


# ------------------------------------------------------------------ statuses


def status_msg(code: int, desc: str = "", reply: str = "", **hdrs: str) -> Msg:
    h = Headers({k.replace("_", "-"): v for k, v in hdrs.items()}, status=code, description=desc)
    return Msg("_INBOX.pull.1", reply, b"", h, 1)


@pytest.mark.parametrize(
    ("code", "desc", "kind", "err"),
    [
        (100, "Idle Heartbeat", StatusKind.IDLE_HEARTBEAT, None),
        (100, "FlowControl Request", StatusKind.FLOW_CONTROL, None),
        (404, "No Messages", StatusKind.NO_MESSAGES, NoMessagesError),
        (408, "Request Timeout", StatusKind.REQUEST_TIMEOUT, PullRequestTimeoutError),
        (408, "Interest Expired", StatusKind.REQUEST_TIMEOUT, PullRequestTimeoutError),
        (400, "Bad Request", StatusKind.BAD_REQUEST, PullBadRequestError),
        (409, "Consumer Deleted", StatusKind.CONSUMER_DELETED, ConsumerDeletedError),
        (409, "Consumer is push based", StatusKind.PUSH_BASED, NotPullConsumerError),
        (409, "Leadership Change", StatusKind.LEADERSHIP_CHANGE, LeadershipChangedError),
        (
            409,
            "Message Size Exceeds MaxBytes",
            StatusKind.MAX_BYTES_EXCEEDED,
            MaxBytesExceededError,
        ),
        (409, "Batch Completed", StatusKind.BATCH_COMPLETED, BatchCompletedError),
        (409, "Exceeded MaxWaiting", StatusKind.REQUEST_REJECTED, PullRequestRejectedError),
        (
            409,
            "Exceeded MaxRequestBatch of 10",
            StatusKind.REQUEST_REJECTED,
            PullRequestRejectedError,
        ),
        (
            409,
            "Exceeded MaxRequestExpires of 5s",
            StatusKind.REQUEST_REJECTED,
            PullRequestRejectedError,
        ),
        (
            409,
            "Exceeded MaxRequestMaxBytes of 100",
            StatusKind.REQUEST_REJECTED,
            PullRequestRejectedError,
        ),
        (409, "Server Shutdown", StatusKind.SERVER_SHUTDOWN, ServerShutdownError),
        (409, "Something New", StatusKind.OTHER, PullStatusError),
        (423, "Nats-Wrong-Pin-Id", StatusKind.PIN_ID_MISMATCH, PinIdMismatchError),
        (503, "", StatusKind.NO_RESPONDERS, PullStatusError),
        (204, "EOB", StatusKind.END_OF_BATCH, PullStatusError),
        (418, "Teapot", StatusKind.OTHER, PullStatusError),
    ],
)
def test_status_classification(
    code: int, desc: str, kind: StatusKind, err: type[PullStatusError] | None
) -> None:
    msg = status_msg(code, desc)
    assert is_status_message(msg)
    status = jetstream_status(msg)
    assert status is not None
    assert (status.code, status.description, status.kind) == (code, desc, kind)
    error = status_error(status)
    if err is None:
        assert error is None
    else:
        assert type(error) is err
        assert error is not None and error.status == code and error.description == desc
        assert error.terminal == (
            kind in (StatusKind.BAD_REQUEST, StatusKind.CONSUMER_DELETED, StatusKind.PUSH_BASED)
        )


def test_status_headers() -> None:
    timeout = status_msg(408, "Request Timeout", Nats_Pending_Messages="4", Nats_Pending_Bytes="0")
    assert jetstream_status(timeout) == JSStatus(
        408, "Request Timeout", StatusKind.REQUEST_TIMEOUT, pending_msgs=4, pending_bytes=0
    )
    hb = status_msg(100, "Idle Heartbeat", Nats_Last_Consumer="1", Nats_Last_Stream="3")
    s = jetstream_status(hb)
    assert s is not None and (s.last_consumer, s.last_stream, s.reply) == (1, 3, "")
    stalled = status_msg(100, "Idle Heartbeat", Nats_Consumer_Stalled="$JS.FC.S.C.x")
    s = jetstream_status(stalled)
    assert s is not None and s.reply == "$JS.FC.S.C.x"
    fc = status_msg(100, "FlowControl Request", reply="$JS.FC.S.C.y")
    s = jetstream_status(fc)
    assert s is not None and s.reply == "$JS.FC.S.C.y"
    junk = status_msg(408, "Request Timeout", Nats_Pending_Messages="lots")
    s = jetstream_status(junk)
    assert s is not None and s.pending_msgs == 0


def test_data_messages_are_not_statuses() -> None:
    plain = Msg("orders.new", "$JS.ACK.S.C.1.1.1.1.0", b"hello", None, 1)
    with_headers = Msg("orders.new", "", b"", Headers({"Foo": "bar"}), 1)
    status_with_body = Msg("x", "", b"body", Headers(status=409, description="x"), 1)
    for m in (plain, with_headers, status_with_body):
        assert not is_status_message(m)
        assert jetstream_status(m) is None
