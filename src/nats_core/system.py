"""The system account's server monitoring API, sans-IO (nats-server ``events.go``).

A user of the system account asks servers what their HTTP monitoring port
would show, over NATS:

* ``$SYS.REQ.SERVER.PING.<KIND>``: every server answers (collect the
  replies with :class:`~nats_core.request_many.RequestMany`);
* ``$SYS.REQ.SERVER.<server_id>.<KIND>``: one server answers.

The body is empty or one flat JSON object: the kind's options (:data:`OPTIONS`,
for example CONNZ ``sort``, ``limit``, ``auth``) beside filters
(:data:`FILTERS`: ``server_name``, ``cluster``, ``host``, ``tags``,
``domain``, ``exact_match``); a server the filters do not match stays
silent. :func:`server_request` builds the subject, the body and the headers.

Each server answers ``{"server": {...}, "data": {...}}`` or
``{"server": {...}, "error": {"code": 400|500, "description": ...}}``
(STATSZ puts its data under ``statsz``; IDZ answers a bare ``{"name",
"host", "id"}``). :func:`parse_server_response` turns a reply into a
:class:`ServerAPIResponse` whose ``data`` is the kind's model (:class:`Varz`,
:class:`Connz`, ...; :class:`SysServerInfo` for IDZ) or raises
:class:`ServerAPIError`. Models keep the common fields; the rest of what a
server sends stays in ``extra`` (and the whole reply in ``raw``).
"""

# Every model field is declared with fld(), which wraps dataclasses.field() to
# attach the JSON codec; RUF009 cannot see that it returns a Field.
# ruff: noqa: RUF009

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, overload

from ._events import Msg
from ._headers import Headers
from ._subjects import is_valid_publish_subject
from .errors import ConfigError, NatsError
from .jetstream._codec import (
    BOOL,
    INT,
    STR,
    STR_LIST,
    STR_MAP,
    TIME,
    Codec,
    Model,
    dump_json,
    extra_field,
    fld,
    model,
    models,
)
from .jetstream.models import APIStats

__all__ = [
    "CONNZ_SORTS",
    "CONN_ALL",
    "CONN_CLOSED",
    "CONN_OPEN",
    "FILTERS",
    "OPTIONS",
    "SYS_SERVER_PREFIX",
    "Accountz",
    "ConnInfo",
    "Connz",
    "DataStats",
    "Gatewayz",
    "Healthz",
    "HealthzIssue",
    "InvalidServerResponseError",
    "Jsz",
    "JszAccountDetail",
    "LeafInfo",
    "Leafz",
    "RouteInfo",
    "Routez",
    "ServerAPIError",
    "ServerAPIResponse",
    "ServerEndpoint",
    "ServerRequest",
    "Statsz",
    "SubDetail",
    "Subsz",
    "SysServerInfo",
    "Varz",
    "data_model",
    "parse_server_response",
    "ping_subject",
    "server_request",
    "server_subject",
]

SYS_SERVER_PREFIX = "$SYS.REQ.SERVER"
#: Largest reply body accepted once a gzip reply is inflated.
MAX_INFLATED = 256 * 1024 * 1024


class ServerEndpoint(StrEnum):
    """The monitoring kinds a server answers on ``$SYS.REQ.SERVER.*.<KIND>``."""

    VARZ = "VARZ"
    CONNZ = "CONNZ"
    ROUTEZ = "ROUTEZ"
    GATEWAYZ = "GATEWAYZ"
    LEAFZ = "LEAFZ"
    SUBSZ = "SUBSZ"
    JSZ = "JSZ"
    ACCOUNTZ = "ACCOUNTZ"
    HEALTHZ = "HEALTHZ"
    STATSZ = "STATSZ"
    IDZ = "IDZ"


# ------------------------------------------------------------------ errors


class ServerAPIError(NatsError):
    """A server answered a ``$SYS`` request with an error (``code`` 400: the
    request body was not valid JSON for the kind; 500: the server failed).

    ``server`` is the answering server (:class:`SysServerInfo`), when it said.
    """

    def __init__(
        self, code: int, description: str, err_code: int = 0, server: SysServerInfo | None = None
    ) -> None:
        name = (server.name or server.id) if server else ""
        who = f" from server {name!r}" if name else ""
        super().__init__(f"system api error {code}{who}: {description or 'no description'}")
        self.code = code
        self.err_code = err_code
        self.description = description
        self.server = server


class InvalidServerResponseError(NatsError):
    """A ``$SYS`` reply could not be read (not JSON, not the envelope, a status
    message, an unsupported compression)."""


# ------------------------------------------------------------------ codecs


class _Float(Codec):
    __slots__ = ()

    def decode(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("not a number")
        return float(value)


FLOAT = _Float()


# ----------------------------------------------------------------- requests

#: The filters every kind but IDZ takes: which servers answer. All given must
#: match (``server_name``, ``cluster``, ``host`` by substring unless
#: ``exact_match``; every tag of ``tags``).
FILTERS: dict[str, type] = {
    **dict.fromkeys(("server_name", "cluster", "host", "domain"), str),
    "tags": list,
    "exact_match": bool,
}
#: CONNZ ``sort`` values (only ``cid`` sorts ascending).
CONNZ_SORTS = frozenset({"cid", "start", "subs", "pending", "last", "idle", "uptime", "stop"})
CONNZ_SORTS |= {"msgs_to", "msgs_from", "bytes_to", "bytes_from", "reason", "rtt"}
#: CONNZ ``state``: open connections (the default), closed ones, or both.
CONN_OPEN, CONN_CLOSED, CONN_ALL = 0, 1, 2

_B, _I, _S = bool, int, str
#: Each kind's options (nats-server's ``<Kind>Options``): name -> type. VARZ,
#: STATSZ and IDZ take none. CONNZ ``user``, ``account`` and
#: ``filter_subject`` filter only with ``auth``; ``limit`` defaults to 1024.
OPTIONS: dict[ServerEndpoint, dict[str, type]] = {
    ServerEndpoint.CONNZ: {
        **dict.fromkeys(("auth", "subscriptions", "subscriptions_detail"), _B),
        **dict.fromkeys(("offset", "limit", "cid", "state"), _I),
        **dict.fromkeys(("sort", "mqtt_client", "user", "account", "filter_subject"), _S),
    },
    ServerEndpoint.ROUTEZ: dict.fromkeys(("subscriptions", "subscriptions_detail"), _B),
    ServerEndpoint.GATEWAYZ: {
        **dict.fromkeys(("accounts", "subscriptions", "subscriptions_detail"), _B),
        **dict.fromkeys(("name", "account_name"), _S),
    },
    ServerEndpoint.LEAFZ: {"subscriptions": _B, "account": _S},
    ServerEndpoint.SUBSZ: {
        "offset": _I,
        "limit": _I,
        "subscriptions": _B,
        "account": _S,
        "test": _S,
    },
    ServerEndpoint.JSZ: {
        **dict.fromkeys(("accounts", "streams", "consumer", "direct_consumer", "config"), _B),
        **dict.fromkeys(("leader_only", "raft", "stream_leader_only"), _B),
        **dict.fromkeys(("offset", "limit"), _I),
        "account": _S,
    },
    ServerEndpoint.ACCOUNTZ: {"account": _S},
    ServerEndpoint.HEALTHZ: {
        **dict.fromkeys(("js_enabled_only", "js_server_only", "js_meta_only", "details"), _B),
        **dict.fromkeys(("account", "stream", "consumer"), _S),
    },
}
# Python names whose JSON key differs.
_JSON_KEYS = {
    (ServerEndpoint.CONNZ, "account"): "acc",
    (ServerEndpoint.HEALTHZ, "js_enabled_only"): "js-enabled-only",
    (ServerEndpoint.HEALTHZ, "js_server_only"): "js-server-only",
    (ServerEndpoint.HEALTHZ, "js_meta_only"): "js-meta-only",
}


def _kind(kind: ServerEndpoint | str) -> ServerEndpoint:
    try:
        return ServerEndpoint(kind.upper() if isinstance(kind, str) else kind)
    except ValueError:
        names = ", ".join(k.value for k in ServerEndpoint)
        raise ConfigError(f"unknown server endpoint {kind!r}: one of {names}") from None


def ping_subject(kind: ServerEndpoint | str) -> str:
    """``$SYS.REQ.SERVER.PING.<KIND>``: every server answers."""
    return f"{SYS_SERVER_PREFIX}.PING.{_kind(kind).value}"


def server_subject(kind: ServerEndpoint | str, server_id: str) -> str:
    """``$SYS.REQ.SERVER.<server_id>.<KIND>``: the server with that id answers
    (its INFO ``server_id``, or ``id`` in any answer's ``server``)."""
    if not is_valid_publish_subject(server_id) or "." in server_id:
        raise ConfigError(f"invalid server id {server_id!r}: one subject token")
    return f"{SYS_SERVER_PREFIX}.{server_id}.{_kind(kind).value}"


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """What to publish as a request (``subject``, ``payload``, ``headers``)
    and the ``kind`` to parse the answers with."""

    subject: str
    payload: bytes
    headers: Headers | None
    kind: ServerEndpoint


def _check(kind: ServerEndpoint, name: str, value: Any, want: type) -> Any:
    if want is list:
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = list(value) if ok else value
    elif want is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, want)
    if ok and name == "sort" and value not in CONNZ_SORTS:
        ok = False
    if ok and name == "state" and value not in (CONN_OPEN, CONN_CLOSED, CONN_ALL):
        ok = False
    if not ok:
        raise ConfigError(f"{kind.value} option {name} cannot be {value!r}")
    return value


def server_request(
    kind: ServerEndpoint | str,
    *,
    server_id: str | None = None,
    gzip: bool = False,
    **options: Any,
) -> ServerRequest:
    """A ``$SYS`` monitoring request of ``kind``: to every server, or to the one
    with ``server_id``.

    ``options`` are the kind's (:data:`OPTIONS`: ``server_request("CONNZ",
    sort="bytes_to", limit=10, auth=True)``) and the filters
    (:data:`FILTERS`: ``cluster="east"``); options left out (or ``None``) are
    the server's defaults. ``gzip`` asks for a compressed answer
    (``Accept-Encoding: gzip``), which :func:`parse_server_response` inflates.
    """
    k = _kind(kind)
    subject = ping_subject(k) if server_id is None else server_subject(k, server_id)
    # IDZ reads no body: every server answers it.
    allowed = {} if k is ServerEndpoint.IDZ else {**OPTIONS.get(k, {}), **FILTERS}
    body: dict[str, Any] = {}
    for name, value in options.items():
        want = allowed.get(name)
        if want is None:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"{k.value} takes no option {name!r} (it takes: {known})")
        if value is not None:
            body[_JSON_KEYS.get((k, name), name)] = _check(k, name, value, want)
    headers = Headers({"Accept-Encoding": "gzip"}) if gzip else None
    return ServerRequest(subject, dump_json(body) if body else b"", headers, k)


# ------------------------------------------------------------------- models
#
# Common fields only: what a newer server adds, or what is left out here
# (permissions, TLS details, JetStream config...), stays in ``extra``.


@dataclass(slots=True)
class SysServerInfo(Model):
    """The answering server (``server`` of every reply): ``ver`` is its version,
    ``flags`` its capability bits, ``seq`` and ``time`` those of the message."""

    name: str = fld(STR, default="")
    host: str = fld(STR, default="")
    id: str = fld(STR, default="")
    cluster: str | None = fld(STR)
    domain: str | None = fld(STR)
    ver: str | None = fld(STR)
    tags: list[str] | None = fld(STR_LIST)
    metadata: dict[str, str] | None = fld(STR_MAP)
    jetstream: bool | None = fld(BOOL)
    flags: int | None = fld(INT)
    seq: int | None = fld(INT)
    time: datetime | None = fld(TIME)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Varz(Model):
    """VARZ: the server's configuration and counters (``jetstream`` stays JSON)."""

    server_id: str = fld(STR, default="")
    server_name: str = fld(STR, default="")
    version: str = fld(STR, default="")
    host: str | None = fld(STR)
    port: int | None = fld(INT)
    max_payload: int | None = fld(INT)
    jetstream: dict[str, Any] | None = fld()
    start: datetime | None = fld(TIME)
    now: datetime | None = fld(TIME)
    uptime: str | None = fld(STR)
    mem: int = fld(INT, default=0)
    cores: int = fld(INT, default=0)
    cpu: float = fld(FLOAT, default=0.0)
    connections: int = fld(INT, default=0)
    total_connections: int = fld(INT, default=0)
    routes: int = fld(INT, default=0)
    leafnodes: int = fld(INT, default=0)
    in_msgs: int = fld(INT, default=0)
    out_msgs: int = fld(INT, default=0)
    in_bytes: int = fld(INT, default=0)
    out_bytes: int = fld(INT, default=0)
    slow_consumers: int = fld(INT, default=0)
    subscriptions: int = fld(INT, default=0)
    tags: list[str] | None = fld(STR_LIST)
    system_account: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class SubDetail(Model):
    """One subscription in the SUBSZ list."""

    account: str | None = fld(STR)
    subject: str = fld(STR, default="")
    qgroup: str | None = fld(STR)
    sid: str = fld(STR, default="")
    msgs: int = fld(INT, default=0)
    max: int | None = fld(INT)
    cid: int = fld(INT, default=0)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ConnInfo(Model):
    """One connection in CONNZ (``rtt``, ``uptime``, ``idle``: Go duration text)."""

    cid: int = fld(INT, default=0)
    ip: str = fld(STR, default="")
    port: int = fld(INT, default=0)
    start: datetime | None = fld(TIME)
    last_activity: datetime | None = fld(TIME)
    stop: datetime | None = fld(TIME)
    reason: str | None = fld(STR)
    rtt: str | None = fld(STR)
    uptime: str | None = fld(STR)
    idle: str | None = fld(STR)
    pending_bytes: int = fld(INT, default=0)
    in_msgs: int = fld(INT, default=0)
    out_msgs: int = fld(INT, default=0)
    in_bytes: int = fld(INT, default=0)
    out_bytes: int = fld(INT, default=0)
    subscriptions: int = fld(INT, default=0)
    name: str | None = fld(STR)
    version: str | None = fld(STR)
    authorized_user: str | None = fld(STR)
    account: str | None = fld(STR)
    subscriptions_list: list[str] | None = fld(STR_LIST)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Connz(Model):
    """CONNZ: a page (``offset``, ``limit``) of the ``total`` connections."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    num_connections: int = fld(INT, default=0)
    total: int = fld(INT, default=0)
    offset: int = fld(INT, default=0)
    limit: int = fld(INT, default=0)
    connections: list[ConnInfo] | None = fld(models(ConnInfo))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class RouteInfo(Model):
    """One route in ROUTEZ."""

    rid: int = fld(INT, default=0)
    remote_id: str = fld(STR, default="")
    remote_name: str | None = fld(STR)
    ip: str = fld(STR, default="")
    port: int = fld(INT, default=0)
    rtt: str | None = fld(STR)
    pending_size: int = fld(INT, default=0)
    in_msgs: int = fld(INT, default=0)
    out_msgs: int = fld(INT, default=0)
    in_bytes: int = fld(INT, default=0)
    out_bytes: int = fld(INT, default=0)
    subscriptions: int = fld(INT, default=0)
    subscriptions_list: list[str] | None = fld(STR_LIST)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Routez(Model):
    """ROUTEZ: the server's routes (``import``/``export`` permissions in ``extra``)."""

    server_id: str = fld(STR, default="")
    server_name: str | None = fld(STR)
    now: datetime | None = fld(TIME)
    num_routes: int = fld(INT, default=0)
    routes: list[RouteInfo] | None = fld(models(RouteInfo))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Gatewayz(Model):
    """GATEWAYZ: ``outbound_gateways`` maps a gateway name to its connection,
    ``inbound_gateways`` to a list of them (``{"configured", "connection",
    "accounts"}`` objects, kept as JSON)."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    name: str | None = fld(STR)
    host: str | None = fld(STR)
    port: int | None = fld(INT)
    outbound_gateways: dict[str, Any] | None = fld()
    inbound_gateways: dict[str, Any] | None = fld()
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class LeafInfo(Model):
    """One leaf node connection in LEAFZ."""

    id: int = fld(INT, default=0)
    name: str = fld(STR, default="")
    account: str = fld(STR, default="")
    ip: str = fld(STR, default="")
    port: int = fld(INT, default=0)
    rtt: str | None = fld(STR)
    in_msgs: int = fld(INT, default=0)
    out_msgs: int = fld(INT, default=0)
    in_bytes: int = fld(INT, default=0)
    out_bytes: int = fld(INT, default=0)
    subscriptions: int = fld(INT, default=0)
    subscriptions_list: list[str] | None = fld(STR_LIST)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Leafz(Model):
    """LEAFZ: the server's leaf node connections."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    leafnodes: int = fld(INT, default=0)
    leafs: list[LeafInfo] | None = fld(models(LeafInfo))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Subsz(Model):
    """SUBSZ: subscription table statistics, and a page of subscriptions."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    num_subscriptions: int = fld(INT, default=0)
    num_cache: int = fld(INT, default=0)
    num_matches: int = fld(INT, default=0)
    cache_hit_rate: float = fld(FLOAT, default=0.0)
    max_fanout: int = fld(INT, default=0)
    avg_fanout: float = fld(FLOAT, default=0.0)
    total: int = fld(INT, default=0)
    offset: int = fld(INT, default=0)
    limit: int = fld(INT, default=0)
    subscriptions_list: list[SubDetail] | None = fld(models(SubDetail))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class JszAccountDetail(Model):
    """One account in JSZ (with ``accounts`` or ``account``); its
    ``stream_detail`` list stays JSON."""

    name: str = fld(STR, default="")
    id: str = fld(STR, default="")
    memory: int = fld(INT, default=0)
    storage: int = fld(INT, default=0)
    api: APIStats | None = fld(model(APIStats))
    stream_detail: list[dict[str, Any]] | None = fld()
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Jsz(Model):
    """JSZ: the server's JetStream usage. ``meta_cluster`` (the meta group:
    ``name``, ``leader``, ``replicas``, ``cluster_size``...) stays JSON."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    disabled: bool = fld(BOOL, default=False)
    memory: int = fld(INT, default=0)
    storage: int = fld(INT, default=0)
    accounts: int = fld(INT, default=0)
    ha_assets: int = fld(INT, default=0)
    api: APIStats | None = fld(model(APIStats))
    streams: int = fld(INT, default=0)
    consumers: int = fld(INT, default=0)
    messages: int = fld(INT, default=0)
    bytes: int = fld(INT, default=0)
    meta_cluster: dict[str, Any] | None = fld()
    account_details: list[JszAccountDetail] | None = fld(models(JszAccountDetail))
    total: int = fld(INT, default=0)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Accountz(Model):
    """ACCOUNTZ: the account names, or one account's ``account_detail``
    (``account_name``, ``jetstream_enabled``, ``client_connections``,
    imports, exports... kept as JSON)."""

    server_id: str = fld(STR, default="")
    now: datetime | None = fld(TIME)
    system_account: str | None = fld(STR)
    accounts: list[str] | None = fld(STR_LIST)
    account_detail: dict[str, Any] | None = fld()
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class HealthzIssue(Model):
    """One problem HEALTHZ found (with ``details``); ``type`` is ``CONNECTION``,
    ``BAD_REQUEST``, ``JETSTREAM``, ``ACCOUNT``, ``STREAM`` or ``CONSUMER``."""

    type: str = fld(STR, default="")
    account: str | None = fld(STR)
    stream: str | None = fld(STR)
    consumer: str | None = fld(STR)
    error: str | None = fld(STR)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Healthz(Model):
    """HEALTHZ: ``status`` is ``ok``, ``error`` or ``unavailable``."""

    status: str = fld(STR, default="")
    status_code: int | None = fld(INT)
    error: str | None = fld(STR)
    errors: list[HealthzIssue] | None = fld(models(HealthzIssue))
    extra: dict[str, Any] = extra_field()

    @property
    def ok(self) -> bool:
        """True when the server says it is healthy."""
        return self.status == "ok"


@dataclass(slots=True)
class DataStats(Model):
    """Messages and bytes (STATSZ ``sent`` / ``received``); per link kind in ``extra``."""

    msgs: int = fld(INT, default=0)
    bytes: int = fld(INT, default=0)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class Statsz(Model):
    """STATSZ: the server's live statistics (the answer's ``statsz`` object)."""

    start: datetime | None = fld(TIME)
    mem: int = fld(INT, default=0)
    cores: int = fld(INT, default=0)
    cpu: float = fld(FLOAT, default=0.0)
    connections: int = fld(INT, default=0)
    total_connections: int = fld(INT, default=0)
    active_accounts: int = fld(INT, default=0)
    subscriptions: int = fld(INT, default=0)
    sent: DataStats | None = fld(model(DataStats))
    received: DataStats | None = fld(model(DataStats))
    slow_consumers: int = fld(INT, default=0)
    extra: dict[str, Any] = extra_field()


_MODELS: dict[ServerEndpoint, type[Model]] = {
    ServerEndpoint.VARZ: Varz,
    ServerEndpoint.CONNZ: Connz,
    ServerEndpoint.ROUTEZ: Routez,
    ServerEndpoint.GATEWAYZ: Gatewayz,
    ServerEndpoint.LEAFZ: Leafz,
    ServerEndpoint.SUBSZ: Subsz,
    ServerEndpoint.JSZ: Jsz,
    ServerEndpoint.ACCOUNTZ: Accountz,
    ServerEndpoint.HEALTHZ: Healthz,
    ServerEndpoint.STATSZ: Statsz,
    ServerEndpoint.IDZ: SysServerInfo,
}
_KINDS = {m: k for k, m in _MODELS.items()}


def data_model(kind: ServerEndpoint | str) -> type[Model]:
    """The model of ``kind``'s data (:class:`Varz` for VARZ...)."""
    return _MODELS[_kind(kind)]


# ----------------------------------------------------------------- responses

M = TypeVar("M", bound=Model)


@dataclass(slots=True)
class ServerAPIResponse(Generic[M]):
    """One server's answer: who answered (``server``), what it said (``data``,
    the kind's model) and the whole decoded reply (``raw``)."""

    kind: ServerEndpoint
    server: SysServerInfo
    data: M
    raw: dict[str, Any]


def _body(payload: Msg | bytes | str) -> bytes | str:
    if not isinstance(payload, Msg):
        return payload
    if payload.status is not None:
        raise InvalidServerResponseError(
            f"the system request got status {payload.status} in place of an answer"
        )
    headers = payload.headers
    encoding = (headers.get("Content-Encoding") or "").lower() if headers else ""
    if encoding == "gzip":
        return _gunzip(payload.data)
    if encoding not in ("", "identity"):
        raise InvalidServerResponseError(
            f"a reply compressed with {encoding!r} cannot be read: ask with gzip=True or none"
        )
    return payload.data


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, MAX_INFLATED)
    except zlib.error as e:
        raise InvalidServerResponseError(f"a gzip reply does not inflate: {e}") from None
    if d.unconsumed_tail:
        raise InvalidServerResponseError(f"a gzip reply inflates past {MAX_INFLATED} bytes")
    if not d.eof:
        raise InvalidServerResponseError("a gzip reply is cut short")
    return out


@overload
def parse_server_response(payload: Msg | bytes | str, kind: type[M]) -> ServerAPIResponse[M]: ...
@overload
def parse_server_response(
    payload: Msg | bytes | str, kind: ServerEndpoint | str
) -> ServerAPIResponse[Any]: ...
def parse_server_response(
    payload: Msg | bytes | str, kind: type[Model] | ServerEndpoint | str
) -> ServerAPIResponse[Any]:
    """Parse one server's reply to a ``$SYS`` request of ``kind`` (the kind, or
    its data model: ``parse_server_response(msg, Connz)`` is typed).

    ``payload`` is the reply ``Msg`` (a gzip body is inflated) or its body.
    Raises :class:`ServerAPIError` for an ``error`` answer and
    :class:`InvalidServerResponseError` for anything unreadable.
    """
    if isinstance(kind, type):
        if kind not in _KINDS:
            raise ConfigError(f"{kind.__name__} is not the data model of a server endpoint")
        k = _KINDS[kind]
    else:
        k = _kind(kind)
    try:
        obj = json.loads(_body(payload))
    except (TypeError, ValueError) as e:
        raise InvalidServerResponseError(f"the {k.value} reply is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidServerResponseError(f"the {k.value} reply is not a JSON object")
    if k is ServerEndpoint.IDZ:
        # IDZ answers a bare {"name", "host", "id"}: the server is the data.
        server = SysServerInfo.from_json(obj)
        return ServerAPIResponse(k, server, server, obj)
    server_obj = obj.get("server")
    server = SysServerInfo.from_json(server_obj if isinstance(server_obj, dict) else {})
    err = obj.get("error")
    if err is not None:
        if not isinstance(err, dict):
            raise InvalidServerResponseError(f"the {k.value} reply has an invalid error: {err!r}")
        code, err_code = err.get("code"), err.get("err_code")
        raise ServerAPIError(
            code if isinstance(code, int) else 0,
            str(err.get("description") or ""),
            err_code if isinstance(err_code, int) else 0,
            server,
        )
    data = obj.get("statsz" if k is ServerEndpoint.STATSZ else "data")
    if not isinstance(data, dict):
        raise InvalidServerResponseError(f"the {k.value} reply has no data")
    return ServerAPIResponse(k, server, _MODELS[k].from_json(data), obj)
