"""The optional C module (``nats_core._speedups``): whether it is there, and a
switch to run pure Python instead (for benchmarks and differential tests).

The C module parses well-formed MSG/HMSG runs and builds plain PUB frames; with
it switched off the same results come from the Python code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import _connection, _parser

__all__ = ["available", "disable", "disabled", "enable", "enabled"]

try:
    from ._speedups import pub_frame as _pub_frame
    from ._speedups import scan_msgs as _scan_msgs
except ImportError:  # pragma: no cover - installed without a compiler
    _pub_frame = _scan_msgs = None  # type: ignore[assignment]


def available() -> bool:
    """True when the C module was built at install time."""
    return _scan_msgs is not None


def enabled() -> bool:
    """True when the parser's C fast path is in use now."""
    return _parser._scan_msgs is not None


def disable() -> None:
    """Use pure Python from now on, in this process (parser and publish frame)."""
    _parser._scan_msgs = None
    _connection._pub_frame = None


def enable() -> None:
    """Use the C module again, if it is :func:`available`."""
    _parser._scan_msgs = _scan_msgs
    _connection._pub_frame = _pub_frame


@contextmanager
def disabled() -> Iterator[None]:
    """Pure Python inside the block; the previous setting after it."""
    saved = (_parser._scan_msgs, _connection._pub_frame)
    disable()
    try:
        yield
    finally:
        _parser._scan_msgs, _connection._pub_frame = saved
