"""Message headers: the mapping, the encoder, the decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_helpers import description_st, header_block, header_pairs_st, status_st
from nats_core import Headers, decode_headers, encode_headers
from nats_core.errors import BadHeaderError, LocalProtocolError, RemoteProtocolError

# ----------------------------------------------------------------- mapping


def test_multi_valued_case_preserving_mapping() -> None:
    h = Headers()
    h.add("Key", "1")
    h.add("Key", "2")
    h.add("key", "lower")
    assert h["Key"] == "1"
    assert h.get_all("Key") == ["1", "2"]
    assert h["key"] == "lower"  # keys are matched exactly, as in nats.go
    assert h.get_all("missing") == []
    assert list(h) == ["Key", "key"]
    assert len(h) == 2
    assert list(h.multi_items()) == [("Key", "1"), ("Key", "2"), ("key", "lower")]
    h["Key"] = "only"
    assert h.get_all("Key") == ["only"]
    del h["key"]
    assert "key" not in h
    with pytest.raises(KeyError):
        h["key"]


def test_constructors_and_equality() -> None:
    a = Headers({"A": "1", "B": ["2", "3"]})
    b = Headers([("A", "1"), ("B", "2"), ("B", "3")])
    assert a == b
    assert Headers(a) == a
    assert Headers(a) is not a
    assert a == {"A": "1", "B": ["2", "3"]}
    assert a != {"A": "1"}
    assert Headers(status=503) != Headers()
    assert Headers(status=408, description="x") != Headers(status=408, description="y")
    assert Headers(status=503) != {}  # a plain mapping has no status
    assert a.__eq__(42) is NotImplemented
    copy = Headers(a)
    copy.add("A", "again")
    assert a.get_all("A") == ["1"]  # the copy does not share value lists
    assert "status=503" in repr(Headers(status=503))


# ----------------------------------------------------------------- encoding


def test_encode_exact_bytes() -> None:
    assert encode_headers({"A": "1"}) == b"NATS/1.0\r\nA: 1\r\n\r\n"
    assert encode_headers({}) == b"NATS/1.0\r\n\r\n"
    assert (
        encode_headers({"A": ["1", "2"], "B": "x"}) == b"NATS/1.0\r\nA: 1\r\nA: 2\r\nB: x\r\n\r\n"
    )
    assert encode_headers(Headers(status=503)) == b"NATS/1.0 503\r\n\r\n"
    assert encode_headers(Headers({"K": "v"}, status=408, description="Request Timeout")) == (
        b"NATS/1.0 408 Request Timeout\r\nK: v\r\n\r\n"
    )


def test_encode_non_ascii_value() -> None:
    block = encode_headers({"Name": "caf\u00e9 \u65e5\u672c"})
    assert block == "NATS/1.0\r\nName: caf\u00e9 \u65e5\u672c\r\n\r\n".encode()
    assert decode_headers(block)["Name"] == "caf\u00e9 \u65e5\u672c"


BAD_HEADERS = [
    ({"A": "x\r\ny"}, "CR or LF"),
    ({"A": "x\ny"}, "CR or LF"),
    ({"A": "x\r"}, "CR or LF"),
    ({"A\r\nB": "x"}, "must be printable ASCII"),
    ({"A\n": "x"}, "must be printable ASCII"),
    ({"A:B": "x"}, "must be printable ASCII"),
    ({"A B": "x"}, "must be printable ASCII"),
    ({"A\tB": "x"}, "must be printable ASCII"),
    ({"caf\u00e9": "x"}, "must be printable ASCII"),
    ({"": "x"}, "empty"),
    ({"A": ["ok", "bad\n"]}, "CR or LF"),
    ({"A": [b"bytes"]}, "not a string"),
]


@pytest.mark.parametrize(("headers", "match"), BAD_HEADERS)
def test_bad_headers_raise(headers: dict, match: str) -> None:
    with pytest.raises(BadHeaderError, match=match) as info:
        encode_headers(headers)
    assert isinstance(info.value, LocalProtocolError)
    assert isinstance(info.value, ValueError)


def test_bad_headers_in_a_headers_object() -> None:
    h = Headers()
    h.add("Good", "v")
    h.add("Bad", "a\r\nInjected: yes")
    with pytest.raises(BadHeaderError, match="'Bad'"):
        encode_headers(h)


def test_bad_key_message_names_the_key() -> None:
    with pytest.raises(BadHeaderError) as info:
        encode_headers({"Bad:Key": "v"})
    assert "'Bad:Key'" in str(info.value)


# ----------------------------------------------------------------- decoding


def test_decode_plain_block() -> None:
    h = decode_headers(b"NATS/1.0\r\nA: 1\r\nA: 2\r\nB:no-space\r\nC:  padded  \r\n\r\n")
    assert h.get_all("A") == ["1", "2"]
    assert h["B"] == "no-space"
    assert h["C"] == "padded"
    assert h.status is None
    assert h.description == ""


def test_decode_value_with_colons() -> None:
    h = decode_headers(b"NATS/1.0\r\nNats-Msg-Id: a:b:c\r\n\r\n")
    assert h["Nats-Msg-Id"] == "a:b:c"


@pytest.mark.parametrize(
    ("block", "status", "description"),
    [
        (b"NATS/1.0 503\r\n\r\n", 503, ""),
        (b"NATS/1.0 503 No Responders\r\n\r\n", 503, "No Responders"),
        (
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n",
            408,
            "Request Timeout",
        ),
        (b"NATS/1.0 100 Idle Heartbeat\r\n\r\n", 100, "Idle Heartbeat"),
        (b"NATS/1.0  409   Consumer Deleted  \r\n\r\n", 409, "Consumer Deleted"),
    ],
)
def test_decode_status(block: bytes, status: int, description: str) -> None:
    h = decode_headers(block)
    assert h.status == status
    assert h.description == description


def test_decode_keeps_invalid_utf8_and_round_trips_it() -> None:
    block = b"NATS/1.0\r\nK: \xff\xfe\r\n\r\n"
    h = decode_headers(block)
    assert encode_headers(h) == block


@pytest.mark.parametrize(
    ("block", "match"),
    [
        (b"", "does not start with NATS/1.0"),
        (b"HTTP/1.1 200 OK\r\n\r\n", "does not start with NATS/1.0"),
        (b"nats/1.0\r\n\r\n", "does not start with NATS/1.0"),
        (b"NATS/1.0 50\r\n\r\n", "bad status"),
        (b"NATS/1.0 5034\r\n\r\n", "bad status"),
        (b"NATS/1.0 abc\r\n\r\n", "bad status"),
        ("NATS/1.0 \u00b2\u00b2\u00b2\r\n\r\n".encode(), "bad status"),
        ("NATS/1.0 \u0665\u0660\u0663\r\n\r\n".encode(), "bad status"),
        (b"NATS/1.0\r\nno colon here\r\n\r\n", "bad header line"),
        (b"NATS/1.0\r\n: value\r\n\r\n", "bad header line"),
        (b"NATS/1.0\r\n  : value\r\n\r\n", "bad header line"),
    ],
)
def test_decode_errors(block: bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        decode_headers(block)


# --------------------------------------------------------------- round trip


@given(pairs=header_pairs_st, status=status_st, description=description_st)
@settings(max_examples=150, deadline=None)
def test_round_trip(
    pairs: tuple[tuple[str, str], ...], status: int | None, description: str
) -> None:
    if status is None:
        description = ""
    h = Headers(list(pairs), status=status, description=description)
    block = encode_headers(h)
    # The encoder writes the same bytes as the test's hand-written block
    # (values grouped under the first occurrence of their key).
    assert block == header_block(pairs_in_key_order(pairs), status, description)
    back = decode_headers(block)
    assert back == h
    assert list(back.multi_items()) == list(pairs_in_key_order(pairs))


def pairs_in_key_order(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    # Headers groups values by key, keeping the first-seen key order.
    order: dict[str, list[str]] = {}
    for k, v in pairs:
        order.setdefault(k, []).append(v)
    return [(k, v) for k, vs in order.items() for v in vs]


@given(
    st.dictionaries(
        st.text(
            st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1
        ),
        st.lists(
            st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")),
            min_size=1,
        ),
    )
)
@settings(max_examples=100, deadline=None)
def test_mapping_round_trip_modulo_edge_whitespace(d: dict[str, list[str]]) -> None:
    back = decode_headers(encode_headers(d))
    assert {k: back.get_all(k) for k in back} == {k: [v.strip() for v in vs] for k, vs in d.items()}


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=10))
@settings(max_examples=100, deadline=None)
def test_encode_either_works_or_raises_bad_header(value: str) -> None:
    try:
        block = encode_headers({"K": value})
    except BadHeaderError:
        assert "\r" in value or "\n" in value
    else:
        assert decode_headers(block)["K"] == value.strip()


def test_truth_counts_the_status_line() -> None:
    assert not Headers()
    assert Headers({"A": "1"})
    assert Headers(status=503, description="No Responders")  # a block with a status only
    assert decode_headers(b"NATS/1.0 408 Request Timeout\r\n\r\n")
    assert not decode_headers(b"NATS/1.0\r\n\r\n")
