"""The JetStream context's base for the async client: the connection, the API
requests, and the management of streams, stored messages and consumers.

:class:`JetStreamManager` is what every other JetStream module holds: the pull
consumers, the ordered consumer and the publisher build on it, and the public
:class:`~nats_anyio.JetStream` (in ``_jetstream``) adds the factories of
consumer handles, Key-Value buckets and Object Stores.

Every call builds its request with :mod:`nats_core.jetstream`, sends it on the
client and parses the reply there.
Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from nats_core.errors import ConfigTypeError, NoRespondersError
from nats_core.jetstream import requests as _req
from nats_core.jetstream.api import DEFAULT_API_PREFIX, JSApi
from nats_core.jetstream.errors import (
    InvalidOptionError,
    JetStreamNotEnabledError,
    StreamNotFoundError,
)
from nats_core.jetstream.kv import KeyValueConfig
from nats_core.jetstream.models import (
    AccountInfo,
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPauseResponse,
    StoredMsg,
    StreamConfig,
    StreamInfo,
)
from nats_core.jetstream.objectstore import ObjectStoreConfig
from nats_core.jetstream.typed import ErrorCallback, StreamConfigFields

from ._compat import Lister, call_maybe_async, lister

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._msg import Msg

__all__ = ["ErrorCallback", "JetStreamManager", "with_fields"]

_M = TypeVar("_M", StreamConfig, ConsumerConfig, KeyValueConfig, ObjectStoreConfig)


def with_fields(cls: type[_M], config: _M | None, fields: Mapping[str, Any]) -> _M:
    """``config`` with ``fields`` replaced, or a new ``cls(**fields)``."""
    if config is None:
        return cls(**fields)
    if not isinstance(config, cls):
        raise ConfigTypeError(f"expected a {cls.__name__}, not {type(config).__name__}")
    return dataclasses.replace(config, **fields) if fields else config


class JetStreamManager:
    """The management API of a JetStream context: account, streams, stored
    messages and consumers (see :class:`~nats_anyio.JetStream`, which is one)."""

    def __init__(
        self,
        client: BaseClient,
        *,
        domain: str | None = None,
        api_prefix: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if timeout <= 0:
            raise InvalidOptionError(f"timeout must be positive, not {timeout!r}")
        self._nc = client
        self._api = JSApi(api_prefix or DEFAULT_API_PREFIX, domain=domain)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"<JetStream {self._api.prefix}>"

    @property
    def client(self) -> BaseClient:
        """The connection this context uses."""
        return self._nc

    @property
    def api(self) -> JSApi:
        """The API subjects in use (prefix and domain)."""
        return self._api

    @property
    def timeout(self) -> float:
        """Seconds each API request may take."""
        return self._timeout

    # ------------------------------------------------------------ requests

    async def _request(self, req: _req.JSRequest, timeout: float | None = None) -> Msg:
        """Send an API request; no responders means JetStream is not there."""
        try:
            return await self._nc.request(
                req.subject,
                req.payload,
                timeout=self._timeout if timeout is None else timeout,
                headers=req.headers,
            )
        except NoRespondersError:
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for the jetstream api request on {req.subject!r}: JetStream "
                "is not enabled, or the domain or api prefix is wrong",
            ) from None

    # ------------------------------------------------------------- account

    async def account_info(self) -> AccountInfo:
        """The account's JetStream usage, limits and API statistics."""
        return _req.parse_account_info(await self._request(_req.account_info(api=self._api)))

    # ------------------------------------------------------------- streams

    async def create_stream(
        self, config: StreamConfig | None = None, **fields: Unpack[StreamConfigFields]
    ) -> StreamInfo:
        """Create a stream from ``config`` or fields (``name="ORDERS", subjects=["orders.>"]``).

        Creating a stream that exists with the same configuration succeeds;
        with another, raises :class:`~nats_core.jetstream.StreamNameInUseError`.
        """
        cfg = with_fields(StreamConfig, config, fields)
        reply = await self._request(_req.add_stream(cfg, api=self._api))
        return _req.parse_stream_info(reply)

    async def update_stream(
        self, config: StreamConfig | None = None, **fields: Unpack[StreamConfigFields]
    ) -> StreamInfo:
        """Update a stream's configuration (:class:`~nats_core.jetstream.StreamNotFoundError`
        when it does not exist)."""
        cfg = with_fields(StreamConfig, config, fields)
        reply = await self._request(_req.update_stream(cfg, api=self._api))
        return _req.parse_stream_info(reply)

    async def create_or_update_stream(
        self, config: StreamConfig | None = None, **fields: Unpack[StreamConfigFields]
    ) -> StreamInfo:
        """Update the stream, or create it when it does not exist."""
        cfg = with_fields(StreamConfig, config, fields)
        try:
            return await self.update_stream(cfg)
        except StreamNotFoundError:
            return await self.create_stream(cfg)

    async def stream_info(
        self, name: str, *, subjects_filter: str | None = None, deleted_details: bool = False
    ) -> StreamInfo:
        """A stream's configuration and state.

        ``subjects_filter`` (a subject, wildcards allowed) fills
        ``state.subjects`` with message counts per subject, every page of
        them; ``deleted_details`` fills ``state.deleted`` with the deleted
        sequences.
        """
        req = _req.stream_info(
            name, subjects_filter=subjects_filter, deleted_details=deleted_details, api=self._api
        )
        info, paging = _req.parse_stream_info_page(await self._request(req))
        if subjects_filter is None:
            return info
        subjects = dict(info.state.subjects or {})
        offset = paging.next_offset(len(info.state.subjects or {}))
        while offset is not None:
            req = _req.stream_info(
                name,
                subjects_filter=subjects_filter,
                deleted_details=deleted_details,
                offset=offset,
                api=self._api,
            )
            page, paging = _req.parse_stream_info_page(await self._request(req))
            got = page.state.subjects or {}
            subjects.update(got)
            offset = paging.next_offset(len(got))
        info.state.subjects = subjects
        return info

    async def delete_stream(self, name: str) -> bool:
        """Delete a stream and every message in it."""
        return _req.parse_delete(await self._request(_req.delete_stream(name, api=self._api)))

    async def purge_stream(
        self,
        name: str,
        *,
        subject: str | None = None,
        seq: int | None = None,
        keep: int | None = None,
    ) -> int:
        """Remove messages; return how many.

        All of them, or only those on ``subject``; up to (not including)
        ``seq``, or all but the last ``keep``.
        """
        req = _req.purge_stream(name, subject=subject, seq=seq, keep=keep, api=self._api)
        return _req.parse_purge(await self._request(req))

    @lister
    async def stream_names(self, *, subject: str | None = None) -> Lister[str]:
        """Every stream's name (only those capturing ``subject`` if given), page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.stream_names(offset=offset, subject=subject, api=self._api)
            page = _req.parse_stream_names(await self._request(req))
            for name in page.names:
                yield name
            offset = page.next_offset()

    @lister
    async def list_streams(self, *, subject: str | None = None) -> Lister[StreamInfo]:
        """Every stream's info (only those capturing ``subject`` if given), page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.stream_list(offset=offset, subject=subject, api=self._api)
            page = _req.parse_stream_list(await self._request(req))
            for info in page.streams:
                yield info
            offset = page.next_offset()

    async def find_stream_by_subject(self, subject: str) -> str:
        """The name of the stream that captures ``subject``
        (:class:`~nats_core.jetstream.StreamNotFoundError` when none does)."""
        reply = await self._request(_req.find_stream_by_subject(subject, api=self._api))
        return _req.parse_find_stream(reply, subject)

    stream_name_by_subject = find_stream_by_subject

    # ------------------------------------------------------------ messages

    async def get_msg(
        self,
        stream: str,
        seq: int | None = None,
        *,
        last_by_subject: str | None = None,
        next_by_subject: str | None = None,
        direct: bool = False,
    ) -> StoredMsg:
        """Read one stored message: by ``seq``, the last one on ``last_by_subject``,
        or the first on ``next_by_subject`` at or after ``seq``.

        ``direct`` uses the direct get API (the stream needs ``allow_direct``;
        any replica answers). A missing message raises
        :class:`~nats_core.jetstream.MsgNotFoundError`.
        """
        if not direct:
            req = _req.get_msg(
                stream,
                seq,
                last_by_subject=last_by_subject,
                next_by_subject=next_by_subject,
                api=self._api,
            )
            return _req.parse_stored_msg(await self._request(req))
        req = _req.direct_get(
            stream,
            seq,
            last_by_subject=last_by_subject,
            next_by_subject=next_by_subject,
            api=self._api,
        )
        try:
            reply = await self._nc.request(
                req.subject, req.payload, timeout=self._timeout, headers=req.headers
            )
        except NoRespondersError:
            raise JetStreamNotEnabledError(
                503,
                10076,
                f"no responders for direct get on stream {stream!r}: "
                "does it allow direct gets (allow_direct)?",
            ) from None
        return _req.parse_direct_get(reply)

    async def get_last_msg_for_subject(
        self, stream: str, subject: str, *, direct: bool = False
    ) -> StoredMsg:
        """The last message stored on ``subject`` (see :meth:`get_msg`)."""
        return await self.get_msg(stream, last_by_subject=subject, direct=direct)

    async def delete_msg(self, stream: str, seq: int, *, secure_erase: bool = False) -> bool:
        """Delete the message ``seq``; ``secure_erase`` also overwrites its data on disk."""
        req = _req.delete_msg(stream, seq, secure_erase=secure_erase, api=self._api)
        return _req.parse_delete(await self._request(req))

    async def secure_delete_msg(self, stream: str, seq: int) -> bool:
        """:meth:`delete_msg` with ``secure_erase=True``."""
        return await self.delete_msg(stream, seq, secure_erase=True)

    # ----------------------------------------------------------- consumers

    async def consumer_info(self, stream: str, name: str) -> ConsumerInfo:
        """A consumer's configuration and state."""
        reply = await self._request(_req.consumer_info(stream, name, api=self._api))
        return _req.parse_consumer_info(reply)

    async def delete_consumer(self, stream: str, name: str) -> bool:
        """Delete a consumer."""
        reply = await self._request(_req.delete_consumer(stream, name, api=self._api))
        return _req.parse_delete(reply)

    @lister
    async def consumer_names(self, stream: str) -> Lister[str]:
        """Every consumer's name on ``stream``, page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.consumer_names(stream, offset=offset, api=self._api)
            page = _req.parse_consumer_names(await self._request(req))
            for name in page.names:
                yield name
            offset = page.next_offset()

    @lister
    async def list_consumers(self, stream: str) -> Lister[ConsumerInfo]:
        """Every consumer's info on ``stream``, page by page."""
        offset: int | None = 0
        while offset is not None:
            req = _req.consumer_list(stream, offset=offset, api=self._api)
            page = _req.parse_consumer_list(await self._request(req))
            for info in page.consumers:
                yield info
            offset = page.next_offset()

    async def pause_consumer(
        self,
        stream: str,
        name: str,
        until: datetime,
    ) -> ConsumerPauseResponse:
        """Stop delivering from the consumer until ``until`` (server 2.11+)."""
        reply = await self._request(_req.pause_consumer(stream, name, until, api=self._api))
        return _req.parse_pause(reply)

    async def resume_consumer(self, stream: str, name: str) -> ConsumerPauseResponse:
        """Resume a paused consumer now (server 2.11+)."""
        reply = await self._request(_req.pause_consumer(stream, name, None, api=self._api))
        return _req.parse_pause(reply)

    async def unpin_consumer(self, stream: str, name: str, group: str) -> None:
        """Unpin the pinned client of the consumer's priority ``group`` (ADR-42,
        server 2.11+): the server pins another waiting pull of that group. Raises
        :class:`~nats_core.jetstream.APIError` (err_code 10160) for a group the
        consumer does not have."""
        reply = await self._request(_req.unpin_consumer(stream, name, group, api=self._api))
        _req.parse_unpin(reply)

    # ------------------------------------------------------------- helpers

    async def _report(self, error_cb: ErrorCallback | None, error: BaseException) -> None:
        if error_cb is not None:
            try:
                await call_maybe_async(error_cb, error)
            except Exception as exc:
                self._nc._report_error(exc)
        else:
            self._nc._report_error(error)
