"""The Service API (ADR-32) for the async client: services with endpoints and
groups, answering discovery (PING, INFO, STATS) on ``$SRV``.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
Identity, endpoints, statistics and the answers come from ``nats_core.micro``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nats_core import Headers, HeadersInput
from nats_core.errors import ConfigError
from nats_core.instrument import instrumented
from nats_core.micro import (
    API_PREFIX,
    DEFAULT_QUEUE_GROUP,
    EndpointStats,
    ServiceState,
    control_subjects,
    error_headers,
    group_subject,
    handler_error_description,
    verb_of,
)

from ._compat import call_maybe_async
from ._msg import Msg

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._subscription import Subscription

__all__ = ["Group", "Request", "Service", "add_service"]

log = logging.getLogger(__name__)

Handler = Callable[["Request"], object]
StatsHandler = Callable[[EndpointStats], Any]
#: Called (plain or async) with the service, the request and the exception when
#: an endpoint's handler raises, after the 500 answer.
ErrorHandler = Callable[["Service", "Request", Exception], object]


class Request:
    """A request to an endpoint: ``subject``, ``data``, ``headers``, and the
    calls to answer it."""

    def __init__(self, msg: Msg, before_answer: Callable[[str | None], None] | None = None) -> None:
        self.msg = msg
        self._error: str | None = None
        self._answered = False
        # Counts the request in the endpoint's statistics just before the first
        # answer goes out, so a caller that got the answer sees it counted.
        self._before_answer = before_answer

    def _counting(self) -> None:
        hook, self._before_answer = self._before_answer, None
        if hook is not None:
            hook(self._error)

    @property
    def subject(self) -> str:
        """The subject the request was sent to."""
        return self.msg.subject

    @property
    def reply(self) -> str:
        """Where the answer goes."""
        return self.msg.reply

    @property
    def data(self) -> bytes:
        """The request's payload."""
        return self.msg.data

    @property
    def headers(self) -> Headers | None:
        """The request's headers, or None."""
        return self.msg.headers

    async def respond(self, data: bytes = b"", headers: HeadersInput | None = None) -> None:
        """Answer the request."""
        self._counting()
        await self.msg.respond(data, headers)
        self._answered = True

    async def respond_error(
        self,
        code: int,
        description: str,
        data: bytes = b"",
        headers: HeadersInput | None = None,
    ) -> None:
        """Answer with an error (the ``Nats-Service-Error`` headers); the
        endpoint counts it."""
        hdrs = Headers(headers) if headers else Headers()
        for key, value in error_headers(code, description).items():
            hdrs[key] = value
        self._error = f"{code}:{description}"
        self._counting()
        await self.msg.respond(data, hdrs)
        self._answered = True


class _Endpoints:
    """What a service and its groups share: adding endpoints under a prefix."""

    _service: Service
    _prefix: str
    _queue_group: str | None

    async def add_endpoint(
        self,
        name: str,
        handler: Handler,
        *,
        subject: str | None = None,
        queue_group: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> EndpointStats:
        """Serve ``handler`` on ``subject`` (default: ``name``) under this prefix,
        in ``queue_group`` (default: the group's, else the service's; ``""``
        for a plain subscription). Returns the endpoint's statistics."""
        qg = self._queue_group if queue_group is None else queue_group
        full = group_subject(self._prefix, subject if subject is not None else name)
        return await self._service._add(name, handler, full, qg, metadata)

    def add_group(self, name: str, *, queue_group: str | None = None) -> Group:
        """A group: endpoints added to it listen under ``<prefix>.<name>``."""
        if not name or ">" in name:
            raise ConfigError(f"invalid group name {name!r}: a subject prefix without '>'")
        qg = self._queue_group if queue_group is None else queue_group
        return Group(self._service, group_subject(self._prefix, name), qg)


class Group(_Endpoints):
    """Endpoints under a common subject prefix (from :meth:`Service.add_group`)."""

    def __init__(self, service: Service, prefix: str, queue_group: str | None) -> None:
        self._service = service
        self._prefix = prefix
        self._queue_group = queue_group

    def __repr__(self) -> str:
        return f"<Group prefix={self._prefix!r}>"


class Service(_Endpoints):
    """A running service; make one with :func:`add_service`."""

    def __init__(
        self,
        nc: BaseClient,
        state: ServiceState,
        stats_handler: StatsHandler | None,
        api_prefix: str,
        expose_errors: bool = False,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        self._nc = nc
        self._expose_errors = expose_errors
        self._error_handler = error_handler
        self._state = state
        self._stats_handler = stats_handler
        self._api_prefix = api_prefix
        self._service = self
        self._prefix = ""
        self._queue_group = state.queue_group
        self._subs: list[Subscription] = []
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Service name={self.name!r} id={self.id!r} endpoints={len(self._state.endpoints)}>"

    @property
    def name(self) -> str:
        """The service's name (its kind)."""
        return self._state.name

    @property
    def id(self) -> str:
        """This instance's id."""
        return self._state.id

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` ran."""
        return self._stopped

    async def _start(self) -> None:
        for subject in control_subjects(self.name, self.id, self._api_prefix):
            self._subs.append(await self._nc.subscribe(subject, cb=self._on_control))

    async def _on_control(self, msg: Msg) -> None:
        if not msg.reply:
            return
        verb = verb_of(msg.subject, self._api_prefix)
        await msg.respond(self._state.answer(verb, self._stats_handler))

    async def _add(
        self,
        name: str,
        handler: Handler,
        subject: str,
        queue_group: str | None,
        metadata: Mapping[str, str] | None,
    ) -> EndpointStats:
        if self._stopped:
            raise RuntimeError(f"service {self.name!r} is stopped")
        qg = queue_group or ""
        ep = self._state.add_endpoint(name, subject, qg, metadata)
        record, record_error = self._state.record, self._state.record_error

        label = f"{self.name} {name}"

        @instrumented  # the process hooks are called here, with the endpoint's name
        async def on_request(msg: Msg) -> None:
            instr = self._nc._instr
            if instr is None:
                await serve(msg)
                return
            token = instr.on_process_start(msg, "service", label)
            error: BaseException | None = None
            try:
                error = await serve(msg)
            except BaseException as exc:
                error = exc
                raise
            finally:
                instr.on_process_end(token, error)

        async def serve(msg: Msg) -> Exception | None:
            """Run the handler; returns what it raised, if it did."""
            start = time.perf_counter_ns()
            failed: Exception | None = None
            counted = False

            def count(error: str | None) -> None:
                nonlocal counted
                counted = True
                record(ep, time.perf_counter_ns() - start, error)

            req = Request(msg, count)
            try:
                await call_maybe_async(handler, req)
            except Exception as exc:  # the handler failed: answer 500, count it
                failed = exc
                if self._error_handler is None:
                    log.exception("service %r endpoint %r: the handler raised", self.name, name)
                text = handler_error_description(exc, expose=self._expose_errors)
                if not req._answered and msg.reply:  # one answer per request
                    try:
                        await req.respond_error(500, text)
                    except Exception:  # pragma: no cover - the connection went away
                        log.exception("service %r: could not answer the error", self.name)
                if req._error is None:
                    req._error = f"500:{text}"
                    if counted:  # it answered, then raised: an error all the same
                        record_error(ep, req._error)
                if self._error_handler is not None:
                    try:
                        await call_maybe_async(self._error_handler, self, req, exc)
                    except Exception:
                        log.exception("service %r: the error handler raised", self.name)
            if not counted:  # no answer went out (no reply subject, or none given)
                record(ep, time.perf_counter_ns() - start, req._error)
            return failed

        self._subs.append(await self._nc.subscribe(subject, queue=qg, cb=on_request))
        return ep

    def info(self) -> dict[str, Any]:
        """The service's INFO answer, as a dict."""
        return self._state.info()

    def stats(self) -> dict[str, Any]:
        """The service's STATS answer, as a dict."""
        return self._state.stats(self._stats_handler)

    @property
    def endpoints(self) -> list[EndpointStats]:
        """The endpoints and their statistics."""
        return list(self._state.endpoints)

    def reset(self) -> None:
        """Forget the statistics."""
        self._state.reset()

    async def stop(self) -> None:
        """Stop: drain every subscription (requests already received are handled)."""
        if self._stopped:
            return
        self._stopped = True
        subs, self._subs = self._subs, []
        for sub in subs:
            try:
                await sub.drain()
            except Exception:  # the connection may be closing: nothing left to drain
                log.debug("service %r: a subscription did not drain", self.name, exc_info=True)

    async def __aenter__(self) -> Service:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def add_service(
    nc: BaseClient,
    name: str,
    version: str,
    *,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    queue_group: str = DEFAULT_QUEUE_GROUP,
    stats_handler: StatsHandler | None = None,
    api_prefix: str = API_PREFIX,
    expose_errors: bool = False,
    error_handler: ErrorHandler | None = None,
) -> Service:
    """Start a service named ``name`` (letters, digits, ``_``, ``-``) at
    ``version`` (semver) on ``nc``; it answers ``$SRV`` discovery at once. Add
    endpoints with :meth:`Service.add_endpoint`; ``queue_group`` is their
    default (``""``: plain subscriptions).

    A handler that raises is answered with code 500 and a generic description
    (its traceback goes to this module's logger); ``expose_errors=True`` sends
    the exception's text instead, to callers and in ``$SRV.STATS``.
    ``error_handler(service, request, exc)`` (plain or async), when given, is
    called after that answer in place of the log.

    Endpoints take ``metadata`` (:meth:`Service.add_endpoint`), shown in INFO;
    ``stats_handler(endpoint)`` fills each endpoint's ``data`` in STATS.
    Callers find services with :mod:`nats_anyio.discover`."""
    state = ServiceState(  # checks the name and version
        name=name,
        version=version,
        id=nc.new_inbox().rpartition(".")[2],
        started=datetime.now(UTC),
        description=description,
        metadata=metadata,
        queue_group=queue_group,
    )
    service = Service(nc, state, stats_handler, api_prefix, expose_errors, error_handler)
    await service._start()
    return service
