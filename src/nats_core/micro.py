"""The Service API (ADR-32), sans-IO: names and subjects, a service's endpoints
and their statistics, the discovery answers (PING, INFO, STATS) and the error
headers. The adapters' ``Service`` classes subscribe, time the handlers (their
clocks, not this module's) and publish what this module builds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._events import Msg
from ._headers import Headers
from ._subjects import check_queue, check_subscribe_subject, is_valid_publish_subject
from .errors import LocalProtocolError, NatsError
from .jetstream._codec import INT, STR, STR_MAP, TIME, Model, extra_field, fld, models

__all__ = [
    "API_PREFIX",
    "DEFAULT_QUEUE_GROUP",
    "INFO_TYPE",
    "PING_TYPE",
    "SERVICE_ERROR",
    "SERVICE_ERROR_CODE",
    "STATS_TYPE",
    "EndpointStats",
    "InvalidServiceResponseError",
    "ServiceEndpointInfo",
    "ServiceEndpointStats",
    "ServiceError",
    "ServiceInfo",
    "ServicePing",
    "ServiceState",
    "ServiceStats",
    "check_service_name",
    "check_version",
    "control_subject",
    "control_subjects",
    "error_headers",
    "group_subject",
    "handler_error_description",
    "parse_discovery",
    "parse_info",
    "parse_ping",
    "parse_stats",
    "service_error",
]

API_PREFIX = "$SRV"
DEFAULT_QUEUE_GROUP = "q"
SERVICE_ERROR = "Nats-Service-Error"
SERVICE_ERROR_CODE = "Nats-Service-Error-Code"
PING_TYPE = "io.nats.micro.v1.ping_response"
INFO_TYPE = "io.nats.micro.v1.info_response"
STATS_TYPE = "io.nats.micro.v1.stats_response"
VERBS = ("PING", "INFO", "STATS")

_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]+\Z")
# The regular expression semver.org suggests.
_SEMVER_RE = re.compile(
    r"\A(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)


class ServiceError(NatsError):
    """A service answered with an error (``code`` and ``description`` from the
    ``Nats-Service-Error-Code`` and ``Nats-Service-Error`` headers)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"service error {code}: {description}")
        self.code = code
        self.description = description


def check_service_name(name: str, what: str = "service name") -> str:
    """``name`` when it is letters, digits, ``_`` and ``-``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise LocalProtocolError(f"invalid {what} {name!r}: letters, digits, '_' and '-' only")
    return name


def check_version(version: str) -> str:
    """``version`` when it is a semantic version (semver.org)."""
    if not isinstance(version, str) or not _SEMVER_RE.match(version):
        raise LocalProtocolError(f"invalid service version {version!r}: not a semantic version")
    return version


def group_subject(prefix: str, name: str) -> str:
    """``name`` under a group's ``prefix`` (either may be empty)."""
    return f"{prefix}.{name}" if prefix and name else prefix or name


def control_subjects(name: str, service_id: str, prefix: str = API_PREFIX) -> list[str]:
    """The nine discovery subjects a service answers on: each verb for every
    service, for its name, and for its name and id."""
    return [
        s
        for verb in VERBS
        for s in (
            f"{prefix}.{verb}",
            f"{prefix}.{verb}.{name}",
            f"{prefix}.{verb}.{name}.{service_id}",
        )
    ]


def verb_of(subject: str, prefix: str = API_PREFIX) -> str:
    """The verb of a discovery subject (``PING``, ``INFO`` or ``STATS``)."""
    verb = subject[len(prefix) + 1 :].split(".", 1)[0]
    if not subject.startswith(prefix + ".") or verb not in VERBS:
        raise LocalProtocolError(f"{subject!r} is not a service discovery subject")
    return verb


def error_headers(code: int, description: str) -> Headers:
    """The headers of an error response (ADR-32)."""
    if not isinstance(code, int) or isinstance(code, bool):
        raise LocalProtocolError(f"a service error code must be an int, not {code!r}")
    if not description or "\r" in description or "\n" in description:
        raise LocalProtocolError(f"invalid service error description {description!r}")
    return Headers({SERVICE_ERROR: description, SERVICE_ERROR_CODE: str(code)})


#: What a requester is told (with code 500) when a handler raised, unless the
#: service was started with ``expose_errors=True``.
HANDLER_ERROR_DESCRIPTION = "internal service error"


def handler_error_description(exc: BaseException, *, expose: bool = False) -> str:
    """The description of the 500 answer to a handler that raised ``exc``.

    By default a generic text, so that internal details (paths, queries,
    addresses in an exception's text) do not reach callers or the ``$SRV.STATS``
    answer; with ``expose`` the exception's text on one line (its type's name
    when it has none). The traceback belongs in the service's local log.
    """
    if not expose:
        return HANDLER_ERROR_DESCRIPTION
    return " ".join(str(exc).split()) or type(exc).__name__


def service_error(msg: Any) -> ServiceError | None:
    """The error a service's response carries, or None (for requesters)."""
    headers = msg.headers
    if not headers or headers.get(SERVICE_ERROR_CODE) is None:
        return None
    raw = headers.get(SERVICE_ERROR_CODE, "")
    try:
        code = int(raw)
    except ValueError:
        code = 500
    return ServiceError(code, headers.get(SERVICE_ERROR) or "")


@dataclass
class EndpointStats:
    """One endpoint: where it listens and what it has done (times in ns)."""

    name: str
    subject: str
    queue_group: str
    metadata: dict[str, str] | None = None
    num_requests: int = 0
    num_errors: int = 0
    last_error: str = ""
    processing_time: int = 0
    data: Any = None

    @property
    def average_processing_time(self) -> int:
        """Mean handler time in ns (0 before the first request)."""
        return self.processing_time // self.num_requests if self.num_requests else 0

    def info(self) -> dict[str, Any]:
        """This endpoint in an INFO answer."""
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "metadata": dict(self.metadata or {}),
        }

    def stats(self) -> dict[str, Any]:
        """This endpoint in a STATS answer."""
        out = {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "num_requests": self.num_requests,
            "num_errors": self.num_errors,
            "last_error": self.last_error,
            "processing_time": self.processing_time,
            "average_processing_time": self.average_processing_time,
        }
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass
class ServiceState:
    """A service's identity, endpoints and statistics. ``started`` is given by
    the adapter (the core has no clock)."""

    name: str
    version: str
    id: str
    started: datetime
    description: str = ""
    metadata: Mapping[str, str] | None = None
    queue_group: str = DEFAULT_QUEUE_GROUP
    endpoints: list[EndpointStats] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_service_name(self.name)
        check_version(self.version)
        if self.queue_group:
            check_queue(self.queue_group)
        self.metadata = dict(self.metadata or {})  # a copy: immutable once set

    def add_endpoint(
        self,
        name: str,
        subject: str,
        queue_group: str,
        metadata: Mapping[str, str] | None = None,
    ) -> EndpointStats:
        """Add an endpoint (checked); the adapter subscribes to its subject."""
        check_service_name(name, "endpoint name")
        check_subscribe_subject(subject)
        if queue_group:
            check_queue(queue_group)
        ep = EndpointStats(name, subject, queue_group, dict(metadata) if metadata else None)
        self.endpoints.append(ep)
        return ep

    @staticmethod
    def record(ep: EndpointStats, elapsed_ns: int, error: str | None = None) -> None:
        """Count one handled request (``error``: ``"<code>:<description>"``)."""
        ep.num_requests += 1
        ep.processing_time += max(0, elapsed_ns)
        if error is not None:
            ep.num_errors += 1
            ep.last_error = error

    @staticmethod
    def record_error(ep: EndpointStats, error: str) -> None:
        """Count an error of a request already counted (a handler that raised
        after it answered)."""
        ep.num_errors += 1
        ep.last_error = error

    def reset(self) -> None:
        """Forget the statistics (not the endpoints)."""
        for ep in self.endpoints:
            ep.num_requests = ep.num_errors = ep.processing_time = 0
            ep.last_error = ""
            ep.data = None

    def _common(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "metadata": dict(self.metadata or {}),
        }

    def ping(self) -> dict[str, Any]:
        """The PING answer."""
        return self._common(PING_TYPE)

    def info(self) -> dict[str, Any]:
        """The INFO answer."""
        out = self._common(INFO_TYPE)
        out["description"] = self.description
        out["endpoints"] = [ep.info() for ep in self.endpoints]
        return out

    def stats(self, data: Callable[[EndpointStats], Any] | None = None) -> dict[str, Any]:
        """The STATS answer (``data`` fills each endpoint's ``data``)."""
        out = self._common(STATS_TYPE)
        if data is not None:
            for ep in self.endpoints:
                ep.data = data(ep)
        out["endpoints"] = [ep.stats() for ep in self.endpoints]
        out["started"] = self.started.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return out

    def answer(self, verb: str, data: Callable[[EndpointStats], Any] | None = None) -> bytes:
        """The JSON answer to a discovery request of ``verb``."""
        if verb == "PING":
            body = self.ping()
        elif verb == "INFO":
            body = self.info()
        else:
            body = self.stats(data)
        return json.dumps(body, separators=(",", ":")).encode()


# ------------------------------------------------- discovery, the client side
#
# A requester sends an empty request to a subject of control_subject() (with
# request many: every instance answers the short forms) and parses each reply
# with parse_ping / parse_info / parse_stats. The answers are models as in
# nats_core.jetstream.models: fld() wraps dataclasses.field() to attach the JSON
# codec, which RUF009 cannot see.
# ruff: noqa: RUF009

_RESPONSE_TYPES = {"PING": PING_TYPE, "INFO": INFO_TYPE, "STATS": STATS_TYPE}


class InvalidServiceResponseError(NatsError):
    """A discovery reply is not the answer asked for (not JSON, not an object,
    a status message, or a ``type`` other than the verb's)."""


def control_subject(
    verb: str,
    name: str | None = None,
    service_id: str | None = None,
    prefix: str = API_PREFIX,
) -> str:
    """The discovery subject of ``verb`` (``PING``, ``INFO`` or ``STATS``, any
    case): for every service (``$SRV.PING``), for every instance of ``name``
    (``$SRV.PING.<name>``) or for one instance (``$SRV.PING.<name>.<id>``).

    An id needs a name (as nats.go's ``ControlSubject``). ``prefix`` replaces
    ``$SRV`` (ADR-32: it is overridable, to reach services across accounts).
    """
    v = verb.upper() if isinstance(verb, str) else verb
    if v not in VERBS:
        raise LocalProtocolError(f"unknown discovery verb {verb!r}: PING, INFO or STATS")
    if not is_valid_publish_subject(prefix):
        raise LocalProtocolError(f"invalid discovery prefix {prefix!r}")
    if not name:
        if service_id:
            raise LocalProtocolError("a service id needs the service name")
        return f"{prefix}.{v}"
    check_service_name(name)
    if not service_id:
        return f"{prefix}.{v}.{name}"
    if not is_valid_publish_subject(service_id) or "." in service_id:
        raise LocalProtocolError(f"invalid service id {service_id!r}: one subject token")
    return f"{prefix}.{v}.{name}.{service_id}"


@dataclass(slots=True)
class ServiceEndpointInfo(Model):
    """One endpoint in an INFO answer."""

    name: str = fld(STR, default="")
    subject: str = fld(STR, default="")
    queue_group: str | None = fld(STR)
    metadata: dict[str, str] | None = fld(STR_MAP)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ServiceEndpointStats(Model):
    """One endpoint in a STATS answer; times are integer nanoseconds."""

    name: str = fld(STR, default="")
    subject: str = fld(STR, default="")
    queue_group: str | None = fld(STR)
    num_requests: int = fld(INT, default=0)
    num_errors: int = fld(INT, default=0)
    last_error: str = fld(STR, default="")
    processing_time: int = fld(INT, default=0)
    average_processing_time: int = fld(INT, default=0)
    #: Whatever the service's stats handler returned (any JSON), or None.
    data: Any = fld()
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ServicePing(Model):
    """A PING answer (``io.nats.micro.v1.ping_response``): who answered."""

    type: str = fld(STR, default=PING_TYPE)
    name: str = fld(STR, default="")
    id: str = fld(STR, default="")
    version: str = fld(STR, default="")
    metadata: dict[str, str] | None = fld(STR_MAP)
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ServiceInfo(Model):
    """An INFO answer (``io.nats.micro.v1.info_response``): the service and its endpoints."""

    type: str = fld(STR, default=INFO_TYPE)
    name: str = fld(STR, default="")
    id: str = fld(STR, default="")
    version: str = fld(STR, default="")
    metadata: dict[str, str] | None = fld(STR_MAP)
    description: str | None = fld(STR)
    endpoints: list[ServiceEndpointInfo] | None = fld(models(ServiceEndpointInfo))
    extra: dict[str, Any] = extra_field()


@dataclass(slots=True)
class ServiceStats(Model):
    """A STATS answer (``io.nats.micro.v1.stats_response``): per-endpoint counts."""

    type: str = fld(STR, default=STATS_TYPE)
    name: str = fld(STR, default="")
    id: str = fld(STR, default="")
    version: str = fld(STR, default="")
    metadata: dict[str, str] | None = fld(STR_MAP)
    #: When the service started (UTC), or None when absent.
    started: datetime | None = fld(TIME)
    endpoints: list[ServiceEndpointStats] | None = fld(models(ServiceEndpointStats))
    extra: dict[str, Any] = extra_field()


def _discovery_object(payload: Any, verb: str) -> dict[str, Any]:
    """The JSON object of a discovery reply (a ``Msg`` or its bytes), its
    ``type`` checked against ``verb``'s."""
    if isinstance(payload, Msg):
        if payload.status is not None:
            raise InvalidServiceResponseError(
                f"the {verb} discovery request got status {payload.status} in place of an answer"
            )
        payload = payload.data
    try:
        obj = json.loads(payload)
    except (TypeError, ValueError) as e:
        raise InvalidServiceResponseError(f"the {verb} answer is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidServiceResponseError(f"the {verb} answer is not a JSON object")
    want = _RESPONSE_TYPES[verb]
    if obj.get("type") != want:
        raise InvalidServiceResponseError(
            f"the {verb} answer has type {obj.get('type')!r}, not {want!r}"
        )
    return obj


def parse_ping(payload: Msg | bytes | str) -> ServicePing:
    """Parse a ``$SRV.PING`` answer (the reply ``Msg`` or its payload).

    Raises :class:`InvalidServiceResponseError` when it is not one.
    """
    return ServicePing.from_json(_discovery_object(payload, "PING"))


def parse_info(payload: Msg | bytes | str) -> ServiceInfo:
    """Parse a ``$SRV.INFO`` answer (the reply ``Msg`` or its payload)."""
    return ServiceInfo.from_json(_discovery_object(payload, "INFO"))


def parse_stats(payload: Msg | bytes | str) -> ServiceStats:
    """Parse a ``$SRV.STATS`` answer (the reply ``Msg`` or its payload)."""
    return ServiceStats.from_json(_discovery_object(payload, "STATS"))


def parse_discovery(
    verb: str, payload: Msg | bytes | str
) -> ServicePing | ServiceInfo | ServiceStats:
    """Parse the answer to a discovery request of ``verb`` (any case)."""
    v = verb.upper()
    if v == "PING":
        return parse_ping(payload)
    if v == "INFO":
        return parse_info(payload)
    if v == "STATS":
        return parse_stats(payload)
    raise LocalProtocolError(f"unknown discovery verb {verb!r}: PING, INFO or STATS")
