"""The optional C module (nats_core/_speedups.c) against pure Python: the parser's
MSG/HMSG fast path and the publish frame.

For any input, cut anywhere, the parser must give the same operations and the
same error with the C fast path as without it: the C code only takes
well-formed MSG/HMSG operations and leaves everything else to Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import nats_core._connection as conn_mod
import nats_core._parser as parser_mod
from core_helpers import msg_op_st, serialize, splits_of, style_st
from nats_core import Msg, Parser
from nats_core.errors import RemoteProtocolError
from test_core_fuzz import FRAGMENTS, any_wire

C = parser_mod._scan_msgs
pytestmark = pytest.mark.skipif(C is None, reason="the C fast path was not built")

# Mostly messages (the C path's input), in every style, with noise between them.
msg_wire = st.lists(
    st.one_of(
        st.tuples(msg_op_st(), style_st).map(lambda t: serialize(t[0], t[1])),
        st.sampled_from(FRAGMENTS),
        st.sampled_from([b"PING\r\n", b"MSG a 1 2\r\nxy\r\n", b"HMSG a 1 12 12\r\n"]),
    ),
    max_size=20,
).map(b"".join)


def outcome(chunks: list[bytes], fast: bool, max_payload: int) -> tuple[list[Any], str | None]:
    saved = parser_mod._scan_msgs
    parser_mod._scan_msgs = C if fast else None
    try:
        parser = Parser(max_payload=max_payload)
        ops: list[Any] = []
        try:
            for c in chunks:
                ops += parser.feed(c)
        except RemoteProtocolError as e:
            return [_fields(o) for o in ops], str(e)
        return [_fields(o) for o in ops], None
    finally:
        parser_mod._scan_msgs = saved


def _fields(op: Any) -> Any:
    if isinstance(op, Msg):
        return ("Msg", op.subject, op.reply, op.data, op._headers, op.sid, op._client)
    return repr(op)


@given(data=st.one_of(any_wire, msg_wire), split=st.data(), small=st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(data=b"HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", split=None, small=False)
@example(data=b"MSG a 1\x0b2\r\nxy\r\n", split=None, small=False)
@example(data=b"MSG a\xff 1 2\r\nxy\r\nPING\r\n", split=None, small=False)
@example(data=b"MSG a 1 0123456789012345678\r\n", split=None, small=False)
def test_same_outcome_with_and_without_the_c_path(data: bytes, split: Any, small: bool) -> None:
    chunks = [data] if split is None else split.draw(splits_of(data))
    cap = 4 if small else 1024 * 1024
    assert outcome(chunks, True, cap) == outcome(chunks, False, cap)


def test_c_path_takes_messages_and_stops_at_anything_else() -> None:
    buf = (
        b"MSG a.b 7 3\r\nabc\r\n"
        b"HMSG c 8 r.1 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nxy\r\n"
        b"PING\r\nMSG z 1 1\r\nq\r\n"
    )
    out: list[Any] = []
    pos = C(buf, 0, out, Msg, "client", 100)  # type: ignore[misc]
    assert buf[pos:].startswith(b"PING\r\n")
    assert [_fields(m) for m in out] == [
        ("Msg", "a.b", "", b"abc", None, 7, "client"),
        ("Msg", "c", "r.1", b"xy", b"NATS/1.0\r\nK: v\r\n\r\n", 8, "client"),
    ]
    # Incomplete, status headers, too big, bad numbers: nothing taken.
    for rest in (
        b"MSG a 1 3\r\nab",
        b"HMSG a 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
        b"MSG a 1 101\r\n" + b"x" * 101 + b"\r\n",
        b"MSG a x 1\r\nq\r\n",
        b"MSG a 1 1 2 3\r\nq\r\n",
    ):
        assert C(rest, 0, [], Msg, None, 100) == 0  # type: ignore[misc]


def test_c_path_refuses_wrong_argument_types() -> None:
    with pytest.raises(TypeError):
        C(bytearray(b"MSG a 1 1\r\nq\r\n"), 0, [], Msg, None, 10)  # type: ignore[misc, arg-type]
    with pytest.raises(TypeError):
        C(b"", 0, [], Msg, None)  # type: ignore[misc, call-arg]


@pytest.fixture
def pure_python() -> Iterator[None]:
    saved = parser_mod._scan_msgs
    parser_mod._scan_msgs = None
    yield
    parser_mod._scan_msgs = saved


def test_pure_python_parser_still_parses(pure_python: None) -> None:
    p = Parser()
    (m,) = p.feed(b"MSG a 1 2\r\nxy\r\n")
    assert isinstance(m, Msg)
    assert (m.subject, m.sid, m.data) == ("a", 1, b"xy")


@given(subject=st.binary(min_size=1, max_size=40), payload=st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_pub_frame_is_the_percent_format(subject: bytes, payload: bytes) -> None:
    from nats_core._speedups import pub_frame

    assert pub_frame(subject, payload) == b"PUB %b %d\r\n%b\r\n" % (subject, len(payload), payload)


def test_pub_frame_refuses_wrong_types() -> None:
    from nats_core._speedups import pub_frame

    with pytest.raises(TypeError):
        pub_frame(b"a", bytearray(b"x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pub_frame(b"a")  # type: ignore[call-arg]


def test_publish_queues_the_same_bytes_without_the_c_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    from core_helpers import handshake, new_conn

    def published() -> bytes:
        conn = new_conn()
        handshake(conn)
        conn.data_to_send()
        for i in range(3):
            conn.publish("a.b", b"x" * i)
        conn.publish("big", b"y" * 5000)  # queued as it is, either way
        return conn.data_to_send()

    with_c = published()
    monkeypatch.setattr(conn_mod, "_pub_frame", None)
    assert (
        published()
        == with_c
        == (
            b"PUB a.b 0\r\n\r\nPUB a.b 1\r\nx\r\nPUB a.b 2\r\nxx\r\nPUB big 5000\r\n"
            + b"y" * 5000
            + b"\r\n"
        )
    )


def test_the_public_switch() -> None:
    from nats_core import speedups

    assert speedups.enabled() == speedups.available()
    with speedups.disabled():
        assert not speedups.enabled()
        assert parser_mod._scan_msgs is None and conn_mod._pub_frame is None
        # pure Python gives the same messages
        assert Parser().feed(b"MSG a 1 2\r\nhi\r\n")[0].data == b"hi"
    assert speedups.enabled() == speedups.available()
    speedups.disable()
    try:
        assert not speedups.enabled()
    finally:
        speedups.enable()
    assert speedups.enabled() == speedups.available()
