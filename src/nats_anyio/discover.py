"""Service discovery for callers (ADR-32) on the async client: which instances
of which services run, what they serve and their statistics.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
Subjects and the typed answers come from ``nats_core.micro``; the replies are
gathered with request many::

    from nats_anyio import discover

    for p in await discover.ping(nc, "calc"):
        print(p.name, p.id, p.version)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from nats_core.errors import NoRespondersError
from nats_core.micro import (
    API_PREFIX,
    InvalidServiceResponseError,
    ServiceInfo,
    ServicePing,
    ServiceStats,
    control_subject,
    parse_info,
    parse_ping,
    parse_stats,
)

from ._msg import Msg
from ._request_many import Replies, RequestManyClient

__all__ = ["info", "ping", "stats"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long discovery waits in all, and for the next answer after one.
DEFAULT_TIMEOUT = 2.0
DEFAULT_STALL = 0.3


async def _discover(
    nc: RequestManyClient,
    verb: str,
    parse: Callable[[Msg], T],
    name: str | None,
    service_id: str | None,
    timeout: timedelta | float,
    stall: timedelta | float | None,
    prefix: str,
) -> list[T]:
    subject = control_subject(verb, name, service_id, prefix)
    one = bool(service_id)
    replies = Replies(
        nc, subject, timeout=timeout, stall=None if one else stall, max_msgs=1 if one else None
    )
    try:
        msgs = await replies.collect()
    except NoRespondersError:
        return []  # no instance runs
    out: list[T] = []
    for msg in msgs:
        try:
            out.append(parse(msg))
        except InvalidServiceResponseError as e:
            log.warning("%s: an answer that is not a service's was skipped: %s", subject, e)
    return out


async def ping(
    nc: RequestManyClient,
    name: str | None = None,
    id: str | None = None,
    *,
    timeout: timedelta | float = DEFAULT_TIMEOUT,
    stall: timedelta | float | None = DEFAULT_STALL,
    prefix: str = API_PREFIX,
) -> list[ServicePing]:
    """The PING answers of every service (``name`` None), of every instance of
    ``name``, or of the instance ``id`` of ``name``: who runs.

    Waits up to ``timeout`` seconds in all and ``stall`` seconds after an
    answer for the next (``None``: the whole timeout); one answer ends the
    wait when ``id`` is given. No instance: an empty list. ``prefix``
    replaces ``$SRV``.
    """
    return await _discover(nc, "PING", parse_ping, name, id, timeout, stall, prefix)


async def info(
    nc: RequestManyClient,
    name: str | None = None,
    id: str | None = None,
    *,
    timeout: timedelta | float = DEFAULT_TIMEOUT,
    stall: timedelta | float | None = DEFAULT_STALL,
    prefix: str = API_PREFIX,
) -> list[ServiceInfo]:
    """The INFO answers (description, metadata, endpoints), as :func:`ping`."""
    return await _discover(nc, "INFO", parse_info, name, id, timeout, stall, prefix)


async def stats(
    nc: RequestManyClient,
    name: str | None = None,
    id: str | None = None,
    *,
    timeout: timedelta | float = DEFAULT_TIMEOUT,
    stall: timedelta | float | None = DEFAULT_STALL,
    prefix: str = API_PREFIX,
) -> list[ServiceStats]:
    """The STATS answers (requests, errors, processing times and each
    endpoint's ``data`` from the service's stats handler), as :func:`ping`."""
    return await _discover(nc, "STATS", parse_stats, name, id, timeout, stall, prefix)
