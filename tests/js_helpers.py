"""Helpers shared by the JetStream integration tests (tests/test_js_*.py)."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from pynats.server import NatsServer

F = TypeVar("F", bound=Callable[..., Any])

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
