"""JetStream publish: expectation headers, TTL format, pub acks, the async publish tracker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nats_core import Headers, Msg
from nats_core.jetstream import (
    APIError,
    AsyncPublishTimeoutError,
    AsyncPublishTracker,
    ExpectedStreamMismatchError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamError,
    NoStreamResponseError,
    PubAck,
    StreamStoreFailedError,
    TooManyPendingError,
    WrongLastSequenceError,
    format_ttl,
    parse_pub_ack,
    publish_headers,
)

# ---------------------------------------------------------------- headers


def test_no_options_no_headers() -> None:
    assert publish_headers() is None
    assert publish_headers({}) is None


def test_all_options() -> None:
    h = publish_headers(
        {"Trace": "1"},
        msg_id="m1",
        expected_stream="ORDERS",
        expected_last_seq=10,
        expected_last_subject_seq=0,
        expected_last_subject_seq_subject="orders.other",
        expected_last_msg_id="m0",
        ttl=timedelta(minutes=1),
        rollup="sub",
    )
    assert h is not None
    assert dict(h) == {
        "Trace": "1",
        "Nats-Msg-Id": "m1",
        "Nats-Expected-Stream": "ORDERS",
        "Nats-Expected-Last-Sequence": "10",
        "Nats-Expected-Last-Subject-Sequence": "0",
        "Nats-Expected-Last-Subject-Sequence-Subject": "orders.other",
        "Nats-Expected-Last-Msg-Id": "m0",
        "Nats-TTL": "1m0s",
        "Nats-Rollup": "sub",
    }


def test_user_headers_are_copied_and_overridden() -> None:
    user = Headers({"Nats-Msg-Id": "old", "Multi": ["a", "b"]})
    h = publish_headers(user, msg_id="new")
    assert h is not None and h is not user
    assert h["Nats-Msg-Id"] == "new"
    assert h.get_all("Multi") == ["a", "b"]
    assert user["Nats-Msg-Id"] == "old"  # untouched


@pytest.mark.parametrize(
    "kwargs",
    [
        {"msg_id": ""},
        {"expected_last_seq": -1},
        {"expected_last_seq": True},
        {"expected_last_subject_seq": "5"},
        {"expected_last_subject_seq_subject": "x"},
        {"rollup": "everything"},
        {"ttl": 0.5},
        {"ttl": 0},
        {"ttl": "5s"},
        {"ttl": [1]},
    ],
)
def test_invalid_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionError):
        publish_headers(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ttl", "text"),
    [
        (1, "1s"),
        (5, "5s"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(days=2, seconds=1), "48h0m1s"),
        ("never", "never"),
    ],
)
def test_format_ttl(ttl: timedelta | float | str, text: str) -> None:
    assert format_ttl(ttl) == text


# --------------------------------------------------------------- pub acks


def ack_msg(data: bytes, headers: Headers | None = None, subject: str = "_INBOX.a.1") -> Msg:
    return Msg(subject, "", data, headers, 1)


def test_parse_pub_ack() -> None:
    # as nats-server 2.14 and 2.9 send them
    assert parse_pub_ack(ack_msg(b'{"stream":"ORDERS","seq":1}')) == PubAck("ORDERS", 1)
    dup = parse_pub_ack(ack_msg(b'{"stream":"ORDERS", "seq":1,"duplicate": true}'))
    assert dup.duplicate is True and dup.seq == 1
    dom = parse_pub_ack(b'{"stream":"S","seq":2,"domain":"hub","val":"5","batch":"b1"}')
    assert dom.domain == "hub" and dom.extra == {"val": "5", "batch": "b1"}


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        (
            b'{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},'
            b'"stream":"ORDERS","seq":0}',
            WrongLastSequenceError,
        ),
        (
            b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not '
            b'match"},"stream":"ORDERS","seq":0}',
            ExpectedStreamMismatchError,
        ),
        (
            b'{"error":{"code":503,"err_code":10077,"description":"maximum messages per subject '
            b'exceeded"},"stream":"S","seq":0}',
            StreamStoreFailedError,
        ),
    ],
)
def test_parse_pub_ack_errors(data: bytes, cls: type[APIError]) -> None:
    with pytest.raises(cls) as info:
        parse_pub_ack(ack_msg(data))
    assert info.value.description


def test_parse_pub_ack_no_stream() -> None:
    no_resp = ack_msg(b"", Headers({"Nats-Subject": "nostream.x"}, status=503))
    with pytest.raises(NoStreamResponseError) as info:
        parse_pub_ack(no_resp, subject="nostream.x")
    assert info.value.subject == "nostream.x"


@pytest.mark.parametrize("data", [b"", b"nope", b"[]", b"{}", b'{"seq":1}', b'{"stream":""}'])
def test_parse_pub_ack_invalid(data: bytes) -> None:
    with pytest.raises(InvalidResponseError):
        parse_pub_ack(ack_msg(data))


# ---------------------------------------------------------- async tracker


def ack_for(t: AsyncPublishTracker, token: str, seq: int) -> Msg:
    return Msg(t.reply_prefix + token, "", b'{"stream":"S","seq":%d}' % seq, None, 9)


def test_tracker_basic_flow() -> None:
    t = AsyncPublishTracker("_INBOX.js.abc", max_pending=3)
    assert t.reply_prefix == "_INBOX.js.abc."
    assert t.subscription_subject == "_INBOX.js.abc.*"
    assert t.all_done and t.pending_count == 0
    p1 = t.track("orders.1", b"a", now=0.0)
    p2 = t.track("orders.2", b"b", Headers({"Nats-Msg-Id": "x"}), now=0.0)
    assert p1.token != p2.token
    assert p1.reply == t.reply_prefix + p1.token
    assert (p2.subject, p2.payload) == ("orders.2", b"b")
    assert t.pending(p1.token) is p1
    assert t.pending_count == 2 and not t.all_done
    out = t.on_reply(ack_for(t, p2.token, 7), now=0.1)
    assert out is not None and out.token == p2.token
    assert out.ack == PubAck("S", 7) and out.error is None and out.retry is None
    out = t.on_reply(ack_for(t, p1.token, 8), now=0.1)
    assert out is not None and out.ack is not None and out.ack.seq == 8
    assert t.all_done
    # late or foreign replies are ignored
    assert t.on_reply(ack_for(t, p1.token, 8), now=0.2) is None
    assert t.on_reply(Msg("_INBOX.other.1", "", b"{}", None, 1), now=0.2) is None
    assert t.token_of(t.reply_prefix) is None


def test_tracker_bounds_in_flight() -> None:
    t = AsyncPublishTracker("_R", max_pending=2)
    a = t.track("s", now=0)
    t.track("s", now=0)
    assert t.is_full
    with pytest.raises(TooManyPendingError):
        t.track("s", now=0)
    t.on_reply(ack_for(t, a.token, 1), now=0)
    assert not t.is_full
    t.track("s", now=0)


def test_tracker_errors_and_retries() -> None:
    t = AsyncPublishTracker("_R", max_retries=1, ack_timeout=5.0)
    p = t.track("orders.x", b"x", now=0.0)
    no_resp = Msg(p.reply, "", b"", Headers(status=503), 1)
    out = t.on_reply(no_resp, now=1.0)
    assert out is not None and out.retry is p and p.retries == 1
    assert p.deadline == 6.0  # the ack timeout restarts with the retry
    assert t.pending_count == 1
    out = t.on_reply(no_resp, now=2.0)  # retries exhausted
    assert out is not None and isinstance(out.error, NoStreamResponseError)
    assert "orders.x" in str(out.error)
    assert t.all_done
    q = t.track("orders.y", now=3.0)
    err = Msg(
        q.reply,
        "",
        b'{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}',
        None,
        1,
    )
    out = t.on_reply(err, now=3.0)
    assert out is not None and isinstance(out.error, WrongLastSequenceError)
    r = t.track("orders.z", now=3.0)
    out = t.on_reply(Msg(r.reply, "", b"garbage", None, 1), now=3.0)
    assert out is not None and isinstance(out.error, InvalidResponseError)


def test_tracker_timeouts() -> None:
    t = AsyncPublishTracker("_R", ack_timeout=2.0)
    a = t.track("a", now=0.0)
    b = t.track("b", now=1.0)
    assert t.next_deadline() == 2.0
    assert t.expire(1.9) == []
    outs = t.expire(2.0)
    assert [o.token for o in outs] == [a.token]
    err = outs[0].error
    assert isinstance(err, AsyncPublishTimeoutError) and isinstance(err, TimeoutError)
    assert t.next_deadline() == 3.0
    assert [o.token for o in t.expire(10.0)] == [b.token]
    assert t.next_deadline() is None and t.all_done
    no_timeout = AsyncPublishTracker("_R")
    no_timeout.track("a", now=0.0)
    assert no_timeout.next_deadline() is None and no_timeout.expire(1e9) == []


def test_tracker_fail_all_and_forget() -> None:
    t = AsyncPublishTracker("_R")
    tokens = [t.track("s", now=0).token for _ in range(3)]
    t.forget(tokens[0])
    t.forget("unknown")
    gone = JetStreamError("disconnected")
    outs = t.fail_all(gone)
    assert [o.token for o in outs] == tokens[1:]
    assert all(o.error is gone for o in outs)
    assert t.all_done


@pytest.mark.parametrize(
    "kwargs", [{"max_pending": 0}, {"max_retries": -1}, {"ack_timeout": 0}, {"ack_timeout": -1.0}]
)
def test_tracker_validates_options(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidOptionError):
        AsyncPublishTracker("_R", **kwargs)  # type: ignore[arg-type]


# ------------------------------------------- the tracker's fast paths (issue #17)


@pytest.mark.parametrize(
    "body",
    [
        b'{"stream":"S","seq":3}',
        b'{"stream":"S","seq":3,"duplicate":true}',
        b'{"stream":"S","seq":3,"domain":"hub","type":"io.nats.jetstream.api.v1.pub_ack"}',
        b'{"stream":"S","seq":3,"duplicate":"yes"}',  # odd types: the generic decoder
        b'{"stream":"S","seq":3,"batch":"b1","count":2}',  # unknown keys kept in extra
        b'{"stream":"S","seq":true}',
        b'{"stream":"S","seq":3,"domain":null}',
    ],
)
def test_plain_pub_ack_reads_as_the_decoder(body: bytes) -> None:
    import json

    obj = json.loads(body)
    expected = PubAck.from_json({k: v for k, v in obj.items() if k != "type"})
    got = parse_pub_ack(Msg("_R.1", "", body, None, 1))
    assert got == expected and got.extra == expected.extra


def test_tracker_slot_comes_back_with_every_outcome() -> None:
    t = AsyncPublishTracker("_R", max_retries=0, ack_timeout=1.0)
    a = t.track("a", now=0.0, slot="A")
    b = t.track("b", now=0.0, slot="B")
    c = t.track("c", now=0.5, slot="C")
    d = t.track("d", now=0.9, slot="D")
    assert a.slot == "A"
    out = t.on_reply(ack_for(t, a.token, 1), now=0.1)
    assert out is not None and out.ack is not None and out.slot == "A"
    no_resp = Msg(b.reply, "", b"", Headers(status=503), 1)
    out = t.on_reply(no_resp, now=0.1)
    assert out is not None and isinstance(out.error, NoStreamResponseError) and out.slot == "B"
    (late,) = t.expire(1.5)
    assert late.token == c.token and late.slot == "C"
    (gone,) = t.fail_all(JetStreamError("closed"))
    assert gone.slot == "D" and gone.msg == d.to_msg()


def test_tracker_on_replies_in_a_batch() -> None:
    t = AsyncPublishTracker("_R")
    ps = [t.track("s", now=0.0) for _ in range(3)]
    msgs = [ack_for(t, p.token, i) for i, p in enumerate(ps)]
    msgs.insert(1, Msg("_OTHER.1", "", b"{}", None, 1))
    outs = t.on_replies(msgs, now=0.0)
    assert [o.token for o in outs] == [p.token for p in ps]
    assert [o.ack.seq for o in outs if o.ack is not None] == [0, 1, 2]
    assert t.all_done


def test_tracker_retry_moves_to_the_end_of_the_deadlines() -> None:
    t = AsyncPublishTracker("_R", max_retries=1, ack_timeout=2.0)
    a = t.track("a", now=0.0)
    b = t.track("b", now=1.0)
    out = t.on_reply(Msg(a.reply, "", b"", Headers(status=503), 1), now=1.5)
    assert out is not None and out.retry is a and a.deadline == 3.5
    assert t.next_deadline() == 3.0  # b's
    assert [o.token for o in t.expire(3.0)] == [b.token]
    assert t.next_deadline() == 3.5
    assert [o.token for o in t.expire(3.5)] == [a.token]
    assert t.all_done and t.failed_count == 2


def test_tracker_expire_when_now_goes_back() -> None:
    t = AsyncPublishTracker("_R", ack_timeout=2.0)
    a = t.track("a", now=5.0)
    b = t.track("b", now=1.0)  # an earlier deadline after a later one: scan them all
    assert t.next_deadline() == 3.0
    assert [o.token for o in t.expire(3.0)] == [b.token]
    assert [o.token for o in t.expire(7.0)] == [a.token]
    # once empty, the order holds again
    c = t.track("c", now=10.0)
    assert t.next_deadline() == 12.0 and [o.token for o in t.expire(12.0)] == [c.token]


def test_tracker_set_ack_timeout_later() -> None:
    t = AsyncPublishTracker("_R")
    a = t.track("a", now=0.0)
    t.ack_timeout = 1.0
    b = t.track("b", now=0.0)
    assert t.next_deadline() == 1.0
    assert [o.token for o in t.expire(5.0)] == [b.token]
    assert t.pending(a.token) is a and t.next_deadline() is None


# --------------------------------------------- the usual ack without json (#17)


def _both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    import re as _re

    from nats_core.jetstream import publish as mod

    def outcome() -> object:
        try:
            return mod.parse_pub_ack(data)
        except Exception as exc:
            return (type(exc), str(exc))

    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(mod, "_PLAIN_ACK_BYTES", _re.compile(rb"(?!)"))  # never matches
        slow = outcome()
    return fast, slow


@pytest.mark.parametrize(
    "data",
    [
        b'{"stream":"ORDERS","seq":1}',
        b'{"stream":"S","seq":0}',
        b'{"stream":"S","seq":18446744073709551615}',
        b'{"stream":"\xc3\xa9t\xc3\xa9","seq":5}',  # UTF-8 name
        b'{"stream":"bad\xff","seq":5}',  # not UTF-8
        b'{"stream":"a\\"b","seq":5}',  # an escape: parsed by json
        b'{"stream":"a\x01","seq":5}',  # a control character: refused by json
        b'{"stream":"S","seq":012}',  # not a JSON number
        b'{"stream":"S","seq":-1}',
        b'{"stream":"S","seq":1.0}',
        b'{"stream":"","seq":1}',
        b'{"stream":"S","seq":1,"duplicate":true}',
        b'{"stream":"S","seq":1,"domain":"hub"}',
        b' {"stream":"S","seq":1}',
        b'{"stream":"S","seq":1} ',
        b'{"stream":"S","seq":1}x',
        b'\xef\xbb\xbf{"stream":"S","seq":1}',  # a BOM
        b'{"error":{"code":503,"err_code":10039,"description":"no stream"}}',
    ],
)
def test_the_usual_ack_reads_as_json_would(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both_ways(data, monkeypatch)
    assert fast == slow


@given(st.text(max_size=12), st.integers(min_value=0, max_value=2**64))
def test_the_usual_ack_reads_as_json_would_for_any_name(name: str, seq: int) -> None:
    import json as _json

    data = _json.dumps({"stream": name, "seq": seq}, separators=(",", ":")).encode()
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both_ways(data, mp)
    assert fast == slow
