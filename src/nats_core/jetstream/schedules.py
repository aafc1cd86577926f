"""Message schedules (ADR-51, streams with ``allow_msg_schedules``), sans-IO.

A schedule is a message stored on its own subject with ``Nats-Schedule``
(when), ``Nats-Schedule-Target`` (where the produced message goes: a literal
subject of the same stream, not the schedule's own) and optionally
``Nats-Schedule-TTL`` (a TTL for the produced messages; the stream then needs
``allow_msg_ttl``). One schedule per subject: a new one replaces the old;
deleting or purging the subject cancels it.

Patterns (nats-server ``server/scheduler.go``):

* ``@at <RFC 3339 time>``: once (server 2.12+); a past time fires at once;
* ``@every <Go duration>``: at least one second apart (2.14+);
* a six-field cron ``sec min hour day-of-month month day-of-week`` or
  ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
  ``@hourly`` (2.14+), in UTC unless ``Nats-Schedule-Time-Zone`` names one.

2.14 also has ``Nats-Schedule-Source`` (publish the last message of that
subject instead of the schedule's body) and ``Nats-Schedule-Rollup: sub``.
:func:`schedule_headers` checks what can be checked before sending;
:func:`schedule_from_msg` reads a stored schedule back (listing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .._headers import Headers, HeadersInput
from .._subjects import is_valid_publish_subject
from ._codec import format_go_duration, to_nanos
from .errors import InvalidOptionError
from .headers import (
    SCHEDULE,
    SCHEDULE_ROLLUP,
    SCHEDULE_SOURCE,
    SCHEDULE_TARGET,
    SCHEDULE_TIME_ZONE,
    SCHEDULE_TTL,
)
from .models import StoredMsg
from .publish import format_ttl

__all__ = [
    "PREDEFINED_SCHEDULES",
    "Schedule",
    "schedule_at",
    "schedule_every",
    "schedule_from_msg",
    "schedule_headers",
    "schedule_pattern",
]

PREDEFINED_SCHEDULES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


def schedule_at(when: datetime) -> str:
    """``@at <RFC 3339>`` for an aware datetime (in UTC, to the microsecond)."""
    if not isinstance(when, datetime):
        raise InvalidOptionError(f"at must be a datetime, not {when!r}")
    if when.tzinfo is None:
        raise InvalidOptionError("at must be an aware datetime (give it a tzinfo, e.g. UTC)")
    utc = when.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return f"@at {text}Z"


def schedule_every(interval: timedelta | float) -> str:
    """``@every <Go duration>`` for an interval of at least one second."""
    try:
        ns = to_nanos(interval)
    except TypeError as exc:
        raise InvalidOptionError(str(exc)) from None
    if ns < 1_000_000_000:
        raise InvalidOptionError(f"a schedule interval must be at least 1 second, not {interval!r}")
    return f"@every {format_go_duration(interval)}"


def _check_cron(cron: str) -> str:
    if cron in PREDEFINED_SCHEDULES:
        return cron
    fields = cron.split()
    if len(fields) != 6 or " ".join(fields) != cron:
        raise InvalidOptionError(
            f"a cron schedule has six space-separated fields "
            f"(sec min hour day-of-month month day-of-week), not {cron!r}"
        )
    return cron


def schedule_pattern(
    *,
    at: datetime | None = None,
    delay: timedelta | float | None = None,
    every: timedelta | float | None = None,
    cron: str | None = None,
    now: datetime | None = None,
) -> str:
    """The ``Nats-Schedule`` value for exactly one of ``at`` (a time), ``delay``
    (``now`` + delay: ``now`` is required, as the core has no clock), ``every``
    (an interval) or ``cron`` (six fields or ``@daily`` and friends)."""
    given = [
        name
        for name, v in (("at", at), ("delay", delay), ("every", every), ("cron", cron))
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidOptionError(
            f"give exactly one of at, delay, every or cron, not {given or 'none'}"
        )
    if at is not None:
        return schedule_at(at)
    if delay is not None:
        if now is None:
            raise InvalidOptionError("a delay needs the current time (now=)")
        try:
            ns = to_nanos(delay)
        except TypeError as exc:
            raise InvalidOptionError(str(exc)) from None
        if ns < 0:
            raise InvalidOptionError(f"delay must not be negative, not {delay!r}")
        return schedule_at(now + timedelta(microseconds=ns // 1000))
    if every is not None:
        return schedule_every(every)
    assert cron is not None
    if not isinstance(cron, str):
        raise InvalidOptionError(f"cron must be a string, not {cron!r}")
    return _check_cron(cron)


def schedule_headers(
    subject: str,
    pattern: str,
    target: str,
    *,
    headers: HeadersInput | None = None,
    ttl: timedelta | float | str | None = None,
    source: str | None = None,
    time_zone: str | None = None,
    rollup: str | None = None,
) -> Headers:
    """The headers of a schedule stored on ``subject`` that publishes to
    ``target`` on ``pattern`` (see :func:`schedule_pattern`).

    Checked here: ``target`` and ``source`` are literal subjects and not the
    schedule's own subject; ``time_zone`` only with a cron pattern; ``rollup``
    only ``"sub"``; ``ttl`` at least one second (or ``"never"``).
    """
    if not is_valid_publish_subject(subject):
        raise InvalidOptionError(f"invalid schedule subject {subject!r}")
    if not isinstance(pattern, str) or not pattern:
        raise InvalidOptionError(f"invalid schedule pattern {pattern!r}")
    if not is_valid_publish_subject(target):
        raise InvalidOptionError(f"a schedule's target must be a literal subject, not {target!r}")
    if target == subject:
        raise InvalidOptionError("a schedule's target must differ from the schedule's subject")
    out = Headers(headers) if headers is not None else Headers()
    out[SCHEDULE] = pattern
    out[SCHEDULE_TARGET] = target
    if ttl is not None:
        out[SCHEDULE_TTL] = format_ttl(ttl)
    if source is not None:
        if not is_valid_publish_subject(source) or source == subject:
            raise InvalidOptionError(
                f"a schedule's source must be a literal subject other than its own, not {source!r}"
            )
        out[SCHEDULE_SOURCE] = source
    if time_zone is not None:
        if pattern.startswith(("@at ", "@every ")):
            raise InvalidOptionError("a time zone only applies to cron schedules")
        if not time_zone:
            raise InvalidOptionError("time_zone must not be empty")
        out[SCHEDULE_TIME_ZONE] = time_zone
    if rollup is not None:
        if rollup != "sub":
            raise InvalidOptionError(f"a schedule's rollup can only be 'sub', not {rollup!r}")
        out[SCHEDULE_ROLLUP] = rollup
    return out


@dataclass(slots=True, frozen=True)
class Schedule:
    """A schedule as stored in its stream (read back by ``js.list_schedules()``):
    the subject it lives on, its pattern (``@at ...``, ``@every ...``, cron),
    target and options, the body and headers it publishes, and where it is
    stored (``seq``, ``time``)."""

    subject: str
    pattern: str
    target: str
    ttl: str | None = None
    source: str | None = None
    time_zone: str | None = None
    rollup: str | None = None
    data: bytes = b""
    headers: Headers | None = None
    seq: int = 0
    time: datetime | None = None


def schedule_from_msg(msg: StoredMsg) -> Schedule | None:
    """The :class:`Schedule` a stored message is, or ``None`` when it is not one
    (no ``Nats-Schedule`` header: an ordinary message, or one a schedule produced)."""
    h = msg.headers
    if h is None:
        return None
    pattern = h.get(SCHEDULE)
    if not pattern:
        return None
    return Schedule(
        subject=msg.subject,
        pattern=pattern,
        target=h.get(SCHEDULE_TARGET) or "",
        ttl=h.get(SCHEDULE_TTL),
        source=h.get(SCHEDULE_SOURCE),
        time_zone=h.get(SCHEDULE_TIME_ZONE),
        rollup=h.get(SCHEDULE_ROLLUP),
        data=msg.data,
        headers=h,
        seq=msg.seq,
        time=msg.time,
    )
