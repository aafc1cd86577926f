"""JSON codecs for the JetStream models: durations, times, enums, nested models.

Durations travel as integer nanoseconds and become :class:`datetime.timedelta`
(microsecond resolution: nanoseconds are floored to microseconds). Times travel
as RFC 3339 strings with up to nine fraction digits and become timezone-aware
:class:`datetime.datetime` in UTC, truncated to microseconds; Go's zero time
``0001-01-01T00:00:00Z`` becomes ``None``.

:class:`Model` is the base of every model dataclass: ``from_json`` never fails
on what a newer server may send (unknown keys, unknown enum values, odd
types); whatever it cannot decode is kept, raw, in ``extra`` and written back by
``to_json``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, ClassVar, Self

from .._headers import decode_headers, encode_headers
from ..errors import ConfigError, ConfigTypeError, RemoteProtocolError

__all__ = [
    "Model",
    "format_go_duration",
    "format_time",
    "from_nanos",
    "parse_time",
    "seconds",
    "to_nanos",
]

_NS = 1_000_000_000
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- durations


def from_nanos(ns: int) -> timedelta:
    """Integer nanoseconds to a timedelta (floored to microseconds)."""
    return timedelta(microseconds=ns // 1000)


def to_nanos(value: timedelta | float) -> int:
    """A timedelta, or seconds as a number, to integer nanoseconds (exact for timedeltas)."""
    if isinstance(value, timedelta):
        return ((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds) * 1000
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigTypeError(f"a duration must be a timedelta or seconds, not {value!r}")
    return round(value * _NS)


def seconds(value: timedelta | float) -> float:
    """A timedelta or a number of seconds, as float seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigTypeError(f"a duration must be a timedelta or seconds, not {value!r}")
    return float(value)


def _fmt_frac(whole: int, frac: int, digits: int) -> str:
    """``whole`` plus ``frac`` (of ``digits`` digits) as Go prints it: no trailing zeros."""
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def format_go_duration(value: timedelta | float) -> str:
    """Format a duration the way Go's ``time.Duration.String`` does ("5s", "1m30s", "1h0m0s").

    This is what nats.go writes into ``Nats-TTL`` and what the server parses.
    """
    ns = to_nanos(value)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < _NS:
        if ns < 1000:
            return f"{sign}{ns}ns"
        if ns < 1_000_000:
            return f"{sign}{_fmt_frac(ns // 1000, ns % 1000, 3)}µs"
        return f"{sign}{_fmt_frac(ns // 1_000_000, ns % 1_000_000, 6)}ms"
    hours, rest = divmod(ns, 3600 * _NS)
    minutes, rest = divmod(rest, 60 * _NS)
    secs = _fmt_frac(rest // _NS, rest % _NS, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{secs}"


# -------------------------------------------------------------------- times

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})(?:\s+[A-Za-z][A-Za-z0-9_+-]*)?"
)


def parse_time(text: str) -> datetime | None:
    """Parse an RFC 3339 time (any number of fraction digits) into an aware UTC datetime.

    Also accepts Go's ``time.String`` form (``2022-08-06 00:29:27.5 +0000 UTC``)
    some servers put in ``Nats-Time-Stamp``. Go's zero time gives ``None``.
    Raises :class:`~nats_core.errors.ConfigError` (a ``ValueError``) when
    ``text`` is not a time.
    """
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        raise ConfigError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz: timezone = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(sec), micros, tzinfo=tz
        ).astimezone(UTC)
    except OverflowError:
        return None  # the zero time with a positive offset: before year 1 in UTC
    if dt == _ZERO_TIME:
        return None
    return dt


def format_time(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.year < 1000:
        base = f"{value.year:04d}" + base[base.index("-") :]
    if value.microsecond:
        base += f".{value.microsecond:06d}".rstrip("0")
    return base + "Z"


# ------------------------------------------------------------------- codecs


class Codec:
    """Turns one JSON value into a Python value and back. The base is the identity."""

    __slots__ = ()

    def decode(self, value: Any) -> Any:
        return value

    def encode(self, value: Any) -> Any:
        return value


class _Int(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not an integer")
        return value


class _Str(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("not a string")
        return value


class _Bool(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise TypeError("not a boolean")
        return value


class _Duration(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("a duration must be integer nanoseconds")
        return from_nanos(value)

    def encode(self, value: Any) -> Any:
        return to_nanos(value)


class _Time(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("a time must be a string")
        return parse_time(value)

    def encode(self, value: Any) -> Any:
        return format_time(value)


class _EnumCodec(Codec):
    __slots__ = ("enum",)

    def __init__(self, enum: type[Enum]) -> None:
        self.enum = enum

    def decode(self, value: Any) -> Any:
        try:
            return self.enum(value)
        except ValueError:
            if isinstance(value, str):
                return self.enum(value.lower())
            raise

    def encode(self, value: Any) -> Any:
        return self.enum(value).value


class _ModelCodec(Codec):
    __slots__ = ("model",)

    def __init__(self, model: type[Model]) -> None:
        self.model = model

    def decode(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError("not an object")
        return self.model.from_json(value)

    def encode(self, value: Any) -> Any:
        return value.to_json()


class _ListCodec(Codec):
    __slots__ = ("inner",)

    def __init__(self, inner: Codec) -> None:
        self.inner = inner

    def decode(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise TypeError("not a list")
        return [self.inner.decode(v) for v in value]

    def encode(self, value: Any) -> Any:
        return [self.inner.encode(v) for v in value]


class _MapCodec(Codec):
    __slots__ = ("inner",)

    def __init__(self, inner: Codec) -> None:
        self.inner = inner

    def decode(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError("not an object")
        return {str(k): self.inner.decode(v) for k, v in value.items()}

    def encode(self, value: Any) -> Any:
        return {k: self.inner.encode(v) for k, v in value.items()}


class _Base64(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("not a base64 string")
        return base64.b64decode(value, validate=True)

    def encode(self, value: Any) -> Any:
        return base64.b64encode(value).decode("ascii")


class _Base64Headers(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("not a base64 string")
        raw = base64.b64decode(value, validate=True)
        if not raw:
            return None
        return decode_headers(raw)

    def encode(self, value: Any) -> Any:
        return base64.b64encode(encode_headers(value)).decode("ascii")


ANY = Codec()
INT = _Int()
STR = _Str()
BOOL = _Bool()
DURATION = _Duration()
TIME = _Time()
BASE64 = _Base64()
BASE64_HEADERS = _Base64Headers()
STR_LIST = _ListCodec(STR)
INT_LIST = _ListCodec(INT)
STR_MAP = _MapCodec(STR)
INT_MAP = _MapCodec(INT)
DURATION_LIST = _ListCodec(DURATION)


def enum(e: type[Enum]) -> Codec:
    """A codec for a string enum."""
    return _EnumCodec(e)


def model(m: type[Model]) -> Codec:
    """A codec for a nested model."""
    return _ModelCodec(m)


def models(m: type[Model]) -> Codec:
    """A codec for a list of nested models."""
    return _ListCodec(_ModelCodec(m))


def model_map(m: type[Model]) -> Codec:
    """A codec for an object whose values are nested models."""
    return _MapCodec(_ModelCodec(m))


def fld(codec: Codec = ANY, *, key: str | None = None, default: Any = None) -> Any:
    """A dataclass field that carries its JSON codec (and JSON key when it differs)."""
    meta = {"codec": codec, "key": key}
    if isinstance(default, list | dict):
        raise TypeError("use factory= for mutable defaults")
    return dataclasses.field(default=default, metadata=meta)


def extra_field() -> Any:
    """The ``extra`` field every model has: JSON keys it does not know, kept verbatim."""
    return dataclasses.field(default_factory=dict, compare=True, repr=False)


_DECODE_ERRORS = (TypeError, ValueError, KeyError, binascii.Error, RemoteProtocolError)


class Model:
    """Base of the JetStream model dataclasses: ``from_json`` / ``to_json``.

    ``to_json`` omits fields that are ``None`` and writes back ``extra``.
    """

    __slots__ = ()
    _codecs: ClassVar[dict[type, tuple[tuple[str, str, Codec], ...]]] = {}

    @classmethod
    def _fields(cls) -> tuple[tuple[str, str, Codec], ...]:
        cached = Model._codecs.get(cls)
        if cached is None:
            out = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                if f.name == "extra":
                    continue
                codec = f.metadata.get("codec", ANY)
                out.append((f.name, f.metadata.get("key") or f.name, codec))
            cached = tuple(out)
            Model._codecs[cls] = cached
        return cached

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Build from a decoded JSON object; never fails on unknown or odd content."""
        if not isinstance(data, Mapping):
            raise ConfigTypeError(f"{cls.__name__}.from_json needs a JSON object, not {data!r}")
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        seen: set[str] = set()
        for name, key, codec in cls._fields():
            if key not in data:
                continue
            seen.add(key)
            value = data[key]
            if value is None:
                continue
            try:
                kwargs[name] = codec.decode(value)
            except _DECODE_ERRORS:
                extra[key] = value
        for key, value in data.items():
            if key not in seen:
                extra[key] = value
        obj = cls(**kwargs)
        obj.extra.update(extra)  # type: ignore[attr-defined]
        return obj

    def to_json(self) -> dict[str, Any]:
        """The JSON object (a dict) for this model: ``None`` fields omitted, ``extra`` kept."""
        out: dict[str, Any] = {}
        for name, key, codec in self._fields():
            value = getattr(self, name)
            if value is not None:
                out[key] = codec.encode(value)
        for key, value in self.extra.items():  # type: ignore[attr-defined]
            out.setdefault(key, value)
        return out

    def to_bytes(self) -> bytes:
        """``to_json`` serialized as compact JSON bytes."""
        return dump_json(self.to_json())


def dump_json(obj: Any) -> bytes:
    """Compact JSON bytes, as the server expects request payloads."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
