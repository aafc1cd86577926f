"""JetStream for the async client: the :class:`JetStream` context.

Get a context with ``js = nc.jetstream()`` from a :class:`nats_anyio.Client`.
The context is built in layers, one module each: ``_js_manage`` (the
requests, streams, stored messages, consumer management), ``_js_publish``
(publish and async publish), ``_js_push`` (``subscribe``: push consumers),
and here the factories of the handles: pull consumers (``_js_pull``),
ordered consumers (``_js_ordered``), Key-Value buckets (``_kv``) and Object
Stores (``_objectstore``).

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Unpack

from nats_core.jetstream import requests as _req
from nats_core.jetstream.errors import StreamNotFoundError
from nats_core.jetstream.kv import (
    BucketNotFoundError,
    KeyValueConfig,
    KeyValueStatus,
    check_bucket,
    check_limit_markers,
    kv_stream_config,
    kv_stream_name,
    status_from_info,
)
from nats_core.jetstream.models import ConsumerConfig, DeliverPolicy, ReplayPolicy, StreamConfig
from nats_core.jetstream.objectstore import (
    ObjectStoreConfig,
    ObjectStoreNotFoundError,
    ObjectStoreStatus,
    obj_stream_config,
    obj_stream_name,
)
from nats_core.jetstream.objectstore import status_from_info as object_store_status
from nats_core.jetstream.ordered import DEFAULT_INACTIVE_THRESHOLD, OrderedConsumerState
from nats_core.jetstream.typed import (
    ConsumerConfigFields,
    KeyValueConfigFields,
    ObjectStoreConfigFields,
)

from ._compat import Lister, lister
from ._js_manage import with_fields
from ._js_newer import NewerJetStream
from ._js_ordered import OrderedConsumer
from ._js_publish import JetStreamPublisher
from ._js_pull import Consumer
from ._js_push import PushSubscriber
from ._js_stream import Stream
from ._kv import KeyValue
from ._objectstore import ObjectStore

__all__ = ["JetStream"]


class JetStream(JetStreamPublisher, PushSubscriber, NewerJetStream):
    """A JetStream context: management API, publish, and consumer handles.

    Get one with ``nc.jetstream(domain=None, api_prefix=None, timeout=5.0)``.
    ``domain`` reaches the JetStream of another domain (``$JS.<domain>.API``),
    ``api_prefix`` an imported API; ``timeout`` bounds each API request.
    ``publish_async_max_pending`` caps the async publishes awaiting an ack
    (``publish_async`` waits for room), ``publish_async_timeout`` fails an
    async publish whose ack is that many seconds late (``None``: never).
    ``publish_async_error_cb(msg, error)`` is told of each failed async publish.
    """

    # ------------------------------------------------------------- streams

    async def stream(self, name: str) -> Stream:
        """A handle on the existing stream ``name`` (:class:`Stream`: info, purge,
        stored messages and consumers without the stream argument), with its
        info cached; :class:`~nats_core.jetstream.StreamNotFoundError` when there
        is none."""
        return Stream(self, await self.stream_info(name))

    # ----------------------------------------------------------- consumers

    async def _add_consumer(
        self, stream: str, config: ConsumerConfig | None, fields: Mapping[str, Any], action: str
    ) -> Consumer:
        cfg = with_fields(ConsumerConfig, config, fields)
        reply = await self._request(_req.add_consumer(stream, cfg, action, api=self._api))
        return Consumer(self, stream, _req.parse_consumer_info(reply))

    async def create_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer:
        """Create a pull consumer and return its handle.

        ``config`` or fields (``durable_name="worker", filter_subjects=[...]``);
        without a name or durable name the consumer is ephemeral. Raises
        :class:`~nats_core.jetstream.ConsumerAlreadyExistsError` when one of
        that name exists with another configuration.
        """
        return await self._add_consumer(stream, config, fields, _req.ConsumerAction.CREATE)

    async def update_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer:
        """Update an existing consumer
        (:class:`~nats_core.jetstream.ConsumerDoesNotExistError` if there is none)."""
        return await self._add_consumer(stream, config, fields, _req.ConsumerAction.UPDATE)

    async def create_or_update_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        **fields: Unpack[ConsumerConfigFields],
    ) -> Consumer:
        """Create the consumer, or update it when it exists."""
        return await self._add_consumer(
            stream,
            config,
            fields,
            _req.ConsumerAction.CREATE_OR_UPDATE,
        )

    async def consumer(self, stream: str, name: str) -> Consumer:
        """The handle of an existing consumer
        (:class:`~nats_core.jetstream.ConsumerNotFoundError` if there is none)."""
        return Consumer(self, stream, await self.consumer_info(stream, name))

    async def ordered_consumer(
        self,
        stream: str,
        *,
        filter_subjects: str | Sequence[str] | None = None,
        deliver_policy: DeliverPolicy | str = DeliverPolicy.ALL,
        opt_start_seq: int | None = None,
        opt_start_time: datetime | None = None,
        replay_policy: ReplayPolicy | str | None = None,
        inactive_threshold: timedelta | float = DEFAULT_INACTIVE_THRESHOLD,
        headers_only: bool = False,
        max_reset_attempts: int | None = None,
    ) -> OrderedConsumer:
        """An ordered consumer of ``stream``: every message once, in stream order,
        with no consumer to manage.

        It runs on ephemeral consumers (ack none, memory, one replica) that it
        recreates from the last stream sequence + 1 after a gap, missed
        heartbeats, a deleted consumer or a reconnect. ``max_reset_attempts``
        bounds the failed recreations in a row (``None``: no bound).
        """
        state = OrderedConsumerState(
            stream,
            name_prefix=self._nc.new_inbox().rpartition(".")[2],
            filter_subjects=filter_subjects,
            deliver_policy=DeliverPolicy(deliver_policy),
            opt_start_seq=opt_start_seq,
            opt_start_time=opt_start_time,
            replay_policy=None if replay_policy is None else ReplayPolicy(replay_policy),
            inactive_threshold=inactive_threshold,
            headers_only=headers_only,
            max_reset_attempts=max_reset_attempts,
            api=self._api,
        )
        return OrderedConsumer(self, state)

    # ----------------------------------------------------------- key-value

    async def create_key_value(
        self,
        config: KeyValueConfig | None = None,
        **fields: Unpack[KeyValueConfigFields],
    ) -> KeyValue:
        """Create a Key-Value bucket from ``config`` or fields (``bucket="config",
        history=5``); the same configuration again succeeds, another raises
        :class:`~nats_core.jetstream.StreamNameInUseError`. ``limit_marker_ttl``
        needs nats-server 2.11+
        (:class:`~nats_core.jetstream.kv.LimitMarkerTTLNotSupportedError`)."""
        cfg = with_fields(KeyValueConfig, config, fields)
        info = await self.create_stream(await self._kv_stream_config(cfg))
        return KeyValue(self, cfg.bucket, info)

    async def _kv_stream_config(self, cfg: KeyValueConfig) -> StreamConfig:
        """The bucket's stream configuration; with limit markers, after checking
        the server's API level (``$JS.API.INFO``), as nats.go does."""
        sc = kv_stream_config(cfg)
        if sc.subject_delete_marker_ttl:
            check_limit_markers(cfg, (await self.account_info()).api.level)
        return sc

    async def create_or_update_key_value(
        self,
        config: KeyValueConfig | None = None,
        **fields: Unpack[KeyValueConfigFields],
    ) -> KeyValue:
        """Create the bucket, or change its configuration when it exists."""
        cfg = with_fields(KeyValueConfig, config, fields)
        info = await self.create_or_update_stream(await self._kv_stream_config(cfg))
        return KeyValue(self, cfg.bucket, info)

    async def update_key_value(
        self,
        config: KeyValueConfig | None = None,
        **fields: Unpack[KeyValueConfigFields],
    ) -> KeyValue:
        """Change a bucket's configuration
        (:class:`~nats_core.jetstream.kv.BucketNotFoundError` when there is none)."""
        cfg = with_fields(KeyValueConfig, config, fields)
        sc = await self._kv_stream_config(cfg)
        try:
            info = await self.update_stream(sc)
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {cfg.bucket!r} not found") from None
        return KeyValue(self, cfg.bucket, info)

    async def key_value(self, bucket: str) -> KeyValue:
        """The bucket ``bucket`` (:class:`~nats_core.jetstream.kv.BucketNotFoundError`
        when it does not exist)."""
        try:
            info = await self.stream_info(kv_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {bucket!r} not found") from None
        return KeyValue(self, bucket, info)

    @lister
    async def key_value_store_names(self) -> Lister[str]:
        """Every Key-Value bucket's name, page by page."""
        async for name in self.stream_names(subject="$KV.>"):
            if name.startswith("KV_"):
                yield name[3:]

    @lister
    async def key_value_stores(self) -> Lister[KeyValueStatus]:
        """Every Key-Value bucket's status, page by page (nats.go's ``KeyValueStores``)."""
        async for info in self.list_streams(subject="$KV.>"):
            name = info.config.name
            if name.startswith("KV_"):
                yield status_from_info(name[3:], info)

    async def delete_key_value(self, bucket: str) -> bool:
        """Delete the bucket and everything in it."""
        try:
            return await self.delete_stream(kv_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise BucketNotFoundError(f"bucket {bucket!r} not found") from None

    # -------------------------------------------------------- object store

    async def create_object_store(
        self,
        config: ObjectStoreConfig | None = None,
        **fields: Unpack[ObjectStoreConfigFields],
    ) -> ObjectStore:
        """Create an Object Store bucket from ``config`` or fields (``bucket="files"``)."""
        cfg = with_fields(ObjectStoreConfig, config, fields)
        info = await self.create_stream(obj_stream_config(cfg))
        return ObjectStore(self, cfg.bucket, info)

    async def update_object_store(
        self,
        config: ObjectStoreConfig | None = None,
        **fields: Unpack[ObjectStoreConfigFields],
    ) -> ObjectStore:
        """Change a bucket's configuration (description, ttl, max_bytes, ...;
        :class:`~nats_core.jetstream.objectstore.ObjectStoreNotFoundError` when
        there is none)."""
        cfg = with_fields(ObjectStoreConfig, config, fields)
        try:
            info = await self.update_stream(obj_stream_config(cfg))
        except StreamNotFoundError:
            raise ObjectStoreNotFoundError(f"object store {cfg.bucket!r} not found") from None
        return ObjectStore(self, cfg.bucket, info)

    async def create_or_update_object_store(
        self,
        config: ObjectStoreConfig | None = None,
        **fields: Unpack[ObjectStoreConfigFields],
    ) -> ObjectStore:
        """Create the bucket, or change its configuration when it exists."""
        cfg = with_fields(ObjectStoreConfig, config, fields)
        info = await self.create_or_update_stream(obj_stream_config(cfg))
        return ObjectStore(self, cfg.bucket, info)

    async def object_store(self, bucket: str) -> ObjectStore:
        """The bucket ``bucket``
        (:class:`~nats_core.jetstream.objectstore.ObjectStoreNotFoundError`, a
        ``BucketNotFoundError``, when it does not exist)."""
        try:
            info = await self.stream_info(obj_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise ObjectStoreNotFoundError(f"object store {bucket!r} not found") from None
        return ObjectStore(self, bucket, info)

    @lister
    async def object_store_names(self) -> Lister[str]:
        """Every Object Store bucket's name, page by page."""
        async for name in self.stream_names(subject="$O.>"):
            if name.startswith("OBJ_"):
                yield name[4:]

    @lister
    async def object_stores(self) -> Lister[ObjectStoreStatus]:
        """Every Object Store bucket's status, page by page (nats.go's ``ObjectStores``)."""
        async for info in self.list_streams(subject="$O.>"):
            name = info.config.name
            if name.startswith("OBJ_"):
                yield object_store_status(name[4:], info)

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete the bucket and every object in it
        (:class:`~nats_core.jetstream.objectstore.ObjectStoreNotFoundError` when
        there is none)."""
        try:
            return await self.delete_stream(obj_stream_name(check_bucket(bucket)))
        except StreamNotFoundError:
            raise ObjectStoreNotFoundError(f"object store {bucket!r} not found") from None
