"""Pull consumers: pull requests, the consume state machine, the fetch state machine."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Headers, Msg
from nats_core._headers import decode_headers, encode_headers
from nats_core.jetstream import (
    ConsumerDeletedError,
    ConsumerNotFoundError,
    FetchState,
    InvalidOptionError,
    JSApi,
    LeadershipChangedError,
    MissedHeartbeatError,
    NotPullConsumerError,
    PullBadRequestError,
    PullConsumeState,
    PullOutcome,
    PullRequest,
    PullRequestRejectedError,
    PullStatusError,
    ServerShutdownError,
    msg_size,
    next_request,
)
from nats_core.jetstream.pull import LOST_PULL_RETRY_FIRST, LOST_PULL_RETRY_MAX

INBOX = "_INBOX.pull.x"

# ---------------------------------------------------------------- helpers


def user(seq: int = 1, data: bytes = b"hello", headers: Headers | None = None) -> Msg:
    reply = f"$JS.ACK.S.C.1.{seq}.{seq}.1700000000000000000.0"
    return Msg("orders.new", reply, data, headers, 1)


def status(code: int, desc: str = "", reply: str = "", **hdrs: str) -> Msg:
    h = Headers({k.replace("_", "-"): v for k, v in hdrs.items()}, status=code, description=desc)
    return Msg(INBOX, reply, b"", h, 1)


def heartbeat() -> Msg:
    return status(100, "Idle Heartbeat", Nats_Last_Consumer="1", Nats_Last_Stream="3")


def timeout(msgs: int, nbytes: int = 0) -> Msg:
    return status(
        408, "Request Timeout", Nats_Pending_Messages=str(msgs), Nats_Pending_Bytes=str(nbytes)
    )


def wire(raw_hdr: str | None, data: bytes, subject: str = INBOX, reply: str = "") -> Msg:
    """A message as captured from nats-server 2.14."""
    h = decode_headers(raw_hdr.encode()) if raw_hdr else None
    return Msg(subject, reply, data, h, 1)


# ------------------------------------------------------------ pull requests


def test_pull_request_json() -> None:
    req = PullRequest(batch=10, expires=30.0, max_bytes=1024, idle_heartbeat=15.0)
    assert req.to_json() == {
        "batch": 10,
        "expires": 30_000_000_000,
        "max_bytes": 1024,
        "idle_heartbeat": 15_000_000_000,
    }
    assert json.loads(req.payload()) == req.to_json()
    assert b" " not in req.payload()
    assert PullRequest(batch=1, no_wait=True).to_json() == {"batch": 1, "no_wait": True}
    prio = PullRequest(
        batch=1, group="g", min_pending=5, min_ack_pending=2, priority=1, pin_id="pin"
    )
    assert prio.to_json() == {
        "batch": 1,
        "group": "g",
        "min_pending": 5,
        "min_ack_pending": 2,
        "priority": 1,
        "id": "pin",
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch": 0},
        {"batch": True},
        {"batch": 1, "max_bytes": 0},
        {"batch": 1, "expires": 0},
        {"batch": 1, "expires": -1.0},
        {"batch": 1, "expires": float("inf")},
        {"batch": 1, "idle_heartbeat": 1.0},  # needs expires
        {"batch": 1, "expires": 10.0, "idle_heartbeat": 5.1},  # more than half
        {"batch": 1, "expires": 10.0, "idle_heartbeat": 0},
    ],
)
def test_pull_request_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError):
        PullRequest(**kwargs)


def test_next_request() -> None:
    req = next_request("S", "C", PullRequest(batch=5, expires=1.0))
    assert req.subject == "$JS.API.CONSUMER.MSG.NEXT.S.C"
    assert json.loads(req.payload) == {"batch": 5, "expires": 1_000_000_000}
    hub = next_request("S", "C", PullRequest(batch=1), api=JSApi(domain="hub"))
    assert hub.subject == "$JS.hub.API.CONSUMER.MSG.NEXT.S.C"


def test_msg_size_counts_subject_reply_headers_and_data() -> None:
    m = user(1, b"hello")
    assert msg_size(m) == len("orders.new") + len(m.reply) + 5
    h = Headers({"Foo": "bar"})
    mh = user(1, b"hi", h)
    assert msg_size(mh) == len("orders.new") + len(mh.reply) + 2 + len(encode_headers(h))


# ------------------------------------------------------------------ consume


def test_consume_defaults() -> None:
    c = PullConsumeState()
    assert (c.max_messages, c.max_bytes, c.expires, c.idle_heartbeat) == (500, 0, 30.0, 15.0)
    assert c.threshold_messages == 250
    req = c.start(now=100.0)
    assert req == PullRequest(batch=500, expires=30.0, idle_heartbeat=15.0)
    assert c.pending_msgs == 500 and c.deadline == 130.0
    assert PullConsumeState(expires=120).idle_heartbeat == 30.0  # capped
    assert PullConsumeState(expires=timedelta(seconds=4)).idle_heartbeat == 2.0
    assert PullConsumeState(ordered=True).idle_heartbeat == 5.0
    assert PullConsumeState(ordered=True, expires=6).idle_heartbeat == 3.0
    assert PullConsumeState(max_messages=7).threshold_messages == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_messages": 10, "max_bytes": 100},
        {"max_messages": 0},
        {"max_bytes": 0},
        {"expires": 0.5},
        {"expires": "30s"},
        {"idle_heartbeat": 0.1},
        {"idle_heartbeat": 31},
        {"expires": 2, "idle_heartbeat": 1.5},
        {"max_messages": 10, "threshold_messages": 11},
        {"max_messages": 10, "threshold_messages": 0},
        {"max_bytes": 100, "threshold_bytes": 101},
    ],
)
def test_consume_option_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError):
        PullConsumeState(**kwargs)


def test_consume_refills_at_threshold() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0.0)
    for i in range(1, 6):
        out = c.on_msg(user(i), now=float(i))
        assert out.deliver and out.pull is None and out.error is None
    assert c.pending_msgs == 5
    out = c.on_msg(user(6), now=6.0)  # 4 pending < threshold 5
    assert out.deliver
    assert out.pull == PullRequest(batch=6, expires=30.0, idle_heartbeat=15.0)
    assert c.pending_msgs == 10 and c.delivered == 6


def test_consume_with_one_message_buffer_never_stalls() -> None:
    c = PullConsumeState(max_messages=1)
    assert c.threshold_messages == 1
    assert c.start(now=0).batch == 1
    for i in range(1, 4):
        out = c.on_msg(user(i), now=i)
        assert out.deliver and out.pull is not None and out.pull.batch == 1


def test_consume_custom_threshold() -> None:
    c = PullConsumeState(max_messages=10, threshold_messages=2)
    c.start(now=0)
    pulls = [c.on_msg(user(i), now=0).pull for i in range(1, 10)]
    assert [p.batch if p else None for p in pulls] == [None] * 8 + [9]


def test_consume_pending_from_status_headers() -> None:
    """The exchange nats-server 2.14 sent for a 5-message pull that got one message."""
    c = PullConsumeState(max_messages=5, expires=1.2, idle_heartbeat=0.5)
    c.start(now=0.0)
    hb = wire(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\nNats-Last-Stream: 3\r\n\r\n", b""
    )
    out = c.on_msg(hb, now=0.5)
    assert not out.deliver and out.pull is None and out.status is not None
    assert out.status.last_stream == 3
    assert c.deadline == 1.5
    msg = wire(
        "NATS/1.0\r\nNats-Msg-Id: a1\r\nFoo: bar\r\n\r\n",
        b"hello",
        subject="orders.new",
        reply="$JS.ACK.ORDERS.proc.2.1.2.1795765547390656323.0",
    )
    out = c.on_msg(msg, now=0.6)
    assert out.deliver and out.pull is None and c.pending_msgs == 4
    end = wire(
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: 0\r\n\r\n",
        b"",
    )
    out = c.on_msg(end, now=1.2)
    assert not out.deliver and out.error is None and not out.done  # not telegraphed
    assert out.pull == PullRequest(batch=5, expires=1.2, idle_heartbeat=0.5)
    assert c.pending_msgs == 5


def test_consume_heartbeat_miss() -> None:
    c = PullConsumeState(max_messages=10, expires=10, idle_heartbeat=1)
    c.start(now=0.0)
    for i in range(1, 4):
        c.on_msg(user(i), now=0.5)
    assert c.pending_msgs == 7
    assert c.deadline == 2.5
    assert c.check(2.4) is None
    c.on_msg(heartbeat(), now=2.0)  # heartbeats push the deadline
    assert c.deadline == 4.0 and c.check(3.9) is None
    out = c.check(4.0)
    assert out is not None and isinstance(out.error, MissedHeartbeatError)
    assert not out.done and not out.deliver
    assert out.pull == PullRequest(batch=10, expires=10, idle_heartbeat=1)
    assert c.pending_msgs == 10 and c.deadline == 6.0
    assert "2s" in str(out.error)


def test_consume_terminal_statuses() -> None:
    for code, desc, cls in [
        (409, "Consumer Deleted", ConsumerDeletedError),
        (409, "Consumer is push based", NotPullConsumerError),
        (400, "Bad Request", PullBadRequestError),
    ]:
        c = PullConsumeState(max_messages=4)
        c.start(now=0)
        out = c.on_msg(status(code, desc), now=1)
        assert out.done and isinstance(out.error, cls) and out.pull is None
        assert c.done and c.error is out.error and c.deadline is None
        assert c.check(1e9) is None
        late = c.on_msg(user(1), now=2)
        assert late.done and not late.deliver
        assert c.on_reconnect(now=3) is None


def test_consume_leadership_change_repulls_at_once() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    out = c.on_msg(status(409, "Leadership Change"), now=1)
    assert isinstance(out.error, LeadershipChangedError) and not out.done
    assert out.pull is not None and out.pull.batch == 10


def test_consume_pin_mismatch_repulls_quietly() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    out = c.on_msg(status(423, "Nats-Wrong-Pin-Id"), now=1)
    assert out.error is None and out.pull is not None and out.pull.batch == 10


def test_consume_warnings() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    out = c.on_msg(status(409, "Exceeded MaxWaiting"), now=1)
    assert isinstance(out.error, PullRequestRejectedError) and not out.done
    # no pending headers: the buffer still counts as requested, no hot re-pull loop
    assert out.pull is None and c.pending_msgs == 10 and not c.retrying


# ------------------------------------------------- lost pulls (leader failover)


def no_responders() -> Msg:
    return status(503)


@pytest.mark.parametrize(
    ("msg", "cls"),
    [(no_responders(), PullStatusError), (status(409, "Server Shutdown"), ServerShutdownError)],
)
def test_consume_lost_pull_is_pulled_again_after_a_short_backoff(
    msg: Msg, cls: type[Exception]
) -> None:
    c = PullConsumeState(max_messages=10, expires=5)  # heartbeat 2.5 s
    c.start(now=0)
    c.on_msg(user(1), now=0.5)
    out = c.on_msg(msg, now=1.0)
    assert type(out.error) is cls and not out.done and out.pull is None
    assert c.pending_msgs == 0 and c.retrying
    # the retry, not the heartbeat watch (nothing holds a pull to send heartbeats)
    assert c.deadline == pytest.approx(1.0 + LOST_PULL_RETRY_FIRST)
    assert c.check(1.05) is None
    again = c.check(1.1)
    assert again is not None and again.error is None
    assert again.pull == PullRequest(batch=10, expires=5, idle_heartbeat=2.5)
    # a 503 is no heartbeat: the watch still runs from the last message
    assert not c.retrying and c.pending_msgs == 10 and c.deadline == pytest.approx(5.5)


def test_consume_no_leader_backoff_doubles_up_to_a_bound_and_reports_once() -> None:
    c = PullConsumeState(max_messages=10, expires=30)  # heartbeat 15 s
    c.start(now=0)
    t, waits, errors = 0.0, [], []
    for _ in range(8):  # no consumer leader for a while: every pull answered 503
        out = c.on_msg(no_responders(), now=t)
        errors.append(out.error)
        assert c.deadline is not None
        waits.append(round(c.deadline - t, 3))
        t = c.deadline
        again = c.check(t)
        assert again is not None and again.pull is not None and again.error is None
    assert waits == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert errors[0] is not None and errors[0].status == 503  # type: ignore[attr-defined]
    assert "no leader" in str(errors[0])
    assert errors[1:] == [None] * 7
    # the new leader took the pull: its heartbeat (or a message) ends the series
    c.on_msg(heartbeat(), now=t + 0.01)
    assert not c.retrying and c.deadline == pytest.approx(t + 0.01 + 30)
    out = c.on_msg(no_responders(), now=t + 1)
    assert out.error is not None and c.deadline == pytest.approx(t + 1 + LOST_PULL_RETRY_FIRST)


def test_consume_retry_bound_is_half_a_short_heartbeat() -> None:
    c = PullConsumeState(max_messages=10, expires=1, idle_heartbeat=0.5)
    assert [c.retry_delay(n) for n in (1, 2, 3, 4, 50)] == [0.1, 0.2, 0.25, 0.25, 0.25]
    assert LOST_PULL_RETRY_MAX == 0.5


def test_consume_no_leader_for_long_still_reports_missed_heartbeats() -> None:
    """Retries are quiet, but two heartbeat intervals without a sign of the
    consumer still give MissedHeartbeatError, every two intervals."""
    c = PullConsumeState(max_messages=10, expires=2)  # heartbeat 1 s
    c.start(now=0)
    t, missed = 0.0, []
    c.on_msg(no_responders(), now=t)
    while t < 7:
        t = c.deadline  # type: ignore[assignment]
        out = c.check(t)
        assert out is not None and out.pull is not None
        if isinstance(out.error, MissedHeartbeatError):
            missed.append(round(t, 3))
        else:
            assert out.error is None
        c.on_msg(no_responders(), now=t)
    assert missed == [2.0, 4.0, 6.0]


def test_consume_resumes_within_two_heartbeats_of_a_new_leader() -> None:
    """Whenever the leader comes back (the pulls stop getting 503s), the next pull
    reaches it well within two heartbeat intervals."""
    for hb in (0.5, 1.0, 2.5, 15.0):
        for elected in (0.05, 0.33, 1.7, 4.2, 9.99, 31.0):
            c = PullConsumeState(max_messages=10, expires=2 * hb)
            c.start(now=0)
            t = 0.0
            c.on_msg(no_responders(), now=t)  # the pull after the kill: no leader
            while True:
                t = c.deadline  # type: ignore[assignment]
                out = c.check(t)
                assert out is not None and out.pull is not None
                if t >= elected:
                    break  # this pull reached the new leader
                c.on_msg(no_responders(), now=t)
            assert t - elected <= min(LOST_PULL_RETRY_MAX, hb / 2) + 1e-9 < 2 * hb


def test_consume_no_refill_while_waiting_to_pull_again() -> None:
    c = PullConsumeState(max_messages=4)
    c.start(now=0)
    c.on_msg(no_responders(), now=1)
    for i in range(1, 4):  # messages already under way are delivered, no pull is made
        out = c.on_msg(user(i), now=1.01)
        assert out.deliver and out.pull is None
    assert c.retrying and c.deadline == pytest.approx(1.1)


def test_consume_leadership_change_after_no_leader() -> None:
    """409 Leadership Change pulls again at once and keeps the backoff step (a
    leader is settling); a reconnect pulls at once too and cancels the wait."""
    c = PullConsumeState(max_messages=10, expires=10)
    c.start(now=0)
    c.on_msg(no_responders(), now=1)
    c.check(1.1)
    out = c.on_msg(status(409, "Leadership Change"), now=1.2)
    assert isinstance(out.error, LeadershipChangedError) and out.pull is not None
    out = c.on_msg(no_responders(), now=1.3)
    assert out.error is None and c.deadline == pytest.approx(1.5)  # second step: 0.2 s
    c.on_disconnect()
    assert c.deadline is None and c.check(1e9) is None
    c.on_msg(no_responders(), now=1.4)  # late, from the old connection: the reconnect pulls
    assert c.deadline is None
    req = c.on_reconnect(now=2.0)
    assert req is not None and req.batch == 10
    assert not c.retrying and c.deadline == pytest.approx(12.0)


def test_consume_no_leader_after_missed_heartbeats() -> None:
    """The leader died holding our pull: two missed heartbeats pull again; the
    pull finds no leader; the backoff takes over until one is elected."""
    c = PullConsumeState(max_messages=10, expires=5)
    c.start(now=0)
    out = c.check(5.0)
    assert out is not None and isinstance(out.error, MissedHeartbeatError)
    c.on_msg(no_responders(), now=5.01)
    assert c.deadline == pytest.approx(5.11)
    assert c.check(5.11) is not None
    assert c.on_msg(user(1), now=5.2).deliver
    assert not c.retrying and c.deadline == pytest.approx(10.2)


def test_consume_stop_while_waiting_to_pull_again() -> None:
    c = PullConsumeState()
    c.start(now=0)
    c.on_msg(no_responders(), now=1)
    c.stop()
    assert not c.retrying and c.deadline is None and c.check(1e9) is None


def test_consume_quiet_statuses() -> None:
    for msg in (
        status(404, "No Messages"),
        status(408, "Interest Expired", Nats_Pending_Messages="10", Nats_Pending_Bytes="0"),
        status(409, "Message Size Exceeds MaxBytes", Nats_Pending_Messages="3"),
        status(409, "Batch Completed"),
    ):
        c = PullConsumeState(max_messages=10)
        c.start(now=0)
        out = c.on_msg(msg, now=1)
        assert out.error is None and not out.done and not out.deliver


def test_consume_flow_control_needs_a_reply() -> None:
    c = PullConsumeState()
    c.start(now=0)
    out = c.on_msg(status(100, "FlowControl Request", reply="$JS.FC.S.C.1"), now=1)
    assert out.respond_to == "$JS.FC.S.C.1" and not out.deliver


def test_consume_by_bytes() -> None:
    c = PullConsumeState(max_bytes=1000)
    assert c.max_messages == 1_000_000 and c.threshold_bytes == 500
    req = c.start(now=0)
    assert (req.batch, req.max_bytes) == (1_000_000, 1000)
    out = c.on_msg(user(1, b"x" * 200), now=0, size=300)
    assert out.deliver and out.pull is None and c.pending_bytes == 700
    out = c.on_msg(user(2, b"x" * 200), now=0, size=300)
    assert out.pull is not None  # 400 < 500
    assert (out.pull.batch, out.pull.max_bytes) == (1_000_000, 600)
    assert c.pending_bytes == 1000
    m = user(3, b"y" * 50)
    c.on_msg(m, now=0)  # size computed
    assert c.pending_bytes == 1000 - msg_size(m)
    out = c.on_msg(timeout(0, 600), now=1)
    assert out.pull is not None and out.pull.max_bytes == 600 + msg_size(m)


def test_consume_disconnect_and_reconnect() -> None:
    c = PullConsumeState(max_messages=4, expires=10, idle_heartbeat=2)
    c.start(now=0)
    c.on_disconnect()
    assert c.deadline is None and c.check(1e9) is None
    for i in range(1, 4):  # messages already in flight are still delivered
        out = c.on_msg(user(i), now=1)
        assert out.deliver and out.pull is None  # no pulls while disconnected
    req = c.on_reconnect(now=50.0)
    assert req == PullRequest(batch=4, expires=10, idle_heartbeat=2)
    assert c.pending_msgs == 4 and c.deadline == 54.0


def test_consume_stop() -> None:
    c = PullConsumeState()
    c.start(now=0)
    c.stop()
    assert c.done and c.deadline is None
    out = c.on_msg(user(1), now=1)
    assert out.done and not out.deliver
    with pytest.raises(InvalidOptionError):
        c.start(now=2)


@given(
    max_messages=st.integers(min_value=1, max_value=50),
    events=st.lists(
        st.one_of(
            st.just("msg"),
            st.just("hb"),
            st.just("503"),
            st.just("tick"),
            st.integers(min_value=0, max_value=60).map(lambda n: ("timeout", n)),
        ),
        max_size=200,
    ),
)
def test_consume_pending_invariants(max_messages: int, events: list[Any]) -> None:
    """Whatever arrives, pending stays within [0, max] and a pull is asked for
    exactly when pending dropped below the threshold (or, after a lost pull,
    when the backoff ends)."""
    c = PullConsumeState(max_messages=max_messages)
    c.start(now=0)
    t = 0.0
    for ev in events:
        t += 0.01
        if ev == "msg":
            out = c.on_msg(user(1), now=t)
        elif ev == "hb":
            out = c.on_msg(heartbeat(), now=t)
        elif ev == "503":
            out = c.on_msg(no_responders(), now=t)
        elif ev == "tick":
            t = c.deadline or t
            out = c.check(t) or PullOutcome()
        else:
            out = c.on_msg(timeout(ev[1]), now=t)
        assert 0 <= c.pending_msgs <= max_messages
        assert c.pending_msgs >= c.threshold_messages or out.pull is not None or c.retrying
        assert c.deadline is not None  # a timer always runs: heartbeats or a retry
        if out.pull is not None:
            assert c.pending_msgs == max_messages
            assert 1 <= out.pull.batch <= max_messages


# -------------------------------------------------------------------- fetch


def test_fetch_defaults() -> None:
    f = FetchState(now=10.0)
    assert f.request == PullRequest(batch=1, expires=30.0, idle_heartbeat=5.0)
    assert f.deadline == 20.0  # heartbeat deadline first
    short = FetchState(5, expires=5, now=0)
    assert short.request == PullRequest(batch=5, expires=5.0)
    assert short.deadline == 6.0  # expires + 1 s of client slack
    nw = FetchState(3, no_wait=True, now=0)
    assert nw.request == PullRequest(batch=3, no_wait=True)
    assert nw.deadline == 1.0
    by_bytes = FetchState(max_bytes=2048, now=0)
    assert (by_bytes.request.batch, by_bytes.request.max_bytes) == (1_000_000, 2048)
    with pytest.raises(InvalidOptionError):
        FetchState(1, expires=4, idle_heartbeat=3, now=0)
    with pytest.raises(InvalidOptionError):
        FetchState(0, now=0)


def test_fetch_batch_filled() -> None:
    f = FetchState(3, expires=5, now=0)
    outs = [f.on_msg(user(i), now=1) for i in range(1, 4)]
    assert [o.deliver for o in outs] == [True, True, True]
    assert [o.done for o in outs] == [False, False, True]
    assert f.done and f.error is None and f.received == 3 and f.deadline is None
    late = f.on_msg(user(4), now=2)
    assert late.done and not late.deliver


def test_fetch_no_wait_as_the_server_answers() -> None:
    """nats-server 2.14: one message then 404; 2.9.10: one message then 408."""
    for end in (
        "NATS/1.0 404 No Messages\r\n\r\n",
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\nNats-Pending-Bytes: 0\r\n\r\n",
    ):
        f = FetchState(3, no_wait=True, now=0)
        first = wire(
            "NATS/1.0\r\nNats-Msg-Id: a1\r\nFoo: bar\r\n\r\n",
            b"hello",
            subject="orders.new",
            reply="$JS.ACK.ORDERS.proc.1.1.1.1795765547390656323.0",
        )
        assert f.on_msg(first, now=0.01).deliver
        out = f.on_msg(wire(end, b""), now=0.02)
        assert out.done and out.error is None and not out.deliver
        assert f.received == 1


def test_fetch_heartbeats_and_statuses() -> None:
    f = FetchState(5, expires=20, now=0)
    assert f.deadline == 10.0
    out = f.on_msg(heartbeat(), now=8)
    assert not out.deliver and not out.done and f.deadline == 18.0
    out = f.on_msg(status(409, "Message Size Exceeds MaxBytes"), now=9)
    assert out.done and out.error is None
    for code, desc, cls in [
        (409, "Consumer Deleted", ConsumerDeletedError),
        (409, "Exceeded MaxWaiting", PullRequestRejectedError),
        (409, "Leadership Change", LeadershipChangedError),
    ]:
        g = FetchState(5, expires=20, now=0)
        out = g.on_msg(status(code, desc), now=1)
        assert out.done and isinstance(out.error, cls) and g.error is out.error


def test_fetch_max_bytes() -> None:
    f = FetchState(max_bytes=100, expires=5, now=0)
    assert not f.on_msg(user(1), now=0, size=60).done
    out = f.on_msg(user(2), now=0, size=60)
    assert out.deliver and out.done and f.received_bytes == 120


def test_fetch_expiry_and_missed_heartbeat() -> None:
    f = FetchState(5, expires=5, now=0)
    f.on_msg(user(1), now=1)
    assert f.check(5.9) is None
    out = f.check(6.0)
    assert out is not None and out.done and out.error is None  # fewer than asked: no error
    assert f.check(7.0) is None
    g = FetchState(5, expires=30, idle_heartbeat=2, now=0)
    g.on_msg(heartbeat(), now=3)
    assert g.check(6.9) is None
    out = g.check(7.0)
    assert out is not None and out.done and isinstance(out.error, MissedHeartbeatError)


def test_fetch_reconnect_repulls_what_is_missing() -> None:
    f = FetchState(5, expires=30, now=0)
    f.on_msg(user(1), now=1)
    f.on_msg(user(2), now=2)
    req = f.on_reconnect(now=10.0)
    assert req == PullRequest(batch=3, expires=20.0, idle_heartbeat=5.0)
    late = f.on_reconnect(now=22.0)  # 8 s left: heartbeat too large, dropped
    assert late == PullRequest(batch=3, expires=8.0)
    assert f.on_reconnect(now=31.0) is None and f.done
    b = FetchState(max_bytes=100, expires=30, now=0)
    b.on_msg(user(1), now=1, size=40)
    again = b.on_reconnect(now=2)
    assert again is not None and again.max_bytes == 60
    nw = FetchState(2, no_wait=True, now=0)
    assert nw.on_reconnect(now=0.5) == PullRequest(batch=2, no_wait=True)


def test_fetch_flow_control_and_stop() -> None:
    f = FetchState(2, expires=5, now=0)
    out = f.on_msg(status(100, "FlowControl Request", reply="$JS.FC.x"), now=1)
    assert out.respond_to == "$JS.FC.x" and not out.done
    f.stop()
    assert f.done and f.deadline is None and f.check(100) is None
    assert f.on_reconnect(now=2) is None


# ------------------------------------------------------------------- drain


def test_drain_pulls_no_more_and_ends_with_the_last_pending_message() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    for i in range(1, 4):
        c.on_msg(user(i), now=0.1)
    assert c.drain() == PullOutcome() and c.draining and not c.done
    for i in range(4, 10):  # below the threshold: no refill while draining
        out = c.on_msg(user(i), now=0.2)
        assert out == PullOutcome(deliver=True)
    out = c.on_msg(user(10), now=0.3)
    assert out == PullOutcome(deliver=True, done=True)  # delivered, and the end
    assert c.done and c.drained and c.error is None and c.deadline is None
    assert c.on_msg(user(11), now=0.4) == PullOutcome(done=True)  # nothing after the end
    assert c.on_reconnect(now=1) is None


def test_drain_with_nothing_pending_ends_at_once() -> None:
    c = PullConsumeState(max_messages=2)  # not started: nothing in flight
    assert c.drain() == PullOutcome(done=True) and c.drained
    assert c.drain() == PullOutcome(done=True)  # idempotent
    with pytest.raises(InvalidOptionError):
        c.start(now=2)


def test_drain_ends_with_the_status_that_ends_the_last_pull() -> None:
    c = PullConsumeState(max_messages=10, expires=5)
    c.start(now=0)
    c.on_msg(user(1), now=0.1)
    c.drain()
    c.on_msg(heartbeat(), now=2)
    out = c.on_msg(user(2), now=2.5)
    assert out == PullOutcome(deliver=True)
    out = c.on_msg(timeout(8), now=5)
    assert out.done and out.error is None and out.pull is None and out.status is not None
    assert c.drained


def test_drain_by_bytes_ends_when_the_byte_budget_is_spent() -> None:
    c = PullConsumeState(max_bytes=1000)
    c.start(now=0)
    c.drain()
    assert not c.on_msg(user(1), now=0, size=600).done
    out = c.on_msg(user(2), now=0, size=400)
    assert out == PullOutcome(deliver=True, done=True)


@pytest.mark.parametrize(
    "lose",
    [
        lambda c: c.on_msg(no_responders(), now=1),
        lambda c: c.on_msg(status(409, "Server Shutdown"), now=1),
        lambda c: c.on_msg(status(409, "Leadership Change"), now=1),
        lambda c: c.check(c.deadline),  # two missed heartbeats
    ],
)
def test_drain_ends_quietly_when_the_pulls_are_lost(lose: Any) -> None:
    c = PullConsumeState(max_messages=10, expires=4)
    c.start(now=0)
    c.drain()
    out = lose(c)
    assert out is not None and out.done and out.error is None and out.pull is None
    assert not out.check_consumer and c.drained and c.deadline is None


def test_drain_after_a_disconnect_or_while_waiting_to_pull_again() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    c.drain()
    c.on_disconnect()  # the pulls in flight are gone with the connection
    assert c.drained and c.on_reconnect(now=1) is None

    down = PullConsumeState(max_messages=10)
    down.start(now=0)
    down.on_disconnect()
    assert down.drain() == PullOutcome(done=True)

    retrying = PullConsumeState(max_messages=10)
    retrying.start(now=0)
    retrying.on_msg(no_responders(), now=0.5)
    assert retrying.retrying
    assert retrying.drain() == PullOutcome(done=True) and not retrying.retrying


def test_drain_after_a_terminal_error_keeps_the_error() -> None:
    c = PullConsumeState()
    c.start(now=0)
    out = c.on_msg(status(409, "Consumer Deleted"), now=1)
    assert isinstance(out.error, ConsumerDeletedError)
    again = c.drain()
    assert again.done and again.error is out.error and not c.drained


# ------------------------------------------------------ a consumer gone


def test_consume_asks_to_check_the_consumer_on_503_and_missed_heartbeats() -> None:
    c = PullConsumeState(max_messages=10, expires=4)  # heartbeat 2 s
    c.start(now=0)
    out = c.on_msg(no_responders(), now=0.1)
    assert out.check_consumer and out.error is not None and not out.done
    assert "does not exist" in str(out.error)
    again = c.check(c.deadline or 0)
    assert again is not None and again.pull is not None
    later = c.on_msg(no_responders(), now=0.3)  # the same series: no new check
    assert not later.check_consumer and later.error is None
    assert not c.on_msg(status(409, "Server Shutdown"), now=5).check_consumer

    hb = PullConsumeState(max_messages=10, expires=4)
    hb.start(now=0)
    out = hb.check(4.0)
    assert out is not None and isinstance(out.error, MissedHeartbeatError)
    assert out.check_consumer and out.pull is not None
    assert not hb.on_msg(timeout(10), now=4.1).check_consumer


def test_consumer_gone_ends_the_consume_with_the_error() -> None:
    c = PullConsumeState(max_messages=10)
    c.start(now=0)
    c.on_msg(no_responders(), now=0.1)
    error = ConsumerNotFoundError(404, 10014, "consumer not found")
    out = c.consumer_gone(error)
    assert out == PullOutcome(done=True, error=error)
    assert c.done and c.error is error and c.deadline is None and not c.retrying
    assert c.on_msg(user(1), now=1) == PullOutcome(done=True, error=error)
    assert c.check(100) is None and c.on_reconnect(now=100) is None


def test_fetch_asks_to_check_the_consumer_on_503() -> None:
    f = FetchState(5, expires=10, now=0)
    out = f.on_msg(no_responders(), now=0.1)
    assert out.done and out.check_consumer and isinstance(out.error, PullStatusError)
    error = ConsumerNotFoundError(404, 10014, "consumer not found")
    assert f.consumer_gone(error) == PullOutcome(done=True, error=error)
    assert f.error is error

    other = FetchState(5, expires=10, now=0)
    assert not other.on_msg(status(409, "Consumer Deleted"), now=0.1).check_consumer
    assert not other.on_msg(timeout(5), now=0.2).check_consumer

    quiet = FetchState(5, expires=10, now=0)  # heartbeat 5 s
    out = quiet.check(10.0)
    assert out is not None and out.done and out.check_consumer
    assert isinstance(out.error, MissedHeartbeatError)
    assert quiet.consumer_gone(error).error is error
    expired = FetchState(5, expires=1, now=0)
    out = expired.check(2.0)
    assert out is not None and out.done and not out.check_consumer and out.error is None


# --------------------------------------------- the hot path (issue #17)


def test_consume_hot_path_outcomes_match_the_general_ones() -> None:
    """A data message without headers is told apart without decoding headers; the
    outcome is the plain "deliver" until the buffer falls under the threshold."""
    st = PullConsumeState(max_messages=4, expires=10.0)
    st.start(0.0)
    outs = [st.on_msg(user(i, headers=None), 1.0) for i in range(1, 4)]
    refill = PullRequest(batch=3, expires=10.0, idle_heartbeat=5.0)
    assert outs == [PullOutcome(deliver=True)] * 2 + [PullOutcome(deliver=True, pull=refill)]
    assert st.pending_msgs == 4 and st.delivered == 3
    # headers in raw form (as from the wire) on a data message: not decoded
    raw = Msg("orders.new", "$JS.ACK.S.C.1.9.9.1.0", b"x", b"NATS/1.0\r\nA: 1\r\n\r\n", 1)
    assert st.on_msg(raw, 2.0) == PullOutcome(deliver=True)
    assert type(raw._headers) is bytes
    # a status still has its own outcome
    out = st.on_msg(timeout(4), 3.0)
    assert out.status is not None and out.deliver is False
    fs = FetchState(2, expires=5.0, now=0.0)
    assert fs.on_msg(user(1), 0.0) == PullOutcome(deliver=True)
    assert fs.on_msg(user(2), 0.0) == PullOutcome(deliver=True, done=True)
