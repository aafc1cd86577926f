"""nats_anyio against a real nats-server, on asyncio and on Trio."""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import nats_anyio
from nats_anyio import Msg
from nats_core.errors import (
    BadSubjectError,
    ConnectionClosedError,
    MaxPayloadError,
    NatsTimeoutError,
    NoRespondersError,
    SlowConsumerError,
    SubscriptionClosedError,
)
from pynats.server import NatsServer, free_port

pytestmark = pytest.mark.anyio

_ids = itertools.count()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(nats_server_session: NatsServer) -> str:
    return nats_server_session.url


@pytest.fixture
def subj() -> str:
    """A subject prefix no other test uses (the server is shared)."""
    return f"t{next(_ids)}"


def _task_ids() -> set[int]:
    return {t.id for t in anyio.get_running_tasks()}


# ------------------------------------------------------------------ pub/sub


async def test_publish_subscribe(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(f"{subj}.a")
        for i in range(3):
            await nc.publish(f"{subj}.a", b"m%d" % i)
        got = [await sub.next_msg(timeout=2) for _ in range(3)]
        assert [m.data for m in got] == [b"m0", b"m1", b"m2"]
        assert all(m.subject == f"{subj}.a" and m.headers is None for m in got)
        assert sub.delivered == 3 and sub.pending_msgs == 0


async def test_headers_multi_valued_and_non_ascii(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        headers = {"X-Multi": ["one", "two"], "Greeting": "héllo wörld ✓"}
        await nc.publish(subj, b"body", headers=headers)
        msg = await sub.next_msg(timeout=2)
        assert msg.headers is not None
        assert msg.headers.get_all("X-Multi") == ["one", "two"]
        assert msg.headers["Greeting"] == "héllo wörld ✓"
        assert msg.data == b"body"


async def test_wildcards(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        star = await nc.subscribe(f"{subj}.*.x")
        full = await nc.subscribe(f"{subj}.>")
        await nc.publish(f"{subj}.a.x", b"1")
        await nc.publish(f"{subj}.b.y", b"2")
        await nc.publish(f"{subj}.c.x.z", b"3")
        await nc.flush()
        assert (await star.next_msg(timeout=2)).subject == f"{subj}.a.x"
        assert [(await full.next_msg(timeout=2)).data for _ in range(3)] == [b"1", b"2", b"3"]
        with pytest.raises(NatsTimeoutError):
            await star.next_msg(timeout=0.1)


async def test_queue_group_spreads_messages(url: str, subj: str) -> None:
    counts = {"a": 0, "b": 0}

    def member(name: str) -> Callable[[Msg], None]:
        def cb(msg: Msg) -> None:
            counts[name] += 1

        return cb

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj, queue="workers", cb=member("a"))
        await nc.subscribe(subj, queue="workers", cb=member("b"))
        await nc.flush()
        for _ in range(200):
            await nc.publish(subj, b"x")
        await nc.flush()
        with anyio.fail_after(5):
            while counts["a"] + counts["b"] < 200:
                await anyio.sleep(0.01)
        assert counts["a"] + counts["b"] == 200
        assert counts["a"] > 0 and counts["b"] > 0


async def test_async_iteration_ends_on_unsubscribe(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        for i in range(3):
            await nc.publish(subj, b"%d" % i)
        await nc.flush()
        got = []
        async for msg in sub:
            got.append(msg.data)
            if len(got) == 3:
                await sub.unsubscribe()
        assert got == [b"0", b"1", b"2"]
        assert sub.is_closed
        with pytest.raises(SubscriptionClosedError):
            await sub.next_msg(timeout=0.1)


async def test_unsubscribe_stops_delivery(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        other = await nc.subscribe(subj)
        await sub.unsubscribe()
        await nc.publish(subj, b"after")
        assert (await other.next_msg(timeout=2)).data == b"after"
        assert sub.pending_msgs == 0
        with pytest.raises(SubscriptionClosedError):
            await sub.next_msg(timeout=0.1)


@pytest.mark.parametrize("how", ["max_msgs", "auto_unsubscribe"])
async def test_auto_unsubscribe(url: str, subj: str, how: str) -> None:
    async with nats_anyio.connect(url) as nc:
        if how == "max_msgs":
            sub = await nc.subscribe(subj, max_msgs=3)
        else:
            sub = await nc.subscribe(subj)
            await sub.auto_unsubscribe(3)
        for i in range(6):
            await nc.publish(subj, b"%d" % i)
        await nc.flush()
        got = [m.data async for m in sub]
        assert got == [b"0", b"1", b"2"]
        assert sub.is_closed


# ----------------------------------------------------------- request/reply


async def test_request_reply(url: str, subj: str) -> None:
    async def echo(msg: Msg) -> None:
        seen = msg.headers["Trace"] if msg.headers else "-"
        await msg.respond(b"re:" + msg.data, headers={"Seen": seen})

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj, cb=echo)
        reply = await nc.request(subj, b"hi", timeout=2, headers={"Trace": "7"})
        assert reply.data == b"re:hi"
        assert reply.headers is not None and reply.headers["Seen"] == "7"
        # concurrent requests share the one response inbox
        results: dict[int, bytes] = {}

        async def ask(i: int) -> None:
            results[i] = (await nc.request(subj, b"%d" % i, timeout=2)).data

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(ask, i)
        assert results == {i: b"re:%d" % i for i in range(20)}


async def test_request_with_iterating_responder(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)

        async def serve() -> None:
            async for msg in sub:
                await msg.respond(msg.data.upper())

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            assert (await nc.request(subj, b"abc")).data == b"ABC"
            await sub.unsubscribe()


async def test_no_responders(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        with pytest.raises(NoRespondersError) as info:
            await nc.request(f"{subj}.nobody", b"?", timeout=2)
        assert info.value.subject == f"{subj}.nobody"


async def test_request_timeout(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj)  # listens, never answers
        with anyio.fail_after(2):
            with pytest.raises(NatsTimeoutError) as info:
                await nc.request(subj, b"?", timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert nc._req_waiters == {}


# ------------------------------------------------------------- cancellation


async def test_cancelling_a_request_cancels_only_that_request(url: str, subj: str) -> None:
    async def slow(msg: Msg) -> None:
        await anyio.sleep(0.3)
        await msg.respond(b"late but fine")

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj, cb=slow)
        await nc.subscribe(f"{subj}.silent")
        answers: list[bytes] = []

        async def ask() -> None:
            answers.append((await nc.request(subj, b"", timeout=2)).data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            with anyio.CancelScope() as scope:
                tg.start_soon(lambda: _cancel_later(scope, 0.05))
                await nc.request(f"{subj}.silent", b"", timeout=5)
            assert scope.cancelled_caught  # a cancellation, not a NatsTimeoutError
        assert answers == [b"late but fine"]
        assert len(nc._req_waiters) == 0
        assert (await nc.request(subj, b"", timeout=2)).data == b"late but fine"


async def _cancel_later(scope: anyio.CancelScope, delay: float) -> None:
    await anyio.sleep(delay)
    scope.cancel()


async def test_cancelling_next_msg_loses_nothing(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        with anyio.move_on_after(0.05) as scope:
            await sub.next_msg(timeout=None)
        assert scope.cancelled_caught
        await nc.publish(subj, b"kept")
        assert (await sub.next_msg(timeout=2)).data == b"kept"


async def test_outer_deadline_is_not_turned_into_timeout_error(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        await nc.subscribe(f"{subj}.silent")
        with anyio.move_on_after(0.05) as scope:
            await sub.next_msg(timeout=10)
        assert scope.cancelled_caught
        with anyio.move_on_after(0.05) as scope:
            await nc.request(f"{subj}.silent", b"", timeout=10)
        assert scope.cancelled_caught


async def test_no_task_outlives_the_block(url: str, subj: str) -> None:
    before = _task_ids()
    cancelled = anyio.Event()

    async def forever(msg: Msg) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with nats_anyio.connect(url, ping_interval=0.05) as nc:
        await nc.subscribe(subj, cb=forever)
        await nc.subscribe(f"{subj}.plain", cb=lambda m: None)
        await nc.publish(subj, b"x")
        await nc.flush()
        await anyio.sleep(0.05)
        assert len(_task_ids() - before) >= 5  # reader, flusher, dispatcher, 2 subs...
    assert cancelled.is_set()
    assert _task_ids() <= before
    assert nc.is_closed


async def test_cancelling_the_block_from_outside(url: str, subj: str) -> None:
    before = _task_ids()
    with anyio.CancelScope() as scope:
        async with nats_anyio.connect(url) as nc:
            await nc.subscribe(subj, cb=lambda m: None)
            # the deadline starts once connected (a loaded machine may take 0.1 s to connect)
            scope.deadline = anyio.current_time() + 0.1
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert nc.is_closed
    assert _task_ids() <= before


async def test_close_inside_the_block(url: str, subj: str) -> None:
    closed: list[str] = []

    async def on_closed() -> None:
        closed.append("async")

    before = _task_ids()
    async with nats_anyio.connect(url, closed_cb=on_closed) as nc:
        sub = await nc.subscribe(subj)
        waiting: list[BaseException] = []

        async def wait_msg() -> None:
            try:
                await sub.next_msg(timeout=5)
            except SubscriptionClosedError as e:
                waiting.append(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_msg)
            await anyio.sleep(0.05)
            await nc.close()
        assert len(waiting) == 1
        assert nc.is_closed and nc.status == "closed" and not nc.is_connected
        assert closed == ["async"]
        assert _task_ids() <= before | {anyio.get_current_task().id}
        with pytest.raises(ConnectionClosedError):
            await nc.publish(subj, b"late")
        with pytest.raises(ConnectionClosedError):
            await nc.subscribe(subj)
    assert closed == ["async"]


async def test_error_in_the_block_propagates_unwrapped(url: str) -> None:
    with pytest.raises(ValueError, match="boom"):
        async with nats_anyio.connect(url) as nc:
            await nc.flush()
            raise ValueError("boom")
    assert nc.is_closed


# --------------------------------------------------------------- callbacks


async def test_plain_and_async_callbacks(url: str, subj: str) -> None:
    plain: list[bytes] = []
    done = anyio.Event()

    async def async_cb(msg: Msg) -> None:
        await anyio.sleep(0)
        if msg.data == b"2":
            done.set()

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj, cb=lambda m: plain.append(m.data))
        await nc.subscribe(subj, cb=async_cb)
        for i in range(3):
            await nc.publish(subj, b"%d" % i)
        with anyio.fail_after(2):
            await done.wait()
        await nc.flush()
        with anyio.fail_after(2):
            while len(plain) < 3:
                await anyio.sleep(0.01)
        assert plain == [b"0", b"1", b"2"]


async def test_blocked_callback_does_not_block_the_reader(url: str, subj: str) -> None:
    release = anyio.Event()
    seen: list[bytes] = []

    async def stuck(msg: Msg) -> None:
        seen.append(msg.data)
        await release.wait()

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(f"{subj}.stuck", cb=stuck)
        free = await nc.subscribe(f"{subj}.free")
        await nc.publish(f"{subj}.stuck", b"1")
        await nc.publish(f"{subj}.stuck", b"2")
        with anyio.fail_after(2):
            while not seen:
                await anyio.sleep(0.01)
        await nc.publish(f"{subj}.free", b"ok")
        assert (await free.next_msg(timeout=2)).data == b"ok"
        assert seen == [b"1"]  # the callback is still stuck on the first message
        release.set()
        with anyio.fail_after(2):
            while len(seen) < 2:
                await anyio.sleep(0.01)


async def test_callback_errors_go_to_error_cb(url: str, subj: str) -> None:
    errors: list[BaseException] = []
    handled: list[bytes] = []

    def on_msg(msg: Msg) -> None:
        if msg.data == b"bad":
            raise ValueError("handler failed")
        handled.append(msg.data)

    async def on_error(e: BaseException) -> None:
        errors.append(e)

    async with nats_anyio.connect(url, error_cb=on_error) as nc:
        await nc.subscribe(subj, cb=on_msg)
        for data in (b"bad", b"good"):
            await nc.publish(subj, data)
        await nc.flush()
        with anyio.fail_after(2):
            while not (errors and handled):
                await anyio.sleep(0.01)
    assert handled == [b"good"]
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


async def test_slow_consumer_drops_and_reports_once_per_episode(url: str, subj: str) -> None:
    errors: list[BaseException] = []
    async with nats_anyio.connect(url, error_cb=errors.append) as nc:
        sub = await nc.subscribe(subj, pending_msgs_limit=5)
        for _ in range(20):
            await nc.publish(subj, b"0123456789")
        await nc.flush()
        await anyio.sleep(0.05)
        assert sub.pending_msgs == 5 and sub.pending_bytes == 50
        assert sub.dropped == 15
        slow = [e for e in errors if isinstance(e, SlowConsumerError)]
        assert len(slow) == 1 and slow[0].sid == sub.sid and slow[0].subject == subj
        for _ in range(5):
            await sub.next_msg()
        sub.set_pending_limits(2, 0)
        for _ in range(4):
            await nc.publish(subj, b"y")
        await nc.flush()
        await anyio.sleep(0.05)
        assert sub.dropped == 17 and sub.pending_msgs == 2
        assert len([e for e in errors if isinstance(e, SlowConsumerError)]) == 2


async def test_pending_bytes_limit(url: str, subj: str) -> None:
    async with nats_anyio.connect(url, error_cb=lambda e: None) as nc:
        sub = await nc.subscribe(subj, pending_bytes_limit=25)
        for _ in range(5):
            await nc.publish(subj, b"0123456789")
        await nc.flush()
        await anyio.sleep(0.05)
        assert sub.pending_msgs == 2 and sub.dropped == 3


# ------------------------------------------------------------------- drain


async def test_subscription_drain_delivers_everything(url: str, subj: str) -> None:
    handled: list[bytes] = []

    async def slow(msg: Msg) -> None:
        await anyio.sleep(0.001)
        handled.append(msg.data)

    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj, cb=slow)
        for i in range(50):
            await nc.publish(subj, b"%d" % i)
        await nc.flush()
        await sub.drain(timeout=5)
        assert handled == [b"%d" % i for i in range(50)]
        assert sub.is_closed
        await nc.publish(subj, b"after")
        await nc.flush()
        await anyio.sleep(0.05)
        assert len(handled) == 50


async def test_connection_drain(url: str, subj: str) -> None:
    handled: list[bytes] = []
    closed = anyio.Event()

    async def slow(msg: Msg) -> None:
        await anyio.sleep(0.001)
        handled.append(msg.data)

    async with nats_anyio.connect(url, closed_cb=closed.set) as nc:
        await nc.subscribe(subj, cb=slow)
        it = await nc.subscribe(f"{subj}.it")
        await nc.flush()
        async with nats_anyio.connect(url) as p:
            for i in range(30):
                await p.publish(subj, b"%d" % i)
            await p.publish(f"{subj}.it", b"queued")
            await p.flush()
        await nc.drain(timeout=5)
        assert handled == [b"%d" % i for i in range(30)]
        assert nc.is_closed and closed.is_set()
        assert (await it.next_msg(timeout=0.1)).data == b"queued"
        with pytest.raises(ConnectionClosedError):
            await nc.publish(subj, b"x")


async def test_second_drain_waits_for_the_first(url: str, subj: str) -> None:
    release = anyio.Event()
    entered = anyio.Event()

    async def hold(msg: Msg) -> None:
        entered.set()
        await release.wait()

    async with nats_anyio.connect(url) as nc:
        await nc.subscribe(subj, cb=hold)
        await nc.publish(subj, b"x")
        await entered.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(nc.drain, 5)
            while nc.status != "draining":
                await anyio.sleep(0.01)
            with pytest.raises(NatsTimeoutError):
                await nc.drain(timeout=0.2)  # waits for the first drain ...
            assert nc.status == "draining"  # ... without cutting it short
            release.set()
            with anyio.fail_after(5):
                await nc.drain(timeout=5)  # returns once the first one closed
            assert nc.is_closed


async def test_drain_from_inside_a_callback(url: str, subj: str) -> None:
    subs: list[nats_anyio.Subscription] = []
    handled: list[bytes] = []
    closed = anyio.Event()

    async def cb(msg: Msg) -> None:
        handled.append(msg.data)
        if msg.data == b"sub":
            await subs[0].drain(timeout=2)  # its own subscription: must not deadlock
        elif msg.data == b"conn":
            await nc.drain(timeout=2)

    async with nats_anyio.connect(url, closed_cb=closed.set) as nc:
        subs.append(await nc.subscribe(subj, cb=cb))
        await nc.publish(subj, b"sub")
        with anyio.fail_after(2):
            while not subs[0].is_closed:
                await anyio.sleep(0.01)
        await nc.subscribe(f"{subj}.2", cb=cb)
        await nc.publish(f"{subj}.2", b"conn")
        with anyio.fail_after(3):
            await closed.wait()
        assert nc.is_closed
    assert handled == [b"sub", b"conn"]


# ------------------------------------------------------------- the rest


async def test_flush_and_rtt(url: str) -> None:
    async with nats_anyio.connect(url) as nc:
        await nc.flush(timeout=2)
        rtt = await nc.rtt()
        assert 0 < rtt < 1


async def test_max_payload_error(nats_server_factory: Callable[..., NatsServer]) -> None:
    server = nats_server_factory(config="max_payload: 1024\n")
    async with nats_anyio.connect(server.url) as nc:
        assert nc.max_payload == 1024
        with pytest.raises(MaxPayloadError):
            await nc.publish("big", b"x" * 1025)
        with pytest.raises(MaxPayloadError):
            await nc.publish("big", b"x" * 1000, headers={"K": "v" * 100})
        await nc.publish("big", b"x" * 1024)
        await nc.flush()


async def test_bad_subjects(url: str) -> None:
    async with nats_anyio.connect(url) as nc:
        for bad in ("", "a b", "a.*", "a..b"):
            with pytest.raises(BadSubjectError):
                await nc.publish(bad, b"")
        with pytest.raises(BadSubjectError):
            await nc.subscribe("a b")
        with pytest.raises(BadSubjectError):
            await nc.subscribe("ok", queue="bad queue")
        await nc.flush()  # the connection is unharmed
        assert nc.is_connected


async def test_stats(url: str, subj: str) -> None:
    async with nats_anyio.connect(url) as nc:
        sub = await nc.subscribe(subj)
        await nc.publish(subj, b"12345")
        await nc.publish(subj, b"678")
        await sub.next_msg(timeout=2)
        await sub.next_msg(timeout=2)
        s = nc.stats
        assert (s.out_msgs, s.out_bytes, s.in_msgs, s.in_bytes) == (2, 8, 2, 8)
        assert s.reconnects == 0


async def test_properties(url: str) -> None:
    async with nats_anyio.connect(url, name="props") as nc:
        assert nc.is_connected and not nc.is_closed and not nc.is_reconnecting
        assert nc.status == "connected"
        assert nc.connected_url == url
        assert nc.servers == [url]
        assert nc.server_info is not None and nc.server_info.server_id
        assert isinstance(nc.client_id, int) and nc.client_id > 0
        assert nc.max_payload == 1024 * 1024
        assert nc.new_inbox().startswith("_INBOX.") and nc.new_inbox() != nc.new_inbox()
        assert "connected" in repr(nc)
    assert nc.status == "closed" and nc.connected_url is None


async def test_connect_refused_raises_connect_error() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(nats_anyio.ConnectError) as info:
        async with nats_anyio.connect(url, connect_timeout=1):
            pass
    assert isinstance(info.value, OSError)
    assert url in str(info.value)


async def test_unknown_option_is_rejected() -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        async with nats_anyio.connect("nats://127.0.0.1:1", no_such_option=1):
            pass


async def test_reconnect_to_restarted_server(nats_server: NatsServer, subj: str) -> None:
    events: list[str] = []
    reconnected = anyio.Event()

    async def on_reconnect() -> None:
        events.append("reconnected")
        reconnected.set()

    async with nats_anyio.connect(
        nats_server.url,
        reconnect_time_wait=0.05,
        reconnect_jitter=0,
        disconnected_cb=lambda: events.append("disconnected"),
        reconnected_cb=on_reconnect,
    ) as nc:
        sub = await nc.subscribe(subj)
        await nc.flush()
        await anyio.to_thread.run_sync(nats_server.restart)
        with anyio.fail_after(5):
            await reconnected.wait()
        assert events == ["disconnected", "reconnected"]
        assert nc.is_connected and nc.stats.reconnects == 1
        await nc.publish(subj, b"after restart")  # delivered: the SUB was replayed
        assert (await sub.next_msg(timeout=2)).data == b"after restart"


async def test_publish_while_reconnecting_is_buffered(nats_server: NatsServer, subj: str) -> None:
    reconnected = anyio.Event()
    async with nats_anyio.connect(
        nats_server.url,
        reconnect_time_wait=0.05,
        reconnect_jitter=0,
        reconnected_cb=reconnected.set,
    ) as nc:
        sub = await nc.subscribe(subj)
        await nc.flush()
        nats_server.stop()
        with anyio.fail_after(5):
            while nc.is_connected:
                await anyio.sleep(0.01)
        assert nc.is_reconnecting and nc.status == "reconnecting"
        await nc.publish(subj, b"buffered")
        flushed = anyio.Event()

        async def flush_later() -> None:
            await nc.flush(timeout=5)  # deferred until the new connection
            flushed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(flush_later)
            await anyio.sleep(0.05)
            assert not flushed.is_set()
            await anyio.to_thread.run_sync(nats_server.start)
            with anyio.fail_after(5):
                await reconnected.wait()
        assert flushed.is_set()
        assert (await sub.next_msg(timeout=2)).data == b"buffered"


# --------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d: Path = tmp_path_factory.mktemp("certs")
    paths = {"ca": d / "ca.pem", "cert": d / "cert.pem", "key": d / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.parametrize(
    "first",
    [False, pytest.param(True, marks=pytest.mark.server_2_10)],
    ids=["upgrade", "handshake_first"],
)
async def test_tls(
    nats_server_factory: Callable[..., NatsServer], certs: dict[str, str], first: bool
) -> None:
    # A server waiting 500 ms for a client TLS handshake before it sends INFO in
    # clear: connect_timeout=0.3 only succeeds when the client starts with TLS.
    extra = 'handshake_first: "500ms"' if first else ""
    config = f'tls {{ cert_file: "{certs["cert"]}"\n key_file: "{certs["key"]}"\n {extra} }}\n'
    server = nats_server_factory(config=config)
    opts: dict[str, Any] = {"tls_handshake_first": first, "connect_timeout": 0.3}
    if first:
        opts["tls"] = nats_anyio.make_ssl_context(certs["ca"])
    else:
        opts["tls_ca_file"] = certs["ca"]
    async with nats_anyio.connect(server.url.replace("nats://", "tls://"), **opts) as nc:
        sub = await nc.subscribe("secure")
        await nc.publish("secure", b"over tls")
        assert (await sub.next_msg(timeout=2)).data == b"over tls"
        assert nc.server_info is not None and nc.server_info.tls_required


async def test_tls_untrusted_server_fails(
    nats_server_factory: Callable[..., NatsServer], certs: dict[str, str]
) -> None:
    config = f'tls {{ cert_file: "{certs["cert"]}"\n key_file: "{certs["key"]}" }}\n'
    server = nats_server_factory(config=config)
    with pytest.raises(nats_anyio.ConnectError, match="TLS"):
        async with nats_anyio.connect(server.url, tls=ssl.create_default_context()):
            pass
