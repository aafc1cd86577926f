"""Atheris harness for the server-op parser.

The invariant: any bytes, cut anywhere, either parse or raise
``RemoteProtocolError``, never anything else; and cutting the input into
chunks never changes the outcome (same ops, or an error either way).

Run: ``pip install .[fuzz]`` then ``python fuzz/fuzz_parser.py -max_total_time=60``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

try:
    import atheris
except ImportError:  # importable (and testable) without atheris
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from nats_core import ErrOp, InfoOp, Msg, Parser
        from nats_core.errors import RemoteProtocolError
else:
    from nats_core import ErrOp, InfoOp, Msg, Parser
    from nats_core.errors import RemoteProtocolError

# In "token" mode each byte >= 0xF0 stands for one of these, so the fuzzer
# reaches deep parser states without a dictionary file; a byte from 0xE0 to
# 0xEF stands for a long run of filler (see stretch), so that inputs of several
# MiB reach the INFO and payload caps.
TOKENS = (
    b"MSG ",
    b"HMSG ",
    b"INFO ",
    b"PING\r\n",
    b"PONG\r\n",
    b"+OK\r\n",
    b"-ERR '",
    b"\r\n",
    b"NATS/1.0",
    b"NATS/1.0 503\r\n\r\n",
    b"foo.bar 1 ",
    b'{"connect_urls":["a:1"],"ldm":true,"max_payload":10}',
    b"12",
    b"\r\n\r\n",
    b"Key: value\r\n",
    b"x" * 4090,
)


#: Filler per step of a stretch byte: 0xE0 is 256 KiB, 0xEF 4 MiB.
STRETCH = 256 * 1024


def stretch(b: int) -> bytes:
    """The filler a byte from 0xE0 to 0xEF stands for in token mode."""
    return b"x" * ((b - 0xDF) * STRETCH)


def expand(data: bytes) -> bytes:
    """Turn an input into wire bytes: raw, or with token bytes expanded."""
    if not data or data[0] & 1 == 0:
        return data[1:]
    out = bytearray()
    for b in data[1:]:
        if b >= 0xF0:
            out += TOKENS[b - 0xF0]
        elif b >= 0xE0:
            out += stretch(b)
        else:
            out.append(b)
    return bytes(out)


def chunks_of(data: bytes, seed: int) -> list[bytes]:
    """Cut ``data`` into chunks whose sizes follow ``seed`` (deterministic)."""
    # Long inputs get larger chunks, so one run stays fast.
    floor = len(data) // 64
    sizes = [max(n, floor) for n in (seed % 7 + 1, seed % 13 + 1, 1, seed % 61 + 1)]
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out.append(data[pos : pos + n])
        pos += n
        i += 1
    return out


def normalize(op: Any) -> Any:
    """A comparable form of a parsed op (NaN-safe for INFO)."""
    if isinstance(op, Msg):
        h = op.headers
        hdr = None if h is None else (list(h.multi_items()), h.status, h.description)
        return ("MSG", op.subject, op.reply, op.sid, bytes(op.data), hdr)
    if isinstance(op, InfoOp):
        return ("INFO", json.dumps(op.data, sort_keys=True))
    if isinstance(op, ErrOp):
        return ("ERR", op.text)
    return repr(op)


def run(chunks: list[bytes]) -> tuple[list[Any], bool]:
    """Feed ``chunks``; return the normalized ops and whether it raised."""
    parser = Parser(max_payload=1024)
    ops: list[Any] = []
    try:
        for c in chunks:
            ops += [normalize(o) for o in parser.feed(c)]
    except RemoteProtocolError:
        # Once broken, a parser stays broken.
        try:
            parser.feed(b"PING\r\n")
        except RemoteProtocolError:
            return ops, True
        raise AssertionError("parser accepted input after an error") from None
    return ops, False


def TestOneInput(data: bytes) -> None:
    seed = data[0] if data else 0
    wire = expand(data)
    whole, whole_err = run([wire])
    split, split_err = run(chunks_of(wire, seed))
    assert whole_err == split_err, (whole_err, split_err)
    if not whole_err:
        assert whole == split, (whole, split)


def main() -> None:
    if atheris is None:
        sys.exit("atheris is not installed: pip install 'pynats[fuzz]'")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
