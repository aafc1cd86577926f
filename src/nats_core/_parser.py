"""The server-to-client parser: bytes in, ops out, in one pass.

Two phases per op: find the control line (``bytes.find`` for CRLF, resuming
from a remembered offset so a slowly filling buffer is never rescanned), then
for MSG/HMSG wait for exactly ``size + 2`` payload bytes. Both are capped.
Any input either parses or raises :class:`RemoteProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from ._events import Msg
from .errors import RemoteProtocolError

__all__ = [
    "MAX_CONTROL_LINE",
    "OK",
    "PING",
    "PONG",
    "ErrOp",
    "InfoOp",
    "ParsedOp",
    "Parser",
]

MAX_CONTROL_LINE: Final = 4096
#: INFO may be longer (a large cluster's connect_urls); it gets this cap instead.
MAX_INFO_LINE: Final = 1024 * 1024
#: Bytes accepted beyond the server's max_payload before a payload is refused.
PAYLOAD_SLACK: Final = 64 * 1024


class _Simple:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PING: Final = _Simple("PING")
PONG: Final = _Simple("PONG")
OK: Final = _Simple("+OK")


class InfoOp:
    """``INFO {json}``: ``data`` is the parsed JSON object."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InfoOp) and other.data == self.data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InfoOp({self.data!r})"


class ErrOp:
    """``-ERR '<text>'``: ``text`` without the quotes."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrOp) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ErrOp({self.text!r})"


ParsedOp = Msg | InfoOp | ErrOp | _Simple


def _cached_num(b: bytes, cache: dict[bytes, int], what: str = "sid") -> int:
    """Check and convert a sid or size token, and remember it (a bounded cache)."""
    if not b.isdigit() or len(b) > 18:
        raise RemoteProtocolError(f"bad {what} {b[:32]!r} in control line")
    if len(cache) >= 4096:
        cache.clear()
    sid = cache[b] = int(b)
    return sid


def _num(b: bytes, what: str) -> int:
    if not b.isdigit() or len(b) > 18:
        raise RemoteProtocolError(f"bad {what} {b[:32]!r} in control line")
    return int(b)


# The optional C fast path for MSG and HMSG (src/nats_core/_speedups.c), built
# when a compiler was there at install time; None: pure Python (the same results).
_scan_msgs: Callable[[bytes, int, list[ParsedOp], type[Msg], Any, int], int] | None
try:
    from ._speedups import scan_msgs as _scan_msgs
except ImportError:  # pragma: no cover - installed without a compiler
    _scan_msgs = None


class Parser:
    """Incremental parser of the server's side of the protocol.

    ``msg_class`` is the class of delivered messages: :class:`Msg` or a subclass
    that adds no ``__init__`` (on the hot path the parser creates the instance
    and sets ``subject``, ``reply``, ``data``, headers, ``sid`` and the client
    itself, without calling ``__init__``).
    ``max_payload`` caps payloads (plus :data:`PAYLOAD_SLACK`).
    """

    __slots__ = (
        "_broken",
        "_chunks",
        "_have",
        "_pending",
        "_rest",
        "_scan",
        "_sids",
        "client",
        "max_payload",
        "msg_class",
    )

    def __init__(
        self, msg_class: type[Msg] = Msg, client: Any = None, max_payload: int = 1024 * 1024
    ) -> None:
        self.msg_class = msg_class
        self.client = client
        self.max_payload = max_payload
        self._rest = bytearray()  # unparsed bytes (at most one partial control line)
        self._scan = 0  # where the next CRLF search starts in _rest
        # A MSG/HMSG whose payload is still arriving:
        # (subject, sid, reply, hdr_len, total_len)
        self._pending: tuple[str, int, str, int, int] | None = None
        self._chunks: list[bytes] = []
        self._have = 0
        self._broken: RemoteProtocolError | None = None
        self._sids: dict[bytes, int] = {}  # sid and size tokens seen, checked and converted

    def reset(self) -> None:
        """Forget any partial input (a new transport starts from scratch)."""
        self._rest = bytearray()
        self._scan = 0
        self._pending = None
        self._chunks = []
        self._have = 0
        self._broken = None

    def feed(self, data: bytes) -> list[ParsedOp]:
        """Parse ``data`` appended to what came before; return the complete ops."""
        if self._broken is not None:
            raise self._broken
        try:
            return self._feed(data)
        except RemoteProtocolError as e:
            self._broken = e
            raise
        except UnicodeDecodeError as e:
            err = RemoteProtocolError(f"subject or reply subject is not UTF-8: {e}")
            self._broken = err
            raise err from None
        except (ValueError, TypeError, IndexError, RecursionError) as e:  # pragma: no cover
            err = RemoteProtocolError(f"unparseable input from the server: {e}")
            self._broken = err
            raise err from e

    def _feed(self, data: bytes) -> list[ParsedOp]:
        out: list[ParsedOp] = []
        pending = self._pending
        if pending is not None:
            # Collect payload chunks until the whole payload and CRLF are here.
            self._chunks.append(data)
            self._have += len(data)
            if self._have < pending[4] + 2:
                return out
            buf = b"".join(self._chunks)
            self._chunks = []
            self._have = 0
            pos = self._payload(buf, 0, pending, out)
            self._pending = None
            scan = pos
        elif self._rest:
            rest = self._rest
            rest += data
            if b"\n" not in data:
                # No line can end in this chunk: keep collecting, without copying it all.
                _check_partial(rest, 0, len(rest))
                self._scan = len(rest) - 1
                return out
            buf = bytes(rest)
            scan = self._scan
            pos = 0
        else:
            buf = bytes(data)
            scan = pos = 0
        n = len(buf)
        find = buf.find
        startswith = buf.startswith
        msg_class = self.msg_class
        new = msg_class.__new__
        client = self.client
        cap = self.max_payload + PAYLOAD_SLACK
        sids = self._sids
        append = out.append
        fast = _scan_msgs
        while pos < n:
            if fast is not None and (buf[pos] == 77 or buf[pos] == 72):  # "M", "H"
                # The C fast path takes every well-formed message it can; it stops
                # at anything else, which the code below handles (or rejects).
                at = fast(buf, pos, out, msg_class, client, cap)
                if at != pos:
                    pos = scan = at
                    continue
            idx = find(b"\r\n", scan if scan > pos else pos)
            if idx < 0:
                _check_partial(buf, pos, n)
                scan = n - 1  # a CR may be the last byte
                break
            if idx - pos > MAX_CONTROL_LINE and (
                idx - pos > MAX_INFO_LINE or not _is_info(buf, pos, idx)
            ):
                raise _too_long(buf, pos)  # the same limits as _check_partial's
            if buf[pos] == 77 and startswith(b"MSG ", pos):  # 77: "M", a cheap first test
                # The hot path: a plain message, parsed inline.
                args = buf[pos + 4 : idx].split()
                na = len(args)
                if na == 3:
                    subj, sid_b, size_b = args
                    reply = ""
                elif na == 4:
                    subj, sid_b, rep, size_b = args
                    reply = rep.decode()
                else:
                    raise RemoteProtocolError(f"MSG needs 3 or 4 arguments, got {na}")
                sid = sids.get(sid_b)
                if sid is None:
                    sid = _cached_num(sid_b, sids)
                size = sids.get(size_b)
                if size is None:
                    size = _cached_num(size_b, sids, "size")
                if size > cap:
                    raise RemoteProtocolError(
                        f"message of {size} bytes exceeds max_payload {self.max_payload}"
                    )
                start = idx + 2
                end = start + size
                if end + 2 <= n:
                    if not startswith(b"\r\n", end):
                        raise _no_crlf(subj, size)
                    m = new(msg_class)  # the fields set here, without a call to __init__
                    m.subject = subj.decode()
                    m.reply = reply
                    m.data = buf[start:end]
                    m._headers = None
                    m.sid = sid
                    m._client = client
                    append(m)
                    pos = scan = end + 2
                    continue
                hlen = -1
                pos = start
            elif startswith(b"HMSG ", pos):
                args = buf[pos + 5 : idx].split()
                hlen = 0
                pos = idx + 2
                na = len(args)
                if na == 4:
                    subj, sid_b, hsize_b, size_b = args
                    reply = ""
                elif na == 5:
                    subj, sid_b, rep, hsize_b, size_b = args
                    reply = rep.decode()
                else:
                    raise RemoteProtocolError(f"HMSG needs 4 or 5 arguments, got {na}")
                size = _num(size_b, "total size")
                hsize = _num(hsize_b, "header size")
                end = pos + size
                if end + 2 <= n and hsize <= size <= cap:
                    if buf[end : end + 2] != b"\r\n":
                        raise _no_crlf(subj, size)
                    hend = pos + hsize
                    block = buf[pos:hend]
                    _check_header_block(block, subj)
                    sid = sids.get(sid_b)
                    if sid is None:
                        sid = _cached_num(sid_b, sids)
                    m = new(msg_class)
                    m.subject = subj.decode()
                    m.reply = reply
                    m.data = buf[hend:end]
                    m._headers = block  # decoded on first read of m.headers
                    m.sid = sid
                    m._client = client
                    append(m)
                    pos = scan = end + 2
                    continue
            else:
                line = buf[pos:idx]
                pos = idx + 2
                parts = line.split()
                if not parts:
                    raise RemoteProtocolError("empty control line from the server")
                op = parts[0].upper()
                args = parts[1:]
                if op == b"MSG":
                    hlen = -1
                elif op == b"HMSG":
                    hlen = 0
                elif op == b"PING":
                    out.append(PING)
                    continue
                elif op == b"PONG":
                    out.append(PONG)
                    continue
                elif op == b"+OK":
                    out.append(OK)
                    continue
                elif op == b"-ERR":
                    text = line[4:].strip().decode("utf-8", "replace")
                    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
                        text = text[1:-1]
                    out.append(ErrOp(text))
                    continue
                elif op == b"INFO":
                    out.append(InfoOp(_info_json(line[len(parts[0]) :])))
                    continue
                else:
                    raise RemoteProtocolError(f"unknown protocol operation {line[:40]!r}")
            head = self._msg_head(args, hlen)
            if n - pos < head[4] + 2:
                # Payload incomplete: keep what we have and wait for the rest.
                self._pending = head
                tail = buf[pos:]
                self._chunks = [tail]
                self._have = len(tail)
                self._rest = bytearray()
                self._scan = 0
                return out
            pos = self._payload(buf, pos, head, out)
            scan = pos
        if pos >= n:
            self._rest = bytearray()
            self._scan = 0
        else:
            self._rest = bytearray(buf[pos:])
            self._scan = max(0, scan - pos)
        return out

    def _msg_head(self, args: list[bytes], hlen: int) -> tuple[str, int, str, int, int]:
        try:
            if hlen < 0:
                if len(args) == 3:
                    subj, sid, size = args
                    reply = ""
                elif len(args) == 4:
                    subj, sid, rep, size = args
                    reply = rep.decode()
                else:
                    raise RemoteProtocolError(f"MSG needs 3 or 4 arguments, got {len(args)}")
                total = _num(size, "size")
            else:
                if len(args) == 4:
                    subj, sid, hsize, size = args
                    reply = ""
                elif len(args) == 5:
                    subj, sid, rep, hsize, size = args
                    reply = rep.decode()
                else:
                    raise RemoteProtocolError(f"HMSG needs 4 or 5 arguments, got {len(args)}")
                total = _num(size, "total size")
                hlen = _num(hsize, "header size")
                if hlen > total:
                    raise RemoteProtocolError(f"header size {hlen} exceeds total size {total}")
            subject = subj.decode()
        except UnicodeDecodeError as e:
            raise RemoteProtocolError(f"subject is not UTF-8: {e}") from None
        if total > self.max_payload + PAYLOAD_SLACK:
            raise RemoteProtocolError(
                f"message of {total} bytes exceeds max_payload {self.max_payload}"
            )
        return subject, _num(sid, "sid"), reply, hlen, total

    def _payload(
        self, buf: bytes, pos: int, head: tuple[str, int, str, int, int], out: list[ParsedOp]
    ) -> int:
        subject, sid, reply, hlen, total = head
        end = pos + total
        if buf[end : end + 2] != b"\r\n":
            raise RemoteProtocolError(
                f"payload of {subject!r} is not followed by CRLF (declared {total} bytes)"
            )
        if hlen < 0:
            out.append(self.msg_class(subject, reply, buf[pos:end], None, sid, self.client))
        else:
            block = buf[pos : pos + hlen]
            _check_header_block(block, subject.encode())
            # Header fields are decoded when first read (Msg.headers).
            out.append(
                self.msg_class(subject, reply, buf[pos + hlen : end], block, sid, self.client)
            )
        return end + 2


def _info_json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise RemoteProtocolError(f"INFO is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise RemoteProtocolError("INFO is not a JSON object")
    return data


def _too_long(buf: bytes | bytearray, pos: int) -> RemoteProtocolError:
    limit = MAX_INFO_LINE if _is_info(buf, pos, len(buf)) else MAX_CONTROL_LINE
    return RemoteProtocolError(
        f"control line longer than {limit} bytes: {bytes(buf[pos : pos + 40])!r}"
    )


def _is_info(buf: bytes | bytearray, pos: int, end: int) -> bool:
    return bytes(buf[pos : min(pos + 4, end)]).upper() == b"INFO"


def _check_partial(buf: bytes | bytearray, pos: int, n: int) -> None:
    """Raise when the unfinished line at ``pos`` is already longer than allowed.

    The limits are those of a complete line (at most MAX_CONTROL_LINE bytes,
    MAX_INFO_LINE for INFO, CRLF not counted), so the outcome never depends on
    how the bytes were cut.
    """
    # A full-length line may be waiting for the LF of its CRLF.
    length = n - pos - (buf[n - 1] == 13)
    if length > MAX_CONTROL_LINE and (length > MAX_INFO_LINE or not _is_info(buf, pos, n)):
        raise _too_long(buf, pos)


def _no_crlf(subject: bytes, size: int) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"payload of {subject[:64]!r} is not followed by CRLF (declared {size} bytes)"
    )


def _check_header_block(block: bytes, subject: bytes) -> None:
    """Check the block's frame and status line now; its fields are decoded lazily."""
    if not block.startswith(b"NATS/1.0"):
        raise RemoteProtocolError(
            f"header block of {subject[:64]!r} does not start with NATS/1.0: {block[:32]!r}"
        )
    if not block.endswith(b"\r\n\r\n"):
        raise RemoteProtocolError(f"header block of {subject[:64]!r} does not end with CRLF CRLF")
    if block[8:10] != b"\r\n":
        first = block[8 : block.find(b"\r\n")].split(None, 1)
        code = first[0] if first else b""
        if len(code) != 3 or not code.isdigit():
            raise RemoteProtocolError(f"bad status in header line: {block[:64]!r}")
