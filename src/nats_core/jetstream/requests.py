"""JetStream API request builders and reply parsers (ADR-1).

Each builder validates its arguments locally and returns a :class:`JSRequest`
(subject, payload bytes, headers) that an adapter sends with its client's
``request()``; the matching ``parse_*`` function turns the reply (a
:class:`~nats_core.Msg`, or its payload bytes) into a model or raises the
typed error. Nothing here does I/O::

    req = requests.stream_info("ORDERS")
    reply = nc.request(req.subject, req.payload, timeout=5.0)   # adapter
    info = requests.parse_stream_info(reply)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .._events import Msg
from .._headers import Headers
from .._subjects import check_subscribe_subject, is_valid_publish_subject
from ..errors import ConfigTypeError
from ._codec import dump_json, format_time, parse_time
from .api import JSApi
from .errors import (
    APIError,
    InvalidNameError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamNotEnabledError,
    MsgNotFoundError,
    StreamNotFoundError,
    check_response,
)
from .models import (
    AccountInfo,
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPauseResponse,
    PriorityPolicy,
    StoredMsg,
    StreamConfig,
    StreamInfo,
)

__all__ = [
    "ConsumerAction",
    "ConsumerListPage",
    "JSRequest",
    "NamesPage",
    "Paging",
    "StreamListPage",
    "account_info",
    "add_consumer",
    "add_stream",
    "consumer_info",
    "consumer_list",
    "consumer_names",
    "create_consumer",
    "create_or_update_consumer",
    "delete_consumer",
    "delete_msg",
    "delete_stream",
    "direct_get",
    "find_stream_by_subject",
    "get_msg",
    "parse_account_info",
    "parse_consumer_info",
    "parse_consumer_list",
    "parse_consumer_names",
    "parse_delete",
    "parse_direct_get",
    "parse_find_stream",
    "parse_pause",
    "parse_purge",
    "parse_stored_msg",
    "parse_stream_info",
    "parse_stream_info_page",
    "parse_stream_list",
    "parse_stream_names",
    "parse_unpin",
    "pause_consumer",
    "purge_stream",
    "stream_info",
    "stream_list",
    "stream_names",
    "unpin_consumer",
    "update_consumer",
    "update_stream",
    "validate_consumer_name",
    "validate_name",
    "validate_priority_group",
    "validate_stream_name",
]

_DEFAULT_API = JSApi()
_BAD_NAME_CHARS = frozenset(".*> \t\r\n\f\v\x00/\\")
MAX_NAME_LEN = 255


@dataclass(frozen=True, slots=True)
class JSRequest:
    """One JetStream API call: publish ``payload`` (and ``headers``) to ``subject``
    as a request and parse the reply with the matching ``parse_*`` function."""

    subject: str
    payload: bytes = b""
    headers: Headers | None = None


def _api(api: JSApi | None) -> JSApi:
    return _DEFAULT_API if api is None else api


# ----------------------------------------------------------------- names


def validate_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it can name a stream or consumer, else raise :class:`InvalidNameError`.

    A name is 1 to 255 characters with no ``.``, ``*``, ``>``, whitespace or
    path separator (``/``, ``\\``).
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"{what} is required: got {name!r}")
    if len(name) > MAX_NAME_LEN:
        raise InvalidNameError(f"{what} {name[:32]!r}... is longer than {MAX_NAME_LEN} characters")
    bad = sorted({c for c in name if c in _BAD_NAME_CHARS or ord(c) < 32})
    if bad:
        raise InvalidNameError(
            f"invalid {what} {name!r}: it must not contain {''.join(bad)!r} "
            "('.', '*', '>', whitespace and path separators are not allowed)"
        )
    return name


def validate_stream_name(name: object) -> str:
    """:func:`validate_name` for a stream name."""
    return validate_name(name, "stream name")


def validate_consumer_name(name: object) -> str:
    """:func:`validate_name` for a consumer or durable name."""
    return validate_name(name, "consumer name")


_GROUP_NAME = re.compile(r"[A-Za-z0-9/_=-]{1,16}")


def validate_priority_group(group: object) -> str:
    """Return ``group`` if it can name a priority group (ADR-42), else raise
    :class:`InvalidOptionError`.

    A group name is 1 to 16 characters of ``A-Z a-z 0-9 - _ / =`` (the
    server's rule; it answers others with err_code 10161 or 10162).
    """
    if not isinstance(group, str) or not group:
        raise InvalidOptionError(f"a priority group name is required: got {group!r}")
    if _GROUP_NAME.fullmatch(group) is None:
        raise InvalidOptionError(
            f"invalid priority group {group!r}: it must be 1 to 16 characters "
            "of A-Z, a-z, 0-9, '-', '_', '/' and '='"
        )
    return group


# --------------------------------------------------------------- replies


def _strip(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys and k != "type"}


@dataclass(frozen=True, slots=True)
class Paging:
    """Paging of a NAMES/LIST reply: ``total`` items, this page from ``offset``,
    at most ``limit`` per page."""

    total: int = 0
    offset: int = 0
    limit: int = 0

    def next_offset(self, received: int) -> int | None:
        """The offset of the page after this one (which held ``received`` items),
        or ``None`` at the end."""
        nxt = self.offset + received
        return nxt if received and nxt < self.total else None


def _paging(obj: dict[str, Any]) -> Paging:
    def num(key: str) -> int:
        v = obj.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    return Paging(num("total"), num("offset"), num("limit"))


@dataclass(frozen=True, slots=True)
class NamesPage:
    """One page of stream or consumer names."""

    names: list[str]
    paging: Paging = field(default_factory=Paging)

    def next_offset(self) -> int | None:
        """Offset of the next page, ``None`` after the last one."""
        return self.paging.next_offset(len(self.names))


@dataclass(frozen=True, slots=True)
class StreamListPage:
    """One page of ``STREAM.LIST``; ``missing`` names streams the server could not report."""

    streams: list[StreamInfo]
    paging: Paging = field(default_factory=Paging)
    missing: list[str] = field(default_factory=list)

    def next_offset(self) -> int | None:
        """Offset of the next page, ``None`` after the last one."""
        return self.paging.next_offset(len(self.streams))


@dataclass(frozen=True, slots=True)
class ConsumerListPage:
    """One page of ``CONSUMER.LIST``."""

    consumers: list[ConsumerInfo]
    paging: Paging = field(default_factory=Paging)
    missing: list[str] = field(default_factory=list)

    def next_offset(self) -> int | None:
        """Offset of the next page, ``None`` after the last one."""
        return self.paging.next_offset(len(self.consumers))


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def _check_offset(offset: int) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidOptionError(f"offset must be a non-negative integer, not {offset!r}")
    return offset


def _check_seq(seq: object, what: str = "sequence") -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidOptionError(f"{what} must be a positive integer, not {seq!r}")
    return seq


# --------------------------------------------------------------- account


def account_info(*, api: JSApi | None = None) -> JSRequest:
    """``$JS.API.INFO``: the account's JetStream usage and limits."""
    return JSRequest(_api(api).info())


def parse_account_info(reply: Msg | bytes) -> AccountInfo:
    """Parse the ``INFO`` reply."""
    return AccountInfo.from_json(_strip(check_response(reply)))


# --------------------------------------------------------------- streams


def _stream_config_payload(config: StreamConfig) -> bytes:
    if not isinstance(config, StreamConfig):
        raise ConfigTypeError(f"expected a StreamConfig, not {type(config).__name__}")
    validate_stream_name(config.name)
    if config.subjects is not None:
        for s in config.subjects:
            check_subscribe_subject(s)
    return config.to_bytes()


def add_stream(config: StreamConfig, *, api: JSApi | None = None) -> JSRequest:
    """``STREAM.CREATE.<name>`` with the config; parse with :func:`parse_stream_info`."""
    payload = _stream_config_payload(config)
    return JSRequest(_api(api).stream_create(config.name), payload)


def update_stream(config: StreamConfig, *, api: JSApi | None = None) -> JSRequest:
    """``STREAM.UPDATE.<name>`` with the config; parse with :func:`parse_stream_info`."""
    payload = _stream_config_payload(config)
    return JSRequest(_api(api).stream_update(config.name), payload)


def stream_info(
    name: str,
    *,
    subjects_filter: str | None = None,
    deleted_details: bool = False,
    offset: int = 0,
    api: JSApi | None = None,
) -> JSRequest:
    """``STREAM.INFO.<name>``; ``subjects_filter`` asks for per-subject message counts
    (paged by ``offset``), ``deleted_details`` for the deleted sequences."""
    validate_stream_name(name)
    body: dict[str, Any] = {}
    if subjects_filter is not None:
        body["subjects_filter"] = check_subscribe_subject(subjects_filter)
    if deleted_details:
        body["deleted_details"] = True
    if _check_offset(offset):
        body["offset"] = offset
    return JSRequest(_api(api).stream_info(name), dump_json(body) if body else b"")


def parse_stream_info(reply: Msg | bytes) -> StreamInfo:
    """Parse a ``STREAM.INFO`` / ``CREATE`` / ``UPDATE`` reply."""
    return parse_stream_info_page(reply)[0]


def parse_stream_info_page(reply: Msg | bytes) -> tuple[StreamInfo, Paging]:
    """Like :func:`parse_stream_info`, with the paging of ``state.subjects``.

    When ``subjects_filter`` matched more subjects than fit in one reply, ask
    again with ``offset=paging.next_offset(len(info.state.subjects))``.
    """
    obj = check_response(reply)
    if "config" not in obj:
        raise InvalidResponseError("stream info response has no config")
    return StreamInfo.from_json(_strip(obj, "total", "offset", "limit")), _paging(obj)


def delete_stream(name: str, *, api: JSApi | None = None) -> JSRequest:
    """``STREAM.DELETE.<name>``; parse with :func:`parse_delete`."""
    return JSRequest(_api(api).stream_delete(validate_stream_name(name)))


def parse_delete(reply: Msg | bytes) -> bool:
    """Parse a stream, consumer or message delete reply: ``True`` on success."""
    return check_response(reply).get("success") is True


def purge_stream(
    name: str,
    *,
    subject: str | None = None,
    seq: int | None = None,
    keep: int | None = None,
    api: JSApi | None = None,
) -> JSRequest:
    """``STREAM.PURGE.<name>``: all messages, or those on ``subject``, up to ``seq``
    (exclusive), or all but the last ``keep``. ``seq`` and ``keep`` exclude each other."""
    validate_stream_name(name)
    if seq is not None and keep is not None:
        raise InvalidOptionError("purge takes seq or keep, not both")
    body: dict[str, Any] = {}
    if subject is not None:
        body["filter"] = check_subscribe_subject(subject)
    if seq is not None:
        body["seq"] = _check_seq(seq)
    if keep is not None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InvalidOptionError(f"keep must be a non-negative integer, not {keep!r}")
        body["keep"] = keep
    return JSRequest(_api(api).stream_purge(name), dump_json(body) if body else b"")


def parse_purge(reply: Msg | bytes) -> int:
    """Parse a purge reply: the number of messages purged."""
    obj = check_response(reply)
    purged = obj.get("purged", 0)
    return purged if isinstance(purged, int) else 0


def stream_names(
    *, offset: int = 0, subject: str | None = None, api: JSApi | None = None
) -> JSRequest:
    """``STREAM.NAMES``, optionally only streams capturing ``subject``; parse with
    :func:`parse_stream_names`."""
    body: dict[str, Any] = {"offset": _check_offset(offset)}
    if subject is not None:
        body["subject"] = check_subscribe_subject(subject)
    return JSRequest(_api(api).stream_names(), dump_json(body))


def parse_stream_names(reply: Msg | bytes) -> NamesPage:
    """Parse a ``STREAM.NAMES`` reply into a page of names."""
    obj = check_response(reply)
    return NamesPage(_str_list(obj.get("streams")), _paging(obj))


def stream_list(
    *, offset: int = 0, subject: str | None = None, api: JSApi | None = None
) -> JSRequest:
    """``STREAM.LIST``: stream infos, paged; parse with :func:`parse_stream_list`."""
    body: dict[str, Any] = {"offset": _check_offset(offset)}
    if subject is not None:
        body["subject"] = check_subscribe_subject(subject)
    return JSRequest(_api(api).stream_list(), dump_json(body))


def parse_stream_list(reply: Msg | bytes) -> StreamListPage:
    """Parse a ``STREAM.LIST`` reply."""
    obj = check_response(reply)
    raw = obj.get("streams")
    infos = [StreamInfo.from_json(s) for s in raw if isinstance(s, dict)] if raw else []
    return StreamListPage(infos, _paging(obj), _str_list(obj.get("missing")))


def find_stream_by_subject(subject: str, *, api: JSApi | None = None) -> JSRequest:
    """Ask which stream captures ``subject``; parse with :func:`parse_find_stream`."""
    return stream_names(subject=subject, api=api)


def parse_find_stream(reply: Msg | bytes, subject: str = "") -> str:
    """The name of the stream that captures the subject, or :class:`StreamNotFoundError`."""
    names = parse_stream_names(reply).names
    if not names:
        what = f" for subject {subject!r}" if subject else ""
        raise StreamNotFoundError(404, 10059, f"no stream matches subject{what}")
    return names[0]


# -------------------------------------------------------------- messages


def _get_body(
    seq: int | None, last_by_subject: str | None, next_by_subject: str | None
) -> dict[str, Any]:
    if last_by_subject is not None:
        if seq is not None or next_by_subject is not None:
            raise InvalidOptionError(
                "last_by_subject cannot be combined with seq or next_by_subject"
            )
        return {"last_by_subj": check_subscribe_subject(last_by_subject)}
    body: dict[str, Any] = {}
    if seq is not None:
        body["seq"] = _check_seq(seq)
    if next_by_subject is not None:
        body["next_by_subj"] = check_subscribe_subject(next_by_subject)
    if not body:
        raise InvalidOptionError("give seq, last_by_subject or next_by_subject")
    return body


def get_msg(
    stream: str,
    seq: int | None = None,
    *,
    last_by_subject: str | None = None,
    next_by_subject: str | None = None,
    api: JSApi | None = None,
) -> JSRequest:
    """``STREAM.MSG.GET.<stream>``: by ``seq``, the last on a subject, or the first on a
    subject at or after ``seq``; parse with :func:`parse_stored_msg`."""
    validate_stream_name(stream)
    body = _get_body(seq, last_by_subject, next_by_subject)
    return JSRequest(_api(api).stream_msg_get(stream), dump_json(body))


def parse_stored_msg(reply: Msg | bytes) -> StoredMsg:
    """Parse a ``STREAM.MSG.GET`` reply; a missing message raises :class:`MsgNotFoundError`."""
    obj = check_response(reply)
    message = obj.get("message")
    if not isinstance(message, dict):
        raise InvalidResponseError("message get response has no message")
    return StoredMsg.from_json(message)


def direct_get(
    stream: str,
    seq: int | None = None,
    *,
    last_by_subject: str | None = None,
    next_by_subject: str | None = None,
    api: JSApi | None = None,
) -> JSRequest:
    """``DIRECT.GET`` (ADR-31, streams with ``allow_direct``); parse with :func:`parse_direct_get`.

    The last message on a literal subject uses the subject form
    ``DIRECT.GET.<stream>.<subject>`` with an empty body; other lookups send
    the JSON body to ``DIRECT.GET.<stream>``.
    """
    validate_stream_name(stream)
    body = _get_body(seq, last_by_subject, next_by_subject)
    a = _api(api)
    if last_by_subject is not None and is_valid_publish_subject(last_by_subject):
        return JSRequest(a.direct_get_last(stream, last_by_subject))
    return JSRequest(a.direct_get(stream), dump_json(body))


def _header_int(headers: Headers, key: str) -> int:
    value = headers.get(key, "")
    if not value.isdigit():
        raise InvalidResponseError(f"direct get reply has a bad {key} header: {value!r}")
    return int(value)


def parse_direct_get(reply: Msg) -> StoredMsg:
    """Parse a direct get reply (a plain message with ``Nats-*`` headers).

    Status 404 raises :class:`MsgNotFoundError`; another status (408 bad
    request, 413 too many subjects) an :class:`APIError` with that code; 503
    no responders :class:`JetStreamNotEnabledError` (the stream may not allow
    direct gets). The headers are kept whole (``KV-Operation`` and friends).
    """
    headers = reply.headers
    if reply.is_no_responders:
        raise JetStreamNotEnabledError(
            503, 10076, "no responders for direct get: does the stream allow direct gets?"
        )
    if headers is None:
        raise InvalidResponseError("direct get reply has no headers")
    if headers.status is not None and headers.status != 200:
        if headers.status == 404:
            raise MsgNotFoundError(404, 10037, headers.description or "message not found")
        raise APIError(headers.status, 0, headers.description or "direct get failed")
    stream = headers.get("Nats-Stream")
    subject = headers.get("Nats-Subject")
    stamp = headers.get("Nats-Time-Stamp")
    if not stream or not subject or not stamp:
        raise InvalidResponseError(
            "direct get reply lacks Nats-Stream, Nats-Subject or Nats-Time-Stamp"
        )
    try:
        when = parse_time(stamp)
    except ValueError as exc:
        raise InvalidResponseError(
            f"direct get reply has a bad Nats-Time-Stamp: {stamp!r}"
        ) from exc
    return StoredMsg(
        subject=subject,
        seq=_header_int(headers, "Nats-Sequence"),
        data=reply.data,
        headers=headers,
        time=when,
        stream=stream,
    )


def delete_msg(
    stream: str, seq: int, *, secure_erase: bool = False, api: JSApi | None = None
) -> JSRequest:
    """``STREAM.MSG.DELETE.<stream>``; ``secure_erase`` overwrites the data (slower).
    Parse with :func:`parse_delete`."""
    validate_stream_name(stream)
    body: dict[str, Any] = {"seq": _check_seq(seq)}
    if not secure_erase:
        body["no_erase"] = True
    return JSRequest(_api(api).stream_msg_delete(stream), dump_json(body))


# ------------------------------------------------------------- consumers


class ConsumerAction:
    """The ``action`` of a consumer create request (server 2.10+)."""

    CREATE = "create"
    UPDATE = "update"
    CREATE_OR_UPDATE = ""


def add_consumer(
    stream: str,
    config: ConsumerConfig,
    action: str = ConsumerAction.CREATE_OR_UPDATE,
    *,
    api: JSApi | None = None,
) -> JSRequest:
    """``CONSUMER.CREATE`` with ``action`` ("create", "update" or "" for either).

    The subject is ``CONSUMER.CREATE.<stream>.<name>.<filter>`` for a named
    consumer with one literal ``filter_subject``, ``CONSUMER.CREATE.<stream>.<name>``
    for other named consumers, and ``CONSUMER.CREATE.<stream>`` for an
    ephemeral one (no ``name`` or ``durable_name``). Parse with
    :func:`parse_consumer_info`.
    """
    validate_stream_name(stream)
    if not isinstance(config, ConsumerConfig):
        raise ConfigTypeError(f"expected a ConsumerConfig, not {type(config).__name__}")
    if action not in (ConsumerAction.CREATE, ConsumerAction.UPDATE, ""):
        raise InvalidOptionError(
            f"consumer action must be 'create', 'update' or '', not {action!r}"
        )
    name, durable = config.name, config.durable_name
    if name is not None:
        validate_consumer_name(name)
    if durable is not None:
        validate_consumer_name(durable)
    if name and durable and name != durable:
        raise InvalidOptionError(
            f"consumer name {name!r} and durable name {durable!r} must be equal when both are set"
        )
    if config.filter_subject and config.filter_subjects:
        raise InvalidOptionError("a consumer takes filter_subject or filter_subjects, not both")
    if config.filter_subject:
        check_subscribe_subject(config.filter_subject)
    for f in config.filter_subjects or ():
        check_subscribe_subject(f)
    _check_priority_config(config)
    body: dict[str, Any] = {"stream_name": stream, "config": config.to_json()}
    if action:
        body["action"] = action
    a = _api(api)
    consumer = name or durable
    if consumer is None:
        if action == ConsumerAction.UPDATE:
            raise InvalidOptionError("updating a consumer needs its name or durable name")
        subject = a.consumer_create(stream)
    elif (
        config.filter_subject
        and not config.filter_subjects
        and is_valid_publish_subject(config.filter_subject)
    ):
        subject = a.consumer_create(stream, consumer, config.filter_subject)
    else:
        subject = a.consumer_create(stream, consumer)
    return JSRequest(subject, dump_json(body))


def _check_priority_config(config: ConsumerConfig) -> None:
    """The priority-group rules server 2.14 enforces (err_codes 10159, 10161, 10162,
    10178, 10196, 10197), checked before anything is sent."""
    policy = config.priority_policy
    if policy is not None:
        try:
            policy = PriorityPolicy(policy)
        except ValueError:
            raise InvalidOptionError(
                f"unknown priority_policy {policy!r}: use one of "
                + ", ".join(repr(p.value) for p in PriorityPolicy)
            ) from None
    groups = config.priority_groups or []
    if policy is None or policy is PriorityPolicy.NONE:
        if groups:
            raise InvalidOptionError(
                "priority_groups need a priority_policy ('overflow', 'pinned_client' "
                "or 'prioritized')"
            )
        timeout = config.priority_timeout
        if timeout is not None and timeout > timedelta(0):
            raise InvalidOptionError("priority_timeout needs a priority_policy")
        return
    if config.deliver_subject:
        raise InvalidOptionError("priority groups are for pull consumers: drop deliver_subject")
    if not groups:
        raise InvalidOptionError(
            f"priority_policy {policy.value!r} needs at least one priority group "
            "(priority_groups=[...])"
        )
    for g in groups:
        validate_priority_group(g)


def create_consumer(stream: str, config: ConsumerConfig, *, api: JSApi | None = None) -> JSRequest:
    """Create a consumer; fails (10148) when one exists with another configuration."""
    return add_consumer(stream, config, ConsumerAction.CREATE, api=api)


def update_consumer(stream: str, config: ConsumerConfig, *, api: JSApi | None = None) -> JSRequest:
    """Update an existing consumer; fails (10149) when it does not exist."""
    return add_consumer(stream, config, ConsumerAction.UPDATE, api=api)


def create_or_update_consumer(
    stream: str, config: ConsumerConfig, *, api: JSApi | None = None
) -> JSRequest:
    """Create the consumer, or update it if it exists."""
    return add_consumer(stream, config, ConsumerAction.CREATE_OR_UPDATE, api=api)


def consumer_info(stream: str, name: str, *, api: JSApi | None = None) -> JSRequest:
    """``CONSUMER.INFO.<stream>.<name>``; parse with :func:`parse_consumer_info`."""
    validate_stream_name(stream)
    return JSRequest(_api(api).consumer_info(stream, validate_consumer_name(name)))


def parse_consumer_info(reply: Msg | bytes) -> ConsumerInfo:
    """Parse a ``CONSUMER.INFO`` or ``CONSUMER.CREATE`` reply."""
    obj = check_response(reply)
    if "config" not in obj and "name" not in obj:
        raise InvalidResponseError("consumer info response is empty")
    return ConsumerInfo.from_json(_strip(obj))


def delete_consumer(stream: str, name: str, *, api: JSApi | None = None) -> JSRequest:
    """``CONSUMER.DELETE.<stream>.<name>``; parse with :func:`parse_delete`."""
    validate_stream_name(stream)
    return JSRequest(_api(api).consumer_delete(stream, validate_consumer_name(name)))


def consumer_names(stream: str, *, offset: int = 0, api: JSApi | None = None) -> JSRequest:
    """``CONSUMER.NAMES.<stream>``; parse with :func:`parse_consumer_names`."""
    validate_stream_name(stream)
    body = {"offset": _check_offset(offset)}
    return JSRequest(_api(api).consumer_names(stream), dump_json(body))


def parse_consumer_names(reply: Msg | bytes) -> NamesPage:
    """Parse a ``CONSUMER.NAMES`` reply."""
    obj = check_response(reply)
    return NamesPage(_str_list(obj.get("consumers")), _paging(obj))


def consumer_list(stream: str, *, offset: int = 0, api: JSApi | None = None) -> JSRequest:
    """``CONSUMER.LIST.<stream>``; parse with :func:`parse_consumer_list`."""
    validate_stream_name(stream)
    body = {"offset": _check_offset(offset)}
    return JSRequest(_api(api).consumer_list(stream), dump_json(body))


def parse_consumer_list(reply: Msg | bytes) -> ConsumerListPage:
    """Parse a ``CONSUMER.LIST`` reply."""
    obj = check_response(reply)
    raw = obj.get("consumers")
    infos = [ConsumerInfo.from_json(c) for c in raw if isinstance(c, dict)] if raw else []
    return ConsumerListPage(infos, _paging(obj), _str_list(obj.get("missing")))


def pause_consumer(
    stream: str, name: str, pause_until: datetime | None, *, api: JSApi | None = None
) -> JSRequest:
    """``CONSUMER.PAUSE.<stream>.<name>`` until ``pause_until``; ``None`` resumes.
    Parse with :func:`parse_pause`."""
    validate_stream_name(stream)
    validate_consumer_name(name)
    body: dict[str, Any] = {}
    if pause_until is not None:
        body["pause_until"] = format_time(pause_until)
    return JSRequest(_api(api).consumer_pause(stream, name), dump_json(body))


def parse_pause(reply: Msg | bytes) -> ConsumerPauseResponse:
    """Parse a ``CONSUMER.PAUSE`` reply."""
    return ConsumerPauseResponse.from_json(_strip(check_response(reply)))


def unpin_consumer(
    stream: str, consumer: str, group: str, *, api: JSApi | None = None
) -> JSRequest:
    """``CONSUMER.UNPIN.<stream>.<consumer>`` with ``{"group": group}`` (ADR-42, server
    2.11+): the group's pinned client loses its pin and the server pins another
    waiting pull. Parse with :func:`parse_unpin` (a group the consumer does not
    have gives err_code 10160)."""
    validate_stream_name(stream)
    validate_consumer_name(consumer)
    body = {"group": validate_priority_group(group)}
    return JSRequest(_api(api).consumer_unpin(stream, consumer), dump_json(body))


def parse_unpin(reply: Msg | bytes) -> None:
    """Parse a ``CONSUMER.UNPIN`` reply: nothing on success, else raise the API error."""
    check_response(reply)
