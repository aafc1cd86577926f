"""nats_anyio: an async NATS client on anyio, driven by :mod:`nats_core`.

The same code runs under ``asyncio.run`` and ``trio.run``::

    async with nats_anyio.connect("nats://127.0.0.1:4222") as nc:
        sub = await nc.subscribe("greet.*")
        await nc.publish("greet.joe", b"hello")
        msg = await sub.next_msg(timeout=1)
"""

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
from ._asyncio_transport import AsyncioTransport
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
from ._micro import Group, Request, Service, add_service
from ._msg import Msg
from ._objectstore import ObjectResult, ObjectStore
from ._request_many import Replies
from ._subscription import Subscription
from ._system import SystemClient
from ._transport import (
    ConnectError,
    MemoryServer,
    MemoryServerConnection,
    MemoryTransport,
    StreamTransport,
    TCPTransport,
    Transport,
    TransportError,
    TransportFactory,
    make_ssl_context,
)
from ._websocket import WebSocketTransport

__all__ = [
    "AsyncioTransport",
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
    "MemoryTransport",
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
    "StreamTransport",
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
