"""Per-subscription slow-consumer policy (#15): ``subscribe(...,
slow_consumer="drop_new" | "drop_oldest" | "error")`` in both clients, against a
real nats-server with a tight pending limit: drop_new keeps the first messages,
drop_oldest the newest (last value wins), error ends the subscription with
:class:`SlowConsumerError`; every drop is counted in ``dropped``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core import Msg, PendingQueue, SlowConsumerPolicy
from nats_core.errors import ConfigError, SlowConsumerError, SubscriptionClosedError
from pynats.server import NatsServer
from sync_helpers import wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def until(cond: Callable[[], object], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.005)


# ----------------------------------------------------------------- the core


class Queue(PendingQueue[Msg]):
    def __init__(self, policy: SlowConsumerPolicy, msgs: int, bytes_: int = 0) -> None:
        self.sid, self.subject = 1, "q"
        self._init_queue(msgs, bytes_, policy)


def batch(*data: bytes) -> list[Msg]:
    return [Msg("q", data=d, sid=1) for d in data]


def drain(q: Queue) -> list[bytes]:
    out = []
    while q.pending_msgs:
        out.append(q._take().data)
    return out


def test_core_drop_new_keeps_the_first() -> None:
    q = Queue("drop_new", 3)
    err = q._enqueue(batch(b"1", b"2", b"3", b"4", b"5"))
    assert isinstance(err, SlowConsumerError) and q.end_error is None
    assert q.dropped == 2 and drain(q) == [b"1", b"2", b"3"]


def test_core_drop_oldest_keeps_the_newest() -> None:
    q = Queue("drop_oldest", 3)
    assert q._enqueue(batch(b"1", b"2")) is None
    err = q._enqueue(batch(b"3", b"4", b"5"))
    assert isinstance(err, SlowConsumerError)
    assert q._enqueue(batch(b"6")) is None  # one report per episode
    assert q.dropped == 3 and q.pending_bytes == 3
    assert drain(q) == [b"4", b"5", b"6"]
    # by bytes: old ones go until the new one fits
    q = Queue("drop_oldest", 0, 5)
    q._enqueue(batch(b"aa", b"bb"))
    q._enqueue(batch(b"ccc"))
    assert drain(q) == [b"bb", b"ccc"] and q.dropped == 1
    # a message larger than the limit on its own is the one dropped
    q._enqueue(batch(b"dd", b"toolarge"))
    assert drain(q) == [b"dd"] and q.dropped == 2


def test_core_error_ends_once() -> None:
    q = Queue("error", 2)
    err = q._enqueue(batch(b"1", b"2", b"3"))
    assert isinstance(err, SlowConsumerError) and q.end_error is err
    assert q._enqueue(batch(b"4")) is None and q.dropped == 2
    assert "slow_consumer='error'" in str(err)
    with pytest.raises(ConfigError, match="drop_newest"):
        Queue("drop_newest", 1)  # type: ignore[arg-type]


# ------------------------------------------------------------- blocking client


def publish(nc: nats_sync.Client, subject: str, n: int) -> None:
    for i in range(n):
        nc.publish(subject, b"%d" % i)
    nc.flush()


def test_sync_drop_new(server: NatsServer) -> None:
    with nats_sync.connect(server.url, error_cb=lambda e: None) as nc:
        sub = nc.subscribe("sc.new", pending_msgs_limit=3)
        assert sub.slow_consumer == "drop_new"
        publish(nc, "sc.new", 10)
        wait_until(lambda: sub.dropped == 7)
        assert [sub.next_msg().data for _ in range(3)] == [b"0", b"1", b"2"]


def test_sync_drop_oldest(server: NatsServer) -> None:
    errors: list[BaseException] = []
    with nats_sync.connect(server.url, error_cb=errors.append) as nc:
        sub = nc.subscribe("sc.old", pending_msgs_limit=3, slow_consumer="drop_oldest")
        publish(nc, "sc.old", 10)
        wait_until(lambda: sub.dropped == 7)
        assert [sub.next_msg().data for _ in range(3)] == [b"7", b"8", b"9"]
        assert sub.is_valid
        wait_until(lambda: errors)
        assert len([e for e in errors if isinstance(e, SlowConsumerError)]) == 1


def test_sync_drop_oldest_callback(server: NatsServer) -> None:
    """A callback busy with one message: the queue behind it keeps the newest."""
    started, release = threading.Event(), threading.Event()
    seen: list[bytes] = []

    def cb(msg: nats_sync.Msg) -> None:
        started.set()
        release.wait(5)
        seen.append(msg.data)

    with nats_sync.connect(server.url, error_cb=lambda e: None) as nc:
        sub = nc.subscribe("sc.cb", cb=cb, pending_msgs_limit=3, slow_consumer="drop_oldest")
        nc.publish("sc.cb", b"first")
        nc.flush()
        assert started.wait(5)
        publish(nc, "sc.cb", 10)  # one in the callback: room for two more
        wait_until(lambda: sub.dropped == 8)
        release.set()
        wait_until(lambda: len(seen) == 3)
        assert seen == [b"first", b"8", b"9"]


def test_sync_error_ends_the_subscription(server: NatsServer) -> None:
    errors: list[BaseException] = []
    with nats_sync.connect(server.url, error_cb=errors.append) as nc:
        sub = nc.subscribe("sc.err", pending_msgs_limit=3, slow_consumer="error")
        publish(nc, "sc.err", 10)
        wait_until(lambda: not sub.is_valid)
        assert sub.dropped >= 7 and sub.status == "closed"
        # what was queued is handed out, then the subscription's end is the error
        got = []
        with pytest.raises(SlowConsumerError) as info:
            for msg in sub:
                got.append(msg.data)
        assert got == [b"0", b"1", b"2"]
        assert info.value is sub.end_error
        wait_until(lambda: info.value in errors)
        with pytest.raises(SlowConsumerError):
            sub.next_msg(timeout=0.1)
        # unsubscribed at the server: later messages do not count
        dropped = sub.dropped
        publish(nc, "sc.err", 5)
        nc.flush()
        assert sub.dropped == dropped
        assert nc.num_subscriptions == 0
        # the client is fine
        other = nc.subscribe("sc.err")
        nc.publish("sc.err", b"again")
        assert other.next_msg(timeout=2).data == b"again"


def test_sync_error_policy_callback(server: NatsServer) -> None:
    release = threading.Event()
    seen: list[bytes] = []
    closed = threading.Event()

    def cb(msg: nats_sync.Msg) -> None:
        release.wait(5)
        seen.append(msg.data)

    with nats_sync.connect(server.url, error_cb=lambda e: None) as nc:
        sub = nc.subscribe("sc.cberr", cb=cb, pending_msgs_limit=2, slow_consumer="error")
        sub.set_closed_cb(lambda subject: closed.set())
        publish(nc, "sc.cberr", 6)
        assert closed.wait(5)
        release.set()
        wait_until(lambda: len(seen) == 2)
        assert seen == [b"0", b"1"] and sub.dropped == 4


def test_sync_unknown_policy(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc:
        with pytest.raises(ConfigError):
            nc.subscribe("sc.x", slow_consumer="newest")  # type: ignore[arg-type]
        assert nc.num_subscriptions == 0


# ---------------------------------------------------------------- async client


async def apublish(nc: nats_anyio.Client, subject: str, n: int) -> None:
    for i in range(n):
        await nc.publish(subject, b"%d" % i)
    await nc.flush()


@pytest.mark.anyio
async def test_anyio_drop_new(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("sc.new", pending_msgs_limit=3, slow_consumer="drop_new")
        await apublish(nc, "sc.new", 10)
        await until(lambda: sub.dropped == 7)
        assert [(await sub.next_msg()).data for _ in range(3)] == [b"0", b"1", b"2"]


@pytest.mark.anyio
async def test_anyio_drop_oldest(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("sc.old", pending_msgs_limit=3, slow_consumer="drop_oldest")
        await apublish(nc, "sc.old", 10)
        await until(lambda: sub.dropped == 7)
        assert [(await sub.next_msg()).data for _ in range(3)] == [b"7", b"8", b"9"]
        assert sub.is_valid


@pytest.mark.anyio
async def test_anyio_drop_oldest_callback(server: NatsServer) -> None:
    started, release = anyio.Event(), anyio.Event()
    seen: list[bytes] = []

    async def cb(msg: nats_anyio.Msg) -> None:
        started.set()
        await release.wait()
        seen.append(msg.data)

    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("sc.cb", cb=cb, pending_msgs_limit=3, slow_consumer="drop_oldest")
        await nc.publish("sc.cb", b"first")
        await nc.flush()
        with anyio.fail_after(5):
            await started.wait()
        await apublish(nc, "sc.cb", 10)
        await until(lambda: sub.dropped == 8)
        release.set()
        await until(lambda: len(seen) == 3)
        assert seen == [b"first", b"8", b"9"]


@pytest.mark.anyio
async def test_anyio_error_ends_the_subscription(server: NatsServer) -> None:
    errors: list[BaseException] = []
    async with nats_anyio.connect(server.url, error_cb=errors.append) as nc:
        sub = await nc.subscribe("sc.err", pending_msgs_limit=3, slow_consumer="error")
        await apublish(nc, "sc.err", 10)
        await until(lambda: not sub.is_valid)
        got = []
        with pytest.raises(SlowConsumerError) as info:
            async for msg in sub:
                got.append(msg.data)
        assert got == [b"0", b"1", b"2"] and sub.dropped >= 7
        assert info.value is sub.end_error
        await until(lambda: info.value in errors)
        with pytest.raises(SlowConsumerError):
            await sub.next_msg(timeout=0.1)
        dropped = sub.dropped
        await apublish(nc, "sc.err", 5)
        assert sub.dropped == dropped and nc.num_subscriptions == 0
        other = await nc.subscribe("sc.err")
        await nc.publish("sc.err", b"again")
        assert (await other.next_msg(timeout=2)).data == b"again"


@pytest.mark.anyio
async def test_anyio_error_policy_callback(server: NatsServer) -> None:
    release = anyio.Event()
    seen: list[bytes] = []
    closed: list[str] = []

    async def cb(msg: nats_anyio.Msg) -> None:
        await release.wait()
        seen.append(msg.data)

    async with nats_anyio.connect(server.url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe("sc.cberr", cb=cb, pending_msgs_limit=2, slow_consumer="error")
        sub.set_closed_cb(closed.append)
        await apublish(nc, "sc.cberr", 6)
        await until(lambda: closed)
        release.set()
        await until(lambda: len(seen) == 2)
        assert seen == [b"0", b"1"] and sub.dropped == 4
        with pytest.raises(ConfigError):
            await nc.subscribe("sc.x", slow_consumer="newest")  # type: ignore[arg-type]
        assert nc.num_subscriptions == 0


def test_closed_error_is_not_a_slow_consumer_error() -> None:
    # the policy's end is told apart from a plain end
    assert not issubclass(SlowConsumerError, SubscriptionClosedError)
