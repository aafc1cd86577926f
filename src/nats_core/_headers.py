"""NATS message headers (ADR-4): a multi-valued, case-preserving mapping."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence

from .errors import BadHeaderError, RemoteProtocolError

__all__ = ["Headers", "HeadersInput", "decode_headers", "encode_headers"]

HEADER_LINE = b"NATS/1.0"
_HEADER_LINE_CRLF = b"NATS/1.0\r\n"

# Status codes carried inline in the header block's first line.
STATUS_NO_RESPONDERS = 503


class Headers(MutableMapping[str, str]):
    """Header fields of a message.

    Keys keep their case and are matched exactly, as in nats.go. A key may hold
    several values: ``h[key]`` is the first, :meth:`get_all` returns all of them,
    :meth:`add` appends one. ``status`` and ``description`` hold the inline
    status of the ``NATS/1.0`` line (for example 503, ``"No Responders"``).
    """

    __slots__ = ("_fields", "description", "status")

    def __init__(
        self,
        fields: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]] | None = None,
        *,
        status: int | None = None,
        description: str = "",
    ) -> None:
        self._fields: dict[str, list[str]] = {}
        self.status = status
        self.description = description
        if fields is None:
            return
        if isinstance(fields, Headers):
            self._fields = {k: list(v) for k, v in fields._fields.items()}
            return
        items: Iterable[tuple[str, str | Sequence[str]]] = (
            fields.items() if isinstance(fields, Mapping) else fields
        )
        for key, value in items:
            if isinstance(value, str):
                self.add(key, value)
            else:
                for v in value:
                    self.add(key, v)

    def __getitem__(self, key: str) -> str:
        return self._fields[key][0]

    def __setitem__(self, key: str, value: str) -> None:
        self._fields[key] = [value]

    def __delitem__(self, key: str) -> None:
        del self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return (
                self._fields == other._fields
                and self.status == other.status
                and self.description == other.description
            )
        if isinstance(other, Mapping):
            return self._fields == Headers(other)._fields and self.status is None
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def add(self, key: str, value: str) -> None:
        """Append ``value`` to the values of ``key``."""
        self._fields.setdefault(key, []).append(value)

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order; empty when absent."""
        return list(self._fields.get(key, ()))

    def multi_items(self) -> Iterator[tuple[str, str]]:
        """Every (key, value) pair, repeated keys included."""
        for key, values in self._fields.items():
            for v in values:
                yield key, v

    def __bool__(self) -> bool:
        """True with any field or an inline status (a status alone is still a header block)."""
        return bool(self._fields) or self.status is not None

    def __repr__(self) -> str:
        status = f", status={self.status}" if self.status is not None else ""
        return f"Headers({self._fields!r}{status})"


HeadersInput = Headers | Mapping[str, str | Sequence[str]]

_BAD_KEY_CHARS = frozenset(":\r\n \t")


def _check_key(key: str) -> None:
    if not key or not isinstance(key, str):
        raise BadHeaderError(f"header key {key!r} is empty or not a string")
    if any(c in _BAD_KEY_CHARS or ord(c) < 33 or ord(c) > 126 for c in key):
        raise BadHeaderError(
            f"header key {key!r} must be printable ASCII without ':' or whitespace"
        )


def _check_value(key: str, value: str) -> None:
    if not isinstance(value, str):
        raise BadHeaderError(f"header {key!r} has a value that is not a string: {value!r}")
    if "\r" in value or "\n" in value:
        raise BadHeaderError(f"header {key!r} has a value with CR or LF: {value!r}")


def encode_headers(headers: HeadersInput) -> bytes:
    """Serialize ``headers`` into a header block ending with the blank line."""
    parts = [HEADER_LINE]
    if isinstance(headers, Headers):
        if headers.status is not None:
            parts[0] = HEADER_LINE + f" {headers.status} {headers.description}".rstrip().encode()
        pairs: Iterable[tuple[str, str]] = headers.multi_items()
    else:
        pairs = (
            (k, v) for k, vs in headers.items() for v in ((vs,) if isinstance(vs, str) else vs)
        )
    for key, value in pairs:
        _check_key(key)
        _check_value(key, value)
        parts.append(f"{key}: {value}".encode("utf-8", "surrogateescape"))
    parts.append(b"\r\n")
    return b"\r\n".join(parts)


def decode_headers(block: bytes) -> Headers:
    """Parse a header block (``NATS/1.0 ...\r\n...\r\n\r\n``) into :class:`Headers`.

    Raises :class:`RemoteProtocolError` when the block is not a header block.
    """
    if not block.startswith(HEADER_LINE):
        raise RemoteProtocolError(f"header block does not start with NATS/1.0: {block[:32]!r}")
    lines = block.decode("utf-8", "surrogateescape").split("\r\n")
    headers = Headers.__new__(Headers)
    fields: dict[str, list[str]] = {}
    headers._fields = fields
    headers.status = None
    headers.description = ""
    first = lines[0]
    if len(first) > 8:
        code, _, desc = first[8:].strip().partition(" ")
        if len(code) == 3 and code.isascii() and code.isdigit():
            headers.status = int(code)
            headers.description = desc.strip()
        elif code:
            raise RemoteProtocolError(f"bad status in header line: {first[:64]!r}")
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or key[0] in " \t" or key[-1] in " \t":
            key = key.strip()
            if not sep or not key:
                raise RemoteProtocolError(f"bad header line: {line[:64]!r}")
        value = value.strip()
        values = fields.get(key)
        if values is None:
            fields[key] = [value]
        else:
            values.append(value)
    return headers
