"""Consumers default to explicit acks (as in nats.go and nats-py): a consumer made
without ``ack_policy`` takes acks, so ``ack_sync`` is answered. The server's own
default (the field left out) is ``none``, a consumer that answers no ack. The
internal consumers (ordered consumers, Key-Value and Object Store watches) still
ask for ``none``. Core rules first, then both clients against a real server (the
async one on asyncio and Trio)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import nats_anyio
import nats_sync
from js_helpers import uniq
from nats_core.jetstream import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats_core.jetstream import requests as r
from nats_core.jetstream.ordered import OrderedConsumerState

# ------------------------------------------------------------------ sans-IO


def _config_sent(cfg: ConsumerConfig) -> dict[str, object]:
    body = json.loads(r.create_consumer("S", cfg).payload)
    sent: dict[str, object] = body["config"]
    return sent


def test_a_new_config_asks_for_explicit_acks() -> None:
    assert ConsumerConfig().ack_policy is AckPolicy.EXPLICIT
    assert _config_sent(ConsumerConfig(durable_name="d")) == {
        "durable_name": "d",
        "ack_policy": "explicit",
    }
    assert _config_sent(ConsumerConfig(ack_policy=AckPolicy.NONE))["ack_policy"] == "none"
    assert _config_sent(ConsumerConfig(ack_policy=AckPolicy.ALL))["ack_policy"] == "all"
    assert "ack_policy" not in _config_sent(ConsumerConfig(ack_policy=None))  # the server's


def test_a_read_config_keeps_what_the_server_said() -> None:
    assert ConsumerConfig.from_json({"ack_policy": "none"}).ack_policy is AckPolicy.NONE
    assert ConsumerConfig.from_json({"ack_policy": "explicit"}).ack_policy is AckPolicy.EXPLICIT
    assert ConsumerConfig.from_json({}).ack_policy is None  # not invented when reading
    future = ConsumerConfig.from_json({"ack_policy": "telepathic"})
    assert future.ack_policy is None and future.to_json() == {"ack_policy": "telepathic"}
    assert ConsumerInfo.from_json({"name": "c"}).config.ack_policy is None
    info = ConsumerInfo.from_json({"name": "c", "config": {"ack_policy": "none"}})
    assert info.config.ack_policy is AckPolicy.NONE


def test_the_ordered_consumer_still_asks_for_no_acks() -> None:
    """Ordered consumers (and so Key-Value and Object Store watches and object
    reads, which run on them) never ack: their consumers must say none."""
    state = OrderedConsumerState(
        "S",
        name_prefix="oc",
        filter_subjects="a.>",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        inactive_threshold=timedelta(seconds=5),
    )
    plan = state.start()
    assert plan.config.ack_policy is AckPolicy.NONE
    assert json.loads(plan.create.payload)["config"]["ack_policy"] == "none"
    assert state.reset("gap").config.ack_policy is AckPolicy.NONE


# ------------------------------------------------------------------ blocking


def _stream(js: nats_sync.JetStream) -> tuple[str, str]:
    name, subj = uniq("ACKD"), uniq("ackd")
    js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    return name, subj


def test_sync_consumer_without_ack_policy_takes_acks(sjs: nats_sync.JetStream) -> None:
    name, subj = _stream(sjs)
    sjs.publish(f"{subj}.a", b"one")
    sjs.publish(f"{subj}.b", b"two")
    durable = sjs.create_consumer(name, durable_name="worker")
    assert durable.cached_info.config.ack_policy is AckPolicy.EXPLICIT
    batch = durable.fetch(2, max_wait=2)
    assert [m.data for m in batch] == [b"one", b"two"]
    assert durable.info().num_ack_pending == 2
    for m in batch:
        m.ack_sync(timeout=2)  # NoRespondersError when the consumer takes no acks
    assert durable.info().num_ack_pending == 0

    ephemeral = sjs.create_consumer(name, ConsumerConfig(filter_subject=f"{subj}.a"))
    assert ephemeral.cached_info.config.ack_policy is AckPolicy.EXPLICIT
    ephemeral.next(timeout=2).ack_sync(timeout=2)

    both = sjs.create_or_update_consumer(name, durable_name="upsert")
    assert both.cached_info.config.ack_policy is AckPolicy.EXPLICIT

    none = sjs.create_consumer(name, durable_name="noack", ack_policy=AckPolicy.NONE)
    assert none.cached_info.config.ack_policy is AckPolicy.NONE
    assert none.fetch(2, max_wait=2)
    assert none.info().num_ack_pending == 0  # nothing waits for an ack


def _ack_policies(js: nats_sync.JetStream, stream: str) -> list[AckPolicy | None]:
    return [info.config.ack_policy for info in js.list_consumers(stream)]


def test_sync_internal_consumers_still_take_no_acks(sjs: nats_sync.JetStream) -> None:
    name, subj = _stream(sjs)
    sjs.publish(f"{subj}.a", b"one")
    oc = sjs.ordered_consumer(name)
    assert oc.next(timeout=2).data == b"one"
    assert _ack_policies(sjs, name) == [AckPolicy.NONE]
    kv = sjs.create_key_value(bucket=uniq("ackkv"), storage="memory")
    kv.put("k", b"v")
    with kv.watch("k") as w:
        first = w.next(timeout=2)
        assert first is not None and first.value == b"v"
        assert _ack_policies(sjs, f"KV_{kv.bucket}") == [AckPolicy.NONE]
    assert kv.keys() == ["k"]
    store = sjs.create_object_store(bucket=uniq("ackobj"), storage="memory")
    store.put("o", b"x" * 10, chunk_size=4)
    assert store.get("o").data == b"x" * 10
    with store.watch() as ow:
        seen = ow.next(timeout=2)
        assert seen is not None and seen.name == "o"
        assert AckPolicy.NONE in _ack_policies(sjs, f"OBJ_{store.bucket}")
        assert set(_ack_policies(sjs, f"OBJ_{store.bucket}")) == {AckPolicy.NONE}


# ------------------------------------------------------------------ async


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_async_consumer_without_ack_policy_takes_acks(ajs: nats_anyio.JetStream) -> None:
    name, subj = uniq("ACKD"), uniq("ackd")
    await ajs.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
    await ajs.publish(f"{subj}.a", b"one")
    await ajs.publish(f"{subj}.b", b"two")
    durable = await ajs.create_consumer(name, durable_name="worker")
    assert durable.cached_info.config.ack_policy is AckPolicy.EXPLICIT
    batch = await durable.fetch(2, max_wait=2)
    assert [m.data for m in batch] == [b"one", b"two"]
    for m in batch:
        await m.ack_sync(timeout=2)
    assert (await durable.info()).num_ack_pending == 0

    ephemeral = await ajs.create_consumer(name, filter_subject=f"{subj}.b")
    assert ephemeral.cached_info.config.ack_policy is AckPolicy.EXPLICIT
    await (await ephemeral.next(timeout=2)).ack_sync(timeout=2)

    both = await ajs.create_or_update_consumer(name, durable_name="upsert")
    assert both.cached_info.config.ack_policy is AckPolicy.EXPLICIT

    oc = await ajs.ordered_consumer(name)
    assert (await oc.next(timeout=2)).data == b"one"
    mine = {"worker", "upsert", ephemeral.name}
    ordered = [i async for i in ajs.list_consumers(name) if i.name not in mine]
    assert [i.config.ack_policy for i in ordered] == [AckPolicy.NONE]
    kv = await ajs.create_key_value(bucket=uniq("ackkv"), storage="memory")
    await kv.put("k", b"v")
    async with await kv.watch("k") as w:
        first = await w.next(timeout=2)
        assert first is not None and first.value == b"v"
        watches = [i.config.ack_policy async for i in ajs.list_consumers(f"KV_{kv.bucket}")]
        assert watches == [AckPolicy.NONE]
    assert await kv.keys() == ["k"]
