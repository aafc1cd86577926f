"""The public :class:`Client` and :func:`connect`.

:class:`Client` is the connection of ``_client`` plus its entry to JetStream:
the one module that sees both, at the top of the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats_core import apply_credentials, build_options

from ._client import BaseClient
from ._jetstream import JetStream
from ._transport import TCPTransport, TransportFactory

__all__ = ["Client", "connect"]


class Client(BaseClient):
    """A blocking NATS client; make one with :func:`connect`. Safe from any thread."""

    def jetstream(self, **opts: Any) -> JetStream:
        """A JetStream context on this connection.

        Options: ``domain``, ``api_prefix``, ``timeout`` (seconds per API
        request, default 5), ``publish_async_max_pending`` (default 4000) and
        ``publish_async_timeout`` (default none); see :class:`JetStream`.
        """
        return JetStream(self, **opts)


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


def connect(servers: str | list[str] = "nats://127.0.0.1:4222", **options: Any) -> Client:
    """Connect to NATS and return a :class:`Client` (usable as a context manager).

    ``servers`` is a URL, a comma-separated list or a list of URLs. Options:
    ``name``, ``user``, ``password``, ``token``, ``connect_timeout``, ``no_echo``,
    ``inbox_prefix``, ``verbose``, ``pedantic``, ``error_cb``, ``closed_cb``,
    ``disconnected_cb``, ``reconnected_cb``, ... (see the README's options table).
    Raises on the first connect failing unless ``retry_on_failed_connect``.

    ``transport_factory(server, timeout)`` replaces how a server is dialed: it
    returns a :class:`~nats_sync.Transport` (a Unix socket, a proxy, the
    in-memory :class:`~nats_sync.MemoryServer`); TLS and the WebSocket upgrade
    still run on top of what it returns.
    """
    factory: TransportFactory = options.pop("transport_factory", None) or TCPTransport.connect
    opts = build_options(servers, **options)
    opts = apply_credentials(opts, _read_text)
    client = Client(opts, factory)
    client._start()
    return client
