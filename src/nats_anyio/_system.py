"""The system account's monitoring API for the async client: what a server's
HTTP monitoring port shows (VARZ, CONNZ, ...), asked over NATS on ``$SYS``.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
Subjects, request bodies and the typed answers come from ``nats_core.system``;
this module only sends the request and gathers the replies.
"""

from __future__ import annotations

import logging
from typing import Any

from nats_core.errors import NatsTimeoutError
from nats_core.system import (
    Accountz,
    Connz,
    Gatewayz,
    Healthz,
    InvalidServerResponseError,
    Jsz,
    Leafz,
    M,
    Routez,
    ServerAPIError,
    ServerAPIResponse,
    ServerEndpoint,
    Statsz,
    Subsz,
    SysServerInfo,
    Varz,
    data_model,
    parse_server_response,
    server_request,
)

from ._request_many import Replies, RequestManyClient

__all__ = ["SystemClient"]

log = logging.getLogger(__name__)

_KIND_OF: dict[type[Any], ServerEndpoint] = {data_model(k): k for k in ServerEndpoint}


class SystemClient:
    """Server monitoring through the system account: ``SystemClient(nc)`` on a
    connection whose user is in the system account.

    Each method asks one server (``server_id``: its INFO ``server_id``, or
    ``server.id`` of any answer) or, without one, every server that answers
    ``$SYS.REQ.SERVER.PING.<KIND>`` within ``timeout`` seconds, the replies
    ending after a ``stall`` gap with none. It returns one item per answering
    server: a :class:`~nats_core.system.ServerAPIResponse` (``server``, the
    kind's typed ``data``, the ``raw`` reply), or the
    :class:`~nats_core.system.ServerAPIError` that server answered with.
    ``options`` are the kind's options and the server filters
    (``cluster=``, ``server_name=``, ...) of
    :func:`nats_core.system.server_request`; ``gzip`` asks for compressed
    answers.

    Raises :class:`~nats_core.errors.NoRespondersError` when no server listens
    (the user is not in the system account, or no server has that id) and,
    with a ``server_id``, :class:`~nats_core.errors.NatsTimeoutError` when it
    did not answer in time.
    """

    def __init__(self, nc: RequestManyClient, *, timeout: float = 2.0, stall: float = 0.3) -> None:
        self._nc = nc
        self.timeout = timeout
        self.stall = stall

    async def request(
        self,
        kind: ServerEndpoint | str,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Any] | ServerAPIError]:
        """Any kind by name (``"VARZ"``...): the answers with their kind's model."""
        model = data_model(kind)  # checks the name
        return await self._ask(model, server_id, timeout, stall, gzip, options)

    async def varz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Varz] | ServerAPIError]:
        """VARZ: the configuration and counters (options: the filters)."""
        return await self._ask(Varz, server_id, timeout, stall, gzip, options)

    async def connz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Connz] | ServerAPIError]:
        """CONNZ: the client connections (options: its OPTIONS, the filters)."""
        return await self._ask(Connz, server_id, timeout, stall, gzip, options)

    async def routez(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Routez] | ServerAPIError]:
        """ROUTEZ: the cluster routes (options: its OPTIONS, the filters)."""
        return await self._ask(Routez, server_id, timeout, stall, gzip, options)

    async def gatewayz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Gatewayz] | ServerAPIError]:
        """GATEWAYZ: the gateways (options: its OPTIONS, the filters)."""
        return await self._ask(Gatewayz, server_id, timeout, stall, gzip, options)

    async def leafz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Leafz] | ServerAPIError]:
        """LEAFZ: the leaf node connections (options: its OPTIONS, the filters)."""
        return await self._ask(Leafz, server_id, timeout, stall, gzip, options)

    async def subsz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Subsz] | ServerAPIError]:
        """SUBSZ: the subscriptions (options: its OPTIONS, the filters)."""
        return await self._ask(Subsz, server_id, timeout, stall, gzip, options)

    async def jsz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Jsz] | ServerAPIError]:
        """JSZ: JetStream (options: its OPTIONS, the filters)."""
        return await self._ask(Jsz, server_id, timeout, stall, gzip, options)

    async def accountz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Accountz] | ServerAPIError]:
        """ACCOUNTZ: the accounts (options: its OPTIONS, the filters)."""
        return await self._ask(Accountz, server_id, timeout, stall, gzip, options)

    async def healthz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Healthz] | ServerAPIError]:
        """HEALTHZ: the health check (options: its OPTIONS, the filters)."""
        return await self._ask(Healthz, server_id, timeout, stall, gzip, options)

    async def statsz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
        gzip: bool = False,
        **options: Any,
    ) -> list[ServerAPIResponse[Statsz] | ServerAPIError]:
        """STATSZ: the live statistics (options: the filters)."""
        return await self._ask(Statsz, server_id, timeout, stall, gzip, options)

    async def idz(
        self,
        server_id: str | None = None,
        *,
        timeout: float | None = None,
        stall: float | None = None,
    ) -> list[ServerAPIResponse[SysServerInfo] | ServerAPIError]:
        """IDZ: each server's name, host and id (takes no options or filters)."""
        return await self._ask(SysServerInfo, server_id, timeout, stall, False, {})

    async def _ask(
        self,
        model: type[M],
        server_id: str | None,
        timeout: float | None,
        stall: float | None,
        gzip: bool,
        options: dict[str, Any],
    ) -> list[ServerAPIResponse[M] | ServerAPIError]:
        kind = _KIND_OF[model]
        req = server_request(kind, server_id=server_id, gzip=gzip, **options)
        wait = self.timeout if timeout is None else timeout
        one = server_id is not None
        replies = Replies(
            self._nc,
            req.subject,
            req.payload,
            headers=req.headers,
            timeout=wait,
            max_msgs=1 if one else None,
            stall=None if one else (self.stall if stall is None else stall),
        )
        out: list[ServerAPIResponse[M] | ServerAPIError] = []
        for msg in await replies.collect():
            try:
                out.append(parse_server_response(msg, kind))
            except ServerAPIError as e:
                out.append(e)
            except InvalidServerResponseError as e:
                log.warning("%s: an unreadable answer skipped: %s", req.subject, e)
        if one and not out:
            raise NatsTimeoutError(f"server {server_id!r} did not answer {kind.value} in {wait} s")
        return out
