"""The server-to-client parser: bytes in, ops out, in one pass.

Two phases per op: find the control line (``bytes.find`` for CRLF, resuming
from a remembered offset so a slowly filling buffer is never rescanned), then
for MSG/HMSG wait for exactly ``size + 2`` payload bytes. Both are capped.
Any input either parses or raises :class:`RemoteProtocolError`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ._events import Msg
from ._headers import decode_headers
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


def _num(b: bytes, what: str) -> int:
    if not b.isdigit() or len(b) > 18:
        raise RemoteProtocolError(f"bad {what} {b[:32]!r} in control line")
    return int(b)


class Parser:
    """Incremental parser of the server's side of the protocol.

    ``msg_class`` builds delivered messages (called as
    ``msg_class(subject, reply, data, headers, sid, client)``).
    ``max_payload`` caps payloads (plus :data:`PAYLOAD_SLACK`).
    """

    __slots__ = (
        "_broken",
        "_chunks",
        "_have",
        "_pending",
        "_rest",
        "_scan",
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
        self._rest = b""  # unparsed bytes (at most one partial control line)
        self._scan = 0  # where the next CRLF search starts in _rest
        # A MSG/HMSG whose payload is still arriving:
        # (subject, sid, reply, hdr_len, total_len)
        self._pending: tuple[str, int, str, int, int] | None = None
        self._chunks: list[bytes] = []
        self._have = 0
        self._broken: RemoteProtocolError | None = None

    def reset(self) -> None:
        """Forget any partial input (a new transport starts from scratch)."""
        self._rest = b""
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
            buf = self._rest + data
            scan = self._scan
            pos = 0
        else:
            buf = bytes(data)
            scan = pos = 0
        n = len(buf)
        find = buf.find
        while pos < n:
            idx = find(b"\r\n", scan if scan > pos else pos)
            if idx < 0:
                # A full-length line may be waiting for the LF of its CRLF.
                if n - pos > MAX_CONTROL_LINE + (buf[n - 1] == 13):
                    raise _too_long(buf, pos)
                scan = n - 1  # a CR may be the last byte
                break
            if idx - pos > MAX_CONTROL_LINE:
                raise _too_long(buf, pos)
            line = buf[pos:idx]
            pos = idx + 2
            if line[:4] == b"MSG ":
                args = line[4:].split()
                hlen = -1
            else:
                parts = line.split()
                if not parts:
                    raise RemoteProtocolError("empty control line from the server")
                op = parts[0].upper()
                if op == b"MSG":
                    args = parts[1:]
                    hlen = -1
                elif op == b"HMSG":
                    args = parts[1:]
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
                self._rest = b""
                self._scan = 0
                return out
            pos = self._payload(buf, pos, head, out)
            scan = pos
        if pos >= n:
            self._rest = b""
            self._scan = 0
        else:
            self._rest = buf[pos:]
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
            headers = decode_headers(buf[pos : pos + hlen])
            out.append(
                self.msg_class(subject, reply, buf[pos + hlen : end], headers, sid, self.client)
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


def _too_long(buf: bytes, pos: int) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"control line longer than {MAX_CONTROL_LINE} bytes: {buf[pos : pos + 40]!r}"
    )
