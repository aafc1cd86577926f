"""What the Object Store does differently per flavour (blocking here): wait for
a publish's ack, read and write files and file-like objects.

Hand-written in both packages (``nats_anyio._objectstore_io`` is the async
twin, not a source of this one): ``_objectstore`` (generated from the async
source) calls these plainly where the async one awaits them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future

    from nats_core.jetstream.models import PubAck

__all__ = [
    "BinaryFile",
    "file_size",
    "open_read",
    "open_write",
    "read_all_now",
    "read_some",
    "remove_file",
    "wait_ack",
    "write_some",
]

BinaryFile = BinaryIO
"""What :func:`open_read` and :func:`open_write` return."""


class _ReadsAll(Protocol):
    def read(self, n: int = -1) -> bytes: ...


def wait_ack(fut: Future[PubAck], timeout: float) -> PubAck:
    """The ack of an async publish, within ``timeout`` seconds (raises its error,
    or :class:`TimeoutError`)."""
    return fut.result(timeout)


def read_some(file: Any, n: int) -> object:
    """Up to ``n`` bytes from a file-like object."""
    got: object = file.read(n)
    return got


def write_some(file: Any, data: bytes) -> None:
    """Write ``data`` to a file-like object."""
    file.write(data)


def open_read(path: str | os.PathLike[str]) -> BinaryFile:
    """``path`` opened to read bytes."""
    return open(path, "rb")  # the caller closes it (``with``)


def open_write(path: str | os.PathLike[str]) -> BinaryFile:
    """``path`` opened to write bytes (created or truncated)."""
    return open(path, "wb")


def file_size(path: str | os.PathLike[str]) -> int:
    """The size of the file at ``path``."""
    return os.stat(path).st_size


def remove_file(path: str | os.PathLike[str]) -> None:
    """Remove the file at ``path`` if it is there."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def read_all_now(result: _ReadsAll) -> bytes:
    """An object's bytes for ``ObjectResult.data`` before it was read: read the rest now."""
    return result.read()
