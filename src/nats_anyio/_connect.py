"""The public :class:`Client` and ``connect()``, the async context manager that
owns a client and its tasks.

:class:`Client` is the connection of ``_client`` plus its entry to JetStream:
the one module that sees both, at the top of the package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import sniffio

from nats_core import ServerAddress, apply_credentials, build_options

from ._asyncio_transport import AsyncioTransport
from ._client import BaseClient
from ._jetstream import JetStream
from ._transport import TCPTransport, Transport, TransportFactory

__all__ = ["Client", "connect"]


class Client(BaseClient):
    """An async NATS client; get one with ``async with connect(...) as nc``.

    Every method is called from tasks of the event loop the client runs in.
    """

    def jetstream(self, **opts: Any) -> JetStream:
        """A JetStream context on this connection.

        Options: ``domain``, ``api_prefix``, ``timeout`` (seconds per API
        request, default 5), ``publish_async_max_pending`` (default 4000) and
        ``publish_async_timeout`` (default none); see :class:`JetStream`.
        """
        return JetStream(self, **opts)


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


async def tcp_connect(server: ServerAddress, timeout: float) -> Transport:
    """The default transport factory: asyncio's own transport on asyncio (no
    event-loop trip per read or write), anyio's sockets elsewhere (Trio)."""
    if sniffio.current_async_library() == "asyncio":
        return await AsyncioTransport.connect(server, timeout)
    return await TCPTransport.connect(server, timeout)


@asynccontextmanager
async def connect(
    servers: str | list[str] = "nats://127.0.0.1:4222", **options: Any
) -> AsyncIterator[Client]:
    """Connect to NATS; use as ``async with connect(...) as nc:``.

    The client's tasks (reader, flusher, ping timer, callbacks) run in a task
    group scoped by the block; leaving the block closes the client and ends
    them all. ``servers`` is a URL, a comma-separated list or a list
    of URLs; the options are those of ``nats_sync.connect`` (``name``, ``user``,
    ``password``, ``token``, ``connect_timeout``, ``ping_interval``,
    ``error_cb``, ``disconnected_cb``, ``reconnected_cb``, ``closed_cb``, ...;
    callbacks may be plain or async functions). Raises when the first connect
    fails, unless ``retry_on_failed_connect``.

    ``transport_factory(server, timeout)`` (awaited) replaces how a server is
    dialed: it returns a :class:`~nats_anyio.Transport` (subclass
    :class:`~nats_anyio.StreamTransport` for one that only reads and writes: a
    Unix socket, a proxy, the in-memory :class:`~nats_anyio.MemoryServer`); TLS
    and the WebSocket upgrade still run on top of what it returns.
    """
    factory: TransportFactory = options.pop("transport_factory", None) or tcp_connect
    opts = build_options(servers, **options)
    opts = apply_credentials(opts, _read_text)
    client = Client(opts, factory)
    first, reconnect_first = await client._connect_first()
    body_error: BaseException | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(client._run, reconnect_first)
        client._handle(first)
        try:
            yield client
        except (anyio.get_cancelled_exc_class(), GeneratorExit):
            raise
        except BaseException as e:
            # Raised after the task group, so it is not wrapped in an ExceptionGroup.
            body_error = e
        finally:
            await client.close()
    if body_error is not None:
        raise body_error
