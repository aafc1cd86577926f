"""nats_sync against a real nats-server: publish, subscribe, headers, queue groups,
unsubscribe, callbacks, pending limits and concurrent publishers."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

import pytest

import nats_sync
from nats_core.errors import (
    BadHeaderError,
    BadSubjectError,
    LocalProtocolError,
    NatsTimeoutError,
    SlowConsumerError,
    SubscriptionClosedError,
)
from nats_sync import Headers, Msg
from pynats.server import NatsServer
from sync_helpers import wait_until


def drain_queue(sub: nats_sync.Subscription, quiet: float = 0.2) -> list[Msg]:
    """Every message ``sub`` holds or gets until ``quiet`` seconds pass without one."""
    out: list[Msg] = []
    while True:
        try:
            out.append(sub.next_msg(timeout=quiet))
        except TimeoutError:
            return out


# ------------------------------------------------------------------ payloads


@pytest.mark.parametrize("size", [0, 1, 4096, 1024 * 1024 - 64])
def test_payload_round_trip(nc: nats_sync.Client, size: int) -> None:
    payload = bytes((i * 7 + 3) % 256 for i in range(size))
    sub = nc.subscribe("payload")
    nc.publish("payload", payload)
    msg = sub.next_msg(timeout=3)
    assert msg.subject == "payload"
    assert msg.data == payload
    assert type(msg.data) is bytes
    assert msg.headers is None
    assert msg.reply == ""
    assert isinstance(msg, Msg)


def test_payload_of_exactly_max_payload(nc: nats_sync.Client) -> None:
    payload = b"\xab" * nc.max_payload
    sub = nc.subscribe("big")
    nc.publish("big", payload)
    assert sub.next_msg(timeout=3).data == payload


def test_payload_bytearray_and_memoryview(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("buf")
    nc.publish("buf", bytearray(b"one"))  # type: ignore[arg-type]
    nc.publish("buf", memoryview(b"two"))  # type: ignore[arg-type]
    assert [sub.next_msg(timeout=2).data for _ in range(2)] == [b"one", b"two"]


def test_payload_must_be_bytes(nc: nats_sync.Client) -> None:
    with pytest.raises(TypeError):
        nc.publish("x", "text")  # type: ignore[arg-type]
    nc.flush(timeout=2)  # nothing broken was queued


def test_messages_arrive_in_order(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("order")
    for i in range(2000):
        nc.publish("order", str(i).encode())
    got = [int(sub.next_msg(timeout=3).data) for _ in range(2000)]
    assert got == list(range(2000))


def test_publish_with_reply_subject(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("with.reply")
    nc.publish("with.reply", b"x", reply="reply.here")
    assert sub.next_msg(timeout=2).reply == "reply.here"


# ------------------------------------------------------------------- headers


def test_headers_multi_valued_non_ascii_case_preserved(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("hdr")
    h = Headers()
    h.add("X-Multi", "one")
    h.add("X-Multi", "two")
    h.add("X-Multi", "three")
    h["lower-case"] = "v"
    h["UPPER"] = "V"
    h["MiXeD-CaSe"] = "Mixed Value With Spaces"
    h["X-Unicode"] = "héllo wörld ✓ 日本語"
    h["X-Empty"] = ""
    nc.publish("hdr", b"body", headers=h)
    msg = sub.next_msg(timeout=2)
    assert msg.data == b"body"
    got = msg.headers
    assert got is not None
    assert got.get_all("X-Multi") == ["one", "two", "three"]
    assert got["X-Multi"] == "one"
    assert got["lower-case"] == "v"
    assert got["UPPER"] == "V"
    assert got["MiXeD-CaSe"] == "Mixed Value With Spaces"
    assert got["X-Unicode"] == "héllo wörld ✓ 日本語"
    assert got["X-Empty"] == ""
    assert set(got) == {"X-Multi", "lower-case", "UPPER", "MiXeD-CaSe", "X-Unicode", "X-Empty"}
    assert "x-multi" not in got  # keys match exactly, as in nats.go
    assert got.status is None
    assert got == h


def test_headers_from_a_dict(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("hdr.dict")
    nc.publish("hdr.dict", headers={"A": "1", "B": ["2", "3"]})
    msg = sub.next_msg(timeout=2)
    assert msg.data == b""
    assert msg.headers is not None
    assert msg.headers.get_all("A") == ["1"]
    assert msg.headers.get_all("B") == ["2", "3"]


def test_headers_with_reply_subject(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("hdr.reply")
    nc.publish("hdr.reply", b"p", reply="the.reply", headers={"K": "v"})
    msg = sub.next_msg(timeout=2)
    assert (msg.reply, msg.data) == ("the.reply", b"p")
    assert msg.headers == {"K": "v"}


def test_empty_headers_send_a_plain_message(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("hdr.none")
    nc.publish("hdr.none", b"p", headers={})
    msg = sub.next_msg(timeout=2)
    assert msg.data == b"p"
    assert not msg.headers


@pytest.mark.parametrize(
    "headers",
    [{"Bad Key": "v"}, {"Key:": "v"}, {"K": "line\r\nbreak"}, {"": "v"}],
    ids=["space", "colon", "crlf", "empty"],
)
def test_bad_headers_are_refused_locally(nc: nats_sync.Client, headers: dict[str, str]) -> None:
    sub = nc.subscribe("hdr.bad")
    with pytest.raises(BadHeaderError):
        nc.publish("hdr.bad", b"x", headers=headers)
    nc.publish("hdr.bad", b"after")  # the connection is still fine
    assert sub.next_msg(timeout=2).data == b"after"


# ----------------------------------------------------------------- wildcards


def test_wildcard_star(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("w.*.end")
    for subject in ("w.a.end", "w.b.end", "w.a.b.end", "w.end", "w.a.other", "x.a.end"):
        nc.publish(subject, subject.encode())
    nc.flush(timeout=2)
    got = [m.subject for m in drain_queue(sub)]
    assert got == ["w.a.end", "w.b.end"]


def test_wildcard_gt(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("g.>")
    for subject in ("g.a", "g.a.b", "g.a.b.c.d", "g", "h.a"):
        nc.publish(subject, b"")
    nc.flush(timeout=2)
    got = [m.subject for m in drain_queue(sub)]
    assert got == ["g.a", "g.a.b", "g.a.b.c.d"]


def test_full_wildcard_and_overlapping_subscriptions(nc: nats_sync.Client) -> None:
    all_ = nc.subscribe(">")
    exact = nc.subscribe("o.x")
    star = nc.subscribe("o.*")
    nc.publish("o.x", b"1")
    nc.flush(timeout=2)
    for sub in (all_, exact, star):
        msg = sub.next_msg(timeout=2)
        assert (msg.subject, msg.data, msg.sid) == ("o.x", b"1", sub.sid)


@pytest.mark.parametrize("subject", ["", "a b", "a..b", ".a", "a.", "a\tb", "a\r\nb", "a.*", "a.>"])
def test_bad_publish_subject(nc: nats_sync.Client, subject: str) -> None:
    with pytest.raises(BadSubjectError) as info:
        nc.publish(subject, b"x")
    assert isinstance(info.value, LocalProtocolError)
    assert isinstance(info.value, ValueError)
    nc.flush(timeout=2)
    assert nc.is_connected


@pytest.mark.parametrize("subject", ["", "a b", "a..b", "a.>.b", ".a", "a."])
def test_bad_subscribe_subject(nc: nats_sync.Client, subject: str) -> None:
    with pytest.raises(BadSubjectError):
        nc.subscribe(subject)
    nc.flush(timeout=2)
    assert nc.is_connected


def test_bad_queue_name(nc: nats_sync.Client) -> None:
    with pytest.raises(BadSubjectError):
        nc.subscribe("q", queue="has space")


# -------------------------------------------------------------- queue groups


def test_queue_group_distributes(nc: nats_sync.Client) -> None:
    n = 300
    got_a: list[int] = []
    got_b: list[int] = []
    got_plain: list[int] = []
    qa = nc.subscribe("work", queue="workers", cb=lambda m: got_a.append(int(m.data)))
    qb = nc.subscribe("work", queue="workers", cb=lambda m: got_b.append(int(m.data)))
    plain = nc.subscribe("work", cb=lambda m: got_plain.append(int(m.data)))
    assert qa.queue == qb.queue == "workers"
    assert plain.queue == ""
    nc.flush(timeout=2)
    for i in range(n):
        nc.publish("work", str(i).encode())
    nc.flush(timeout=2)
    wait_until(
        lambda: len(got_plain) == n and len(got_a) + len(got_b) >= n,
        what="queue group deliveries",
    )
    assert sorted(got_plain) == list(range(n))
    assert sorted(got_a + got_b) == list(range(n))  # each message to exactly one member
    assert not set(got_a) & set(got_b)
    assert got_a and got_b  # both members got some
    # nothing more arrives later
    nc.flush(timeout=2)
    assert len(got_a) + len(got_b) == n


def test_queue_groups_on_separate_connections(nats_server: NatsServer) -> None:
    n = 200
    with (
        nats_sync.connect(nats_server.url) as pub,
        nats_sync.connect(nats_server.url) as c1,
        nats_sync.connect(nats_server.url) as c2,
    ):
        s1 = c1.subscribe("jobs", queue="q")
        s2 = c2.subscribe("jobs", queue="q")
        c1.flush(timeout=2)
        c2.flush(timeout=2)
        for i in range(n):
            pub.publish("jobs", str(i).encode())
        pub.flush(timeout=2)
        m1 = drain_queue(s1)
        m2 = drain_queue(s2)
    got = sorted(int(m.data) for m in m1 + m2)
    assert got == list(range(n))
    assert m1 and m2


# ---------------------------------------------------------------- unsubscribe


def test_unsubscribe_stops_delivery(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("unsub")
    watcher = nc.subscribe("unsub")
    nc.publish("unsub", b"1")
    assert sub.next_msg(timeout=2).data == b"1"
    sub.unsubscribe()
    assert sub.is_closed
    nc.publish("unsub", b"2")
    nc.flush(timeout=2)
    # the watcher saw both, so "2" went through the server after the UNSUB
    assert [watcher.next_msg(timeout=2).data for _ in range(2)] == [b"1", b"2"]
    with pytest.raises(SubscriptionClosedError):
        sub.next_msg(timeout=0.5)
    assert list(sub) == []


def test_unsubscribe_keeps_queued_messages_readable(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("unsub.q")
    for i in range(3):
        nc.publish("unsub.q", bytes([i]))
    nc.flush(timeout=2)
    wait_until(lambda: sub.pending_msgs == 3, what="3 pending")
    sub.unsubscribe()
    assert [m.data for m in sub] == [b"\x00", b"\x01", b"\x02"]


def test_unsubscribe_twice_is_harmless(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("twice")
    sub.unsubscribe()
    sub.unsubscribe()
    assert sub.is_closed


def test_iteration_ends_on_unsubscribe_from_another_thread(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("iter.stop")
    got: list[bytes] = []
    done = threading.Event()

    def consume() -> None:
        for msg in sub:
            got.append(msg.data)
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    nc.publish("iter.stop", b"a")
    nc.publish("iter.stop", b"b")
    wait_until(lambda: len(got) == 2, what="two messages")
    sub.unsubscribe()
    assert done.wait(3), "iteration did not end after unsubscribe"
    assert got == [b"a", b"b"]


def test_auto_unsubscribe_max_msgs_at_subscribe(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("auto", max_msgs=5)
    watcher = nc.subscribe("auto")
    for i in range(20):
        nc.publish("auto", str(i).encode())
    nc.flush(timeout=2)
    got = [int(m.data) for m in sub]  # iteration ends after the 5th message
    assert got == [0, 1, 2, 3, 4]
    assert sub.is_closed
    assert len(drain_queue(watcher)) == 20
    with pytest.raises(SubscriptionClosedError):
        sub.next_msg(timeout=0.1)


def test_auto_unsubscribe_method(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("auto.m")
    nc.publish("auto.m", b"0")
    nc.publish("auto.m", b"1")
    nc.flush(timeout=2)
    sub.auto_unsubscribe(4)  # counts the 2 already received
    for i in range(2, 10):
        nc.publish("auto.m", str(i).encode())
    nc.flush(timeout=2)
    assert [m.data for m in sub] == [b"0", b"1", b"2", b"3"]
    assert sub.is_closed


def test_auto_unsubscribe_below_received_count_ends_now(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("auto.past")
    for _ in range(3):
        nc.publish("auto.past", b"x")
    nc.flush(timeout=2)
    wait_until(lambda: sub.pending_msgs == 3, what="3 pending")
    sub.auto_unsubscribe(2)
    assert sub.is_closed
    nc.publish("auto.past", b"late")
    nc.flush(timeout=2)
    assert [m.data for m in sub] == [b"x", b"x", b"x"]


def test_auto_unsubscribe_with_callback(nc: nats_sync.Client) -> None:
    got: list[bytes] = []
    sub = nc.subscribe("auto.cb", cb=lambda m: got.append(m.data), max_msgs=3)
    for i in range(10):
        nc.publish("auto.cb", bytes([i]))
    nc.flush(timeout=2)
    wait_until(lambda: sub.is_closed and len(got) == 3, what="3 callbacks and the end")
    nc.flush(timeout=2)
    assert got == [b"\x00", b"\x01", b"\x02"]


# ----------------------------------------------------------------- next_msg


def test_next_msg_timeout(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("quiet")
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        sub.next_msg(timeout=0.2)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, NatsTimeoutError)
    assert 0.15 <= elapsed < 2.0
    # the subscription still works afterwards
    nc.publish("quiet", b"x")
    assert sub.next_msg(timeout=2).data == b"x"


def test_next_msg_zero_timeout(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("zero")
    with pytest.raises(NatsTimeoutError):
        sub.next_msg(timeout=0)
    nc.publish("zero", b"x")
    nc.flush(timeout=2)
    wait_until(lambda: sub.pending_msgs == 1, what="one pending")
    assert sub.next_msg(timeout=0).data == b"x"


def test_next_msg_waits_for_a_late_message(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("late")
    timer = threading.Timer(0.1, lambda: nc.publish("late", b"later"))
    timer.start()
    try:
        assert sub.next_msg(timeout=3).data == b"later"
    finally:
        timer.cancel()


def test_pending_and_delivered_counters(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("count")
    for _ in range(5):
        nc.publish("count", b"abcd")
    nc.flush(timeout=2)
    wait_until(lambda: sub.pending_msgs == 5, what="5 pending")
    assert sub.pending_bytes == 20
    assert sub.delivered == 0
    sub.next_msg(timeout=1)
    sub.next_msg(timeout=1)
    assert (sub.pending_msgs, sub.pending_bytes, sub.delivered) == (3, 12, 2)


# ----------------------------------------------------------------- callbacks


def test_callback_runs_off_the_reader_thread(nc: nats_sync.Client) -> None:
    names: list[str] = []
    got: list[Msg] = []
    done = threading.Event()

    def cb(msg: Msg) -> None:
        names.append(threading.current_thread().name)
        got.append(msg)
        if len(got) == 3:
            done.set()

    sub = nc.subscribe("cb.thread", cb=cb)
    for i in range(3):
        nc.publish("cb.thread", bytes([i]))
    assert done.wait(3)
    assert [m.data for m in got] == [b"\x00", b"\x01", b"\x02"]
    assert all(n != "nats-reader" for n in names)
    assert threading.main_thread().name not in names
    assert len(set(names)) == 1  # one subscription: one thread, messages in order
    with pytest.raises(SubscriptionClosedError):
        sub.next_msg()  # a callback subscription is not read with next_msg


def test_blocked_callback_does_not_block_other_subscriptions(nc: nats_sync.Client) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(msg: Msg) -> None:
        entered.set()
        release.wait(5)

    nc.subscribe("blocked", cb=slow)
    other = nc.subscribe("free")
    try:
        nc.publish("blocked", b"x")
        assert entered.wait(3)
        nc.publish("free", b"y")
        assert other.next_msg(timeout=2).data == b"y"
        assert nc.rtt() > 0  # the reader still answers
    finally:
        release.set()


def test_callback_exception_goes_to_error_cb(nats_server: NatsServer) -> None:
    errors: list[BaseException] = []
    got: list[bytes] = []

    def cb(msg: Msg) -> None:
        if msg.data == b"bad":
            raise ValueError("callback failed on purpose")
        got.append(msg.data)

    with nats_sync.connect(nats_server.url, error_cb=errors.append) as nc:
        nc.subscribe("cb.err", cb=cb)
        for data in (b"ok1", b"bad", b"ok2"):
            nc.publish("cb.err", data)
        wait_until(lambda: len(got) == 2 and errors, what="two callbacks and an error")
        assert got == [b"ok1", b"ok2"]  # the subscription survived the exception
        assert len(errors) == 1
        assert isinstance(errors[0], ValueError)
        assert "on purpose" in str(errors[0])
        assert nc.is_connected


def test_error_cb_runs_off_the_reader_thread(nats_server: NatsServer) -> None:
    names: list[str] = []

    def error_cb(err: BaseException) -> None:
        names.append(threading.current_thread().name)

    def cb(msg: Msg) -> None:
        raise RuntimeError("x")

    with nats_sync.connect(nats_server.url, error_cb=error_cb) as nc:
        nc.subscribe("cb.err.thread", cb=cb)
        nc.publish("cb.err.thread", b"")
        wait_until(lambda: names, what="error_cb")
    assert names[0] != "nats-reader"


def test_callback_can_publish_and_request(nats_server: NatsServer) -> None:
    with nats_sync.connect(nats_server.url) as nc:
        nc.subscribe("svc", cb=lambda m: m.respond(m.data.upper()))
        results: list[bytes] = []
        nc.subscribe("trigger", cb=lambda m: results.append(nc.request("svc", m.data).data))
        nc.publish("trigger", b"nested")
        wait_until(lambda: results, what="nested request from a callback")
        assert results == [b"NESTED"]


# ------------------------------------------------------------------- no_echo


def test_no_echo(nats_server: NatsServer) -> None:
    with (
        nats_sync.connect(nats_server.url, no_echo=True) as quiet,
        nats_sync.connect(nats_server.url) as other,
    ):
        own = quiet.subscribe("echo")
        theirs = other.subscribe("echo")
        other.flush(timeout=2)
        quiet.publish("echo", b"from-quiet")
        quiet.flush(timeout=2)
        other.publish("echo", b"from-other")
        other.flush(timeout=2)
        # the other client sees both; the no_echo client only sees the other's
        assert [m.data for m in drain_queue(theirs)] == [b"from-quiet", b"from-other"]
        assert [m.data for m in drain_queue(own)] == [b"from-other"]


def test_echo_is_on_by_default(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("echo.default")
    nc.publish("echo.default", b"self")
    assert sub.next_msg(timeout=2).data == b"self"


# ------------------------------------------------------------ pending limits


def test_slow_consumer_drops_and_reports(nats_server: NatsServer) -> None:
    errors: list[BaseException] = []
    release = threading.Event()
    handled: list[int] = []

    def slow(msg: Msg) -> None:
        release.wait(5)
        handled.append(int(msg.data))

    with nats_sync.connect(nats_server.url, error_cb=errors.append) as nc:
        sub = nc.subscribe("slow", cb=slow, pending_msgs_limit=10)
        fine = nc.subscribe("fine")
        assert sub.pending_msgs_limit == 10
        for i in range(1000):
            nc.publish("slow", str(i).encode())
        nc.flush(timeout=3)
        wait_until(lambda: errors, what="a slow consumer error")
        slow_errs = [e for e in errors if isinstance(e, SlowConsumerError)]
        assert slow_errs, errors
        err = slow_errs[0]
        assert err.sid == sub.sid
        assert err.subject == "slow"
        assert err.dropped > 0
        assert "slow" in str(err)
        assert sub.dropped > 0
        assert sub.pending_msgs <= 10
        # the reader still works: another subscription receives
        nc.publish("fine", b"still here")
        assert fine.next_msg(timeout=2).data == b"still here"
        release.set()
        wait_until(lambda: len(handled) + sub.dropped == 1000, what="every message accounted")
        assert sub.dropped >= 1000 - 11
        assert handled == sorted(handled)  # what got through kept its order
        assert nc.is_connected


def test_slow_consumer_without_callback(nats_server: NatsServer) -> None:
    errors: list[BaseException] = []
    with nats_sync.connect(nats_server.url, error_cb=errors.append) as nc:
        sub = nc.subscribe("slow.q", pending_msgs_limit=5)
        for i in range(50):
            nc.publish("slow.q", str(i).encode())
        nc.flush(timeout=2)
        wait_until(lambda: errors, what="slow consumer error")
        assert isinstance(errors[0], SlowConsumerError)
        assert sub.dropped == 45
        assert [int(m.data) for m in drain_queue(sub, quiet=0.05)] == [0, 1, 2, 3, 4]
        # once emptied the subscription takes messages again
        nc.publish("slow.q", b"again")
        assert sub.next_msg(timeout=2).data == b"again"


def test_pending_bytes_limit(nats_server: NatsServer) -> None:
    errors: list[BaseException] = []
    with nats_sync.connect(nats_server.url, error_cb=errors.append) as nc:
        sub = nc.subscribe("slow.b", pending_bytes_limit=1000)
        for _ in range(10):
            nc.publish("slow.b", b"x" * 300)
        nc.flush(timeout=2)
        wait_until(lambda: errors, what="slow consumer error")
        assert isinstance(errors[0], SlowConsumerError)
        assert sub.pending_msgs == 3
        assert sub.dropped == 7


def test_set_pending_limits(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("limits")
    sub.set_pending_limits(2, 0)
    for _ in range(5):
        nc.publish("limits", b"x")
    nc.flush(timeout=2)
    wait_until(lambda: sub.dropped == 3, what="3 dropped")
    assert sub.pending_msgs == 2


# ------------------------------------------------------------- thread safety


@pytest.mark.parametrize("pad", [0, 3000])  # 3000: big payloads are queued in 3 pieces
def test_concurrent_publishers(nats_server: NatsServer, pad: int) -> None:
    # Publish takes no lock (Connection.try_publish); switching threads as often
    # as CPython can makes a torn or lost message likely if the path were unsafe.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _concurrent_publishers(nats_server, pad)
    finally:
        sys.setswitchinterval(old_interval)


def _concurrent_publishers(nats_server: NatsServer, pad: int) -> None:
    threads_n, per_thread = 4, 10_000
    filler = b"." * pad
    with (
        nats_sync.connect(nats_server.url) as pub,
        nats_sync.connect(nats_server.url) as subc,
    ):
        sub = subc.subscribe("conc.>", pending_msgs_limit=0, pending_bytes_limit=0)
        subc.flush(timeout=2)
        barrier = threading.Barrier(threads_n)
        failures: list[BaseException] = []

        def run(tid: int) -> None:
            try:
                barrier.wait(5)
                subject = f"conc.{tid}"
                for i in range(per_thread):
                    pub.publish(subject, b"%d:%d:%b" % (tid, i, filler))
                    if i % 1000 == 0:  # the core's lock and other writes in between
                        pub.subscribe(f"other.{tid}.{i}").unsubscribe()
            except BaseException as e:  # pragma: no cover - reported below
                failures.append(e)

        workers = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(20)
        assert not failures
        pub.flush(timeout=5)
        total = threads_n * per_thread
        wait_until(lambda: sub.pending_msgs >= total, timeout=10, what=f"{total} messages")
        last = [-1] * threads_n
        counts: Counter[int] = Counter()
        for _ in range(total):
            msg = sub.next_msg(timeout=1)
            tid_s, seq_s, rest = msg.data.split(b":")
            assert rest == filler
            tid, seq = int(tid_s), int(seq_s)
            assert msg.subject == f"conc.{tid}"
            assert seq == last[tid] + 1, f"thread {tid}: {seq} after {last[tid]}"
            last[tid] = seq
            counts[tid] += 1
        assert counts == dict.fromkeys(range(threads_n), per_thread)
        assert sub.dropped == 0
        with pytest.raises(TimeoutError):
            sub.next_msg(timeout=0.1)  # exactly 40k, nothing more
        assert pub.stats.out_msgs == total


def test_publish_writes_a_big_backlog_itself(nats_server: NatsServer) -> None:
    """Past 1 MiB (or max_outbound_bytes) queued, publish writes; it does not
    leave a growing backlog to the writer thread."""
    with (
        nats_sync.connect(nats_server.url) as pub,  # max_outbound_bytes 32 MiB
        nats_sync.connect(nats_server.url) as subc,
    ):
        sub = subc.subscribe("big", pending_msgs_limit=0, pending_bytes_limit=0)
        subc.flush(timeout=2)
        pub._flush_pending = True  # the writer thread is not woken from here on
        payload = b"b" * 50_000
        most = 0
        for _ in range(60):  # 3 MB in all
            pub.publish("big", payload)
            most = max(most, pub._conn.outbound_size)
        assert most <= 1024 * 1024 + 50_100
        # What publish wrote reached the server without a flush or the writer.
        wait_until(lambda: sub.pending_msgs >= 40, timeout=5, what="40 messages")
        pub._flush_pending = False
        pub.flush(timeout=5)
        wait_until(lambda: sub.pending_msgs == 60, timeout=5, what="60 messages")


def test_concurrent_subscribe_and_unsubscribe(nc: nats_sync.Client) -> None:
    failures: list[BaseException] = []

    def churn(tid: int) -> None:
        try:
            for i in range(100):
                s = nc.subscribe(f"churn.{tid}.{i}")
                s.unsubscribe()
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)

    workers = [threading.Thread(target=churn, args=(t,)) for t in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert not failures
    nc.flush(timeout=2)
    assert nc._conn.subscriptions == {}
    sub = nc.subscribe("churn.after")
    nc.publish("churn.after", b"ok")
    assert sub.next_msg(timeout=2).data == b"ok"


# ----------------------------------------------------------------- odd cases


def test_utf8_subjects_and_reply(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("café.*")
    nc.publish("café.ü", b"x", reply="répl.ÿ")
    msg = sub.next_msg(timeout=2)
    assert (msg.subject, msg.reply) == ("café.ü", "répl.ÿ")
    nc.subscribe("svc.é", cb=lambda m: m.respond(m.subject.encode()))
    assert nc.request("svc.é", timeout=2).data == "svc.é".encode()


def test_header_values_with_colons(nc: nats_sync.Client) -> None:
    sub = nc.subscribe("hdr.colon")
    nc.publish("hdr.colon", headers={"Url": "http://h:80/p?q=a:b", "Time": "12:34:56"})
    headers = sub.next_msg(timeout=2).headers
    assert headers == {"Url": "http://h:80/p?q=a:b", "Time": "12:34:56"}


def test_verbose_and_pedantic(nats_server: NatsServer) -> None:
    # the server acknowledges every operation with +OK
    with nats_sync.connect(nats_server.url, verbose=True, pedantic=True) as nc:
        sub = nc.subscribe("verbose")
        for i in range(10):
            nc.publish("verbose", bytes([i]))
        assert [sub.next_msg(timeout=2).data[0] for _ in range(10)] == list(range(10))
        nc.subscribe("svc.v", cb=lambda m: m.respond(b"ok"))
        assert nc.request("svc.v", timeout=2).data == b"ok"
        assert nc.rtt() > 0


def test_many_subjects(nc: nats_sync.Client) -> None:
    # more distinct subjects than the core's subject cache holds
    sub = nc.subscribe("many.>", pending_msgs_limit=0)
    n = 5000
    for i in range(n):
        nc.publish(f"many.{i}", b"")
    nc.flush(timeout=5)
    got = [sub.next_msg(timeout=2).subject for _ in range(n)]
    assert got == [f"many.{i}" for i in range(n)]
