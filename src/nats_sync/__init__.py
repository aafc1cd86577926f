"""nats_sync: a blocking NATS client over plain sockets, driven by :mod:`nats_core`."""

from nats_core import (
    ClosedEvent,
    ConnectedEvent,
    DisconnectedEvent,
    ErrorEvent,
    EventsDropped,
    Headers,
    LameDuckEvent,
    LifecycleEvent,
    ReconnectedEvent,
    ServersDiscoveredEvent,
    SlowConsumerEvent,
)
from nats_core.errors import (
    BadPayloadError,
    ConfigError,
    ConfigTypeError,
    ConnectionClosedError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    SlowConsumerError,
    SubscriptionClosedError,
)

from . import discover
from ._connect import Client, connect
from ._events import Events
from ._jetstream import JetStream
from ._js_batch import AtomicBatchPublisher, BatchGet
from ._js_counters import Counter
from ._js_ordered import OrderedConsumer
from ._js_pull import ConsumeContext, Consumer, MessageBatch, MessagesContext
from ._js_push import PushSubscription
from ._js_stream import Stream
from ._kv import KeyValue, KeyWatcher, Watcher
from ._memory import MemoryServer, MemoryServerConnection
from ._micro import Group, Request, Service, add_service
from ._msg import Msg
from ._objectstore import ObjectResult, ObjectStore
from ._request_many import Replies
from ._subscription import Subscription
from ._system import SystemClient
from ._transport import (
    ConnectError,
    TCPTransport,
    Transport,
    TransportError,
    TransportFactory,
    make_ssl_context,
)
from ._websocket import WebSocketTransport

__all__ = [
    "AtomicBatchPublisher",
    "BadPayloadError",
    "BatchGet",
    "Client",
    "ClosedEvent",
    "ConfigError",
    "ConfigTypeError",
    "ConnectError",
    "ConnectedEvent",
    "ConnectionClosedError",
    "ConsumeContext",
    "Consumer",
    "Counter",
    "DisconnectedEvent",
    "ErrorEvent",
    "Events",
    "EventsDropped",
    "Group",
    "Headers",
    "JetStream",
    "KeyValue",
    "KeyWatcher",
    "LameDuckEvent",
    "LifecycleEvent",
    "MemoryServer",
    "MemoryServerConnection",
    "MessageBatch",
    "MessagesContext",
    "Msg",
    "NatsError",
    "NatsTimeoutError",
    "NoRespondersError",
    "ObjectResult",
    "ObjectStore",
    "OrderedConsumer",
    "PushSubscription",
    "ReconnectedEvent",
    "Replies",
    "Request",
    "ServersDiscoveredEvent",
    "Service",
    "SlowConsumerError",
    "SlowConsumerEvent",
    "Stream",
    "Subscription",
    "SubscriptionClosedError",
    "SystemClient",
    "TCPTransport",
    "Transport",
    "TransportError",
    "TransportFactory",
    "Watcher",
    "WebSocketTransport",
    "add_service",
    "connect",
    "discover",
    "make_ssl_context",
]
