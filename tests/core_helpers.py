"""Helpers for the network-free tests of nats_core.

A small model of the server's side of the protocol (Hypothesis strategies that
generate server ops, a serializer that writes them as a server would), a
reader of the client's side (so tests can check what the client queued), and
shortcuts that walk a :class:`Connection` through its handshake in memory.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from nats_core import Connection, ConnectOptions, Event, Headers, InfoOp, Msg, Parser
from nats_core._parser import OK, PING, PONG, ErrOp, ParsedOp

# ---------------------------------------------------------------- server ops


@dataclass(frozen=True)
class SrvInfo:
    data: dict[str, Any]


@dataclass(frozen=True)
class SrvMsg:
    subject: str
    sid: int
    reply: str
    payload: bytes
    # None: MSG; otherwise HMSG with these (key, value) pairs and optional status
    headers: tuple[tuple[str, str], ...] | None = None
    status: int | None = None
    description: str = ""


@dataclass(frozen=True)
class SrvErr:
    text: str


@dataclass(frozen=True)
class SrvSimple:
    name: str  # "PING", "PONG" or "+OK"


ServerOp = SrvInfo | SrvMsg | SrvErr | SrvSimple


@dataclass(frozen=True)
class Style:
    """How an op is written: op-name case and the separator between fields."""

    lower: bool = False
    sep: bytes = b" "


def header_block(
    pairs: Iterable[tuple[str, str]], status: int | None = None, description: str = ""
) -> bytes:
    """A header block written by hand (independent of ``encode_headers``)."""
    first = "NATS/1.0"
    if status is not None:
        first += f" {status}"
        if description:
            first += f" {description}"
    lines = [first] + [f"{k}: {v}" for k, v in pairs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def serialize(op: ServerOp, style: Style = Style()) -> bytes:
    """Write ``op`` as a server would (in ``style``)."""
    sep = style.sep

    def name(n: str) -> bytes:
        return (n.lower() if style.lower else n).encode()

    if isinstance(op, SrvSimple):
        return name(op.name) + b"\r\n"
    if isinstance(op, SrvErr):
        return name("-ERR") + sep + f"'{op.text}'".encode() + b"\r\n"
    if isinstance(op, SrvInfo):
        return name("INFO") + sep + json.dumps(op.data).encode() + b"\r\n"
    fields = [op.subject.encode(), b"%d" % op.sid]
    if op.reply:
        fields.append(op.reply.encode())
    if op.headers is None:
        fields.append(b"%d" % len(op.payload))
        return name("MSG") + sep + sep.join(fields) + b"\r\n" + op.payload + b"\r\n"
    hdr = header_block(op.headers, op.status, op.description)
    fields += [b"%d" % len(hdr), b"%d" % (len(hdr) + len(op.payload))]
    return name("HMSG") + sep + sep.join(fields) + b"\r\n" + hdr + op.payload + b"\r\n"


def expected(op: ServerOp) -> ParsedOp:
    """What the parser must return for ``op``."""
    if isinstance(op, SrvSimple):
        return {"PING": PING, "PONG": PONG, "+OK": OK}[op.name]
    if isinstance(op, SrvErr):
        return ErrOp(op.text)
    if isinstance(op, SrvInfo):
        return InfoOp(op.data)
    headers = None
    if op.headers is not None:
        headers = Headers(list(op.headers), status=op.status, description=op.description)
    return Msg(op.subject, op.reply, op.payload, headers, op.sid)


# Subjects as the server delivers them: any non-whitespace characters, UTF-8 included.
_SUBJECT_CHARS = st.sampled_from(list("abcXYZ019-_$*>é日ü"))
token_st = st.text(_SUBJECT_CHARS, min_size=1, max_size=8)
subject_st = st.lists(token_st, min_size=1, max_size=4).map(".".join)
reply_st = st.one_of(st.just(""), subject_st)
sid_st = st.integers(min_value=0, max_value=10**15)
payload_st = st.binary(max_size=64)
# Header keys: printable ASCII without ':' or space; values: no CR/LF, no edge whitespace.
header_key_st = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=12,
)
header_value_st = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=16
).filter(lambda v: v == v.strip())
header_pairs_st = st.lists(st.tuples(header_key_st, header_value_st), max_size=5).map(tuple)
status_st = st.one_of(st.none(), st.integers(min_value=100, max_value=599))
description_st = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12) | st.just(
    "No Responders"
)

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
info_dict_st = st.dictionaries(st.text(max_size=10), json_value, max_size=5)


@st.composite
def msg_op_st(draw: st.DrawFn) -> SrvMsg:
    with_headers = draw(st.booleans())
    status = draw(status_st) if with_headers else None
    return SrvMsg(
        subject=draw(subject_st),
        sid=draw(sid_st),
        reply=draw(reply_st),
        payload=draw(payload_st),
        headers=draw(header_pairs_st) if with_headers else None,
        status=status,
        description=draw(description_st) if status is not None else "",
    )


err_text_st = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"))

server_op_st: st.SearchStrategy[ServerOp] = st.one_of(
    st.builds(SrvSimple, st.sampled_from(["PING", "PONG", "+OK"])),
    st.builds(SrvErr, err_text_st.filter(lambda t: t == t.strip())),
    st.builds(SrvInfo, info_dict_st),
    msg_op_st(),
)
style_st = st.builds(Style, st.booleans(), st.sampled_from([b" ", b"\t", b"  ", b" \t"]))


# ------------------------------------------------------------------ feeding


def feed_chunks(parser: Parser, chunks: Iterable[bytes]) -> list[ParsedOp]:
    out: list[ParsedOp] = []
    for c in chunks:
        out += parser.feed(c)
    return out


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def splits_of(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random points (empty chunks included sometimes)."""
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=12))
    chunks = split_at(data, cuts)
    if draw(st.booleans()):
        chunks.insert(draw(st.integers(0, len(chunks))), b"")
    return chunks


FEED_MODES = ("whole", "bytewise", "halves")


def chunks_for(mode: str, data: bytes) -> list[bytes]:
    if mode == "whole":
        return [data]
    if mode == "bytewise":
        return bytewise(data)
    return split_at(data, [len(data) // 3, 2 * len(data) // 3])


# ------------------------------------------------------------- client side


def client_ops(data: bytes) -> list[tuple[Any, ...]]:
    """Read what a client queued: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.

    PUB -> ("PUB", subject, reply, payload); HPUB -> ("HPUB", subject, reply,
    header block, payload); SUB -> ("SUB", subject, queue, sid); UNSUB ->
    ("UNSUB", sid, max or None); CONNECT -> ("CONNECT", dict).
    """
    ops: list[tuple[Any, ...]] = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\r\n", pos)
        line = data[pos:end]
        pos = end + 2
        name, _, rest = line.partition(b" ")
        args = rest.split()
        if name == b"CONNECT":
            ops.append(("CONNECT", json.loads(rest)))
        elif name in (b"PING", b"PONG"):
            ops.append((name.decode(),))
        elif name == b"SUB":
            queue = args[1].decode() if len(args) == 3 else ""
            ops.append(("SUB", args[0].decode(), queue, int(args[-1])))
        elif name == b"UNSUB":
            ops.append(("UNSUB", int(args[0]), int(args[1]) if len(args) > 1 else None))
        elif name == b"PUB":
            size = int(args[-1])
            reply = args[1].decode() if len(args) == 3 else ""
            payload = data[pos : pos + size]
            assert data[pos + size : pos + size + 2] == b"\r\n"
            pos += size + 2
            ops.append(("PUB", args[0].decode(), reply, payload))
        elif name == b"HPUB":
            hlen, total = int(args[-2]), int(args[-1])
            reply = args[1].decode() if len(args) == 4 else ""
            block = data[pos : pos + total]
            assert data[pos + total : pos + total + 2] == b"\r\n"
            pos += total + 2
            ops.append(("HPUB", args[0].decode(), reply, block[:hlen], block[hlen:]))
        else:  # pragma: no cover - a test bug
            raise AssertionError(f"unknown client op {line!r}")
    return ops


def op_names(data: bytes) -> list[str]:
    return [op[0] for op in client_ops(data)]


# --------------------------------------------------------------- handshake

DEFAULT_INFO: dict[str, Any] = {
    "server_id": "NTEST",
    "server_name": "test",
    "version": "2.10.0",
    "proto": 1,
    "host": "127.0.0.1",
    "port": 4222,
    "headers": True,
    "max_payload": 1048576,
}


def info_line(**fields: Any) -> bytes:
    data = {**DEFAULT_INFO, **fields}
    return b"INFO " + json.dumps(data).encode() + b"\r\n"


def new_conn(seed: int = 7, **options: Any) -> Connection:
    options.setdefault("servers", ["nats://127.0.0.1:4222"])
    return Connection(ConnectOptions(**options), rng=random.Random(seed))


def handshake(
    conn: Connection, server: Any = None, **info: Any
) -> tuple[dict[str, Any], list[Event]]:
    """connection_made + INFO + PONG; return the CONNECT fields and the events.

    Leaves whatever the handshake queued after CONNECT/PING in data_to_send.
    """
    conn.connection_made(server)
    events = conn.receive_data(info_line(**info))
    sent = conn.data_to_send()
    ops = client_ops(sent)
    assert [o[0] for o in ops] == ["CONNECT", "PING"], ops
    events += conn.receive_data(b"PONG\r\n")
    return ops[0][1], events


def connected(seed: int = 7, info: dict[str, Any] | None = None, **options: Any) -> Connection:
    """A Connection past its handshake, with nothing left to send."""
    conn = new_conn(seed, **options)
    handshake(conn, **(info or {}))
    assert conn.data_to_send() == b""
    return conn


def msg_bytes(subject: str, sid: int, payload: bytes = b"", reply: str = "") -> bytes:
    return serialize(SrvMsg(subject, sid, reply, payload))


def hmsg_bytes(
    subject: str,
    sid: int,
    payload: bytes = b"",
    reply: str = "",
    headers: Sequence[tuple[str, str]] = (),
    status: int | None = None,
    description: str = "",
) -> bytes:
    return serialize(SrvMsg(subject, sid, reply, payload, tuple(headers), status, description))
