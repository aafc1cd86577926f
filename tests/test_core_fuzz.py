"""The fuzz invariants as Hypothesis tests (fuzz/ has the atheris harnesses).

Any bytes from the server, cut anywhere, either parse or raise
RemoteProtocolError, never anything else; the Connection on top of the parser
keeps that promise whatever the client does in between.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import nkeys
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core_helpers import (
    info_line,
    json_value,
    new_conn,
    serialize,
    server_op_st,
    split_at,
    splits_of,
)
from nats_core import Event, Parser, ServerErrorEvent, State
from nats_core._parser import MAX_CONTROL_LINE, MAX_INFO_LINE
from nats_core.errors import (
    LocalProtocolError,
    NatsError,
    ReconnectBufferFullError,
    RemoteProtocolError,
    SubscriptionClosedError,
)

FUZZ_DIR = Path(__file__).resolve().parent.parent / "fuzz"

# Pieces of the protocol, so random input reaches deep parser states.
FRAGMENTS = [
    b"MSG ",
    b"HMSG ",
    b"INFO ",
    b"PING",
    b"PONG",
    b"+OK",
    b"-ERR ",
    b"msg ",
    b"'",
    b"\r\n",
    b"\r",
    b"\n",
    b" ",
    b"\t",
    b"foo.x",
    b"bar",
    b"_INBOX.",
    b"1",
    b"2",
    b"3",
    b"0",
    b"12",
    b"16",
    b"-1",
    b"99999999999999999999",
    b"NATS/1.0",
    b"NATS/1.0 503",
    b"K: v",
    b": ",
    b"{}",
    b'{"connect_urls":["a:1","[::1]:2","nats://[x"],"ldm":true}',
    b'{"max_payload":1}',
    b"[",
    b"\xff",
    b"\x00",
    b"\xc3\xa9",
    b"\xb2\xb2\xb2",
]

wire_piece = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.binary(max_size=8),
    server_op_st.map(serialize),
)
protocolish = st.lists(wire_piece, max_size=30).map(b"".join)
any_wire = st.one_of(st.binary(max_size=300), protocolish)


def run_parser(chunks: list[bytes]) -> tuple[list[Any], BaseException | None]:
    parser = Parser(max_payload=64)
    ops: list[Any] = []
    try:
        for c in chunks:
            ops += parser.feed(c)
    except RemoteProtocolError as e:
        return ops, e
    return ops, None


# ---------------------------------------------------------------------- parser


@given(data=any_wire, split=st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(data=b"MSG a 1 1\r\nx\r\n" + b"\xff", split=None)
@example(data=b"HMSG a 1 3 3\r\nNAT\r\n", split=None)
def test_parser_only_raises_remote_protocol_error(data: bytes, split: Any) -> None:
    chunks = [data] if split is None else split.draw(splits_of(data))
    try:
        for c in chunks:
            Parser().feed(c)  # each chunk alone on a fresh parser
        run_parser(chunks)
    except RemoteProtocolError:
        pass
    # Anything else escapes and fails the test.


@given(data=any_wire, split=st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_parser_outcome_does_not_depend_on_cuts(data: bytes, split: st.DataObject) -> None:
    whole_ops, whole_err = run_parser([data])
    chunks = split.draw(splits_of(data))
    split_ops, split_err = run_parser(chunks)
    assert (whole_err is None) == (split_err is None), (whole_err, split_err)
    if whole_err is None:
        assert [repr(o) for o in split_ops] == [repr(o) for o in whole_ops]
    else:
        # Ops before the error come out of the split run; the whole run drops them.
        assert len(split_ops) >= len(whole_ops)


# Long lines near every limit (a control line's 4096 bytes, INFO's 1 MiB) and
# inputs of several MiB: a limit that depends on the chunking shows up here.
_LONG_HEADS = [b'INFO {"a":"', b"INFO ", b"MSG a 1 ", b"-ERR '", b"", b"HMSG a 1 "]
_LONG_TAILS = [b'"}\r\n', b"\r\n", b"", b"\r", b" 3\r\nabc\r\n"]
long_line = st.builds(
    lambda head, n, tail: head + b"x" * n + tail,
    st.sampled_from(_LONG_HEADS),
    st.one_of(
        st.integers(MAX_CONTROL_LINE - 16, MAX_CONTROL_LINE + 4),
        st.integers(MAX_INFO_LINE - 16, MAX_INFO_LINE + 4),
        st.integers(0, 5 * 1024 * 1024),
    ),
    st.sampled_from(_LONG_TAILS),
)
large_wire = st.lists(st.one_of(long_line, wire_piece), min_size=1, max_size=4).map(b"".join)


@given(data=large_wire, split=st.data(), read_size=st.sampled_from([65536, 4096, 1000003]))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@example(data=b'INFO {"a":"' + b"x" * (3 * 1024 * 1024) + b'"}\r\n', split=None, read_size=65536)
def test_large_inputs_parse_the_same_whatever_the_chunking(
    data: bytes, split: Any, read_size: int
) -> None:
    whole_ops, whole_err = run_parser([data])
    reads = [data[i : i + read_size] for i in range(0, len(data), read_size)]
    for chunks in (reads, split.draw(splits_of(data)) if split is not None else reads):
        split_ops, split_err = run_parser(chunks)
        assert (whole_err is None) == (split_err is None), (whole_err, split_err)
        if whole_err is None:
            assert [repr(o) for o in split_ops] == [repr(o) for o in whole_ops]


@given(data=st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_parser_bytewise_raises_only_remote_protocol_error(data: bytes) -> None:
    parser = Parser()
    try:
        for i in range(len(data)):
            parser.feed(data[i : i + 1])
    except RemoteProtocolError:
        with pytest.raises(RemoteProtocolError):
            parser.feed(b"PING\r\n")


# ------------------------------------------------------------------ connection

SUBJECTS = ["foo.*", "bar", "_INBOX.>"]
ACTIONS = [
    "ping",
    "keepalive",
    "publish",
    "hpublish",
    "request",
    "subscribe",
    "unsubscribe",
    "unsubscribe_max",
    "drain_sub",
    "start_drain",
    "drain_publishes",
    "cancel",
    "lost_and_back",
]
LOCAL_REFUSALS = (LocalProtocolError, SubscriptionClosedError, ReconnectBufferFullError)


def client_does(conn: Any, action: str, n: int) -> None:
    """One move of the client between two reads; local refusals are fine."""
    try:
        if action == "ping":
            conn.ping()
        elif action == "keepalive":
            conn.keepalive()
        elif action == "publish":
            conn.publish("pub.x", b"p" * n)
        elif action == "hpublish":
            conn.publish("pub.x", b"p", reply="r.1", headers={"K": str(n)})
        elif action == "request":
            conn.request("svc", b"q")
        elif action == "subscribe":
            conn.subscribe(SUBJECTS[n % 3], max_msgs=n % 3)
        elif action == "unsubscribe":
            conn.unsubscribe(1 + n % 4)
        elif action == "unsubscribe_max":
            conn.unsubscribe(1 + n % 4, max_msgs=n)
        elif action == "drain_sub":
            conn.drain_subscription(1 + n % 4)
        elif action == "start_drain":
            conn.start_drain()
        elif action == "drain_publishes":
            conn.drain_publishes()
        elif action == "cancel":
            conn.cancel_request(str(n))
        elif action == "lost_and_back" and conn.state is not State.CLOSED:
            conn.connection_lost()
            conn.connection_made()
            conn.receive_data(info_line())
    except LOCAL_REFUSALS:
        pass


def fresh_connection(tls: bool, pong: bool) -> Any:
    conn = new_conn(seed=1, reconnect_buf_size=2048, max_pings_outstanding=1)
    conn.subscribe("foo.*")
    conn.subscribe("bar", queue="q", max_msgs=2)
    conn.request("svc")
    conn.connection_made(conn.pool.first_server())
    conn.receive_data(info_line(tls_required=tls, max_payload=256))
    if conn.state is State.TLS_WANTED:
        conn.tls_started()
    if pong:
        conn.receive_data(b"PONG\r\n")
    conn.data_to_send()
    return conn


@given(
    tls=st.booleans(),
    pong=st.booleans(),
    steps=st.lists(st.tuples(any_wire, st.sampled_from(ACTIONS), st.integers(0, 6)), max_size=12),
    cuts=st.lists(st.integers(0, 300), max_size=4),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_connection_only_raises_remote_protocol_error(
    tls: bool, pong: bool, steps: list[tuple[bytes, str, int]], cuts: list[int]
) -> None:
    conn = fresh_connection(tls, pong)
    for wire, action, n in steps:
        for chunk in split_at(wire, cuts):
            try:
                events = conn.receive_data(chunk)
            except RemoteProtocolError:
                # Stays broken until the transport is replaced; then it works again.
                with pytest.raises(RemoteProtocolError):
                    conn.receive_data(b"PING\r\n")
                conn.connection_lost()
                if conn.state is State.CLOSED:
                    return
                conn.connection_made()
                conn.receive_data(info_line())
                break
            assert all(isinstance(e, Event) for e in events)
            for e in events:
                if isinstance(e, ServerErrorEvent):
                    assert isinstance(e.error, NatsError)
            assert type(conn.data_to_send()) is bytes
        client_does(conn, action, n)
        assert conn.state in State


@given(info=st.dictionaries(st.text(max_size=8), json_value, max_size=4), data=st.data())
@settings(max_examples=80, deadline=None)
def test_connection_accepts_any_info_object(info: dict[str, Any], data: st.DataObject) -> None:
    interesting = {
        "connect_urls": st.one_of(json_value, st.lists(st.text(max_size=20), max_size=4)),
        "ldm": json_value,
        "max_payload": st.one_of(json_value, st.integers(-(2**70), 2**70)),
        "tls_required": json_value,
        "headers": json_value,
        "nonce": st.one_of(json_value, st.text(max_size=20)),
        "port": json_value,
    }
    for key, strat in interesting.items():
        if data.draw(st.booleans(), label=f"set {key}"):
            info[key] = data.draw(strat, label=key)
    seed = nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_USER)
    conn = new_conn(seed=0, nkey_seed=seed)
    conn.connection_made(conn.pool.first_server())
    line = b"INFO " + json.dumps(info).encode() + b"\r\n"
    events = conn.receive_data(line)
    if conn.state is State.TLS_WANTED:
        assert [type(e).__name__ for e in events] == ["StartTLS"]
        conn.tls_started()
    assert conn.state is State.CONNECT_SENT
    conn.receive_data(b"PONG\r\n")
    assert conn.state is State.CONNECTED
    # The same INFO again, now as a cluster update.
    events = conn.receive_data(line)
    assert {type(e).__name__ for e in events} <= {"InfoUpdated", "LameDuckMode"}
    assert events


@given(text=st.text(st.characters(exclude_characters="\r\n"), max_size=60))
@settings(max_examples=150, deadline=None)
def test_any_err_text_becomes_a_server_error_event(text: str) -> None:
    conn = fresh_connection(tls=False, pong=True)
    events = conn.receive_data(b"-ERR '" + text.encode("utf-8", "surrogatepass") + b"'\r\n")
    assert isinstance(events[-1], ServerErrorEvent)
    assert all(type(e).__name__ in ("ServerErrorEvent", "SubscriptionEnded") for e in events)


# ---------------------------------------------------------- atheris harnesses


def load_harness(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_harness_{name}", FUZZ_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parser_harness() -> ModuleType:
    return load_harness("fuzz_parser")


@pytest.fixture(scope="module")
def connection_harness() -> ModuleType:
    return load_harness("fuzz_connection")


def test_harnesses_have_entry_points(
    parser_harness: ModuleType, connection_harness: ModuleType
) -> None:
    for h in (parser_harness, connection_harness):
        assert callable(h.TestOneInput)
        assert callable(h.main)
        h.TestOneInput(b"")


SEEDS = [
    b"\x00PING\r\nMSG a 1 1\r\nx\r\n",
    b"\x01\xf0foo 1 2\r\nab\r\n\xf3\xf4",
    b"\x05\xf1a 1 \xf2\xfc\xf9" + b"x" * 20,
    b"\x07\xff\xff\r\n",
    b"\x0e\xf0\xfe\xf4\xfa\xf6\xfb",
    b"\x03" + b"garbage\r\n",
    # several MiB: a 1.5 MiB INFO (over the cap however it is cut), a 4 MiB line
    b'\x01\xf2{"a":"\xe4\xe0"}\r\n\xf3',
    b"\x05\xef\xe0\r\n\xf3",
]


@pytest.mark.parametrize("seed", SEEDS)
def test_harnesses_run_on_seeds(
    seed: bytes, parser_harness: ModuleType, connection_harness: ModuleType
) -> None:
    parser_harness.TestOneInput(seed)
    connection_harness.TestOneInput(seed)


@given(data=st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_harnesses_hold_on_random_input(
    data: bytes, parser_harness: ModuleType, connection_harness: ModuleType
) -> None:
    parser_harness.TestOneInput(data)
    connection_harness.TestOneInput(data)


def test_parser_harness_detects_a_broken_invariant(parser_harness: ModuleType) -> None:
    # The harness's check can fail: a parser that drops ops on cut inputs is caught.
    whole, err = parser_harness.run([b"PING\r\nPONG\r\n"])
    split, err2 = parser_harness.run([b"PI", b"NG\r\nPONG\r\n"])
    assert (whole, err) == (split, err2)
    assert whole == ["PING", "PONG"]
    assert parser_harness.run([b"BAD\r\n"]) == ([], True)
    assert parser_harness.expand(b"\x01\xf3") == b"PING\r\n"
    assert parser_harness.expand(b"\x00\xf3") == b"\xf3"
    assert parser_harness.expand(b"\x01\xe0\xef") == b"x" * (17 * 256 * 1024)
    assert b"".join(parser_harness.chunks_of(b"x" * 100, 9)) == b"x" * 100
