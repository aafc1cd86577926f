"""The public :class:`Client` and ``connect()``, the async context manager that
owns a client and its tasks.

:class:`Client` is the connection of ``_client`` plus its entry to JetStream:
the one module that sees both, at the top of the package.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Unpack, cast

import anyio
import sniffio

from nats_core import HeadersInput, ServerAddress, apply_credentials, build_options
from nats_core.context import (
    context_path,
    merge_connect_options,
    parse_context,
    resolve_context_name,
    selected_context_path,
)
from nats_core.errors import ConfigError
from nats_core.jetstream.publish import DEFAULT_MAX_PENDING
from nats_core.request_many import Sentinel
from nats_core.typed_options import ConnectOptionsDict

from ._asyncio_transport import AsyncioTransport
from ._client import BaseClient
from ._events import Events
from ._jetstream import JetStream
from ._js_publish import PublishAsyncErrorCallback
from ._msg import Msg
from ._request_many import Replies
from ._transport import TCPTransport, Transport, TransportFactory

__all__ = ["Client", "connect"]


class Client(BaseClient):
    """An async NATS client; get one with ``async with connect(...) as nc``.

    Every method is called from tasks of the event loop the client runs in.
    """

    #: JetStream options of the context connected with (``domain`` or ``api_prefix``).
    _js_defaults: dict[str, str] = {}  # replaced, never mutated

    def jetstream(
        self,
        *,
        domain: str | None = None,
        api_prefix: str | None = None,
        timeout: float = 5.0,
        publish_async_max_pending: int = DEFAULT_MAX_PENDING,
        publish_async_timeout: float | None = None,
        publish_async_error_cb: PublishAsyncErrorCallback | None = None,
    ) -> JetStream:
        """A JetStream context on this connection.

        ``domain`` or ``api_prefix``: another domain's JetStream, or an imported
        API; ``timeout``: seconds per API request; ``publish_async_max_pending``,
        ``publish_async_timeout`` and ``publish_async_error_cb``: the async
        publishes' limits and default error handler; see :class:`JetStream`.
        Connected with a ``context``, its JetStream domain (or API prefix) is
        the default, unless ``domain`` or ``api_prefix`` is given.
        """
        if domain is None and api_prefix is None:
            domain = self._js_defaults.get("domain")
            api_prefix = self._js_defaults.get("api_prefix")
        return JetStream(
            self,
            domain=domain,
            api_prefix=api_prefix,
            timeout=timeout,
            publish_async_max_pending=publish_async_max_pending,
            publish_async_timeout=publish_async_timeout,
            publish_async_error_cb=publish_async_error_cb,
        )

    def events(self, max_size: int = 1024) -> Events:
        """The connection's lifecycle as data, from now on: an async iterator of
        typed events (:class:`~nats_core.ConnectedEvent`,
        :class:`~nats_core.DisconnectedEvent`, :class:`~nats_core.ReconnectedEvent`
        with the server's URL, :class:`~nats_core.ServersDiscoveredEvent`,
        :class:`~nats_core.LameDuckEvent`, :class:`~nats_core.SlowConsumerEvent`,
        :class:`~nats_core.ErrorEvent`, :class:`~nats_core.ClosedEvent`) that ends
        after ``ClosedEvent``::

            async with nc.events() as events:
                async for event in events:
                    ...

        At most ``max_size`` events wait to be read; past that the oldest are
        dropped and an :class:`~nats_core.EventsDropped` with their count comes
        next. Several may be open; leaving ``async with`` (or ``close()``) stops one.
        """
        return Events(self, max_size)

    def request_many(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        timeout: timedelta | float = 1.0,
        max_msgs: int | None = None,
        stall: timedelta | float | None = None,
        sentinel: Sentinel | bool | None = None,
    ) -> Replies:
        """Publish one request and iterate over its replies (ADR-47)::

            async with nc.request_many("svc.echo", b"hi", stall=0.1) as replies:
                async for msg in replies:
                    ...

        The replies end at the first of: ``timeout`` seconds in all; ``stall``
        seconds with no reply after one; ``max_msgs`` replies (the last one is
        given); a ``sentinel`` reply (``True``: an empty one without headers;
        or a predicate returning ``True`` for the reply that ends it; that reply
        is not given). Raises :class:`NoRespondersError` when nobody listens and
        :class:`ConnectionClosedError` when the connection closes first;
        ``await replies.collect()`` gives them in a list.
        """
        return Replies(
            self,
            subject,
            payload,
            headers=headers,
            timeout=timeout,
            max_msgs=max_msgs,
            stall=stall,
            sentinel=sentinel,
        )

    async def publish_msg(self, msg: Msg) -> None:
        """Publish ``msg``: its subject, reply, data and headers (nats.go's ``PublishMsg``),
        as in ``await nc.publish_msg(Msg("o.new", data=b"1", headers=Headers({"A": "1"})))``."""
        await self.publish(msg.subject, msg.data, msg.reply, msg.headers)

    async def request_msg(self, msg: Msg, timeout: float = 1.0) -> Msg:
        """Send ``msg`` as a request (its subject, data and headers; its reply is
        ignored: the reply subject is the client's) and wait for the reply, as
        :meth:`request` (nats.go's ``RequestMsg``)."""
        return await self.request(msg.subject, msg.data, timeout, msg.headers)


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


async def _read_or_none(path: str) -> str | None:
    try:
        return await anyio.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None


async def load_context(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``connect()`` and ``jetstream()`` options of context ``name`` (``""``:
    the selected one, named in ``context.txt``), read from the nats CLI's
    config directory. Raises :class:`ConfigError` naming the file."""
    env = dict(os.environ)
    home = str(Path.home())
    selected = None
    if not name:
        where = selected_context_path(env, home)
        selected = await _read_or_none(where)
        if resolve_context_name(None, selected) is None:
            raise ConfigError(f"no context is selected: {where} is missing or empty")
    resolved = resolve_context_name(name, selected)
    assert resolved is not None
    path = context_path(resolved, env, home)
    text = await _read_or_none(path)
    if text is None:
        raise ConfigError(f"context {resolved!r} not found: no file {path}")
    try:
        ctx = parse_context(text, resolved, env=env, home=home)
        return ctx.connect_options(env), ctx.jetstream_options()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


async def tcp_connect(server: ServerAddress, timeout: float) -> Transport:
    """The default transport factory: asyncio's own transport on asyncio (no
    event-loop trip per read or write), anyio's sockets elsewhere (Trio)."""
    if sniffio.current_async_library() == "asyncio":
        return await AsyncioTransport.connect(server, timeout)
    return await TCPTransport.connect(server, timeout)


@asynccontextmanager
async def connect(
    servers: str | list[str] | None = None,
    *,
    context: str | None = None,
    **options: Unpack[ConnectOptionsDict],
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

    ``context`` names a context of the ``nats`` CLI (``""``: the selected
    one) whose settings (servers, credentials, TLS files, inbox prefix) are
    the defaults of the options given here, and whose JetStream domain or API
    prefix is the default of :meth:`Client.jetstream`. ``servers`` defaults to
    ``nats://127.0.0.1:4222`` without a context.

    ``server`` (a running :class:`pynats.server.NatsServer`, or any object with
    a ``url``) connects to that server (nats.go's ``InProcessServer``).
    """
    factory: TransportFactory = options.pop("transport_factory", None) or tcp_connect
    server = options.pop("server", None)
    if server is not None:  # an embedded pynats.server.NatsServer (anything with a url)
        if servers is not None:
            raise ConfigError("give servers or server=, not both")
        servers = server.url
    js_defaults: dict[str, str] = {}
    if context is not None:
        ctx_opts, js_defaults = await load_context(context)
        explicit = {**options, "servers": servers}
        merged = merge_connect_options(ctx_opts, explicit)  # the given ones over the context's
        servers = merged.pop("servers")
        options = cast(ConnectOptionsDict, merged)
    opts = build_options(servers, **options)
    opts = apply_credentials(opts, _read_text)
    client = Client(opts, factory)
    if js_defaults:
        client._js_defaults = js_defaults
    try:
        first, reconnect_first = await client._connect_first()
    except BaseException:
        client._close_callback_queue()  # no task group will
        raise
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
