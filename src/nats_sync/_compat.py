"""The concurrency shims the JetStream layer is written against (thread flavour).

The JetStream modules (``_jetstream`` and the ``_js_*`` modules under it) are
generated from their ``nats_anyio`` twins by ``scripts/unasync.py``; both
import these names from their package's ``_compat``. Here they are threads,
:mod:`time` and :mod:`concurrent.futures`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from ._client import BaseClient

__all__ = [
    "Event",
    "Future",
    "InvalidStateError",
    "Lister",
    "Listing",
    "StateLock",
    "call_maybe_async",
    "clock",
    "lister",
    "now",
    "opens",
    "resolve",
    "sleep",
    "spawn",
]

log = logging.getLogger("nats_sync.jetstream")

T = TypeVar("T")

Lister = Iterator
"""What the listing calls return: ``for info in js.list_streams()``."""

P = ParamSpec("P")

Listing = Iterator
"""The blocking twin of ``nats_anyio``'s listing: an iterator (``list(...)``
makes the list)."""


def lister(fn: Callable[P, Iterator[T]]) -> Callable[P, Iterator[T]]:
    """The blocking twin of ``nats_anyio``'s ``lister``: a listing call's
    iterator is already what it returns."""
    return fn


def opens(fn: Callable[P, T]) -> Callable[P, T]:
    """The blocking twin of ``nats_anyio``'s ``opens``: the call already returns
    the context manager, usable as ``x = f(...)`` or ``with f(...) as x:``."""
    return fn


now = time.monotonic
"""Seconds from the monotonic clock."""


def clock() -> Callable[[], float]:
    """The clock :func:`now` reads, as a function (the async flavour's is the
    running event loop's)."""
    return time.monotonic


sleep = time.sleep
"""Sleep ``seconds``."""

Future = concurrent.futures.Future
"""A :class:`concurrent.futures.Future`: ``fut.result(timeout)`` waits for the outcome."""

InvalidStateError = concurrent.futures.InvalidStateError

StateLock = threading.Lock
"""Guards state shared by the caller's thread and the client's callback threads."""


class Event(threading.Event):
    """A one-shot flag threads wait for: ``wait(timeout)`` returns whether it is set."""


def resolve(
    fut: concurrent.futures.Future[T], value: T | None, error: BaseException | None
) -> None:
    """Complete ``fut`` with ``error`` or ``value``, unless it is done or was cancelled."""
    try:
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:
        pass


def call_maybe_async(fn: Callable[..., object], *args: Any) -> None:
    """Call a callback (the thread flavour has only plain functions)."""
    fn(*args)


def spawn(client: BaseClient, fn: Callable[..., object], *args: Any, name: str) -> None:
    """Run ``fn(*args)`` on a daemon thread; an exception it lets out is logged."""
    del client  # the thread needs no owner; it ends with the client's subscriptions

    def run() -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("exception in background jetstream thread %s", name)

    threading.Thread(target=run, name=name, daemon=True).start()
