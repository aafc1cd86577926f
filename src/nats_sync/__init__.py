"""nats_sync: a blocking NATS client over plain sockets, driven by :mod:`nats_core`."""

from nats_core import Headers
from nats_core.errors import (
    ConnectionClosedError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    SlowConsumerError,
    SubscriptionClosedError,
)

from ._client import Client, connect
from ._jetstream import (
    ConsumeContext,
    Consumer,
    JetStream,
    MessageBatch,
    MessagesContext,
    OrderedConsumer,
)
from ._kv import KeyValue, KeyWatcher, Watcher
from ._micro import Group, Request, Service, add_service
from ._msg import Msg
from ._objectstore import ObjectResult, ObjectStore
from ._subscription import Subscription
from ._transport import ConnectError, make_ssl_context

__all__ = [
    "Client",
    "ConnectError",
    "ConnectionClosedError",
    "ConsumeContext",
    "Consumer",
    "Group",
    "Headers",
    "JetStream",
    "KeyValue",
    "KeyWatcher",
    "MessageBatch",
    "MessagesContext",
    "Msg",
    "NatsError",
    "NatsTimeoutError",
    "NoRespondersError",
    "ObjectResult",
    "ObjectStore",
    "OrderedConsumer",
    "Request",
    "Service",
    "SlowConsumerError",
    "Subscription",
    "SubscriptionClosedError",
    "Watcher",
    "add_service",
    "connect",
    "make_ssl_context",
]
