"""The server-op parser: every op, every way of cutting the input, every error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_helpers import (
    FEED_MODES,
    SrvErr,
    SrvInfo,
    SrvMsg,
    SrvSimple,
    Style,
    bytewise,
    chunks_for,
    expected,
    feed_chunks,
    serialize,
    server_op_st,
    splits_of,
    style_st,
)
from nats_core import MAX_CONTROL_LINE, ErrOp, Headers, InfoOp, Msg, Parser
from nats_core._parser import MAX_INFO_LINE, OK, PAYLOAD_SLACK, PING, PONG
from nats_core.errors import RemoteProtocolError

# ------------------------------------------------------------- valid input


def hm(head: str, block: bytes, payload: bytes = b"") -> bytes:
    """``HMSG <head> <hdr len> <total len>`` with the sizes computed."""
    sizes = b" %d %d\r\n" % (len(block), len(block) + len(payload))
    return b"HMSG " + head.encode() + sizes + block + payload + b"\r\n"


INFO_JSON = {"server_id": "N1", "max_payload": 1048576, "headers": True, "connect_urls": ["a:1"]}

CASES: list[tuple[str, bytes, list[object]]] = [
    (
        "info",
        b"INFO " + json.dumps(INFO_JSON).encode() + b"\r\n",
        [InfoOp(INFO_JSON)],
    ),
    ("msg", b"MSG foo.bar 9 5\r\nhello\r\n", [Msg("foo.bar", "", b"hello", None, 9)]),
    (
        "msg-reply",
        b"MSG foo 1 _INBOX.x.1 3\r\nabc\r\n",
        [Msg("foo", "_INBOX.x.1", b"abc", None, 1)],
    ),
    ("msg-empty", b"MSG foo 1 0\r\n\r\n", [Msg("foo", "", b"", None, 1)]),
    (
        "msg-payload-with-crlf",
        b"MSG foo 1 7\r\n\r\nMSG\r\n\r\n",
        [Msg("foo", "", b"\r\nMSG\r\n", None, 1)],
    ),
    (
        "hmsg",
        hm("foo 2", b"NATS/1.0\r\nA: b\r\nA: c\r\n\r\n", b"hello"),
        [Msg("foo", "", b"hello", Headers([("A", "b"), ("A", "c")]), 2)],
    ),
    (
        "hmsg-reply",
        hm("foo 2 rep.ly", b"NATS/1.0\r\nX: y\r\n\r\n", b"hi"),
        [Msg("foo", "rep.ly", b"hi", Headers({"X": "y"}), 2)],
    ),
    (
        "hmsg-status-503",
        hm("_INBOX.a.1 3", b"NATS/1.0 503\r\n\r\n"),
        [Msg("_INBOX.a.1", "", b"", Headers(status=503), 3)],
    ),
    (
        "hmsg-status-description",
        hm("s 3", b"NATS/1.0 408 Request Timeout\r\n\r\n"),
        [Msg("s", "", b"", Headers(status=408, description="Request Timeout"), 3)],
    ),
    ("ping", b"PING\r\n", [PING]),
    ("pong", b"PONG\r\n", [PONG]),
    ("ok", b"+OK\r\n", [OK]),
    (
        "err-quoted",
        b"-ERR 'Permissions Violation for Publish to \"foo\"'\r\n",
        [ErrOp('Permissions Violation for Publish to "foo"')],
    ),
    ("err-unquoted", b"-ERR Unknown Protocol Operation\r\n", [ErrOp("Unknown Protocol Operation")]),
    ("err-inner-quote", b"-ERR 'it''s'\r\n", [ErrOp("it''s")]),
    (
        "lowercase",
        b"info {}\r\nmsg a 1 1\r\nx\r\nhmsg a 1 12 12\r\nNATS/1.0\r\n\r\n\r\nping\r\npong\r\n"
        b"+ok\r\n-err 'x'\r\n",
        [
            InfoOp({}),
            Msg("a", "", b"x", None, 1),
            Msg("a", "", b"", Headers(), 1),
            PING,
            PONG,
            OK,
            ErrOp("x"),
        ],
    ),
    ("mixed-case", b"Msg a 1 1\r\nx\r\nPiNg\r\n", [Msg("a", "", b"x", None, 1), PING]),
    (
        "tabs",
        b"MSG\ta\t1\tr\t1\r\nx\r\nHMSG\ta\t1\t12\t12\r\nNATS/1.0\r\n\r\n\r\nINFO\t{}\r\n-ERR\t'e'\r\n",
        [Msg("a", "r", b"x", None, 1), Msg("a", "", b"", Headers(), 1), InfoOp({}), ErrOp("e")],
    ),
    (
        "extra-spaces",
        b'MSG  a   1  2\r\nxy\r\nINFO    {"a": 1}\r\n',
        [Msg("a", "", b"xy", None, 1), InfoOp({"a": 1})],
    ),
    (
        "utf8-subject",
        "MSG caf\u00e9.\u65e5 1 r\u00e9p 2\r\nok\r\n".encode(),
        [Msg("caf\u00e9.\u65e5", "r\u00e9p", b"ok", None, 1)],
    ),
    (
        "many",
        b"PING\r\nMSG a 1 1\r\n1\r\nMSG b 2 2\r\n22\r\nPONG\r\n+OK\r\nMSG c 3 0\r\n\r\n",
        [
            PING,
            Msg("a", "", b"1", None, 1),
            Msg("b", "", b"22", None, 2),
            PONG,
            OK,
            Msg("c", "", b"", None, 3),
        ],
    ),
]


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize(("name", "data", "want"), CASES, ids=[c[0] for c in CASES])
def test_valid_ops(name: str, data: bytes, want: list[object], mode: str) -> None:
    parser = Parser()
    assert feed_chunks(parser, chunks_for(mode, data)) == want
    # Nothing is left over: the parser is back at a clean op boundary.
    assert parser._rest == b""
    assert parser._pending is None


@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_valid_ops_random_splits(data: st.DataObject) -> None:
    for _name, raw, want in CASES:
        chunks = data.draw(splits_of(raw))
        assert feed_chunks(Parser(), chunks) == want


def test_msg_fields_and_types() -> None:
    (msg,) = Parser().feed(b"MSG a.b 42 r.s 3\r\nxyz\r\n")
    assert isinstance(msg, Msg)
    assert (msg.subject, msg.sid, msg.reply, msg.data, msg.headers) == (
        "a.b",
        42,
        "r.s",
        b"xyz",
        None,
    )
    assert type(msg.data) is bytes
    assert msg.status is None
    assert not msg.is_no_responders


def test_hmsg_inline_status_is_no_responders() -> None:
    (msg,) = Parser().feed(hm("_INBOX.x 1", b"NATS/1.0 503 No Responders\r\n\r\n"))
    assert isinstance(msg, Msg)
    assert msg.status == 503
    assert msg.headers is not None
    assert msg.headers.description == "No Responders"
    assert msg.is_no_responders


def test_503_with_payload_is_not_no_responders() -> None:
    (msg,) = Parser().feed(b"HMSG a 1 16 17\r\nNATS/1.0 503\r\n\r\nx\r\n")
    assert isinstance(msg, Msg)
    assert msg.status == 503
    assert not msg.is_no_responders


class MyMsg(Msg):
    __slots__ = ()


def test_msg_class_and_client_are_used() -> None:
    client = object()
    parser = Parser(MyMsg, client)
    ops = parser.feed(b"MSG a 1 1\r\nx\r\nHMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n")
    assert [type(o) for o in ops] == [MyMsg, MyMsg]
    assert all(o._client is client for o in ops if isinstance(o, Msg))


def test_partial_op_returns_nothing_until_complete() -> None:
    parser = Parser()
    assert parser.feed(b"MSG a 1 5\r\nhel") == []
    assert parser._pending is not None
    assert parser.feed(b"lo") == []
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\nPI") == [Msg("a", "", b"hello", None, 1)]
    assert parser.feed(b"NG\r\n") == [PING]


def test_control_line_of_exactly_max_length_parses_in_every_mode() -> None:
    line = b"-ERR '" + b"x" * (MAX_CONTROL_LINE - 7) + b"'"
    assert len(line) == MAX_CONTROL_LINE
    data = line + b"\r\nPING\r\n"
    want = [ErrOp("x" * (MAX_CONTROL_LINE - 7)), PING]
    for mode in FEED_MODES:
        assert feed_chunks(Parser(), chunks_for(mode, data)) == want, mode
    # Cut right between the CR and the LF of the full-length line.
    cut = len(line) + 1
    assert feed_chunks(Parser(), [data[:cut], data[cut:]]) == want


def test_search_offset_is_remembered() -> None:
    """A control line fed one byte at a time is not rescanned from its start."""
    line = b"INFO " + json.dumps({"k": "v" * 300}).encode()
    parser = Parser()
    for i, b in enumerate(bytewise(line)):
        assert parser.feed(b) == []
        assert len(parser._rest) == i + 1
        # The next search starts at the last byte (it may be a CR), not at 0.
        assert parser._scan == len(parser._rest) - 1
    assert parser.feed(b"\r") == []
    assert parser._scan == len(parser._rest) - 1
    assert parser.feed(b"\n") == [InfoOp({"k": "v" * 300})]
    assert parser._rest == b""
    assert parser._scan == 0


def test_search_offset_after_complete_ops() -> None:
    parser = Parser()
    assert parser.feed(b'PING\r\nPONG\r\nINFO {"a"') == [PING, PONG]
    assert parser._rest == b'INFO {"a"'
    assert parser._scan == len(parser._rest) - 1
    assert parser.feed(b": 1}\r\n") == [InfoOp({"a": 1})]


def test_payload_is_collected_without_touching_the_control_line_buffer() -> None:
    parser = Parser()
    parser.feed(b"MSG a 1 1000\r\n")
    for _ in range(999):
        assert parser.feed(b"z") == []
        assert parser._rest == b""
    assert parser.feed(b"z\r\n") == [Msg("a", "", b"z" * 1000, None, 1)]


def test_reset_forgets_partial_input_and_errors() -> None:
    parser = Parser()
    parser.feed(b"MSG a 1 10\r\nabc")
    parser.reset()
    assert parser.feed(b"PING\r\n") == [PING]
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"BOGUS\r\n")
    parser.reset()
    assert parser.feed(b"PONG\r\n") == [PONG]


def test_payload_at_the_cap_is_accepted() -> None:
    parser = Parser(max_payload=10)
    size = 10 + PAYLOAD_SLACK
    ops = parser.feed(b"MSG a 1 %d\r\n" % size + b"p" * size + b"\r\n")
    assert ops == [Msg("a", "", b"p" * size, None, 1)]


# ----------------------------------------------------------------- round trip


@given(
    ops=st.lists(server_op_st, max_size=12), styles=st.lists(style_st, min_size=1), data=st.data()
)
@settings(max_examples=100, deadline=None)
def test_round_trip_random_splits(ops: list, styles: list[Style], data: st.DataObject) -> None:
    wire = b"".join(serialize(op, styles[i % len(styles)]) for i, op in enumerate(ops))
    want = [expected(op) for op in ops]
    assert Parser().feed(wire) == want
    assert feed_chunks(Parser(), data.draw(splits_of(wire))) == want


@given(ops=st.lists(server_op_st, max_size=6))
@settings(max_examples=40, deadline=None)
def test_round_trip_bytewise(ops: list) -> None:
    wire = b"".join(serialize(op) for op in ops)
    assert feed_chunks(Parser(), bytewise(wire)) == [expected(op) for op in ops]


def test_serializer_sanity() -> None:
    # The test's own serializer writes what the protocol documentation shows.
    assert serialize(SrvMsg("a", 1, "r", b"xy")) == b"MSG a 1 r 2\r\nxy\r\n"
    assert serialize(SrvMsg("a", 1, "", b"", (("K", "v"),))) == (
        b"HMSG a 1 18 18\r\nNATS/1.0\r\nK: v\r\n\r\n\r\n"
    )
    assert serialize(SrvErr("e"), Style(lower=True, sep=b"\t")) == b"-err\t'e'\r\n"
    assert serialize(SrvInfo({})) == b"INFO {}\r\n"
    assert serialize(SrvSimple("+OK")) == b"+OK\r\n"


# -------------------------------------------------------------------- errors

ERRORS: list[tuple[str, bytes, str]] = [
    ("unknown-op", b"FOO bar\r\n", "unknown protocol operation"),
    ("client-op", b"PUB a 1\r\nx\r\n", "unknown protocol operation"),
    ("empty-line", b"\r\n", "empty control line"),
    ("blank-line", b" \t \r\n", "empty control line"),
    ("msg-too-few-args", b"MSG a 1\r\n", "MSG needs 3 or 4 arguments"),
    ("msg-too-many-args", b"MSG a 1 r x 1\r\n", "MSG needs 3 or 4 arguments"),
    ("hmsg-too-few-args", b"HMSG a 1 2\r\n", "HMSG needs 4 or 5 arguments"),
    ("hmsg-too-many-args", b"HMSG a 1 r x 2 3\r\n", "HMSG needs 4 or 5 arguments"),
    ("size-non-digit", b"MSG a 1 x\r\n", "bad size"),
    ("size-negative", b"MSG a 1 -1\r\n", "bad size"),
    ("size-underscore", b"MSG a 1 1_0\r\n", "bad size"),
    ("size-plus", b"MSG a 1 +1\r\n", "bad size"),
    ("size-unicode-digit", "MSG a 1 \u0663\r\n".encode(), "bad size"),
    ("size-huge", b"MSG a 1 " + b"9" * 19 + b"\r\n", "bad size"),
    ("sid-non-digit", b"MSG a x 1\r\nz\r\n", "bad sid"),
    ("sid-negative", b"MSG a -1 1\r\nz\r\n", "bad sid"),
    ("hmsg-header-size-bad", b"HMSG a 1 x 12\r\n", "bad header size"),
    ("hmsg-total-size-bad", b"HMSG a 1 12 1_2\r\n", "bad total size"),
    ("hmsg-header-over-total", b"HMSG a 1 20 12\r\nNATS/1.0\r\n\r\n\r\n", "exceeds total size"),
    ("payload-no-crlf", b"MSG a 1 2\r\nxyz\r\n", "not followed by CRLF"),
    ("payload-short-crlf", b"MSG a 1 2\r\nx\r\n\r\n", "not followed by CRLF"),
    (
        "payload-too-big",
        b"MSG a 1 %d\r\n" % (1024 * 1024 + PAYLOAD_SLACK + 1),
        "exceeds max_payload",
    ),
    ("info-bad-json", b"INFO {nope\r\n", "not valid JSON"),
    ("info-empty", b"INFO\r\n", "not valid JSON"),
    ("info-not-object", b"INFO [1, 2]\r\n", "not a JSON object"),
    ("info-string", b'INFO "x"\r\n', "not a JSON object"),
    ("info-deep", b"INFO " + b"[" * 2000 + b"\r\n", "not valid JSON"),
    ("info-not-utf8", b'INFO {"a": "\xff"}\r\n', "not valid JSON"),
    ("subject-not-utf8", b"MSG \xff\xfe 1 1\r\nx\r\n", "not UTF-8"),
    ("reply-not-utf8", b"MSG a 1 \xc3 1\r\nx\r\n", "not UTF-8"),
    (
        "hmsg-no-nats-line",
        b"HMSG a 1 12 12\r\nHTTP/1.1\r\n\r\n\r\n",
        "does not start with NATS/1.0",
    ),
    ("hmsg-bad-status", hm("a 1", b"NATS/1.0 5x3\r\n\r\n"), "bad status"),
    (
        "hmsg-unicode-status",
        hm("a 1", "NATS/1.0 \u00b2\u00b2\u00b2\r\n\r\n".encode()),
        "bad status",
    ),
    ("hmsg-zero-header", b"HMSG a 1 0 0\r\n\r\n", "does not start with NATS/1.0"),
    ("long-line-with-crlf", b"-ERR '" + b"x" * MAX_CONTROL_LINE + b"'\r\n", "longer than 4096"),
    ("good-then-bad", b"PING\r\nMSG a 1 1\r\nx\r\nNOPE\r\n", "unknown protocol operation"),
]


@pytest.mark.parametrize(
    "block",
    [b"NATS/1.0\r\nnope\r\n\r\n", b"NATS/1.0\r\n: v\r\n\r\n"],
    ids=["no-colon", "empty-key"],
)
def test_bad_header_fields_raise_when_read(block: bytes) -> None:
    # Header fields are decoded lazily: the frame parses, reading the fields raises.
    (msg,) = Parser().feed(hm("a 1", block))
    assert isinstance(msg, Msg)
    with pytest.raises(RemoteProtocolError, match="bad header line"):
        _ = msg.headers


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize(("name", "data", "msg"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name: str, data: bytes, msg: str, mode: str) -> None:
    parser = Parser()
    with pytest.raises(RemoteProtocolError, match=msg) as info:
        feed_chunks(parser, chunks_for(mode, data))
    # Once broken, the parser keeps raising the same error, even on good input.
    with pytest.raises(RemoteProtocolError) as again:
        parser.feed(b"PING\r\n")
    assert again.value is info.value
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"")


@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_errors_random_splits(data: st.DataObject) -> None:
    for _name, raw, msg in ERRORS:
        with pytest.raises(RemoteProtocolError, match=msg):
            feed_chunks(Parser(), data.draw(splits_of(raw)))


def test_info_may_exceed_the_control_line_cap() -> None:
    # A large cluster's INFO (many connect_urls) is longer than 4096 bytes.
    urls = [f"10.0.{i // 250}.{i % 250}:4222" for i in range(600)]
    raw = b"INFO " + json.dumps({"connect_urls": urls}).encode() + b"\r\n"
    assert len(raw) > 2 * MAX_CONTROL_LINE
    for chunks in ([raw], bytewise(raw)):
        parser = Parser()
        ops = [op for c in chunks for op in parser.feed(c)]
        assert ops == [InfoOp({"connect_urls": urls})]
    with pytest.raises(RemoteProtocolError, match="longer than"):
        Parser().feed(b"INFO {" + b" " * MAX_INFO_LINE)


def _big_info(line_length: int) -> bytes:
    """A valid INFO line of exactly ``line_length`` bytes (CRLF not counted)."""
    head, tail = b'INFO {"pad":"', b'"}'
    return head + b"x" * (line_length - len(head) - len(tail)) + tail + b"\r\n"


@pytest.mark.parametrize("read_size", [None, 65536, 7919])
@pytest.mark.parametrize(
    ("length", "ok"),
    [
        (MAX_INFO_LINE - 1, True),
        (MAX_INFO_LINE, True),
        (MAX_INFO_LINE + 1, False),
        (10 * 1024 * 1024, False),
    ],
)
def test_info_cap_holds_whatever_the_chunking(length: int, ok: bool, read_size: int | None) -> None:
    # A 10 MB INFO was accepted in one read but refused in 64 KiB reads.
    raw = _big_info(length) + b"PING\r\n"
    step = read_size or len(raw)
    parser = Parser()
    try:
        ops = [op for i in range(0, len(raw), step) for op in parser.feed(raw[i : i + step])]
    except RemoteProtocolError as e:
        assert not ok, e
        assert "longer than 1048576" in str(e)
    else:
        assert ok
        assert len(ops) == 2 and isinstance(ops[0], InfoOp) and ops[1] is PING


@pytest.mark.parametrize("length", [MAX_CONTROL_LINE, MAX_CONTROL_LINE + 1])
def test_control_line_cap_at_the_boundary_whatever_the_chunking(length: int) -> None:
    line = b"-ERR '" + b"e" * (length - 7) + b"'"
    assert len(line) == length
    outcomes = set()
    for chunks in ([line + b"\r\n"], bytewise(line + b"\r\n"), [line + b"\r", b"\n"]):
        try:
            feed_chunks(Parser(), chunks)
            outcomes.add("ok")
        except RemoteProtocolError:
            outcomes.add("error")
    assert outcomes == {"ok" if length == MAX_CONTROL_LINE else "error"}


@pytest.mark.parametrize("prefix", [b"", b"MSG a 1 ", b"PING\r\nFOO"])
def test_long_control_line_raises_without_waiting_for_crlf(prefix: bytes) -> None:
    filler = b"x" * (2 * MAX_CONTROL_LINE)
    # Whole: no CRLF anywhere, yet it raises at once.
    with pytest.raises(RemoteProtocolError, match="longer than 4096"):
        Parser().feed(prefix + filler)
    # Byte by byte: it raises as soon as the line is too long to be valid.
    parser = Parser()
    fed = 0
    with pytest.raises(RemoteProtocolError, match="longer than 4096"):
        for b in bytewise(prefix + filler):
            fed += 1
            parser.feed(b)
    start = prefix.find(b"\r\n") + 2 if b"\r\n" in prefix else 0
    assert fed - start == MAX_CONTROL_LINE + 1


def test_long_line_ending_in_cr_waits_one_byte_more() -> None:
    parser = Parser()
    assert parser.feed(b"x" * MAX_CONTROL_LINE + b"\r") == []
    with pytest.raises(RemoteProtocolError, match="longer than 4096"):
        parser.feed(b"y")


def test_oversized_payload_is_refused_before_it_arrives() -> None:
    parser = Parser(max_payload=100)
    with pytest.raises(RemoteProtocolError, match="exceeds max_payload 100"):
        parser.feed(b"HMSG a 1 12 %d\r\n" % (100 + PAYLOAD_SLACK + 1))


def test_max_payload_can_be_raised() -> None:
    parser = Parser(max_payload=1)
    parser.max_payload = 10**6
    size = 200_000
    assert parser.feed(b"MSG a 1 %d\r\n" % size + b"q" * size + b"\r\n")[0] == Msg(
        "a", "", b"q" * size, None, 1
    )


def test_error_message_names_the_op() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        Parser().feed(b"WHAT is this\r\n")
    assert "WHAT is this" in str(info.value)
