"""Request many (ADR-47): the end conditions of nats_core.request_many.RequestMany."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Headers, Msg
from nats_core.errors import ConfigError, NoRespondersError
from nats_core.request_many import (
    ReplyStatusError,
    ReplyVerdict,
    RequestMany,
    RequestManyEnd,
    standard_sentinel,
)

INBOX = "_INBOX.rm.1"


def reply(data: bytes = b"x", headers: Headers | None = None) -> Msg:
    return Msg(INBOX, "", data, headers, 1)


def status(code: int, description: str = "") -> Msg:
    return Msg(INBOX, "", b"", Headers(status=code, description=description), 1)


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": "1"},
        {"timeout": True},
        {"timeout": 1, "max_msgs": 0},
        {"timeout": 1, "max_msgs": -3},
        {"timeout": 1, "max_msgs": 1.5},
        {"timeout": 1, "max_msgs": True},
        {"timeout": 1, "stall": 0},
        {"timeout": 1, "stall": -0.5},
        {"timeout": 1, "stall": float("nan")},
        {"timeout": 1, "stall": timedelta(0)},
        {"timeout": 1, "sentinel": "empty"},
    ],
)
def test_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RequestMany(now=0.0, **kwargs)


def test_config_error_is_a_value_error_and_says_what() -> None:
    with pytest.raises(ValueError, match="max_msgs must be an int >= 1"):
        RequestMany(timeout=1, now=0, max_msgs=0)
    with pytest.raises(ValueError, match="stall must be a positive"):
        RequestMany(timeout=1, now=0, stall=0)
    with pytest.raises(ValueError, match="timeout must be"):
        RequestMany(timeout=-1, now=0)


def test_timedelta_durations() -> None:
    rm = RequestMany(timeout=timedelta(seconds=2), stall=timedelta(milliseconds=250), now=10.0)
    assert rm.timeout == 2.0 and rm.stall == 0.25
    assert rm.deadline == 12.0


# --------------------------------------------------------------- timeouts


def test_timeout_only_collects_until_the_deadline() -> None:
    rm = RequestMany(timeout=1.0, now=0.0)
    assert rm.deadline == 1.0
    assert rm.on_reply(reply(), 0.2) is ReplyVerdict.YIELD
    assert rm.on_reply(reply(), 0.9) is ReplyVerdict.YIELD
    assert rm.deadline == 1.0  # no stall: the total timeout only
    assert not rm.expired(0.99)
    assert rm.expired(1.0)
    assert rm.done and rm.reason is RequestManyEnd.TIMEOUT and rm.error is None
    assert rm.deadline is None
    assert rm.received == 2


def test_no_reply_at_all_ends_on_the_timeout() -> None:
    rm = RequestMany(timeout=0.5, stall=0.1, now=3.0)
    assert rm.deadline == 3.5  # the first reply gets the whole timeout
    assert not rm.expired(3.4)
    assert rm.expired(3.5)
    assert rm.reason is RequestManyEnd.TIMEOUT and rm.received == 0


def test_a_reply_at_or_after_the_deadline_is_not_given() -> None:
    rm = RequestMany(timeout=1.0, now=0.0)
    assert rm.on_reply(reply(), 1.0) is ReplyVerdict.END_BEFORE
    assert rm.reason is RequestManyEnd.TIMEOUT and rm.received == 0


def test_zero_timeout_ends_at_once() -> None:
    rm = RequestMany(timeout=0, now=5.0)
    assert rm.deadline == 5.0
    assert rm.expired(5.0)


# ------------------------------------------------------------------ stall


def test_stall_clock_starts_at_the_first_reply() -> None:
    rm = RequestMany(timeout=10.0, stall=0.5, now=0.0)
    assert rm.deadline == 10.0
    assert rm.on_reply(reply(), 4.0) is ReplyVerdict.YIELD
    assert rm.deadline == 4.5
    assert rm.on_reply(reply(), 4.4) is ReplyVerdict.YIELD
    assert rm.deadline == pytest.approx(4.9)
    assert not rm.expired(4.8)
    assert rm.expired(4.9)
    assert rm.reason is RequestManyEnd.STALL and rm.received == 2


def test_stall_never_runs_past_the_total_timeout() -> None:
    rm = RequestMany(timeout=1.0, stall=0.5, now=0.0)
    rm.on_reply(reply(), 0.8)
    assert rm.deadline == 1.0
    assert rm.expired(1.0) and rm.reason is RequestManyEnd.TIMEOUT


def test_stall_at_or_above_the_timeout_changes_nothing() -> None:
    rm = RequestMany(timeout=1.0, stall=1.0, now=0.0)
    rm.on_reply(reply(), 0.1)
    assert rm.deadline == 1.0
    assert rm.expired(1.0) and rm.reason is RequestManyEnd.TIMEOUT


def test_a_reply_after_the_stall_gap_is_not_given() -> None:
    rm = RequestMany(timeout=5.0, stall=0.5, now=0.0)
    rm.on_reply(reply(), 1.0)
    assert rm.on_reply(reply(), 1.6) is ReplyVerdict.END_BEFORE
    assert rm.reason is RequestManyEnd.STALL and rm.received == 1


# --------------------------------------------------------- max, sentinel


def test_max_msgs_gives_the_last_reply_then_ends() -> None:
    rm = RequestMany(timeout=5.0, max_msgs=2, now=0.0)
    assert rm.on_reply(reply(), 0.1) is ReplyVerdict.YIELD
    assert rm.on_reply(reply(), 0.2) is ReplyVerdict.END_AFTER
    assert (
        ReplyVerdict.END_AFTER.yields
        and ReplyVerdict.YIELD.yields
        and not ReplyVerdict.END_BEFORE.yields
    )
    assert rm.done and rm.reason is RequestManyEnd.MAX_MSGS and rm.received == 2
    assert rm.deadline is None
    assert rm.on_reply(reply(), 0.3) is ReplyVerdict.END_BEFORE  # a late reply is dropped
    assert rm.received == 2


def test_max_msgs_one() -> None:
    rm = RequestMany(timeout=5.0, max_msgs=1, now=0.0)
    assert rm.on_reply(reply(), 0.1) is ReplyVerdict.END_AFTER


def test_standard_sentinel_ends_before_the_empty_reply() -> None:
    rm = RequestMany(timeout=5.0, sentinel=True, now=0.0)
    assert rm.sentinel is standard_sentinel
    assert rm.on_reply(reply(b"a"), 0.1) is ReplyVerdict.YIELD
    # headers without a payload are not the standard sentinel
    assert rm.on_reply(reply(b"", Headers({"K": "v"})), 0.2) is ReplyVerdict.YIELD
    assert rm.on_reply(reply(b""), 0.3) is ReplyVerdict.END_BEFORE
    assert rm.reason is RequestManyEnd.SENTINEL and rm.error is None and rm.received == 2


def test_no_sentinel_by_default_gives_empty_replies() -> None:
    rm = RequestMany(timeout=5.0, now=0.0)
    assert rm.on_reply(reply(b""), 0.1) is ReplyVerdict.YIELD
    rm2 = RequestMany(timeout=5.0, now=0.0, sentinel=False)
    assert rm2.sentinel is None


def test_standard_sentinel() -> None:
    assert standard_sentinel(reply(b""))
    assert standard_sentinel(reply(b"", Headers()))  # an empty header block is no headers
    assert not standard_sentinel(reply(b"x"))
    assert not standard_sentinel(reply(b"", Headers({"A": "1"})))
    assert not standard_sentinel(status(503))


def test_custom_sentinel_sees_every_reply() -> None:
    seen: list[bytes] = []

    def done(msg: Msg) -> bool:
        seen.append(msg.data)
        return msg.data == b"end"

    rm = RequestMany(timeout=5.0, sentinel=done, max_msgs=10, now=0.0)
    assert rm.on_reply(reply(b"1"), 0.1) is ReplyVerdict.YIELD
    assert rm.on_reply(reply(b"end"), 0.2) is ReplyVerdict.END_BEFORE
    assert seen == [b"1", b"end"] and rm.reason is RequestManyEnd.SENTINEL


def test_sentinel_wins_over_max_msgs_on_the_same_reply() -> None:
    rm = RequestMany(timeout=5.0, sentinel=True, max_msgs=1, now=0.0)
    assert rm.on_reply(reply(b""), 0.1) is ReplyVerdict.END_BEFORE
    assert rm.reason is RequestManyEnd.SENTINEL and rm.received == 0


# ----------------------------------------------------------------- status


def test_no_responders_ends_at_once_with_the_error() -> None:
    rm = RequestMany(timeout=5.0, now=0.0, subject="svc.x")
    assert rm.on_reply(status(503), 0.01) is ReplyVerdict.END_BEFORE
    assert rm.done and rm.reason is RequestManyEnd.NO_RESPONDERS
    assert isinstance(rm.error, NoRespondersError) and rm.error.subject == "svc.x"
    assert rm.deadline is None


def test_other_status_ends_with_a_status_error() -> None:
    rm = RequestMany(timeout=5.0, now=0.0, subject="svc.x")
    rm.on_reply(reply(), 0.1)
    assert rm.on_reply(status(408, "Request Timeout"), 0.2) is ReplyVerdict.END_BEFORE
    assert rm.reason is RequestManyEnd.STATUS and rm.received == 1
    err = rm.error
    assert isinstance(err, ReplyStatusError)
    assert err.status == 408 and err.description == "Request Timeout"
    assert "408" in str(err) and "svc.x" in str(err)


def test_status_before_sentinel() -> None:
    # a 503 has an empty payload: it is a status, not the standard sentinel
    rm = RequestMany(timeout=5.0, now=0.0, sentinel=True)
    rm.on_reply(status(503), 0.0)
    assert rm.reason is RequestManyEnd.NO_RESPONDERS


# ---------------------------------------------------------- cancel, resume


def test_cancel() -> None:
    rm = RequestMany(timeout=5.0, now=0.0)
    rm.cancel()
    assert rm.done and rm.reason is RequestManyEnd.CANCELLED and rm.deadline is None
    rm.cancel()
    assert rm.reason is RequestManyEnd.CANCELLED
    assert rm.on_reply(reply(), 0.1) is ReplyVerdict.END_BEFORE


def test_resume_leaves_the_users_time_out_of_the_timers() -> None:
    rm = RequestMany(timeout=2.0, stall=0.5, now=0.0)
    assert rm.on_reply(reply(), 1.0) is ReplyVerdict.YIELD
    rm.resume(1.75)  # the user's callback took 0.75 s
    assert rm.deadline == 2.25  # stall from the resume
    assert rm.on_reply(reply(), 2.2) is ReplyVerdict.YIELD  # past 2.0: the timeout moved by 0.75
    rm.resume(2.2)
    assert rm.deadline == 2.7
    assert not rm.expired(2.69)
    assert rm.expired(2.7) and rm.reason is RequestManyEnd.STALL


def test_resume_without_a_held_reply_does_nothing() -> None:
    rm = RequestMany(timeout=2.0, now=0.0)
    rm.resume(1.0)
    assert rm.deadline == 2.0
    rm.on_reply(reply(), 0.5)
    rm.resume(0.6)
    rm.resume(1.9)  # a second resume for the same reply is ignored
    assert rm.deadline == pytest.approx(2.1)


# --------------------------------------------------------------- Hypothesis

KINDS = ("data", "empty", "status503", "status408")


def _expected(
    events: list[tuple[float, str]], timeout: float, stall: float | None, max_msgs: int | None
) -> tuple[int, RequestManyEnd]:
    """A direct model of ADR-47 with the standard sentinel (no resume)."""
    end_at = timeout
    last: float | None = None
    got = 0
    for t, kind in events:
        dl = end_at if stall is None or last is None else min(end_at, last + stall)
        if t >= dl:
            return got, RequestManyEnd.TIMEOUT if dl == end_at else RequestManyEnd.STALL
        if kind == "status503":
            return got, RequestManyEnd.NO_RESPONDERS
        if kind == "status408":
            return got, RequestManyEnd.STATUS
        if kind == "empty":
            return got, RequestManyEnd.SENTINEL
        got += 1
        if max_msgs is not None and got >= max_msgs:
            return got, RequestManyEnd.MAX_MSGS
        last = t
    dl = end_at if stall is None or last is None else min(end_at, last + stall)
    return got, RequestManyEnd.TIMEOUT if dl == end_at else RequestManyEnd.STALL


def _msg(kind: str) -> Msg:
    if kind == "data":
        return reply(b"d")
    if kind == "empty":
        return reply(b"")
    return status(503 if kind == "status503" else 408)


@given(
    gaps=st.lists(
        st.tuples(st.floats(0, 1.0, allow_nan=False), st.sampled_from(KINDS)), max_size=30
    ),
    timeout=st.floats(0, 5.0, allow_nan=False),
    stall=st.none() | st.floats(0.01, 2.0, allow_nan=False),
    max_msgs=st.none() | st.integers(1, 10),
)
def test_ends_at_the_first_end_condition_and_never_yields_after(
    gaps: list[tuple[float, str]], timeout: float, stall: float | None, max_msgs: int | None
) -> None:
    events = []
    t = 0.0
    for gap, kind in gaps:
        t += gap
        events.append((t, kind))
    rm = RequestMany(timeout=timeout, stall=stall, max_msgs=max_msgs, sentinel=True, now=0.0)
    yielded = 0
    ended_after_yield = False
    for at, kind in events:
        # the adapter wakes at the deadline when it comes before the next reply
        dl = rm.deadline
        if dl is not None and dl <= at:
            assert rm.expired(dl)
        verdict = rm.on_reply(_msg(kind), at)
        if rm.done and verdict is not ReplyVerdict.END_AFTER:
            assert verdict is ReplyVerdict.END_BEFORE
        if verdict.yields:
            assert not ended_after_yield, "yielded after the end"
            yielded += 1
        if verdict is ReplyVerdict.END_AFTER:
            ended_after_yield = True
        if rm.done:
            assert rm.deadline is None
    if not rm.done:
        dl = rm.deadline
        assert dl is not None
        assert not rm.expired(dl - 1e-9) or dl - 1e-9 < 0
        assert rm.expired(dl)
    assert rm.done
    want_got, want_reason = _expected(events, timeout, stall, max_msgs)
    assert (yielded, rm.reason) == (want_got, want_reason)
    assert rm.received == yielded
    if max_msgs is not None:
        assert yielded <= max_msgs
    assert (rm.error is not None) == (
        want_reason in (RequestManyEnd.NO_RESPONDERS, RequestManyEnd.STATUS)
    )
