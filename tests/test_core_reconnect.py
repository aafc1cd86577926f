"""The reconnect policy of the core (ServerPool.next_reconnect), as nats.go's
doReconnect/selectNextServer behave, and what a reconnect does to requests in
flight and to requests made while disconnected. No network, no clock."""

from __future__ import annotations

import random
from typing import Any

from core_helpers import client_ops, handshake, info_line, msg_bytes, new_conn
from nats_core import ClientOptions, Response, ServerPool, build_options


def options(**kw: Any) -> ClientOptions:
    kw.setdefault("reconnect_time_wait", 1.0)
    kw.setdefault("reconnect_jitter", 0.0)
    return build_options(["nats://a"], **kw)


def pool_of(*hosts: str, max_attempts: int = 60, seed: int = 1) -> ServerPool:
    return ServerPool(
        [f"nats://{h}:4222" for h in hosts],
        randomize=False,
        rng=random.Random(seed),
        max_reconnect_attempts=max_attempts,
    )


def steps(pool: ServerPool, opts: ClientOptions, n: int) -> list[tuple[str, float]]:
    out = []
    for _ in range(n):
        step = pool.next_reconnect(opts)
        assert step is not None
        out.append((step.server.host, step.delay))
    return out


def test_one_server_waits_before_every_attempt() -> None:
    pool = pool_of("a")
    pool.first_server()
    pool.start_reconnect()
    assert steps(pool, options(), 3) == [("a", 1.0)] * 3
    assert pool.servers[0].reconnects == 3


def test_a_pass_over_the_pool_waits_once() -> None:
    pool = pool_of("a", "b", "c")
    pool.first_server()  # connected to a, then lost it
    pool.start_reconnect()
    # the others at once, the lost server last and after the wait; then again
    assert steps(pool, options(), 6) == [
        ("b", 0.0),
        ("c", 0.0),
        ("a", 1.0),
        ("b", 0.0),
        ("c", 0.0),
        ("a", 1.0),
    ]


def test_force_skips_the_first_wait_only() -> None:
    pool = pool_of("a")
    pool.first_server()
    pool.start_reconnect(force=True)
    assert steps(pool, options(), 2) == [("a", 0.0), ("a", 1.0)]
    pool.start_reconnect()  # a later, ordinary reconnect waits again
    assert steps(pool, options(), 1) == [("a", 1.0)]


def test_jitter_is_added_within_bounds_and_uses_the_injected_rng() -> None:
    opts = options(reconnect_jitter=0.5)
    a, b = pool_of("a", seed=9), pool_of("a", seed=9)
    for p in (a, b):
        p.first_server()
        p.start_reconnect()
    delays = [d for _, d in steps(a, opts, 50)]
    assert delays == [d for _, d in steps(b, opts, 50)]  # reproducible from the seed
    assert all(1.0 <= d < 1.5 for d in delays)
    assert len(set(delays)) > 40


def test_tls_jitter_applies_to_tls_servers() -> None:
    opts = options(reconnect_jitter=0.0, reconnect_jitter_tls=2.0)
    pool = ServerPool(["tls://a:4222"], rng=random.Random(3))
    pool.first_server()
    pool.start_reconnect()
    delays = [d for _, d in steps(pool, opts, 20)]
    assert all(1.0 <= d < 3.0 for d in delays)
    assert max(delays) > 1.5  # the larger jitter, not the plain one (0)


def test_a_server_requiring_tls_secures_the_whole_pool() -> None:
    conn = new_conn(servers=["nats://a:4222", "nats://b:4222"], no_randomize=True)
    conn.connection_made(conn.pool.first_server())
    events = conn.receive_data(info_line(tls_required=True, connect_urls=["nats://c:4222"]))
    assert [type(e).__name__ for e in events] == ["StartTLS"]
    assert [s.url for s in conn.pool.servers] == ["tls://a:4222", "tls://b:4222", "tls://c:4222"]
    # On reconnect to a server that no longer asks for TLS, TLS is still wanted,
    # so CONNECT (with its credentials) never leaves in clear.
    conn.connection_lost()
    conn.connection_made(conn.pool.next_server() or conn.pool.first_server())
    events = conn.receive_data(info_line(tls_required=False))
    assert [type(e).__name__ for e in events] == ["StartTLS"]
    assert b"CONNECT" not in conn.data_to_send()


def test_tls_options_secure_the_pool() -> None:
    conn = new_conn(servers=["nats://a:4222"], tls_required=True)
    assert conn.pool.secure and conn.pool.servers[0].url == "tls://a:4222"


def test_tls_jitter_once_a_server_asked_for_tls() -> None:
    conn = new_conn(servers=["nats://a:4222"])
    handshake_info = info_line(tls_required=True)
    conn.connection_made(conn.pool.first_server(), tls=True)
    conn.receive_data(handshake_info)
    assert conn.pool.secure
    opts = options(reconnect_jitter=0.0, reconnect_jitter_tls=2.0)
    conn.pool.start_reconnect()
    assert max(d for _, d in steps(conn.pool, opts, 20)) > 1.0


def test_delay_callback_gets_the_number_of_waits() -> None:
    seen: list[int] = []

    def delay(n: int) -> float:
        seen.append(n)
        return 0.25 * n

    pool = pool_of("a", "b")
    pool.first_server()
    pool.start_reconnect()
    got = steps(pool, options(reconnect_delay_cb=delay), 6)
    assert got == [("b", 0.0), ("a", 0.25), ("b", 0.0), ("a", 0.5), ("b", 0.0), ("a", 0.75)]
    assert seen == [1, 2, 3]
    pool.start_reconnect()  # a new reconnect counts from 1 again
    steps(pool, options(reconnect_delay_cb=delay), 2)
    assert seen == [1, 2, 3, 1]


def test_a_failing_or_negative_delay_callback() -> None:
    def broken(n: int) -> float:
        raise ValueError("boom")

    pool = pool_of("a")
    pool.first_server()
    pool.start_reconnect()
    step = pool.next_reconnect(options(reconnect_delay_cb=broken))
    assert step is not None
    assert isinstance(step.error, ValueError)
    assert step.delay == 1.0  # the default wait instead
    step = pool.next_reconnect(options(reconnect_delay_cb=lambda n: -5))
    assert step is not None and step.delay == 0.0 and step.error is None


def test_max_reconnect_attempts_counts_per_server_across_the_pool() -> None:
    pool = pool_of("a", "b", "c", max_attempts=2)
    pool.first_server()
    pool.start_reconnect()
    hosts = []
    while (step := pool.next_reconnect(options())) is not None:
        hosts.append(step.server.host)
    # every server gets its 2 attempts, then the pool is empty: give up
    assert sorted(hosts) == ["a", "a", "b", "b", "c", "c"]
    assert len(pool) == 0
    assert pool.next_reconnect(options()) is None


def test_unlimited_attempts() -> None:
    pool = pool_of("a", max_attempts=-1)
    pool.first_server()
    pool.start_reconnect()
    assert len(steps(pool, options(), 500)) == 500
    assert pool.servers[0].reconnects == 500


def test_zero_attempts_gives_up_at_once() -> None:
    pool = pool_of("a", max_attempts=0)
    pool.first_server()
    pool.start_reconnect()
    assert pool.next_reconnect(options()) is None


def test_a_connection_resets_the_servers_count() -> None:
    conn = new_conn(servers=["nats://a:4222", "nats://b:4222"], no_randomize=True)
    handshake(conn, conn.pool.first_server())
    conn.connection_lost(None)
    conn.pool.start_reconnect()
    opts = options()
    step = conn.pool.next_reconnect(opts)
    assert step is not None and step.server.host == "b" and step.server.reconnects == 1
    handshake(conn, step.server)
    assert step.server.reconnects == 0
    assert step.server.did_connect


# ------------------------------------------------------- requests and reconnect


def test_request_in_flight_survives_a_reconnect() -> None:
    """The shared inbox is resubscribed; the reply that comes after the reconnect
    completes the request (the adapter keeps waiting until its timeout)."""
    conn = new_conn()
    handshake(conn, conn.pool.first_server())
    token = conn.request("svc", b"q")
    ops = client_ops(conn.data_to_send())
    (sub,) = [o for o in ops if o[0] == "SUB"]
    (pub,) = [o for o in ops if o[0] == "PUB"]
    inbox_sid, reply_to = sub[3], pub[2]
    conn.connection_lost(ConnectionResetError())
    handshake(conn, conn.pool.first_server())
    resent = client_ops(conn.data_to_send())
    assert ("SUB", sub[1], "", inbox_sid) in resent  # the inbox is back
    assert not [o for o in resent if o[0] == "PUB"]  # the request is not sent twice
    (ev,) = conn.receive_data(msg_bytes(reply_to, inbox_sid, b"answer"))
    assert isinstance(ev, Response) and ev.token == token and ev.msg.data == b"answer"


def test_request_made_while_disconnected_goes_out_after_the_inbox() -> None:
    conn = new_conn()
    handshake(conn, conn.pool.first_server())
    conn.data_to_send()
    conn.connection_lost(ConnectionResetError())
    token = conn.request("svc", b"late")
    assert conn.data_to_send() == b""  # nothing goes out while disconnected
    assert conn.pending_bytes > 0
    handshake(conn, conn.pool.first_server())
    ops = client_ops(conn.data_to_send())
    names = [o[0] for o in ops]
    assert names.index("SUB") < names.index("PUB")  # interest before the request
    pub = ops[names.index("PUB")]
    assert pub[1] == "svc" and pub[2].startswith("_INBOX.") and pub[3] == b"late"
    (ev,) = conn.receive_data(msg_bytes(pub[2], ops[names.index("SUB")][3], b"ok"))
    assert isinstance(ev, Response) and ev.token == token


def test_start_reconnect_begins_a_new_pass() -> None:
    pool = pool_of("a", "b")
    pool.first_server()
    pool.start_reconnect()
    assert steps(pool, options(), 1) == [("b", 0.0)]  # b worked, then was lost too
    pool.start_reconnect()
    # a fresh pass: a at once, b after the wait (not "a after the wait")
    assert steps(pool, options(), 2) == [("a", 0.0), ("b", 1.0)]
