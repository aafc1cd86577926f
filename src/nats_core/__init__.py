"""nats_core: the sans-IO NATS protocol core.

Bytes go in through :meth:`Connection.receive_data` and come out as events;
commands go in through the connection's methods and come out as bytes from
:meth:`Connection.data_to_send`. No sockets, threads, event loops or clocks.
"""

from typing import TYPE_CHECKING, Any

from ._client_options import (
    ClientOptions,
    apply_credentials,
    build_options,
    credential_paths,
    parse_credentials,
)
from ._client_state import ClientState
from ._connection import Connection, Statistics, SubscriptionState
from ._events import (
    Connected,
    Disconnected,
    Event,
    InfoUpdated,
    LameDuckMode,
    Msg,
    Pong,
    Response,
    ServerErrorEvent,
    StartTLS,
    SubscriptionEnded,
)
from ._headers import Headers, HeadersInput, decode_headers, encode_headers
from ._info import ServerInfo
from ._lifecycle import (
    ClosedEvent,
    ConnectedEvent,
    DisconnectedEvent,
    ErrorEvent,
    EventQueue,
    EventsDropped,
    LameDuckEvent,
    LifecycleEvent,
    ReconnectedEvent,
    ServersDiscoveredEvent,
    SlowConsumerEvent,
)
from ._nuid import NUID
from ._options import DEFAULT_INBOX_PREFIX, ConnectOptions
from ._parser import MAX_CONTROL_LINE, ErrOp, InfoOp, Parser
from ._pending import (
    SLOW_CONSUMER_POLICIES,
    PendingQueue,
    SlowConsumerPolicy,
    check_slow_consumer,
)
from ._pool import ServerAddress, ServerPool, parse_url
from ._state import (
    DRAINING,
    ENDING,
    LIVE,
    Command,
    State,
    check_command,
    refusal,
    request_refusal,
)
from ._subjects import (
    check_publish_subject,
    check_queue,
    check_subscribe_subject,
    is_valid_publish_subject,
    is_valid_subscribe_subject,
)
from ._websocket import WebSocketFramer
from .context import (
    NatsContext,
    context_path,
    merge_connect_options,
    parse_context,
    parse_selected_context,
    selected_context_path,
)
from .instrument import Instrumentation
from .request_many import (
    ReplyStatusError,
    ReplyVerdict,
    RequestMany,
    RequestManyEnd,
    standard_sentinel,
)

if TYPE_CHECKING:
    from .system import (
        ServerAPIError,
        ServerAPIResponse,
        ServerEndpoint,
        ServerRequest,
        parse_server_response,
        server_request,
    )

# The system-account models build on the JetStream ones: loaded on first use,
# so that `import nats_core` does not pay for them.
_LAZY = {
    name: "system"
    for name in (
        "ServerAPIError",
        "ServerAPIResponse",
        "ServerEndpoint",
        "ServerRequest",
        "parse_server_response",
        "server_request",
    )
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_INBOX_PREFIX",
    "DRAINING",
    "ENDING",
    "LIVE",
    "MAX_CONTROL_LINE",
    "NUID",
    "SLOW_CONSUMER_POLICIES",
    "ClientOptions",
    "ClientState",
    "ClosedEvent",
    "Command",
    "ConnectOptions",
    "Connected",
    "ConnectedEvent",
    "Connection",
    "Disconnected",
    "DisconnectedEvent",
    "ErrOp",
    "ErrorEvent",
    "Event",
    "EventQueue",
    "EventsDropped",
    "Headers",
    "HeadersInput",
    "InfoOp",
    "InfoUpdated",
    "Instrumentation",
    "LameDuckEvent",
    "LameDuckMode",
    "LifecycleEvent",
    "Msg",
    "NatsContext",
    "Parser",
    "PendingQueue",
    "Pong",
    "ReconnectedEvent",
    "ReplyStatusError",
    "ReplyVerdict",
    "RequestMany",
    "RequestManyEnd",
    "Response",
    "ServerAPIError",
    "ServerAPIResponse",
    "ServerAddress",
    "ServerEndpoint",
    "ServerErrorEvent",
    "ServerInfo",
    "ServerPool",
    "ServerRequest",
    "ServersDiscoveredEvent",
    "SlowConsumerEvent",
    "SlowConsumerPolicy",
    "StartTLS",
    "State",
    "Statistics",
    "SubscriptionEnded",
    "SubscriptionState",
    "WebSocketFramer",
    "apply_credentials",
    "build_options",
    "check_command",
    "check_publish_subject",
    "check_queue",
    "check_slow_consumer",
    "check_subscribe_subject",
    "context_path",
    "credential_paths",
    "decode_headers",
    "encode_headers",
    "is_valid_publish_subject",
    "is_valid_subscribe_subject",
    "merge_connect_options",
    "parse_context",
    "parse_credentials",
    "parse_selected_context",
    "parse_server_response",
    "parse_url",
    "refusal",
    "request_refusal",
    "selected_context_path",
    "server_request",
    "standard_sentinel",
]
