"""nats_core.jetstream.batch, counters and schedules (issue #19) without a network:
batch direct get requests and the reading of their replies (end marker, 404,
errors, a cut-off batch), atomic batch numbering and acks, counter headers and
values, schedule patterns and headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from nats_core import Headers
from nats_core._events import Msg
from nats_core.jetstream import errors as E
from nats_core.jetstream.batch import (
    AtomicBatch,
    DirectBatch,
    batch_get_request,
    check_staged,
    last_msgs_for_request,
    parse_batch_ack,
)
from nats_core.jetstream.counters import (
    check_counter_stream,
    counter_entry,
    counter_headers,
    parse_counter_ack,
    parse_counter_value,
)
from nats_core.jetstream.models import StoredMsg, StreamConfig, StreamInfo
from nats_core.jetstream.schedules import schedule_headers, schedule_pattern

STAMP = "2025-01-02T03:04:05.123456789Z"


def stored(seq: int, pending: int, last: int, subject: str = "a.b", data: bytes = b"x") -> Msg:
    h = Headers(
        {
            "Nats-Stream": "S",
            "Nats-Subject": subject,
            "Nats-Sequence": str(seq),
            "Nats-Time-Stamp": STAMP,
            "Nats-Num-Pending": str(pending),
            "Nats-Last-Sequence": str(last),
        }
    )
    return Msg("_INBOX.x", data=data, headers=h)


def status(code: int, desc: str, **fields: str) -> Msg:
    return Msg("_INBOX.x", headers=Headers(fields, status=code, description=desc))


# ------------------------------------------------------------ batch get


def test_batch_get_request_bodies() -> None:
    req = batch_get_request("S", 10, subject="a.>", max_bytes=100)
    assert req.subject == "$JS.API.DIRECT.GET.S"
    assert json.loads(req.payload) == {
        "batch": 10,
        "seq": 1,
        "next_by_subj": "a.>",
        "max_bytes": 100,
    }
    when = datetime(2025, 1, 2, tzinfo=UTC)
    body = json.loads(batch_get_request("S", 2, start_time=when).payload)
    assert body["start_time"].startswith("2025-01-02T00:00:00") and "seq" not in body
    with pytest.raises(E.InvalidOptionError):
        batch_get_request("S", 2, seq=3, start_time=when)
    with pytest.raises(E.InvalidOptionError):
        batch_get_request("S", 0)
    body = json.loads(last_msgs_for_request("S", ["a.*", "b"], up_to_seq=7).payload)
    assert body == {"multi_last": ["a.*", "b"], "up_to_seq": 7}
    with pytest.raises(E.InvalidOptionError):
        last_msgs_for_request("S", [])
    with pytest.raises(E.InvalidOptionError):
        last_msgs_for_request("S", ["a"], up_to_seq=1, up_to_time=when)


def test_direct_batch_reads_until_the_end_marker() -> None:
    db = DirectBatch("S", timeout=1.0, now=0.0)
    assert db.deadline == 1.0
    m1 = db.on_reply(stored(1, 1, 0), 0.5)
    assert isinstance(m1, StoredMsg) and m1.seq == 1 and m1.data == b"x"
    assert db.deadline == 1.5  # each reply restarts the wait
    assert db.on_reply(stored(3, 0, 1), 0.6) is not None
    assert (
        db.on_reply(status(204, "EOB", **{"Nats-Num-Pending": "4", "Nats-Last-Sequence": "3"}), 0.7)
        is None
    )
    assert db.done and db.num_pending == 4 and db.last_seq == 3 and db.received == 2
    with pytest.raises(E.InvalidResponseError):
        db.on_reply(stored(4, 0, 3), 0.8)


def test_direct_batch_multi_last_end_marker_and_empty_answer() -> None:
    db = DirectBatch("S", timeout=1.0, now=0.0)
    eob = {"Nats-Num-Pending": "0", "Nats-Last-Sequence": "9", "Nats-UpTo-Sequence": "12"}
    assert db.on_reply(status(204, "EOB", **eob), 0.1) is None
    assert db.up_to_seq == 12
    empty = DirectBatch("S", timeout=1.0, now=0.0)
    assert empty.on_reply(status(404, "No Results"), 0.1) is None
    assert empty.done and empty.received == 0


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (status(503, ""), E.JetStreamNotEnabledError),
        (status(413, "Too Many Results"), E.APIError),
        (status(408, "Bad Request"), E.APIError),
        (
            Msg(
                "_INBOX.x",
                data=b"x",
                headers=Headers(
                    {
                        "Nats-Stream": "S",
                        "Nats-Subject": "a",
                        "Nats-Sequence": "1",
                        "Nats-Time-Stamp": STAMP,
                    }
                ),
            ),
            E.BatchGetUnsupportedError,
        ),
    ],
)
def test_direct_batch_errors(reply: Msg, error: type[Exception]) -> None:
    db = DirectBatch("S", timeout=1.0, now=0.0)
    with pytest.raises(error):
        db.on_reply(reply, 0.1)
    assert db.done


def test_direct_batch_cut_off_is_an_error_not_an_end() -> None:
    db = DirectBatch("S", timeout=1.0, now=0.0)
    db.on_reply(stored(1, 5, 0), 0.1)
    err = db.expired()
    assert isinstance(err, E.BatchGetIncompleteError) and isinstance(err, TimeoutError)
    assert err.received == 1 and "incomplete" in str(err)
    lost = DirectBatch("S", timeout=1.0, now=0.0).lost()
    assert isinstance(lost, E.BatchGetIncompleteError) and not isinstance(lost, TimeoutError)
    # a 404 after messages is not an empty answer
    db2 = DirectBatch("S", timeout=1.0, now=0.0)
    db2.on_reply(stored(1, 5, 0), 0.1)
    with pytest.raises(E.APIError):
        db2.on_reply(status(404, "Message Not Found"), 0.2)


# ---------------------------------------------------------- atomic batch


def test_atomic_batch_numbers_and_commits() -> None:
    b = AtomicBatch("B1", ack_every=2)
    h1, w1 = b.message("a", {"X": "1"}, expected_last_seq=0)
    assert (h1["Nats-Batch-Id"], h1["Nats-Batch-Sequence"], h1["X"]) == ("B1", "1", "1")
    assert h1["Nats-Expected-Last-Sequence"] == "0" and w1  # the first is acked
    h2, w2 = b.message("a")
    assert h2["Nats-Batch-Sequence"] == "2" and w2  # ack_every=2
    _, w3 = b.message("a")
    assert not w3
    with pytest.raises(E.InvalidOptionError):
        b.message("a", expected_last_seq=3)  # only on the first message
    h4, w4 = b.message("b", commit=True)
    assert h4["Nats-Batch-Commit"] == "1" and w4 and b.closed and b.size == 4
    with pytest.raises(E.InvalidOptionError):
        b.message("a")


def test_atomic_batch_rules() -> None:
    with pytest.raises(E.InvalidOptionError):
        AtomicBatch("x" * 65)
    b = AtomicBatch("B")
    with pytest.raises(E.InvalidOptionError):
        b.message("a", {"Nats-Expected-Last-Msg-Id": "m"})
    with pytest.raises(E.InvalidOptionError):
        b.message("a.*")
    with pytest.raises(E.InvalidOptionError):
        b.end_marker()  # empty
    b.message("a.1")
    b.message("a.2")
    subject, h = b.end_marker()
    assert subject == "a.1" and h["Nats-Batch-Sequence"] == "3" and h["Nats-Batch-Commit"] == "eob"
    b2 = AtomicBatch("C")
    b2.message("a")
    b2.discard()
    with pytest.raises(E.InvalidOptionError):
        b2.discard()


def test_batch_acks_and_errors() -> None:
    ack = parse_batch_ack(b'{"stream":"S","seq":7,"batch":"B","count":3}', "B", 3)
    assert (ack.stream, ack.seq, ack.count) == ("S", 7, 3)
    with pytest.raises(E.InvalidResponseError):
        parse_batch_ack(b'{"stream":"S","seq":7,"batch":"B","count":2}', "B", 3)
    for code, cls in [
        (10176, E.BatchIncompleteError),
        (10199, E.BatchTooLargeError),
        (10174, E.AtomicPublishDisabledError),
        (10071, E.WrongLastSequenceError),
        (10210, E.TooManyInflightBatchesError),
    ]:
        body = json.dumps({"error": {"code": 400, "err_code": code, "description": "d"}})
        with pytest.raises(cls):
            parse_batch_ack(body.encode(), "B", 1)
        with pytest.raises(cls):
            check_staged(body.encode())
    check_staged(b"")  # staged


# ------------------------------------------------------------- counters


def test_counter_headers_and_values() -> None:
    assert counter_headers("c.a", 5)["Nats-Incr"] == "5"
    assert counter_headers("c.a", -(10**30))["Nats-Incr"] == "-" + "1" + "0" * 30
    for bad in (True, 1.5, "3"):
        with pytest.raises(E.InvalidOptionError):
            counter_headers("c.a", bad)  # type: ignore[arg-type]
    with pytest.raises(E.InvalidOptionError):
        counter_headers("c.*", 1)
    assert parse_counter_ack(b'{"stream":"C","seq":3,"val":"12345678901234567890123"}') == (
        12345678901234567890123
    )
    with pytest.raises(E.MsgCounterDisabledError):
        parse_counter_ack(b'{"error":{"code":400,"err_code":10168,"description":"x"}}')
    with pytest.raises(E.InvalidResponseError):
        parse_counter_ack(b'{"stream":"C","seq":3}')
    assert parse_counter_value(b'{"val":"-4"}') == -4
    with pytest.raises(E.InvalidResponseError):
        parse_counter_value(b'{"val":"1e3"}')


def test_counter_entry_with_sources() -> None:
    h = Headers({"Nats-Incr": "+2", "Nats-Counter-Sources": '{"A":{"c.x":"5"},"B":{"c.x":"-1"}}'})
    entry = counter_entry(StoredMsg(subject="c.x", seq=9, data=b'{"val":"6"}', headers=h))
    assert (entry.value, entry.incr, entry.seq) == (6, 2, 9)
    assert entry.sources == {"A": {"c.x": 5}, "B": {"c.x": -1}}


def test_check_counter_stream() -> None:
    check_counter_stream(StreamInfo(config=StreamConfig(name="C", allow_msg_counter=True)))
    with pytest.raises(E.MsgCounterDisabledError) as exc:
        check_counter_stream(StreamInfo(config=StreamConfig(name="P")))
    assert exc.value.err_code == 10168


# ------------------------------------------------------------ schedules


def test_schedule_patterns() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, 250000, tzinfo=timezone(timedelta(hours=2)))
    assert schedule_pattern(at=at) == "@at 2030-01-02T01:04:05.25Z"
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert schedule_pattern(delay=90, now=now) == "@at 2030-01-01T00:01:30Z"
    assert schedule_pattern(every=timedelta(minutes=5)) == "@every 5m0s"
    assert schedule_pattern(cron="0 */5 * * * *") == "0 */5 * * * *"
    assert schedule_pattern(cron="@hourly") == "@hourly"
    for kwargs in [
        {},
        {"at": at, "every": 5},
        {"at": datetime(2030, 1, 1)},  # naive
        {"every": 0.5},
        {"cron": "* * * * *"},  # five fields
        {"delay": 5},  # no now
        {"delay": -1, "now": now},
    ]:
        with pytest.raises(E.InvalidOptionError):
            schedule_pattern(**kwargs)  # type: ignore[arg-type]


def test_schedule_headers() -> None:
    h = schedule_headers("sch.a", "@every 1s", "out.a", ttl=5, headers={"X": "1"})
    assert h["Nats-Schedule"] == "@every 1s" and h["Nats-Schedule-Target"] == "out.a"
    assert h["Nats-Schedule-TTL"] == "5s" and h["X"] == "1"
    h = schedule_headers("sch.a", "0 0 * * * *", "out.a", time_zone="Europe/Paris", rollup="sub")
    assert h["Nats-Schedule-Time-Zone"] == "Europe/Paris" and h["Nats-Schedule-Rollup"] == "sub"
    for args, kwargs in [
        (("sch.a", "@hourly", "sch.a"), {}),  # target is itself
        (("sch.a", "@hourly", "out.*"), {}),  # not literal
        (("sch.a", "@every 1s", "out.a"), {"time_zone": "UTC"}),  # tz only for cron
        (("sch.a", "@hourly", "out.a"), {"rollup": "all"}),
        (("sch.a", "@hourly", "out.a"), {"ttl": 0.5}),
        (("sch.a", "@hourly", "out.a"), {"source": "sch.a"}),
    ]:
        with pytest.raises(E.InvalidOptionError):
            schedule_headers(*args, **kwargs)  # type: ignore[arg-type]
