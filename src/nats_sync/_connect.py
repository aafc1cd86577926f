"""The public :class:`Client` and :func:`connect`.

:class:`Client` is the connection of ``_client`` plus its entry to JetStream:
the one module that sees both, at the top of the package.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Unpack, cast

from nats_core import HeadersInput, apply_credentials, build_options
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

from ._client import BaseClient
from ._events import Events
from ._jetstream import JetStream
from ._js_publish import PublishAsyncErrorCallback
from ._msg import Msg
from ._request_many import Replies
from ._transport import TCPTransport, TransportFactory

__all__ = ["Client", "connect"]


class Client(BaseClient):
    """A blocking NATS client; make one with :func:`connect`. Safe from any thread."""

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
        """The connection's lifecycle as data, from now on: a (blocking) iterator of
        typed events (:class:`~nats_core.ConnectedEvent`,
        :class:`~nats_core.DisconnectedEvent`, :class:`~nats_core.ReconnectedEvent`
        with the server's URL, :class:`~nats_core.ServersDiscoveredEvent`,
        :class:`~nats_core.LameDuckEvent`, :class:`~nats_core.SlowConsumerEvent`,
        :class:`~nats_core.ErrorEvent`, :class:`~nats_core.ClosedEvent`) that ends
        after ``ClosedEvent``::

            with nc.events() as events:
                for event in events:
                    ...

        At most ``max_size`` events wait to be read; past that the oldest are
        dropped and an :class:`~nats_core.EventsDropped` with their count comes
        next. Several may be open, from any threads; leaving ``with`` (or
        ``close()``) stops one.
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

            with nc.request_many("svc.echo", b"hi", stall=0.1) as replies:
                for msg in replies:
                    ...

        The replies end at the first of: ``timeout`` seconds in all; ``stall``
        seconds with no reply after one; ``max_msgs`` replies (the last one is
        given); a ``sentinel`` reply (``True``: an empty one without headers;
        or a predicate returning ``True`` for the reply that ends it; that reply
        is not given). Raises :class:`NoRespondersError` when nobody listens and
        :class:`ConnectionClosedError` when the connection closes first;
        ``replies.collect()`` (or ``list(replies)``) gives them in a list.
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

    def publish_msg(self, msg: Msg) -> None:
        """Publish ``msg``: its subject, reply, data and headers (nats.go's ``PublishMsg``),
        as in ``nc.publish_msg(Msg("orders.new", data=b"1", headers=Headers({"A": "1"})))``."""
        self.publish(msg.subject, msg.data, msg.reply, msg.headers)

    def request_msg(self, msg: Msg, timeout: float = 1.0) -> Msg:
        """Send ``msg`` as a request (its subject, data and headers; its reply is
        ignored: the reply subject is the client's) and wait for the reply, as
        :meth:`request` (nats.go's ``RequestMsg``)."""
        return self.request(msg.subject, msg.data, timeout, msg.headers)


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


def _read_or_none(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None


def load_context(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``connect()`` and ``jetstream()`` options of context ``name`` (``""``:
    the selected one, named in ``context.txt``), read from the nats CLI's
    config directory. Raises :class:`ConfigError` naming the file."""
    env = dict(os.environ)
    home = str(Path.home())
    selected = None
    if not name:
        where = selected_context_path(env, home)
        selected = _read_or_none(where)
        if resolve_context_name(None, selected) is None:
            raise ConfigError(f"no context is selected: {where} is missing or empty")
    resolved = resolve_context_name(name, selected)
    assert resolved is not None
    path = context_path(resolved, env, home)
    text = _read_or_none(path)
    if text is None:
        raise ConfigError(f"context {resolved!r} not found: no file {path}")
    try:
        ctx = parse_context(text, resolved, env=env, home=home)
        return ctx.connect_options(env), ctx.jetstream_options()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def connect(
    servers: str | list[str] | None = None,
    *,
    context: str | None = None,
    **options: Unpack[ConnectOptionsDict],
) -> Client:
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

    ``context`` names a context of the ``nats`` CLI (``""``: the selected
    one) whose settings (servers, credentials, TLS files, inbox prefix) are
    the defaults of the options given here, and whose JetStream domain or API
    prefix is the default of :meth:`Client.jetstream`. ``servers`` defaults to
    ``nats://127.0.0.1:4222`` without a context.

    ``server`` (a running :class:`pynats.server.NatsServer`, or any object with
    a ``url``) connects to that server (nats.go's ``InProcessServer``).
    """
    factory: TransportFactory = options.pop("transport_factory", None) or TCPTransport.connect
    server = options.pop("server", None)
    if server is not None:  # an embedded pynats.server.NatsServer (anything with a url)
        if servers is not None:
            raise ConfigError("give servers or server=, not both")
        servers = server.url
    js_defaults: dict[str, str] = {}
    if context is not None:
        ctx_opts, js_defaults = load_context(context)
        explicit = {**options, "servers": servers}
        merged = merge_connect_options(ctx_opts, explicit)  # the given ones over the context's
        servers = merged.pop("servers")
        options = cast(ConnectOptionsDict, merged)
    opts = build_options(servers, **options)
    opts = apply_credentials(opts, _read_text)
    client = Client(opts, factory)
    if js_defaults:
        client._js_defaults = js_defaults
    client._start()
    return client
