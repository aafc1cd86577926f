"""Pull requests (ADR-37, ADR-42): what a pull asks the server for, checked at
the door, and the pin a pinned client keeps between pulls.

:class:`PullRequest` is the JSON body of a ``CONSUMER.MSG.NEXT`` request
(batch, bytes, expiry, heartbeat, no-wait, and the priority-group fields);
:func:`next_request` builds the request; :func:`check_priority_pull` checks the
group options against a consumer's config; :class:`PinState` keeps the pin id
of policy ``pinned_client``. The states that send these requests are in
:mod:`nats_core.jetstream.pull`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .._events import Msg
from ._codec import dump_json, seconds, to_nanos
from .api import JSApi
from .errors import InvalidOptionError
from .models import ConsumerConfig, PriorityPolicy
from .requests import (
    JSRequest,
    validate_consumer_name,
    validate_priority_group,
    validate_stream_name,
)

__all__ = [
    "MAX_PULL_PRIORITY",
    "PIN_ID_HEADER",
    "PinState",
    "PullRequest",
    "check_priority_pull",
    "next_request",
]

PIN_ID_HEADER = "Nats-Pin-Id"
"""Header carrying the pin id on the messages a pinned client receives (ADR-42)."""
MAX_PULL_PRIORITY = 9
"""Highest (least urgent) ``priority`` of a pull; 0, the default, is served first."""


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{what} must be a positive integer, not {value!r}")
    return value


def _priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PULL_PRIORITY:
        raise InvalidOptionError(
            f"priority must be an integer from 0 to {MAX_PULL_PRIORITY}, not {value!r}"
        )
    return value


def _duration(value: timedelta | float, what: str) -> float:
    try:
        s = seconds(value)
    except TypeError:
        raise InvalidOptionError(f"{what} must be seconds or a timedelta, not {value!r}") from None
    if not s > 0 or math.isinf(s):
        raise InvalidOptionError(f"{what} must be positive and finite, not {value!r}")
    return s


@dataclass(frozen=True, slots=True)
class PullRequest:
    """The body of a ``CONSUMER.MSG.NEXT`` request; times in seconds.

    ``batch`` messages at most, ``max_bytes`` bytes at most, waiting
    ``expires`` seconds on the server (``no_wait``: answer at once, 404 when
    empty); ``idle_heartbeat`` asks for heartbeats while waiting and must not
    exceed half of ``expires``.

    Priority groups (ADR-42): ``group`` names the consumer's priority group;
    ``min_pending`` / ``min_ack_pending`` (positive, policy ``overflow``),
    ``priority`` (0-9, policy ``prioritized``) and ``pin_id`` (sent as ``id``,
    policy ``pinned_client``) need it.
    """

    batch: int
    expires: float | None = None
    max_bytes: int | None = None
    no_wait: bool = False
    idle_heartbeat: float | None = None
    group: str | None = None
    min_pending: int | None = None
    min_ack_pending: int | None = None
    priority: int | None = None
    pin_id: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.batch, "batch")
        if self.max_bytes is not None:
            _positive_int(self.max_bytes, "max_bytes")
        if self.expires is not None:
            _duration(self.expires, "expires")
        if self.idle_heartbeat is not None:
            hb = _duration(self.idle_heartbeat, "idle_heartbeat")
            if self.expires is None:
                raise InvalidOptionError("idle_heartbeat needs expires")
            if hb > self.expires / 2:
                raise InvalidOptionError(
                    f"idle_heartbeat ({hb}s) must be at most half of expires ({self.expires}s)"
                )
        if self.group is not None:
            validate_priority_group(self.group)
        if self.min_pending is not None:
            _positive_int(self.min_pending, "min_pending")
        if self.min_ack_pending is not None:
            _positive_int(self.min_ack_pending, "min_ack_pending")
        if self.priority is not None:
            _priority(self.priority)
        if self.pin_id is not None and (not isinstance(self.pin_id, str) or not self.pin_id):
            raise InvalidOptionError(f"pin_id must be a non-empty string, not {self.pin_id!r}")
        if self.group is None:
            given = [
                name
                for name, value in (
                    ("min_pending", self.min_pending),
                    ("min_ack_pending", self.min_ack_pending),
                    ("priority", self.priority),
                    ("pin_id", self.pin_id),
                )
                if value is not None
            ]
            if given:
                raise InvalidOptionError(
                    f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for priority "
                    "groups: give the consumer's group too (group=...)"
                )

    def to_json(self) -> dict[str, Any]:
        """The request as a JSON object (durations in nanoseconds)."""
        out: dict[str, Any] = {"batch": self.batch}
        if self.expires is not None:
            out["expires"] = to_nanos(self.expires)
        if self.max_bytes is not None:
            out["max_bytes"] = self.max_bytes
        if self.no_wait:
            out["no_wait"] = True
        if self.idle_heartbeat is not None:
            out["idle_heartbeat"] = to_nanos(self.idle_heartbeat)
        for key, value in (
            ("group", self.group),
            ("min_pending", self.min_pending),
            ("min_ack_pending", self.min_ack_pending),
            ("priority", self.priority),
            ("id", self.pin_id),
        ):
            if value is not None:
                out[key] = value
        return out

    def payload(self) -> bytes:
        """The request as JSON bytes."""
        return dump_json(self.to_json())


def next_request(
    stream: str, consumer: str, request: PullRequest, *, api: JSApi | None = None
) -> JSRequest:
    """The ``CONSUMER.MSG.NEXT.<stream>.<consumer>`` publish for ``request``.

    Publish it with the pull subscription's inbox as the reply subject (not
    as a one-reply request: many messages come back).
    """
    validate_stream_name(stream)
    validate_consumer_name(consumer)
    a = api if api is not None else JSApi()
    return JSRequest(a.consumer_msg_next(stream, consumer), request.payload())


def check_priority_pull(
    config: ConsumerConfig | None,
    group: str | None,
    *,
    min_pending: int | None = None,
    min_ack_pending: int | None = None,
    priority: int | None = None,
) -> None:
    """Check pull options against the consumer's config (when known), before sending.

    Raises :class:`InvalidOptionError` for the options themselves (see
    :class:`PullRequest`), for a ``group`` the consumer does not have (or any
    group when it has none), and for ``min_pending`` / ``min_ack_pending`` on
    a consumer whose policy is not ``overflow`` (the server would answer 400).
    A missing ``group`` on a consumer that has groups is left to the server,
    whose 400 "Priority Group missing" ends the fetch or consume.
    """
    PullRequest(
        batch=1,
        group=group,
        min_pending=min_pending,
        min_ack_pending=min_ack_pending,
        priority=priority,
    )
    if config is None or group is None:
        return
    groups = config.priority_groups or []
    if not groups:
        raise InvalidOptionError(
            f"group={group!r}: this consumer has no priority groups (pull without group=)"
        )
    if group not in groups:
        raise InvalidOptionError(
            f"priority group {group!r} is not one of the consumer's: "
            + ", ".join(repr(g) for g in groups)
        )
    if (min_pending is not None or min_ack_pending is not None) and (
        config.priority_policy != PriorityPolicy.OVERFLOW
    ):
        raise InvalidOptionError(
            "min_pending and min_ack_pending need a consumer with priority_policy "
            f"'overflow', not {str(config.priority_policy or 'none')!r}"
        )


class PinState:
    """The pin id of a ``pinned_client`` priority group, as one client holds it (ADR-42).

    Keep one per consumer handle and give it to every :class:`FetchState` and
    :class:`PullConsumeState` of that handle: they store the ``Nats-Pin-Id``
    of the messages they deliver in :attr:`pin_id` and send it in their pulls,
    and clear it on a 423 status. ``None``: not pinned (as far as this client
    knows); its pulls wait as standbys while another client is pinned.
    """

    __slots__ = ("pin_id",)

    def __init__(self, pin_id: str | None = None) -> None:
        self.pin_id = pin_id

    def __repr__(self) -> str:
        return f"<PinState {self.pin_id!r}>"

    def observe(self, msg: Msg) -> bool:
        """Take the pin id from a delivered message's ``Nats-Pin-Id`` header;
        ``True`` when it changed (this client was just pinned)."""
        h = msg.headers
        if h is None:
            return False
        pin = h.get(PIN_ID_HEADER)
        if not pin or pin == self.pin_id:
            return False
        self.pin_id = pin
        return True

    def clear(self) -> bool:
        """Forget the pin id (a 423 said another client is pinned); ``True`` if there was one."""
        had = self.pin_id is not None
        self.pin_id = None
        return had
