"""Counters (ADR-49, server 2.12+, streams with ``allow_msg_counter``), sans-IO.

Every subject of a counter stream is a counter. An increment is a publish
with an empty body and ``Nats-Incr: <signed decimal>``; the server adds it to
the subject's last value, stores ``{"val": "<total>"}`` and answers with a pub
ack whose ``val`` is the new total. Values are arbitrary-precision integers
(Python ints here). A stream that sources other counter streams keeps, in
``Nats-Counter-Sources``, the last value it saw of each source subject:
``{"<stream>": {"<subject>": "<value>"}}`` (:attr:`CounterEntry.sources`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._events import Msg
from .._headers import Headers
from .._subjects import is_valid_publish_subject
from .errors import InvalidOptionError, InvalidResponseError, MsgCounterDisabledError
from .headers import COUNTER_INCR, COUNTER_SOURCES
from .models import StoredMsg, StreamInfo
from .publish import parse_pub_ack

__all__ = [
    "CounterEntry",
    "check_counter_stream",
    "counter_entry",
    "counter_headers",
    "parse_counter_ack",
    "parse_counter_value",
]


def counter_headers(subject: str, delta: int) -> Headers:
    """The headers of an increment of ``subject`` by ``delta`` (negative to
    decrement, 0 to read the value back in the ack)."""
    if not is_valid_publish_subject(subject):
        raise InvalidOptionError(f"invalid counter subject {subject!r}")
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidOptionError(f"a counter increment must be an int, not {delta!r}")
    return Headers({COUNTER_INCR: str(delta)})


def _big_int(text: object, what: str) -> int:
    if not isinstance(text, str):
        raise InvalidResponseError(f"{what} is not a decimal string: {text!r:.64}")
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit():
        raise InvalidResponseError(f"{what} is not a decimal integer: {text!r:.64}")
    return int(text)


def parse_counter_ack(reply: Msg | bytes, *, subject: str = "") -> int:
    """The counter's new total from an increment's pub ack (its ``val``); an
    error ack raises its typed error (10168 :class:`MsgCounterDisabledError`
    when the stream is not a counter stream)."""
    ack = parse_pub_ack(reply, subject=subject)
    return _big_int(ack.extra.get("val"), "the pub ack's counter value")


def parse_counter_value(data: bytes) -> int:
    """The value in a stored counter message's body (``{"val": "<decimal>"}``)."""
    try:
        obj: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponseError(f"not a counter value: {bytes(data[:64])!r}") from exc
    if not isinstance(obj, dict):
        raise InvalidResponseError(f"not a counter value: {obj!r:.64}")
    return _big_int(obj.get("val"), "the stored counter value")


@dataclass(slots=True)
class CounterEntry:
    """A counter read from its stream: its ``value``, the last increment
    (``incr``, ``None`` if the stored message has none) and, for a counter fed
    by sourcing, ``sources``: source stream -> source subject -> the last
    value seen from it."""

    subject: str
    value: int
    incr: int | None = None
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    seq: int = 0


def counter_entry(msg: StoredMsg) -> CounterEntry:
    """The :class:`CounterEntry` of a stored counter message (direct or API get)."""
    value = parse_counter_value(msg.data)
    headers = msg.headers
    incr: int | None = None
    sources: dict[str, dict[str, int]] = {}
    if headers is not None:
        raw_incr = headers.get(COUNTER_INCR)
        if raw_incr is not None:
            incr = _big_int(raw_incr, f"the {COUNTER_INCR} header")
        raw_sources = headers.get(COUNTER_SOURCES)
        if raw_sources:
            try:
                obj: Any = json.loads(raw_sources)
            except ValueError as exc:
                raise InvalidResponseError(f"bad {COUNTER_SOURCES}: {raw_sources!r:.64}") from exc
            if not isinstance(obj, dict):
                raise InvalidResponseError(f"bad {COUNTER_SOURCES}: {raw_sources!r:.64}")
            for stream, subjects in obj.items():
                if not isinstance(subjects, dict):
                    raise InvalidResponseError(f"bad {COUNTER_SOURCES}: {raw_sources!r:.64}")
                sources[stream] = {
                    subj: _big_int(val, f"the {COUNTER_SOURCES} value of {subj!r}")
                    for subj, val in subjects.items()
                }
    return CounterEntry(msg.subject, value, incr, sources, msg.seq)


def check_counter_stream(info: StreamInfo) -> None:
    """Raise :class:`MsgCounterDisabledError` unless the stream is a counter stream."""
    if not info.config.allow_msg_counter:
        raise MsgCounterDisabledError(
            400,
            10168,
            f"stream {info.config.name!r} is not a counter stream (allow_msg_counter is off)",
        )
