"""Async publish errors (the error handlers, the failure count) and stream handles
(``js.stream(name)``) against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import nats_anyio
from anyio_helpers import needs_server, result_within, uniq, wait_until
from nats_core import Msg as CoreMsg
from nats_core.jetstream import (
    AckPolicy,
    AsyncPublishTimeoutError,
    ConsumerNotFoundError,
    JetStreamError,
    MsgNotFoundError,
    NoStreamResponseError,
    StreamInfo,
    StreamNotFoundError,
    WrongLastSequenceError,
)
from pynats.server import NatsServer

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


@pytest.fixture
async def client_errors(js_server: NatsServer) -> AsyncIterator[tuple[nats_anyio.Client, list]]:
    """A client of the module's JetStream server and the errors its ``error_cb`` got."""
    errors: list[BaseException] = []
    async with nats_anyio.connect(js_server.url, error_cb=errors.append) as client:
        yield client, errors


async def make_stream(js: nats_anyio.JetStream, **fields: object) -> tuple[str, str]:
    """A fresh memory stream capturing ``<subj>.>``; returns (stream name, subject token)."""
    name, subj = uniq("S"), uniq("s")
    fields.setdefault("subjects", [f"{subj}.>"])
    info = await js.create_stream(name=name, storage="memory", **fields)
    assert isinstance(info, StreamInfo)  # create_stream still answers the info
    return name, subj


# ========================================================= async publish errors


async def test_publish_async_errors_reach_the_context_handler(
    client_errors: tuple[nats_anyio.Client, list],
) -> None:
    nc, _errors = client_errors
    failures: list[tuple[CoreMsg, BaseException]] = []

    def on_error(msg: CoreMsg, error: BaseException) -> None:
        failures.append((msg, error))

    js = nc.jetstream(publish_async_error_cb=on_error)
    _name, subj = await make_stream(js)
    assert js.publish_async_error_cb is on_error
    assert await js.publish_async_complete(timeout=1) == 0  # nothing published yet
    good = [await js.publish_async(f"{subj}.a", b"%d" % i) for i in range(3)]
    # an API error: the stream's last sequence is 3, not 1
    bad = await js.publish_async(
        f"{subj}.a",
        b"late",
        headers={"Trace": "t1"},
        expected_last_seq=1,
    )
    # no stream listens: 503 no responders, retried, then NoStreamResponseError
    nowhere = f"{uniq('none')}.x"
    lost = await js.publish_async(nowhere, b"lost")
    assert await js.publish_async_complete(timeout=10) == 2
    assert [(await result_within(f, 0)).seq for f in good] == [1, 2, 3]
    with pytest.raises(WrongLastSequenceError):
        await result_within(bad, 0)
    with pytest.raises(NoStreamResponseError):
        await result_within(lost, 0)
    by_subject = {msg.subject: (msg, error) for msg, error in failures}
    assert len(failures) == 2 and set(by_subject) == {f"{subj}.a", nowhere}
    msg, error = by_subject[f"{subj}.a"]
    assert isinstance(error, WrongLastSequenceError) and error.err_code == 10071
    assert msg.data == b"late" and msg.reply == ""
    assert msg.headers is not None and msg.headers["Trace"] == "t1"
    assert msg.headers["Nats-Expected-Last-Sequence"] == "1"
    msg, error = by_subject[nowhere]
    assert isinstance(error, NoStreamResponseError) and msg.data == b"lost"
    assert js.publish_async_failed == 2
    # the count is per call of publish_async_complete; the total stays
    ok = await js.publish_async(f"{subj}.b", b"ok")
    assert await js.publish_async_complete(timeout=5) == 0
    assert (await result_within(ok, 0)).seq == 4
    assert js.publish_async_failed == 2 and js.publish_async_pending == 0


async def test_publish_async_per_call_handler_wins(
    client_errors: tuple[nats_anyio.Client, list],
) -> None:
    nc, _errors = client_errors
    js = nc.jetstream()
    _name, subj = await make_stream(js)
    await js.publish(f"{subj}.a", b"first")
    context: list[tuple[bytes, BaseException]] = []
    own: list[tuple[str, BaseException]] = []

    async def mine(msg: CoreMsg, error: BaseException) -> None:  # async handlers are awaited
        own.append((msg.subject, error))

    js.publish_async_error_cb = lambda msg, error: context.append((msg.data, error))
    await js.publish_async(f"{subj}.a", b"x", expected_last_seq=7, error_cb=mine)
    await js.publish_async(f"{subj}.b", b"y", expected_last_seq=8)
    assert await js.publish_async_complete(timeout=5) == 2
    assert [(s, type(e)) for s, e in own] == [(f"{subj}.a", WrongLastSequenceError)]
    assert [(d, type(e)) for d, e in context] == [(b"y", WrongLastSequenceError)]


async def test_publish_async_timeout_reaches_the_handler(
    client_errors: tuple[nats_anyio.Client, list],
) -> None:
    nc, _errors = client_errors
    subj = uniq("mute")
    await nc.subscribe(f"{subj}.>")  # takes the publishes, never acks
    failures: list[tuple[CoreMsg, BaseException]] = []
    js = nc.jetstream(
        publish_async_timeout=0.3,
        publish_async_error_cb=lambda msg, error: failures.append((msg, error)),
    )
    fut = await js.publish_async(f"{subj}.a", b"1")
    assert await js.publish_async_complete(timeout=5) == 1
    with pytest.raises(AsyncPublishTimeoutError):
        await result_within(fut, 0)
    assert [(m.subject, m.data, type(e)) for m, e in failures] == [
        (f"{subj}.a", b"1", AsyncPublishTimeoutError)
    ]


async def test_publish_async_handler_errors_go_to_the_client(
    client_errors: tuple[nats_anyio.Client, list],
) -> None:
    nc, errors = client_errors

    def broken(msg: CoreMsg, error: BaseException) -> None:
        raise RuntimeError("handler bug")

    js = nc.jetstream(publish_async_error_cb=broken)
    _name, subj = await make_stream(js)
    fut = await js.publish_async(f"{subj}.a", b"x", expected_last_seq=5)
    assert await js.publish_async_complete(timeout=5) == 1
    with pytest.raises(WrongLastSequenceError):
        await result_within(fut, 0)
    await wait_until(lambda: errors, 5, "the client's error_cb")  # called in the background
    assert [str(e) for e in errors if isinstance(e, RuntimeError)] == ["handler bug"]
    # the context still works
    assert (await result_within(await js.publish_async(f"{subj}.a", b"y"), 5)).seq == 1


async def test_publish_async_close_fails_the_pending(js_server: NatsServer) -> None:
    failures: list[BaseException] = []
    subj = uniq("mute")
    async with nats_anyio.connect(js_server.url) as nc:
        await nc.subscribe(f"{subj}.>")  # never acks
        js = nc.jetstream(publish_async_error_cb=lambda msg, error: failures.append(error))
        fut = await js.publish_async(f"{subj}.a", b"1")
    with pytest.raises(JetStreamError):
        await result_within(fut, 5)
    await wait_until(lambda: failures, 5, "the handler")  # called after the future
    assert [type(e) for e in failures] == [JetStreamError]
    assert js.publish_async_failed == 1 and js.publish_async_pending == 0


# ============================================================== stream handles


async def test_stream_handle_needs_the_stream(ajs: nats_anyio.JetStream) -> None:
    with pytest.raises(StreamNotFoundError):
        await ajs.stream(uniq("S"))
    name, _subj = await make_stream(ajs)
    stream = await ajs.stream(name)
    assert stream.name == name and repr(stream) == f"<Stream {name}>"
    assert stream.cached_info.config.name == name
    await ajs.delete_stream(name)
    with pytest.raises(StreamNotFoundError):
        await stream.info()


async def test_stream_handle_info_messages_and_purge(ajs: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(ajs)
    stream = await ajs.stream(name)
    assert stream.cached_info.state.messages == 0
    for i in range(6):
        await ajs.publish(f"{subj}.{'a' if i % 2 else 'b'}", b"%d" % i)
    assert stream.cached_info.state.messages == 0  # cached: no request
    info = await stream.info(subjects_filter=f"{subj}.>")
    assert info.state.messages == 6 and info.state.subjects == {f"{subj}.a": 3, f"{subj}.b": 3}
    assert stream.cached_info is info
    first = await stream.get_msg(1)
    assert (first.seq, first.subject, first.data) == (1, f"{subj}.b", b"0")
    assert first.stream is None  # the stream does not allow direct gets: the API was used
    nxt = await stream.get_msg(2, next_by_subject=f"{subj}.b")
    assert (nxt.seq, nxt.data) == (3, b"2")
    last = await stream.get_last_msg_for_subject(f"{subj}.a")
    assert (last.seq, last.data) == (6, b"5")
    assert await stream.delete_msg(2) is True
    assert await stream.secure_delete_msg(3) is True
    with pytest.raises(MsgNotFoundError):
        await stream.get_msg(2)
    assert (await stream.info(deleted_details=True)).state.deleted == [2, 3]
    assert await stream.purge(subject=f"{subj}.b") == 2  # 1 and 5
    assert await stream.purge(keep=1) == 1  # 4; 6 stays
    assert (await stream.info()).state.messages == 1
    assert await stream.purge() == 1
    assert (await stream.info()).state.messages == 0


async def test_stream_handle_direct_gets(ajs: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(ajs, allow_direct=True)
    await ajs.publish(f"{subj}.a", b"x")
    stream = await ajs.stream(name)
    direct = await stream.get_msg(1)  # the cached info allows direct gets: used
    assert direct.stream == name and direct.data == b"x"
    assert (await stream.get_last_msg_for_subject(f"{subj}.a")).stream == name
    api = await stream.get_msg(1, direct=False)
    assert api.stream is None and api.data == b"x"


async def test_stream_handle_consumers(ajs: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(ajs)
    stream = await ajs.stream(name)
    for i in range(3):
        await ajs.publish(f"{subj}.a", b"%d" % i)
    c = await stream.create_consumer(durable_name="d", ack_policy=AckPolicy.EXPLICIT)
    assert (c.stream, c.name) == (name, "d")
    msgs = await c.fetch(2, max_wait=2)
    assert [m.data for m in msgs] == [b"0", b"1"]
    same = await stream.consumer("d")
    assert same.name == "d" and same.cached_info.config.ack_policy == AckPolicy.EXPLICIT
    updated = await stream.update_consumer(same.cached_info.config, description="upd")
    assert updated.cached_info.config.description == "upd"
    other = await stream.create_or_update_consumer(durable_name="e")
    assert other.name == "e"
    assert sorted([n async for n in stream.consumer_names()]) == ["d", "e"]
    assert sorted([i.name async for i in stream.list_consumers()]) == ["d", "e"]
    assert (await stream.consumer_info("e")).stream_name == name
    assert await stream.delete_consumer("e") is True
    with pytest.raises(ConsumerNotFoundError):
        await stream.consumer("e")
    assert [n async for n in stream.consumer_names()] == ["d"]


async def test_stream_handle_ordered_consumer(ajs: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(ajs)
    for i in range(5):
        await ajs.publish(f"{subj}.{'a' if i % 2 else 'b'}", b"%d" % i)
    stream = await ajs.stream(name)
    oc = await stream.ordered_consumer()
    assert oc.stream == name
    assert [m.data for m in await oc.fetch(5, max_wait=1)] == [b"0", b"1", b"2", b"3", b"4"]
    only_a = await stream.ordered_consumer(filter_subjects=f"{subj}.a")
    assert [m.data for m in await only_a.fetch(5, max_wait=0.5)] == [b"1", b"3"]


@needs_server(2, 11)
async def test_stream_handle_pause_and_resume(ajs: nats_anyio.JetStream) -> None:
    name, subj = await make_stream(ajs)
    stream = await ajs.stream(name)
    c = await stream.create_consumer(durable_name="p")
    await ajs.publish(f"{subj}.a", b"x")
    until = datetime.now(UTC) + timedelta(seconds=60)
    assert (await stream.pause_consumer("p", until)).paused is True
    assert await c.fetch(1, max_wait=0.3) == []
    assert (await stream.resume_consumer("p")).paused is False
    assert [m.data for m in await c.fetch(1, max_wait=2)] == [b"x"]
