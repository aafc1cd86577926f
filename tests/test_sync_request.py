"""nats_sync against a real nats-server: request/reply."""

from __future__ import annotations

import threading
import time

import pytest

import nats_sync
from nats_core.errors import (
    ConnectionClosedError,
    LocalProtocolError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
)
from nats_sync import Msg
from pynats.server import NatsServer
from sync_helpers import wait_until


def test_request_reply_with_respond(nc: nats_sync.Client) -> None:
    seen: list[Msg] = []

    def handler(msg: Msg) -> None:
        seen.append(msg)
        msg.respond(b"pong:" + msg.data)

    nc.subscribe("svc.ping", cb=handler)
    reply = nc.request("svc.ping", b"hello", timeout=2)
    assert reply.data == b"pong:hello"
    assert len(seen) == 1
    assert seen[0].reply  # the request carried a reply inbox
    assert seen[0].reply.startswith("_INBOX.")
    assert reply.subject == seen[0].reply


def test_request_between_two_clients(nats_server: NatsServer) -> None:
    with (
        nats_sync.connect(nats_server.url) as server_side,
        nats_sync.connect(nats_server.url) as client_side,
    ):
        sub = server_side.subscribe("svc.sum")
        server_side.flush(timeout=2)

        def serve() -> None:
            for msg in sub:
                a, b = msg.data.split(b"+")
                msg.respond(str(int(a) + int(b)).encode())

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        for a, b in [(1, 2), (40, 2), (-5, 5)]:
            assert client_side.request("svc.sum", b"%d+%d" % (a, b), timeout=2).data == (
                str(a + b).encode()
            )
        sub.unsubscribe()
        t.join(3)
        assert not t.is_alive()


def test_request_with_headers_and_respond_with_headers(nc: nats_sync.Client) -> None:
    def handler(msg: Msg) -> None:
        assert msg.headers is not None
        msg.respond(
            msg.data[::-1],
            headers={"X-Echo": msg.headers.get_all("X-In"), "Content-Type": "text/plain; ü"},
        )

    nc.subscribe("svc.hdr", cb=handler)
    reply = nc.request("svc.hdr", b"abc", timeout=2, headers={"X-In": ["1", "2"]})
    assert reply.data == b"cba"
    assert reply.headers is not None
    assert reply.headers.get_all("X-Echo") == ["1", "2"]
    assert reply.headers["Content-Type"] == "text/plain; ü"
    assert reply.status is None


def test_respond_with_headers_only(nc: nats_sync.Client) -> None:
    nc.subscribe("svc.empty", cb=lambda m: m.respond(headers={"Only": "headers"}))
    reply = nc.request("svc.empty", timeout=2)
    assert reply.data == b""
    assert reply.headers == {"Only": "headers"}
    assert not reply.is_no_responders


def test_request_timeout(nc: nats_sync.Client) -> None:
    # a subscriber that never answers: no 503, just silence
    nc.subscribe("svc.silent")
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        nc.request("svc.silent", b"?", timeout=0.3)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, NatsTimeoutError)
    assert isinstance(info.value, NatsError)
    assert "svc.silent" in str(info.value)
    assert 0.25 <= elapsed < 2.0
    # the client is still fine and later requests work
    nc.subscribe("svc.ok", cb=lambda m: m.respond(b"ok"))
    assert nc.request("svc.ok", timeout=2).data == b"ok"


def test_late_reply_after_timeout_is_dropped(nc: nats_sync.Client) -> None:
    release = threading.Event()
    pending: list[Msg] = []

    def hold(msg: Msg) -> None:
        pending.append(msg)
        release.wait(5)
        msg.respond(b"late:" + msg.data)

    nc.subscribe("svc.late", cb=hold)
    nc.subscribe("svc.now", cb=lambda m: m.respond(b"now:" + m.data))
    with pytest.raises(TimeoutError):
        nc.request("svc.late", b"1", timeout=0.2)
    release.set()
    nc.flush(timeout=2)
    # the late answer to request 1 must not be taken as the reply to request 2
    assert nc.request("svc.now", b"2", timeout=2).data == b"now:2"
    wait_until(lambda: pending, what="the held request")


def test_no_responders(nc: nats_sync.Client) -> None:
    start = time.monotonic()
    with pytest.raises(NoRespondersError) as info:
        nc.request("nobody.home", b"?", timeout=3)
    assert time.monotonic() - start < 2.0  # the 503 comes at once, not at the timeout
    assert info.value.subject == "nobody.home"
    assert "nobody.home" in str(info.value)
    assert isinstance(info.value, NatsError)
    assert not isinstance(info.value, TimeoutError)
    assert nc.is_connected


def test_no_responders_after_responder_leaves(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("svc.gone", cb=lambda m: m.respond(b"here"))
    assert nc.request("svc.gone", timeout=2).data == b"here"
    sub.unsubscribe()
    nc.flush(timeout=2)
    with pytest.raises(NoRespondersError):
        nc.request("svc.gone", timeout=2)


def test_first_reply_wins(nc: nats_sync.Client) -> None:
    nc.subscribe("svc.many", cb=lambda m: m.respond(b"a"))
    nc.subscribe("svc.many", cb=lambda m: m.respond(b"b"))
    for _ in range(5):
        assert nc.request("svc.many", timeout=2).data in (b"a", b"b")
    sub = nc.subscribe("svc.other", cb=lambda m: m.respond(b"other"))
    assert nc.request("svc.other", timeout=2).data == b"other"
    sub.unsubscribe()


def test_concurrent_requests_from_threads(nats_server: NatsServer) -> None:
    threads_n, per_thread = 8, 100
    with (
        nats_sync.connect(nats_server.url) as responder,
        nats_sync.connect(nats_server.url) as requester,
    ):
        # two responders in a queue group, so replies come back out of order
        for _ in range(2):
            responder.subscribe("svc.conc", queue="q", cb=lambda m: m.respond(b"re:" + m.data))
        responder.flush(timeout=2)
        failures: list[str] = []
        done = [0] * threads_n
        barrier = threading.Barrier(threads_n)

        def run(tid: int) -> None:
            barrier.wait(5)
            for i in range(per_thread):
                body = b"%d/%d" % (tid, i)
                try:
                    reply = requester.request("svc.conc", body, timeout=3)
                except Exception as e:  # pragma: no cover - reported below
                    failures.append(f"{body!r}: {e!r}")
                    return
                if reply.data != b"re:" + body:
                    failures.append(f"{body!r} got {reply.data!r}")
                done[tid] += 1

        workers = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(15)
        assert not failures, failures[:5]
        assert done == [per_thread] * threads_n
        # every request went through one shared inbox subscription
        assert len(requester._conn.subscriptions) == 1
        assert requester._req_waiters == {}


def test_concurrent_requests_with_callback_responder_replying_late(
    nc: nats_sync.Client,
) -> None:
    # replies are held and sent in reverse order; each caller gets its own
    n = 10
    held: list[Msg] = []
    lock = threading.Lock()

    def collect(msg: Msg) -> None:
        with lock:
            held.append(msg)
            if len(held) == n:
                for m in reversed(held):
                    m.respond(m.data * 2)

    nc.subscribe("svc.rev", cb=collect)
    results: dict[int, bytes] = {}

    def ask(i: int) -> None:
        results[i] = nc.request("svc.rev", str(i).encode(), timeout=3).data

    workers = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(5)
    assert results == {i: str(i).encode() * 2 for i in range(n)}


def test_respond_without_reply_subject_raises(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("plain")
    nc.publish("plain", b"x")
    msg = sub.next_msg(timeout=2)
    with pytest.raises(LocalProtocolError, match="no reply"):
        msg.respond(b"y")


def test_manual_reply_inbox(nc: nats_sync.Client) -> None:
    inbox = nc.new_inbox()
    assert inbox.startswith("_INBOX.")
    assert nc.new_inbox() != inbox
    replies = nc.subscribe(inbox)
    nc.subscribe("svc.manual", cb=lambda m: m.respond(b"manual"))
    nc.publish("svc.manual", b"", reply=inbox)
    assert replies.next_msg(timeout=2).data == b"manual"


def test_custom_inbox_prefix(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url, inbox_prefix="_MY.INBOX") as nc:
        seen: list[str] = []

        def handler(msg: Msg) -> None:
            seen.append(msg.reply)
            msg.respond(b"ok")

        nc.subscribe("svc.prefix", cb=handler)
        assert nc.request("svc.prefix", timeout=2).data == b"ok"
        assert seen[0].startswith("_MY.INBOX.")
        assert nc.new_inbox().startswith("_MY.INBOX.")


def test_request_after_close(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    nc.close()
    with pytest.raises(ConnectionClosedError):
        nc.request("x", timeout=1)


def test_close_wakes_a_waiting_request(nats_server: NatsServer) -> None:
    nc = nats_sync.connect(nats_server.url)
    nc.subscribe("svc.never")
    nc.flush(timeout=2)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            nc.request("svc.never", timeout=10)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=ask)
    t.start()
    wait_until(lambda: nc._req_waiters, what="the request to be in flight")
    start = time.monotonic()
    nc.close()
    t.join(5)
    assert not t.is_alive()
    assert time.monotonic() - start < 3
    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionClosedError)
