"""One set of async conventions (#15): listers are async iterators that can also
be awaited into a list; contexts that hold resources (``messages()``,
``watch()``, ``request_many``, push subscriptions) work directly in
``async with``. The blocking client: iterators, and ``with``.

A case marked ``xfail(strict=True)`` is a known gap (its reason says where the
fix lives); when it is fixed the test XPASSes and fails: drop the mark then.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import nats_anyio
import nats_sync
from nats_anyio._compat import Listing, Opening, lister, opens
from nats_sync._compat import lister as sync_lister
from nats_sync._compat import opens as sync_opens
from pynats.server import NatsServer

STREAM, SUBJECTS = "CONV", "conv.>"


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        with nats_sync.connect(srv.url) as nc:
            js = nc.jetstream(timeout=5.0)
            js.create_stream(name=STREAM, subjects=SUBJECTS)
            js.publish("conv.a", b"1")
            js.create_consumer(STREAM, durable_name="pull", ack_policy="none")
            kv = js.create_key_value(bucket="convkv")
            kv.put("k", b"v")
            obs = js.create_object_store(bucket="convobs")
            obs.put("o", b"data")
        yield srv


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ----------------------------------------------------------- the lister type


@pytest.mark.anyio
async def test_listing_iterates_and_awaits() -> None:
    @lister
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    assert await numbers(3) == [0, 1, 2]
    assert [i async for i in numbers(3)] == [0, 1, 2]
    it = numbers(3)
    assert isinstance(it, Listing)
    assert await it.__anext__() == 0
    await it.aclose()
    assert numbers.__name__ == "numbers"


def test_sync_lister_is_the_iterator() -> None:
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    assert sync_lister(numbers) is numbers
    assert list(numbers(3)) == [0, 1, 2]


# ------------------------------------------------------------ the opens type


class _Resource:
    def __init__(self, n: int) -> None:
        self.n = n
        self.log: list[str] = []

    async def __aenter__(self) -> _Resource:
        self.log.append("enter")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.log.append("exit")


@pytest.mark.anyio
async def test_opening_awaits_and_enters() -> None:
    calls: list[int] = []

    @opens
    async def open_it(n: int) -> _Resource:
        calls.append(n)
        return _Resource(n)

    r = await open_it(1)
    assert r.n == 1 and r.log == []
    async with open_it(2) as r2:
        assert r2.n == 2 and r2.log == ["enter"]
    assert r2.log == ["enter", "exit"]
    assert isinstance(open_it(3), Opening)
    assert calls == [1, 2]  # the call runs only when awaited or entered
    assert open_it.__name__ == "open_it"


def test_opening_dropped_unused_warns_nothing() -> None:
    @opens
    async def open_it() -> _Resource:
        return _Resource(0)  # pragma: no cover

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        open_it()
        gc.collect()
    assert not seen, [str(w.message) for w in seen]


def test_sync_opens_is_the_call() -> None:
    def open_it() -> int:
        return 1

    assert sync_opens(open_it) is open_it


# ------------------------------------------------------------------ listers


@dataclass
class Handles:
    nc: Any
    js: Any
    kv: Any
    obs: Any
    consumer: Any
    ordered: Any


LISTERS: list[tuple[str, Callable[[Handles], Any], str]] = [
    ("js.stream_names()", lambda h: h.js.stream_names(), STREAM),
    ("js.list_streams()", lambda h: h.js.list_streams(), STREAM),
    ("js.consumer_names(s)", lambda h: h.js.consumer_names(STREAM), "pull"),
    ("js.list_consumers(s)", lambda h: h.js.list_consumers(STREAM), "pull"),
    ("js.key_value_store_names()", lambda h: h.js.key_value_store_names(), "convkv"),
    ("js.key_value_stores()", lambda h: h.js.key_value_stores(), "convkv"),
    ("js.object_store_names()", lambda h: h.js.object_store_names(), "convobs"),
    ("js.object_stores()", lambda h: h.js.object_stores(), "convobs"),
]
IDS = [name for name, _, _ in LISTERS]


def _named(items: list[Any], name: str) -> bool:
    for item in items:
        if item == name:
            return True
        for attr in ("name", "bucket"):
            if getattr(item, attr, None) == name:
                return True
        config = getattr(item, "config", None)
        if config is not None and getattr(config, "name", None) == name:
            return True
    return False


@pytest.fixture
async def ahandles(server: NatsServer) -> AsyncIterator[Handles]:
    async with nats_anyio.connect(server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        yield Handles(
            nc,
            js,
            await js.key_value("convkv"),
            await js.object_store("convobs"),
            await js.consumer(STREAM, "pull"),
            await js.ordered_consumer(STREAM),
        )


@pytest.fixture
def shandles(server: NatsServer) -> Iterator[Handles]:
    with nats_sync.connect(server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        yield Handles(
            nc,
            js,
            js.key_value("convkv"),
            js.object_store("convobs"),
            js.consumer(STREAM, "pull"),
            js.ordered_consumer(STREAM),
        )


@pytest.mark.anyio
@pytest.mark.parametrize(("what", "make", "name"), LISTERS, ids=IDS)
async def test_async_lister_iterates(
    ahandles: Handles, what: str, make: Callable[[Handles], Any], name: str
) -> None:
    items = [item async for item in make(ahandles)]
    assert _named(items, name), f"{what} gave {items!r}"


@pytest.mark.anyio
@pytest.mark.parametrize(("what", "make", "name"), LISTERS, ids=IDS)
async def test_async_lister_awaits_into_a_list(
    ahandles: Handles, what: str, make: Callable[[Handles], Any], name: str
) -> None:
    items = await make(ahandles)
    assert isinstance(items, list)
    assert _named(items, name), f"{what} gave {items!r}"


@pytest.mark.parametrize(("what", "make", "name"), LISTERS, ids=IDS)
def test_sync_lister_iterates_and_lists(
    shandles: Handles, what: str, make: Callable[[Handles], Any], name: str
) -> None:
    assert _named(list(make(shandles)), name), what
    assert _named([item for item in make(shandles)], name), what


# ------------------------------------------------------- resource contexts


CONTEXTS: list[Any] = [
    pytest.param(lambda h: h.consumer.messages(), id="consumer.messages()"),
    pytest.param(lambda h: h.ordered.messages(), id="ordered.messages()"),
    pytest.param(lambda h: h.kv.watch("k"), id="kv.watch(key)"),
    pytest.param(lambda h: h.kv.watch_all(), id="kv.watch_all()"),
    pytest.param(lambda h: h.kv.list_keys(), id="kv.list_keys()"),
    pytest.param(
        lambda h: h.nc.request_many("conv.none", b"", timeout=0.2), id="nc.request_many()"
    ),
    pytest.param(lambda h: h.obs.watch(), id="obs.watch()"),
    pytest.param(lambda h: h.js.subscribe("conv.push"), id="js.subscribe()"),
    pytest.param(lambda h: h.js.queue_subscribe("conv.push", "q"), id="js.queue_subscribe()"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("make", CONTEXTS)
async def test_async_context_is_direct(ahandles: Handles, make: Callable[[Handles], Any]) -> None:
    async with make(ahandles) as it:
        assert hasattr(it, "__aiter__")


SYNC_CONTEXTS: list[Any] = [
    pytest.param(lambda h: h.consumer.messages(), id="consumer.messages()"),
    pytest.param(lambda h: h.ordered.messages(), id="ordered.messages()"),
    pytest.param(lambda h: h.kv.watch("k"), id="kv.watch(key)"),
    pytest.param(lambda h: h.kv.watch_all(), id="kv.watch_all()"),
    pytest.param(lambda h: h.kv.list_keys(), id="kv.list_keys()"),
    pytest.param(
        lambda h: h.nc.request_many("conv.none", b"", timeout=0.2), id="nc.request_many()"
    ),
    pytest.param(lambda h: h.obs.watch(), id="obs.watch()"),
    pytest.param(lambda h: h.js.subscribe("conv.push"), id="js.subscribe()"),
    pytest.param(lambda h: h.js.queue_subscribe("conv.push", "q"), id="js.queue_subscribe()"),
]


@pytest.mark.parametrize("make", SYNC_CONTEXTS)
def test_sync_context(shandles: Handles, make: Callable[[Handles], Any]) -> None:
    with make(shandles) as it:
        assert hasattr(it, "__iter__")
