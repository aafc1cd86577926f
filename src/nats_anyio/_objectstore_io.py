"""What the Object Store does differently per flavour (async here): wait for a
publish's ack, read and write files and file-like objects that may be async.

Hand-written in both packages (``nats_sync._objectstore_io`` is the blocking
twin, not generated): ``_objectstore`` (generated from the async source) calls
these as ``await name(...)``, which the blocking twin calls plainly.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

import anyio
from anyio import AsyncFile

from nats_core.jetstream.objectstore import ObjectStoreError

if TYPE_CHECKING:
    from nats_core.jetstream.models import PubAck

    from ._compat import Future

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

BinaryFile = AsyncFile[bytes]
"""What :func:`open_read` and :func:`open_write` return."""


async def wait_ack(fut: Future[PubAck], timeout: float) -> PubAck:
    """The ack of an async publish, within ``timeout`` seconds (raises its error,
    or :class:`TimeoutError`)."""
    return await fut.wait(timeout)


async def read_some(file: Any, n: int) -> object:
    """Up to ``n`` bytes from a file-like object whose ``read`` may be async."""
    got = file.read(n)
    if inspect.isawaitable(got):
        got = await got
    return got


async def write_some(file: Any, data: bytes) -> None:
    """Write ``data`` to a file-like object whose ``write`` may be async."""
    done = file.write(data)
    if inspect.isawaitable(done):
        await done


async def open_read(path: str | os.PathLike[str]) -> BinaryFile:
    """``path`` opened to read bytes."""
    return await anyio.open_file(path, "rb")


async def open_write(path: str | os.PathLike[str]) -> BinaryFile:
    """``path`` opened to write bytes (created or truncated)."""
    return await anyio.open_file(path, "wb")


async def file_size(path: str | os.PathLike[str]) -> int:
    """The size of the file at ``path``."""
    return (await anyio.Path(path).stat()).st_size


async def remove_file(path: str | os.PathLike[str]) -> None:
    """Remove the file at ``path`` if it is there."""
    await anyio.Path(path).unlink(missing_ok=True)


def read_all_now(result: object) -> bytes:
    """An object's bytes for ``ObjectResult.data`` before it was read: the async
    client cannot wait in a property, so this says what to call instead."""
    raise ObjectStoreError(
        "the object was not read yet: `await result.read()` (then .data is its bytes), "
        "or `await store.get_bytes(name)`"
    )
