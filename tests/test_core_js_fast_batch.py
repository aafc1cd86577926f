"""Fast-ingest batch publish state (nats_core.jetstream.fast_batch), no network:
reply subjects as nats-server 2.14 parses them, flow control, pings for a
lost acknowledgement, timeouts, the final acknowledgement and the typed errors."""

from __future__ import annotations

import json

import pytest

from nats_core import Headers, Msg
from nats_core.jetstream.batch import BatchAck
from nats_core.jetstream.errors import (
    BatchPublishDisabledError,
    FastBatchAckTimeoutError,
    FastBatchCommitLostError,
    FastBatchEndedError,
    InvalidOptionError,
    InvalidResponseError,
    TooManyInflightBatchesError,
    TooManyInflightFastBatchesError,
    UnknownBatchIdError,
    WrongLastSequenceError,
    api_error,
)
from nats_core.jetstream.fast_batch import FastBatch, FlowAck, FlowErr, FlowGap

INBOX = "_INBOX.abcdef"


def ack(seq: int, msgs: int) -> bytes:
    return json.dumps({"type": "ack", "seq": seq, "msgs": msgs}).encode()


def final(seq: int, count: int, batch: str = "abcdef") -> bytes:
    return json.dumps({"stream": "S", "seq": seq, "batch": batch, "count": count}).encode()


def error(code: int, err_code: int) -> bytes:
    return json.dumps(
        {"stream": "S", "error": {"code": code, "err_code": err_code, "description": "x"}}
    ).encode()


def started(flow: int = 10, k: int = 2, **kw: object) -> FastBatch:
    fb = FastBatch(INBOX, flow=flow, max_outstanding_acks=k, ack_timeout=3.0, **kw)  # type: ignore[arg-type]
    fb.message("s.1")
    fb.start_wait(0.0)
    assert fb.waiting
    fb.on_reply(ack(0, flow), 0.1)
    assert fb.started and fb.waiting == (flow * k == 1)
    return fb


def test_reply_subjects_follow_the_server_pattern() -> None:
    fb = FastBatch(INBOX, flow=100, ack_timeout=5)
    assert fb.batch_id == "abcdef" and fb.subscribe_subject == "_INBOX.abcdef.>"
    reply, hdrs = fb.message("orders.1")
    assert reply == "_INBOX.abcdef.100.fail.1.0.$FI" and hdrs is None
    with pytest.raises(InvalidOptionError, match="first message"):
        fb.message("orders.2")  # not before the first acknowledgement
    fb.on_reply(ack(0, 100), 0.0)
    assert fb.message("orders.2", msg_id="m2")[0] == "_INBOX.abcdef.100.fail.2.1.$FI"
    _, hdrs = fb.message("orders.3", msg_id="m3")
    assert hdrs is not None and hdrs["Nats-Msg-Id"] == "m3"
    assert fb.ping() == ("orders.1", "_INBOX.abcdef.100.fail.3.4.$FI")
    assert fb.end_marker() == ("orders.1", "_INBOX.abcdef.100.fail.4.3.$FI")
    assert fb.closed and fb.committing
    ok = FastBatch(INBOX, continue_on_gap=True)
    assert ok.message("a", commit=True)[0] == "_INBOX.abcdef.100.ok.1.2.$FI"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"flow": 0}, "flow"),
        ({"flow": 65536}, "flow"),
        ({"flow": True}, "flow"),
        ({"max_outstanding_acks": 0}, "max_outstanding"),
        ({"ack_timeout": 0}, "ack_timeout"),
    ],
)
def test_options_are_checked(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidOptionError, match=match):
        FastBatch(INBOX, **kw)  # type: ignore[arg-type]


def test_batch_id_is_the_inbox_last_token_at_most_64() -> None:
    FastBatch("_INBOX." + "x" * 64)
    with pytest.raises(InvalidOptionError):
        FastBatch("_INBOX." + "x" * 65)
    with pytest.raises(InvalidOptionError):
        FastBatch("_INBOX.")
    with pytest.raises(InvalidOptionError):
        FastBatch("a").message("bad subject")


def test_stall_past_flow_times_outstanding_acks() -> None:
    fb = started(flow=10, k=2)
    for _ in range(18):
        fb.message("s")
        assert not fb.waiting
    fb.message("s")  # 20 sent, 0 acknowledged: 10 * 2 outstanding
    assert fb.unacked == 20 and fb.waiting
    assert fb.on_reply(ack(10, 10), 1.0) == FlowAck(10, 10)
    assert fb.ack_seq == 10 and not fb.waiting
    fb.on_reply(ack(5, 10), 1.0)  # an older one changes nothing
    assert fb.ack_seq == 10
    # the server slows the publisher down: an acknowledgement every 2 messages
    fb.on_reply(ack(20, 2), 1.0)
    fb.message("s")
    fb.message("s")
    fb.message("s")
    assert not fb.waiting
    fb.message("s")
    assert fb.waiting and fb.flow == 2


def test_a_lost_ack_is_requested_again_by_a_ping() -> None:
    fb = started(flow=10, k=1)
    for _ in range(9):
        fb.message("s")
    assert fb.waiting  # 10 unacknowledged; the server's ack for 10 is lost
    fb.start_wait(10.0)
    assert fb.wake_at == pytest.approx(11.0)  # a third of the 3 s timeout
    assert fb.on_timeout(10.5) is None
    assert fb.on_timeout(11.0) == ("s.1", "_INBOX.abcdef.10.fail.10.4.$FI")
    assert fb.wake_at == pytest.approx(12.0)
    fb.on_reply(ack(10, 10), 11.1)  # the server answers the ping
    assert not fb.waiting and fb.ack_seq == 10


def test_no_progress_within_the_ack_timeout_raises_and_closes() -> None:
    fb = started(flow=2, k=1)
    fb.message("s")
    assert fb.waiting
    fb.start_wait(0.0)
    assert fb.on_timeout(1.0) is not None
    fb.on_reply(ack(0, 2), 1.5)  # a ping's answer without progress keeps the deadline
    assert fb.on_timeout(2.0) is not None
    with pytest.raises(FastBatchAckTimeoutError) as info:
        fb.on_timeout(3.0)
    assert isinstance(info.value, TimeoutError)
    assert (info.value.seq, info.value.ack_seq) == (2, 0)
    assert fb.closed and not fb.waiting
    with pytest.raises(FastBatchAckTimeoutError):
        fb.message("s")


def test_progress_moves_the_deadline() -> None:
    fb = started(flow=2, k=1)
    fb.message("s")
    fb.start_wait(0.0)
    fb.on_reply(ack(2, 1), 2.9)
    fb.message("s")
    assert fb.waiting
    assert fb.on_timeout(3.5) is None  # the ping is due at 3.9, the deadline at 5.9
    assert fb.on_timeout(4.0) is not None
    with pytest.raises(FastBatchAckTimeoutError):
        fb.on_timeout(5.9)


def test_first_message_never_pings_and_times_out() -> None:
    fb = FastBatch(INBOX, ack_timeout=3)
    fb.message("s")
    fb.start_wait(0.0)
    assert fb.wake_at == 3.0
    assert fb.on_timeout(2.0) is None
    with pytest.raises(FastBatchAckTimeoutError, match="first message"):
        fb.on_timeout(3.0)


def test_first_message_refused_raises_the_typed_error() -> None:
    fb = FastBatch(INBOX)
    fb.message("s")
    assert fb.on_reply(error(400, 10205), 0.0) is None
    assert fb.closed and not fb.waiting
    with pytest.raises(BatchPublishDisabledError):
        fb.check()
    fb2 = FastBatch(INBOX)
    fb2.message("s", expected_last_seq=9)
    fb2.on_reply(error(400, 10071), 0.0)
    with pytest.raises(WrongLastSequenceError):
        fb2.message("s")


def test_too_many_inflight_is_a_429_batch_error() -> None:
    err = api_error(429, 10211)
    assert isinstance(err, TooManyInflightFastBatchesError)
    assert isinstance(err, TooManyInflightBatchesError)
    assert isinstance(api_error(400, 10208), UnknownBatchIdError)


def test_no_responders_is_no_stream() -> None:
    fb = FastBatch(INBOX)
    fb.message("s")
    fb.on_reply(Msg("x", headers=Headers(status=503, description="No Responders")), 0.0)
    with pytest.raises(Exception, match="no stream"):
        fb.check()


def test_commit_returns_the_final_ack() -> None:
    fb = started(flow=10)
    fb.message("s")
    fb.message("s", commit=True)
    assert fb.closed and fb.waiting
    fb.start_wait(5.0)
    assert fb.on_timeout(6.0) == ("s.1", "_INBOX.abcdef.10.fail.3.4.$FI")
    fb.on_reply(ack(0, 10), 6.1)  # the ping's answer while the commit is pending
    assert fb.waiting
    got = fb.on_reply(final(42, 3), 6.2)
    assert isinstance(got, BatchAck) and not fb.waiting
    assert fb.result() == got and (got.seq, got.count, got.batch) == (42, 3, "abcdef")
    with pytest.raises(FastBatchEndedError, match="already ended"):
        fb.message("s")


def test_one_message_commit_and_eob() -> None:
    fb = FastBatch(INBOX)
    assert fb.message("s", commit=True)[0].endswith(".1.2.$FI")
    fb.start_wait(0.0)
    assert fb.wake_at == fb.ack_timeout  # no ping before anything was acknowledged
    fb.on_reply(final(1, 1), 0.1)
    assert fb.result().count == 1
    with pytest.raises(InvalidOptionError, match="empty"):
        FastBatch(INBOX).end_marker()


def test_gap_fail_ends_the_batch_before_the_commit() -> None:
    fb = started(flow=10)
    for _ in range(4):
        fb.message("s")
    gap = fb.on_reply(json.dumps({"type": "gap", "last_seq": 3, "seq": 5}).encode(), 1.0)
    assert gap == FlowGap(3, 5) and fb.gaps == [gap]
    fb.on_reply(final(7, 2), 1.0)  # the server committed what it had
    assert fb.closed and not fb.waiting
    with pytest.raises(FastBatchEndedError, match="lost") as info:
        fb.message("s")
    assert info.value.ack is not None and info.value.ack.count == 2


def test_err_fail_ends_the_batch_with_its_cause() -> None:
    fb = started(flow=10)
    fb.message("s")
    body = {"type": "err", "seq": 2, "error": {"code": 400, "err_code": 10071}}
    err = fb.on_reply(json.dumps(body).encode(), 1.0)
    assert isinstance(err, FlowErr) and isinstance(err.error, WrongLastSequenceError)
    fb.message("s", commit=True)  # sent before the end was seen
    fb.on_reply(final(7, 1), 1.0)
    with pytest.raises(FastBatchEndedError, match="failed a check") as info:
        fb.result()
    assert isinstance(info.value.cause, WrongLastSequenceError)


def test_gap_ok_goes_on_and_reports() -> None:
    fb = started(flow=10, continue_on_gap=True)
    fb.message("s")
    fb.on_reply(json.dumps({"type": "gap", "last_seq": 2, "seq": 3}).encode(), 1.0)
    assert not fb.closed
    fb.message("s", commit=True)
    fb.on_reply(final(9, 4), 1.0)
    assert fb.result().count == 4 and len(fb.gaps) == 1


def test_commit_ack_lost_after_ping_is_its_own_error() -> None:
    fb = started(flow=10)
    fb.message("s", commit=True)
    fb.start_wait(0.0)
    assert fb.on_timeout(1.0) is not None
    fb.on_reply(error(400, 10208), 1.1)
    with pytest.raises(FastBatchCommitLostError):
        fb.result()


def test_bad_replies() -> None:
    for body in (b"not json", b"[1]", b'{"type":"ack","seq":-1,"msgs":1}'):
        fb = FastBatch(INBOX)
        fb.message("s")
        fb.on_reply(body, 0.0)
        with pytest.raises(InvalidResponseError):
            fb.check()
    fb = started()
    assert fb.on_reply(b'{"type":"future"}', 0.0) is None and not fb.closed
    fb.message("s", commit=True)
    fb.on_reply(final(1, 2, batch="other"), 0.0)
    with pytest.raises(InvalidResponseError):
        fb.result()


def test_gap_ok_refused_messages_do_not_hold_the_window() -> None:
    fb = started(flow=1, k=1, continue_on_gap=True)
    fb.on_reply(ack(1, 1), 0.2)
    fb.message("s")  # 2: refused; the server will never acknowledge it
    assert fb.waiting
    body = {"type": "err", "seq": 2, "error": {"code": 400, "err_code": 10071}}
    fb.on_reply(json.dumps(body).encode(), 0.3)
    assert not fb.waiting and fb.unacked == 0
    fb.message("s")  # 3: persisted, acknowledged as 3
    assert fb.waiting
    fb.on_reply(ack(3, 1), 0.4)
    assert not fb.waiting and fb.unacked == 0
