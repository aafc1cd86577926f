"""Subscription callbacks of the blocking client run on a bounded pool of
worker threads (``callback_threads``): in order and one at a time per
subscription, fairly between subscriptions; a callback that raises with no
``error_cb`` is logged (both clients)."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import anyio
import pytest

import nats_anyio
import nats_sync
from nats_core.errors import ConfigError
from nats_sync import Msg
from pynats.server import NatsServer
from sync_helpers import wait_until


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nats-cb-worker")]


@pytest.fixture
def pool_nc(nats_server: NatsServer) -> Iterator[nats_sync.Client]:
    nc = nats_sync.connect(nats_server.url, callback_threads=4)
    yield nc
    nc.close()


# ------------------------------------------------------------ order and exclusion


def test_order_kept_per_subscription_under_concurrency(
    nats_server: NatsServer, pool_nc: nats_sync.Client
) -> None:
    """20 subscriptions on 4 workers, 4 publisher threads: each subscription sees
    every message of each publisher in that publisher's order."""
    got: dict[int, list[tuple[int, int]]] = defaultdict(list)
    workers: set[str] = set()

    def make_cb(n: int) -> nats_sync.Subscription:
        def cb(msg: Msg) -> None:
            workers.add(threading.current_thread().name)
            tid, seq = map(int, msg.data.split(b":"))
            got[n].append((tid, seq))
            if seq % 64 == 0:
                time.sleep(0)  # let the other workers in

        return pool_nc.subscribe(f"order.{n}", cb=cb)

    for n in range(20):
        make_cb(n)
    pool_nc.flush(timeout=5)
    pub = nats_sync.connect(nats_server.url)

    def publish(tid: int) -> None:
        for seq in range(300):
            for n in range(20):
                pub.publish(f"order.{n}", b"%d:%d" % (tid, seq))

    try:
        threads = [threading.Thread(target=publish, args=(tid,)) for tid in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        pub.flush(timeout=10)
        wait_until(lambda: sum(map(len, got.values())) == 20 * 4 * 300, timeout=20)
    finally:
        pub.close()
    for n in range(20):
        for tid in range(4):
            assert [s for t, s in got[n] if t == tid] == list(range(300))
    assert all(name.startswith("nats-cb-worker") for name in workers)
    assert 1 < len(workers) <= 4


def test_at_most_one_callback_at_a_time_per_subscription(
    nats_server: NatsServer, pool_nc: nats_sync.Client
) -> None:
    running: dict[int, int] = defaultdict(int)
    most: dict[int, int] = defaultdict(int)
    overall = [0, 0]  # callbacks running now, most at once
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def make_cb(n: int) -> None:
        def cb(msg: Msg) -> None:
            with lock:
                running[n] += 1
                most[n] = max(most[n], running[n])
                overall[0] += 1
                overall[1] = max(overall[1], overall[0])
            time.sleep(0.0005)  # long enough for another worker to try
            with lock:
                running[n] -= 1
                overall[0] -= 1
            done.release()

        pool_nc.subscribe(f"excl.{n}", cb=cb)

    for n in range(8):
        make_cb(n)
    pool_nc.flush(timeout=5)
    for i in range(100):
        for n in range(8):
            pool_nc.publish(f"excl.{n}", b"%d" % i)
    pool_nc.flush(timeout=5)
    for _ in range(800):
        assert done.acquire(timeout=20)
    assert set(most.values()) == {1}
    assert 1 < overall[1] <= 4  # several subscriptions at once, never more than the workers


def test_a_busy_subscription_does_not_starve_the_others(nats_server: NatsServer) -> None:
    """One worker, a subscription with thousands of queued messages: another
    subscription's message is handled after one batch, not after the backlog."""
    nc = nats_sync.connect(nats_server.url, callback_threads=1)
    try:
        go = threading.Event()
        handled = [0]
        seen_at: list[int] = []
        done = threading.Event()

        def busy(msg: Msg) -> None:
            go.wait(10)
            handled[0] += 1
            if handled[0] == 3000:
                done.set()

        def other(msg: Msg) -> None:
            seen_at.append(handled[0])

        nc.subscribe("busy", cb=busy)
        nc.subscribe("other", cb=other)
        nc.flush(timeout=5)
        for _ in range(3000):
            nc.publish("busy", b"x")
        nc.flush(timeout=5)
        nc.publish("other", b"y")
        nc.flush(timeout=5)
        go.set()
        assert done.wait(20)
        wait_until(lambda: seen_at, what="the other subscription's callback")
        assert seen_at[0] < 1000, f"ran only after {seen_at[0]} messages of the busy one"
    finally:
        nc.close()


def test_pending_counts_stay_exact_across_partial_batches(pool_nc: nats_sync.Client) -> None:
    """A backlog longer than one batch: pending messages and bytes count what the
    callback has not handled, and come back to zero."""
    go = threading.Event()
    handled = [0]
    seen: list[tuple[int, int]] = []

    def cb(msg: Msg) -> None:
        go.wait(10)
        handled[0] += 1
        if handled[0] in (1, 300, 600):  # in different batches of 256
            seen.append((sub.pending_msgs, sub.pending_bytes))

    sub = pool_nc.subscribe("partial", cb=cb)
    for _ in range(1000):
        pool_nc.publish("partial", b"0123456789")
    pool_nc.flush(timeout=5)
    wait_until(lambda: sub.pending_msgs == 1000, what="the backlog")
    assert sub.pending_bytes == 10_000
    go.set()
    wait_until(lambda: handled[0] == 1000, what="the backlog handled")
    wait_until(lambda: sub.pending_msgs == 0, what="nothing pending")
    assert sub.pending_bytes == 0 and sub.delivered == 1000
    # the handled message itself still counts while its callback runs
    assert seen == [(1000, 10_000), (701, 7010), (401, 4010)]


# ------------------------------------------------------------ threads


def test_thread_count_bounded_with_1000_callback_subscriptions(nats_server: NatsServer) -> None:
    before = threading.active_count()
    nc = nats_sync.connect(nats_server.url, callback_threads=4)
    try:
        got = threading.Semaphore(0)
        names: set[str] = set()

        def cb(msg: Msg) -> None:
            names.add(threading.current_thread().name)
            got.release()

        subs = [nc.subscribe(f"many.{n}", cb=cb) for n in range(1000)]
        nc.flush(timeout=10)
        for n in range(1000):
            nc.publish(f"many.{n}", b"x")
        for _ in range(1000):
            assert got.acquire(timeout=20)
        # reader, writer, pinger, connection callbacks, and at most 4 workers
        assert threading.active_count() - before <= 4 + 4
        assert len(_pool_threads()) <= 4
        assert len(names) <= 4 and "nats-reader" not in names
        assert all(s.pending_msgs == 0 and s.delivered == 1 for s in subs)
    finally:
        nc.close()
    wait_until(lambda: threading.active_count() <= before, what="the client's threads to end")


def test_no_worker_thread_without_callbacks(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as nc:
        sub = nc.subscribe("plain")
        nc.publish("plain", b"x")
        assert sub.next_msg(timeout=2).data == b"x"
        assert not _pool_threads()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_callback_threads_must_be_a_positive_int(nats_server: NatsServer, bad: object) -> None:
    with pytest.raises(ConfigError, match="callback_threads"):
        nats_sync.connect(nats_server.url, callback_threads=bad)


# ------------------------------------------------------------ drain, close


def test_drain_inside_its_own_callback_with_one_worker(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url, callback_threads=1)
    try:
        got: list[bytes] = []
        drained = threading.Event()
        holder: list[nats_sync.Subscription] = []

        def cb(msg: Msg) -> None:
            got.append(msg.data)
            if msg.data == b"0":
                holder[0].drain(timeout=5)  # returns at once: the rest comes after
                drained.set()

        holder.append(nc.subscribe("self.drain", cb=cb))
        for i in range(5):
            nc.publish("self.drain", b"%d" % i)
        nc.flush(timeout=5)
        assert drained.wait(5)
        wait_until(lambda: len(got) == 5, what="the queued messages after the drain")
        assert got == [b"0", b"1", b"2", b"3", b"4"]
        assert holder[0].is_closed
    finally:
        nc.close()


def test_drain_waits_for_the_running_callback(pool_nc: nats_sync.Client) -> None:
    entered = threading.Event()
    release = threading.Event()
    finished: list[bytes] = []

    def cb(msg: Msg) -> None:
        entered.set()
        release.wait(5)
        finished.append(msg.data)

    sub = pool_nc.subscribe("drain.wait", cb=cb)
    pool_nc.publish("drain.wait", b"a")
    pool_nc.publish("drain.wait", b"b")
    assert entered.wait(5)
    threading.Timer(0.2, release.set).start()
    sub.drain(timeout=5)
    assert finished == [b"a", b"b"]  # both handled before drain() returned


def test_close_from_a_callback_does_not_wait_for_itself(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url, callback_threads=2)
    closed = threading.Event()

    def cb(msg: Msg) -> None:
        nc.close()
        closed.set()

    nc.subscribe("close.me", cb=cb)
    nc.publish("close.me", b"x")
    assert closed.wait(5)
    assert nc.is_closed
    wait_until(lambda: not _pool_threads(), what="the workers to end")


def test_close_ends_the_workers(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url, callback_threads=3)
    got = threading.Semaphore(0)
    for n in range(6):
        nc.subscribe(f"end.{n}", cb=lambda msg: got.release())
    for n in range(6):
        nc.publish(f"end.{n}", b"x")
    for _ in range(6):
        assert got.acquire(timeout=5)
    assert 1 <= len(_pool_threads()) <= 3
    nc.close()
    assert not _pool_threads()  # joined by close()


# ------------------------------------------------------------ logging


def _boom(msg: object) -> None:
    raise ValueError("boom in a callback")


def _check_logged(caplog: pytest.LogCaptureFixture, logger: str, subject: str) -> None:
    records = [r for r in caplog.records if r.name == logger and r.levelno == logging.ERROR]
    assert len(records) == 1, caplog.records
    rec = records[0]
    assert subject in rec.getMessage()
    assert rec.exc_info is not None and isinstance(rec.exc_info[1], ValueError)
    assert "boom in a callback" in caplog.text and "Traceback" in caplog.text


def test_sync_callback_exception_is_logged_without_error_cb(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nats_sync")
    with nats_sync.connect(nats_server.url) as nc:
        after = threading.Event()
        nc.subscribe("log.sync", cb=_boom)
        nc.subscribe("log.after", cb=lambda msg: after.set())
        nc.publish("log.sync", b"x")
        nc.publish("log.after", b"y")
        assert after.wait(5)
        wait_until(lambda: caplog.records, what="the log record")
        _check_logged(caplog, "nats_sync", "'log.sync'")
        assert isinstance(nc.last_error, ValueError)


def test_sync_callback_exception_goes_to_error_cb_not_the_log(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nats_sync")
    errors: list[BaseException] = []
    with nats_sync.connect(nats_server.url, error_cb=errors.append) as nc:
        nc.subscribe("log.cb", cb=_boom)
        nc.publish("log.cb", b"x")
        wait_until(lambda: errors, what="error_cb")
    assert isinstance(errors[0], ValueError)
    assert not [r for r in caplog.records if r.name == "nats_sync"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_anyio_callback_exception_is_logged_without_error_cb(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nats_anyio")
    async with nats_anyio.connect(nats_server.url) as nc:
        after = anyio.Event()
        await nc.subscribe("log.anyio", cb=_boom)
        await nc.subscribe("log.after", cb=lambda msg: after.set())
        await nc.publish("log.anyio", b"x")
        await nc.publish("log.after", b"y")
        with anyio.fail_after(5):
            await after.wait()
            while not caplog.records:
                await anyio.sleep(0.01)
        _check_logged(caplog, "nats_anyio", "'log.anyio'")
        assert isinstance(nc.last_error, ValueError)
