"""Helpers shared by the JetStream integration tests (tests/test_js_*.py), and the
blocking twins of the async helpers in anyio_helpers.py.

The async JetStream, Key-Value, Object Store and service tests are the source of
the blocking ones: ``scripts/unasync.py`` writes tests/test_js_sync.py (and the
other generated test files) from them, turning ``from anyio_helpers import`` into
``from js_helpers import``. So every name those tests import from anyio_helpers
exists here too, with the same signature, minus ``async``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

import nats_sync
from pynats.server import NatsServer
from sync_helpers import wait_until

__all__ = [
    "SERVER_VERSION",
    "Event",
    "background",
    "frozen",
    "needs_server",
    "restart_and_wait",
    "result_within",
    "uniq",
    "wait_until",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_ids = itertools.count()


def _version() -> tuple[int, int]:
    try:
        text = NatsServer.binary_version()
    except Exception:  # no binary: the fixtures will say so
        return (0, 0)
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


SERVER_VERSION = _version()


def needs_server(major: int, minor: int) -> Callable[[F], F]:
    """Mark a test ``server_2_10`` (CI deselects those in its 2.9 pass) and skip it
    on a server older than ``major.minor`` (per-message TTL and pause need 2.11)."""

    def deco(fn: F) -> F:
        skip = pytest.mark.skipif(
            (major, minor) > SERVER_VERSION,
            reason=f"needs nats-server {major}.{minor}+ (have {SERVER_VERSION})",
        )
        marked: F = pytest.mark.server_2_10(skip(fn))
        return marked

    return deco


def uniq(prefix: str = "S") -> str:
    """A stream or subject token no other test uses."""
    return f"{prefix}{os.getpid()}x{next(_ids)}"


@contextmanager
def frozen(server: NatsServer) -> Iterator[None]:
    """Stop the server process (SIGSTOP) for the block: connections stay open,
    nothing is answered, no heartbeat is sent; SIGCONT afterwards."""
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# ------------------------------------------- blocking twins of anyio_helpers' ones

Event = threading.Event
"""A flag: ``set()`` from any thread; ``wait(timeout)`` says whether it was set in time."""


@contextmanager
def background(fn: Callable[[], object]) -> Iterator[None]:
    """Run ``fn()`` on a thread for the length of the block; at its end wait for
    the thread and raise what ``fn`` raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-background", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if errors:
        raise errors[0]


def result_within(fut: concurrent.futures.Future[T], timeout: float) -> T:
    """The future's result, waiting up to ``timeout`` seconds (:class:`TimeoutError` after)."""
    return fut.result(timeout)


def restart_and_wait(server: NatsServer, nc: nats_sync.Client) -> None:
    """Restart the server and wait until the client has reconnected."""
    before = nc.stats.reconnects
    server.restart()
    wait_until(lambda: nc.stats.reconnects > before and nc.is_connected, 10, "the reconnect")
