"""The Connection state machine, driven in memory: bytes in, events and bytes out."""

from __future__ import annotations

import base64
import json
from typing import Any

import nacl.exceptions
import nacl.signing
import nkeys
import pytest

from core_helpers import (
    client_ops,
    connected,
    handshake,
    hmsg_bytes,
    info_line,
    msg_bytes,
    new_conn,
    op_names,
)
from nats_core import (
    Connected,
    Connection,
    Disconnected,
    Headers,
    InfoUpdated,
    LameDuckMode,
    Msg,
    Pong,
    Response,
    ServerErrorEvent,
    StartTLS,
    State,
    SubscriptionEnded,
)
from nats_core._state import TRANSITIONS, Input, next_state
from nats_core.errors import (
    AuthenticationExpiredError,
    AuthorizationError,
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    HeadersNotSupportedError,
    LocalProtocolError,
    MaxAccountConnectionsExceededError,
    MaxConnectionsExceededError,
    MaxPayloadError,
    MaxSubscriptionsExceededError,
    NotConnectedError,
    PermissionsError,
    ReconnectBufferFullError,
    RemoteProtocolError,
    ServerError,
    StaleConnectionError,
    SubscriptionClosedError,
    classify_server_error,
)


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


# ------------------------------------------------------------------ handshake


def test_initial_state() -> None:
    conn = new_conn()
    assert conn.state is State.DISCONNECTED
    assert not conn.is_connected
    assert not conn.is_closed
    assert conn.data_to_send() == b""
    assert conn.max_payload == 1024 * 1024


def test_handshake_step_by_step() -> None:
    conn = new_conn()
    server = conn.pool.first_server()
    conn.connection_made(server)
    assert conn.state is State.AWAITING_INFO
    assert conn.data_to_send() == b""  # the client speaks after INFO
    events = conn.receive_data(info_line(max_payload=2048))
    assert events == []
    assert conn.state is State.CONNECT_SENT
    sent = conn.data_to_send()
    assert sent.startswith(b"CONNECT {")
    assert sent.endswith(b"}\r\nPING\r\n")
    assert conn.data_to_send() == b""  # drained
    assert not conn.is_connected
    assert conn.max_payload == 2048
    events = conn.receive_data(b"PONG\r\n")
    assert kinds(events) == ["Connected"]
    (ev,) = events
    assert isinstance(ev, Connected)
    assert ev.reconnected is False
    assert ev.info.server_id == "NTEST"
    assert ev.info.max_payload == 2048
    assert conn.state is State.CONNECTED
    assert conn.is_connected
    assert server.did_connect


def test_connect_defaults() -> None:
    connect, _ = handshake(new_conn())
    assert connect == {
        "verbose": False,
        "pedantic": False,
        "tls_required": False,
        "lang": "python3",
        "version": "0.1.0",
        "protocol": 1,
        "echo": True,
        "headers": True,
        "no_responders": True,
    }


def test_connect_is_compact_json_on_one_line() -> None:
    conn = new_conn(name="svc")
    conn.connection_made()
    conn.receive_data(info_line())
    line = conn.data_to_send().split(b"\r\n")[0]
    assert b" " not in line[len(b"CONNECT ") :]
    assert json.loads(line[len(b"CONNECT ") :])["name"] == "svc"


def test_connect_options() -> None:
    connect, _ = handshake(new_conn(verbose=True, pedantic=True, no_echo=True, name="app"))
    assert connect["verbose"] is True
    assert connect["pedantic"] is True
    assert connect["echo"] is False
    assert connect["name"] == "app"
    assert connect["protocol"] == 1


def test_connect_without_server_headers() -> None:
    connect, _ = handshake(new_conn(), headers=False)
    assert connect["headers"] is False
    assert connect["no_responders"] is False


def test_connect_user_password() -> None:
    connect, _ = handshake(new_conn(user="alice", password="s3cret"))
    assert connect["user"] == "alice"
    assert connect["pass"] == "s3cret"
    assert "auth_token" not in connect


def test_connect_token_and_callable_token() -> None:
    connect, _ = handshake(new_conn(token="tok"))
    assert connect["auth_token"] == "tok"
    assert "user" not in connect
    calls = []

    def token() -> str:
        calls.append(1)
        return f"t{len(calls)}"

    conn = new_conn(token=token)
    connect, _ = handshake(conn)
    assert connect["auth_token"] == "t1"
    conn.connection_lost()
    connect, _ = handshake(conn)
    assert connect["auth_token"] == "t2"  # asked again on every connect


def test_user_password_and_token_all_reach_the_server() -> None:
    # nats.go sends every credential it was given; a token-only server then
    # accepts the connection (it checks the token), a user server the user.
    connect, _ = handshake(new_conn(user="alice", password="pw", token="tok"))
    assert (connect["user"], connect["pass"], connect["auth_token"]) == ("alice", "pw", "tok")
    conn = new_conn(servers=["nats://bob:pw@host:4222"], token=lambda: "tok2")
    connect, _ = handshake(conn, server=conn.pool.first_server())
    assert (connect["user"], connect["auth_token"]) == ("bob", "tok2")


@pytest.mark.parametrize("read_size", [None, 65536])
def test_advertised_max_payload_is_capped(read_size: int | None) -> None:
    # An INFO of max_payload=1e17 must not let one MSG grow the buffer without bound.
    conn = connected(info={"max_payload": 10**17})
    assert conn.max_payload == 64 * 1024 * 1024
    conn.subscribe("big")
    conn.data_to_send()
    head = b"MSG big 1 %d\r\n" % (65 * 1024 * 1024)
    with pytest.raises(RemoteProtocolError, match="exceeds max_payload 67108864"):
        conn.receive_data(head if read_size is None else head[:10])
        conn.receive_data(head[10:])
    small = connected(info={"max_payload": 10**17}, max_payload_limit=1000)
    assert small.max_payload == 1000
    assert connected(info={"max_payload": 500}, max_payload_limit=1000).max_payload == 500


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "64"])
def test_max_payload_limit_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(LocalProtocolError, match="max_payload_limit"):
        new_conn(max_payload_limit=bad)


def test_credentials_from_url() -> None:
    conn = new_conn(servers=["nats://bob:pw%40x@host:4222"], user="ignored", password="no")
    connect, _ = handshake(conn, server=conn.pool.first_server())
    assert connect["user"] == "bob"
    assert connect["pass"] == "pw@x"


def test_user_with_an_empty_password_from_url() -> None:
    conn = new_conn(servers=["nats://bob:@host:4222"])
    connect, _ = handshake(conn, server=conn.pool.first_server())
    assert (connect["user"], connect["pass"]) == ("bob", "")  # as nats.go: not a token
    assert "auth_token" not in connect


def test_token_from_url() -> None:
    conn = new_conn(servers=["nats://mytoken@host:4222"])
    connect, _ = handshake(conn, server=conn.pool.first_server())
    assert connect["auth_token"] == "mytoken"
    assert "user" not in connect


def test_connect_user_jwt() -> None:
    connect, _ = handshake(new_conn(user_jwt=lambda: "eyJ.jwt"))
    assert connect["jwt"] == "eyJ.jwt"
    assert "sig" not in connect  # no nonce, nothing to sign


def _verify(public: str, nonce: bytes, sig_b64: str) -> None:
    raw = base64.b32decode(public)
    assert raw[0] == nkeys.PREFIX_BYTE_USER
    nacl.signing.VerifyKey(raw[1:33]).verify(nonce, base64.urlsafe_b64decode(sig_b64 + "=="))


@pytest.mark.parametrize(
    "seed",
    [
        b"SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU",
        nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER),
    ],
)
def test_nkey_signature(seed: bytes) -> None:
    nonce = "PXoWU7zWAMt75FY"
    connect, _ = handshake(new_conn(nkey_seed=seed), nonce=nonce, auth_required=True)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    assert connect["nkey"] == public
    sig = connect["sig"]
    assert "=" not in sig
    assert set(sig) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    _verify(public, nonce.encode(), sig)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        _verify(public, b"other nonce", sig)


def test_nkey_with_jwt_sends_jwt_not_nkey() -> None:
    seed = nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_USER)
    connect, _ = handshake(new_conn(nkey_seed=seed, user_jwt="J"), nonce="n1")
    assert connect["jwt"] == "J"
    assert "sig" in connect
    assert "nkey" not in connect


def test_signature_callback() -> None:
    seen = []

    def sign(nonce: bytes) -> bytes:
        seen.append(nonce)
        return b"\xff" * 64

    connect, _ = handshake(new_conn(signature_cb=sign, nkey_public="UPUB"), nonce="abc")
    assert seen == [b"abc"]
    assert connect["sig"] == base64.urlsafe_b64encode(b"\xff" * 64).rstrip(b"=").decode()
    assert connect["nkey"] == "UPUB"


def test_no_signature_without_nonce() -> None:
    seed = nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_USER)
    connect, _ = handshake(new_conn(nkey_seed=seed))
    assert "sig" not in connect
    assert "nkey" not in connect


def test_handshake_in_one_read_with_more_ops() -> None:
    conn = new_conn()
    sid = conn.subscribe("a")
    conn.connection_made()
    conn.receive_data(info_line())
    conn.data_to_send()
    events = conn.receive_data(b"PONG\r\n" + msg_bytes("a", sid, b"x") + b"PING\r\n")
    assert kinds(events) == ["Connected", "Msg"]
    assert op_names(conn.data_to_send()) == ["SUB", "PONG"]


# ------------------------------------------------------------ server traffic


def test_server_ping_is_answered() -> None:
    conn = connected()
    assert conn.receive_data(b"PING\r\n") == []
    assert conn.data_to_send() == b"PONG\r\n"
    assert conn.receive_data(b"PING\r\nPING\r\n") == []
    assert conn.data_to_send() == b"PONG\r\nPONG\r\n"


def test_server_ping_answered_during_handshake() -> None:
    conn = new_conn()
    conn.connection_made()
    conn.receive_data(info_line())
    conn.data_to_send()
    assert conn.receive_data(b"PING\r\n") == []
    assert conn.data_to_send() == b"PONG\r\n"
    assert conn.state is State.CONNECT_SENT


def test_ok_is_ignored() -> None:
    conn = connected(verbose=True)
    assert conn.receive_data(b"+OK\r\n+OK\r\n") == []
    assert conn.data_to_send() == b""
    assert conn.state is State.CONNECTED


@pytest.mark.parametrize(
    ("text", "cls", "fatal"),
    [
        ("Authorization Violation", AuthorizationError, True),
        ("User Authentication Expired", AuthenticationExpiredError, True),
        ("User Authentication Revoked", AuthenticationExpiredError, True),
        ("Stale Connection", StaleConnectionError, True),
        ('Permissions Violation for Publish to "foo"', PermissionsError, False),
        ('Permissions Violation for Subscription to "foo"', PermissionsError, False),
        ("Invalid Subject", ServerError, False),
        ("Invalid Publish Subject", ServerError, False),
        ("Maximum Subscriptions Exceeded", MaxSubscriptionsExceededError, False),
        ("maximum connections exceeded", MaxConnectionsExceededError, True),
        ("maximum account active connections exceeded", MaxAccountConnectionsExceededError, True),
        ("Maximum Payload Violation", ServerError, True),
        ("Unknown Protocol Operation", ServerError, True),
    ],
)
def test_err_classification(text: str, cls: type, fatal: bool) -> None:
    conn = connected()
    events = conn.receive_data(b"-ERR '%s'\r\n" % text.encode())
    (ev,) = events
    assert isinstance(ev, ServerErrorEvent)
    assert type(ev.error) is cls
    assert ev.error.fatal is fatal
    assert ev.error.text == text
    assert str(ev.error) == text
    assert ev.sid is None
    assert type(classify_server_error(text)) is cls


def test_publish_permission_error_fields() -> None:
    conn = connected()
    sid = conn.subscribe("foo")
    (ev,) = conn.receive_data(b"-ERR 'Permissions Violation for Publish to \"foo\"'\r\n")
    assert isinstance(ev, ServerErrorEvent)
    assert isinstance(ev.error, PermissionsError)
    assert ev.error.operation == "publish"
    assert ev.error.subject == "foo"
    assert ev.error.queue is None
    assert ev.sid is None
    assert conn.subscription(sid) is not None  # a publish error ends no subscription


def test_subscribe_permission_error_ends_the_subscription() -> None:
    conn = connected()
    other = conn.subscribe("bar")
    sid = conn.subscribe("foo.>")
    conn.data_to_send()
    events = conn.receive_data(
        b"-ERR 'Permissions Violation for Subscription to \"foo.>\"'\r\n"
        + msg_bytes("foo.x", sid, b"late")
        + msg_bytes("bar", other, b"ok")
    )
    assert kinds(events) == ["SubscriptionEnded", "ServerErrorEvent", "Msg"]
    ended, err, msg = events
    assert isinstance(ended, SubscriptionEnded)
    assert (ended.sid, ended.reason) == (sid, "permissions")
    assert isinstance(err, ServerErrorEvent)
    assert err.sid == sid
    assert isinstance(err.error, PermissionsError)
    assert err.error.operation == "subscribe"
    assert err.error.subject == "foo.>"
    assert isinstance(msg, Msg)
    assert msg.sid == other
    assert conn.subscription(sid) is None
    assert sid not in conn.subscriptions


def test_subscribe_permission_error_with_queue_picks_the_queue() -> None:
    conn = connected()
    a = conn.subscribe("foo", queue="q1")
    b = conn.subscribe("foo", queue="q2")
    text = b'Permissions Violation for Subscription to "foo" using queue "q2"'
    events = conn.receive_data(b"-ERR '" + text + b"'\r\n")
    assert isinstance(events[0], SubscriptionEnded)
    assert events[0].sid == b
    assert isinstance(events[1], ServerErrorEvent)
    assert isinstance(events[1].error, PermissionsError)
    assert events[1].error.queue == "q2"
    assert set(conn.subscriptions) == {a}


def test_subscribe_permission_error_for_unknown_subject() -> None:
    conn = connected()
    sid = conn.subscribe("mine")
    events = conn.receive_data(b"-ERR 'Permissions Violation for Subscription to \"other\"'\r\n")
    assert kinds(events) == ["ServerErrorEvent"]
    assert conn.subscription(sid) is not None


def test_authorization_errors_are_counted_on_the_server() -> None:
    conn = new_conn(servers=["nats://a:1"])
    server = conn.pool.first_server()
    conn.connection_made(server)
    conn.receive_data(info_line())
    conn.receive_data(b"-ERR 'Authorization Violation'\r\n")
    assert server.auth_errors == 1
    conn.connection_lost()
    conn.connection_made(server)
    conn.receive_data(info_line())
    conn.receive_data(b"-ERR 'Authorization Violation'\r\n")
    assert server.auth_errors == 2  # same error twice in a row
    conn.receive_data(b"-ERR 'User Authentication Expired'\r\n")
    assert server.auth_errors == 1  # a different error restarts the count
    assert server.last_auth_error == "User Authentication Expired"


def test_remote_protocol_error_propagates() -> None:
    conn = connected()
    with pytest.raises(RemoteProtocolError, match="unknown protocol operation"):
        conn.receive_data(b"GARBAGE\r\n")
    # The adapter drops the transport; a new one starts with a fresh parser.
    conn.connection_lost()
    handshake(conn)
    assert conn.receive_data(b"PING\r\n") == []


# ----------------------------------------------------------------- INFO updates


def test_info_after_connect_updates_pool() -> None:
    conn = connected(no_randomize=True)
    assert [s.hostport for s in conn.pool.servers] == ["127.0.0.1:4222"]
    events = conn.receive_data(info_line(connect_urls=["10.0.0.1:4222", "10.0.0.2:4222"]))
    (ev,) = events
    assert isinstance(ev, InfoUpdated)
    assert ev.added == ("10.0.0.1:4222", "10.0.0.2:4222")
    assert ev.removed == ()
    assert ev.info.connect_urls == ["10.0.0.1:4222", "10.0.0.2:4222"]
    assert [s.hostport for s in conn.pool.servers] == [
        "127.0.0.1:4222",
        "10.0.0.1:4222",
        "10.0.0.2:4222",
    ]
    assert all(s.discovered for s in conn.pool.servers[1:])
    events = conn.receive_data(info_line(connect_urls=["10.0.0.2:4222"]))
    (ev,) = events
    assert isinstance(ev, InfoUpdated)
    assert ev.added == ()
    assert ev.removed == ("10.0.0.1:4222",)
    assert [s.hostport for s in conn.pool.servers] == ["127.0.0.1:4222", "10.0.0.2:4222"]


def test_info_without_changes_still_reported() -> None:
    conn = connected()
    (ev,) = conn.receive_data(info_line(max_payload=4096))
    assert isinstance(ev, InfoUpdated)
    assert (ev.added, ev.removed) == ((), ())
    assert conn.max_payload == 4096
    assert conn.info is ev.info


def test_discovered_servers_are_tls_when_the_server_wants_tls() -> None:
    conn = new_conn()
    conn.connection_made(tls=True)
    conn.receive_data(info_line(tls_required=True, connect_urls=["10.0.0.9:4443"]))
    added = [s for s in conn.pool.servers if s.discovered]
    assert [(s.scheme, s.hostport) for s in added] == [("tls", "10.0.0.9:4443")]


def test_ignore_discovered_servers() -> None:
    conn = connected(ignore_discovered_servers=True)
    (ev,) = conn.receive_data(info_line(connect_urls=["10.0.0.1:4222"]))
    assert isinstance(ev, InfoUpdated)
    assert ev.added == ()
    assert len(conn.pool) == 1


def test_lame_duck_mode() -> None:
    conn = connected()
    events = conn.receive_data(info_line(ldm=True))
    assert kinds(events) == ["LameDuckMode"]
    assert isinstance(events[0], LameDuckMode)
    assert events[0].info.ldm is True
    events = conn.receive_data(info_line(ldm=True, connect_urls=["10.1.1.1:4222"]))
    assert kinds(events) == ["InfoUpdated", "LameDuckMode"]


def test_info_before_pong_does_not_emit_updates() -> None:
    conn = new_conn()
    conn.connection_made()
    conn.receive_data(info_line())
    conn.data_to_send()
    assert conn.receive_data(info_line(connect_urls=["10.0.0.1:4222"])) == []
    assert conn.data_to_send() == b""  # no second CONNECT
    assert len(conn.pool) == 2  # but the pool learned the server


# ----------------------------------------------------------------- publishing


def test_publish_bytes() -> None:
    conn = connected()
    conn.publish("foo.bar", b"hello")
    conn.publish("foo", b"", reply="_INBOX.r")
    conn.publish("foo", bytearray(b"ba"))
    conn.publish("foo", memoryview(b"mv"))
    assert conn.data_to_send() == (
        b"PUB foo.bar 5\r\nhello\r\n"
        b"PUB foo _INBOX.r 0\r\n\r\n"
        b"PUB foo 2\r\nba\r\n"
        b"PUB foo 2\r\nmv\r\n"
    )


def test_headers_need_a_server_that_supports_them() -> None:
    conn = connected(info={"headers": False})
    with pytest.raises(HeadersNotSupportedError, match=r"'foo'.*does not support"):
        conn.publish("foo", b"x", headers={"A": "1"})
    conn.publish("foo", b"x")  # without headers: fine
    assert conn.data_to_send() == b"PUB foo 1\r\nx\r\n"
    with pytest.raises(HeadersNotSupportedError):
        conn.request("svc", b"x", headers={"A": "1"})
    assert b"PUB svc" not in conn.data_to_send()


def test_big_payloads_are_queued_as_they_are() -> None:
    conn = connected()
    big = b"b" * 5000
    mutable = bytearray(b"m" * 3000)
    assert conn.publish("big", big) == conn.outbound_size == len(b"PUB big 5000\r\n") + 5002
    conn.publish("small", b"s")
    conn.publish("mut", mutable)
    mutable[:] = b"changed"  # a bytearray was copied when published
    expected = (
        b"PUB big 5000\r\n"
        + big
        + b"\r\nPUB small 1\r\ns\r\nPUB mut 3000\r\n"
        + b"m" * 3000
        + b"\r\n"
    )
    assert conn.outbound_size == len(expected)
    assert conn.data_to_send() == expected
    assert conn.outbound_size == 0 and conn.data_to_send() == b""


def test_publish_with_headers() -> None:
    conn = connected()
    conn.publish("foo", b"hi", headers={"A": "1"})
    assert conn.data_to_send() == b"HPUB foo 18 20\r\nNATS/1.0\r\nA: 1\r\n\r\nhi\r\n"
    conn.publish("foo", b"hi", reply="r.1", headers=Headers([("A", "1"), ("A", "2")]))
    assert conn.data_to_send() == (b"HPUB foo r.1 24 26\r\nNATS/1.0\r\nA: 1\r\nA: 2\r\n\r\nhi\r\n")
    conn.publish("foo", b"x", headers={})  # empty headers: plain PUB
    assert conn.data_to_send() == b"PUB foo 1\r\nx\r\n"
    conn.publish("foo", b"", headers=Headers(status=503, description="No Responders"))
    block = b"NATS/1.0 503 No Responders\r\n\r\n"  # a status alone is kept
    assert conn.data_to_send() == b"HPUB foo %d %d\r\n%b\r\n" % (len(block), len(block), block)


def test_publish_validation() -> None:
    conn = connected()
    for bad in ["", "a..b", "a b", "foo.*", "foo.>", ">"]:
        with pytest.raises(BadSubjectError) as info:
            conn.publish(bad, b"x")
        assert repr(bad) in str(info.value)
    with pytest.raises(BadSubjectError, match=r"reply subject 'r\.\*'"):
        conn.publish("ok", b"x", reply="r.*")
    with pytest.raises(BadSubjectError, match="reply subject"):
        conn.publish("ok", b"x", reply="r .1", headers={"A": "b"})
    with pytest.raises(TypeError, match="payload must be bytes, not str"):
        conn.publish("ok", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        conn.publish("ok", 5)  # type: ignore[arg-type]
    with pytest.raises(BadHeaderError):
        conn.publish("ok", b"x", headers={"A": "1\r\n"})
    assert conn.data_to_send() == b""  # nothing was queued
    assert conn.stats.out_msgs == 0


def test_max_payload() -> None:
    conn = connected(info={"max_payload": 32})
    conn.publish("a", b"x" * 32)
    with pytest.raises(MaxPayloadError, match="33 bytes exceeds the server's max_payload of 32"):
        conn.publish("a", b"x" * 33)
    hdr_len = len(b"NATS/1.0\r\nK: v\r\n\r\n")
    conn.publish("a", b"x" * (32 - hdr_len), headers={"K": "v"})
    with pytest.raises(MaxPayloadError, match="headers included"):
        conn.publish("a", b"x" * (32 - hdr_len + 1), headers={"K": "v"})
    assert op_names(conn.data_to_send()) == ["PUB", "HPUB"]
    assert issubclass(MaxPayloadError, LocalProtocolError)


def test_subject_cache_does_not_skip_validation() -> None:
    conn = connected()
    conn.publish("good", b"")
    conn.publish("good", b"", reply="good")  # cached subject used as reply: fine
    with pytest.raises(BadSubjectError):
        conn.publish("good", b"", reply="bad reply")
    assert len(client_ops(conn.data_to_send())) == 2


def test_subject_cache_is_bounded() -> None:
    conn = connected()
    for i in range(5000):
        conn.publish(f"s.{i}", b"")
    assert len(conn._subjects) <= 4096
    assert len(client_ops(conn.data_to_send())) == 5000


# ----------------------------------------------------------------- subscribing


def test_subscribe_and_unsubscribe_bytes() -> None:
    conn = connected()
    s1 = conn.subscribe("foo")
    s2 = conn.subscribe("bar.*", queue="workers")
    s3 = conn.subscribe("baz.>", max_msgs=5)
    assert (s1, s2, s3) == (1, 2, 3)
    assert conn.data_to_send() == (
        b"SUB foo 1\r\nSUB bar.* workers 2\r\nSUB baz.> 3\r\nUNSUB 3 5\r\n"
    )
    assert conn.unsubscribe(s2, max_msgs=10) is False
    assert conn.unsubscribe(s1) is True
    assert conn.data_to_send() == b"UNSUB 2 10\r\nUNSUB 1\r\n"
    assert set(conn.subscriptions) == {s2, s3}
    sub = conn.subscription(s2)
    assert sub is not None
    assert (sub.subject, sub.queue, sub.max_msgs, sub.delivered) == ("bar.*", "workers", 10, 0)


def test_subscribe_validation() -> None:
    conn = connected()
    for bad in ["", "a.>.b", "a b", "a..b"]:
        with pytest.raises(BadSubjectError) as info:
            conn.subscribe(bad)
        assert repr(bad) in str(info.value)
    for badq in ["a b", "q\t"]:
        with pytest.raises(BadSubjectError, match="queue group"):
            conn.subscribe("ok", queue=badq)
    with pytest.raises(LocalProtocolError, match="max_msgs"):
        conn.subscribe("ok", max_msgs=-1)
    sid = conn.subscribe("ok")
    with pytest.raises(LocalProtocolError, match="max_msgs"):
        conn.unsubscribe(sid, max_msgs=-2)
    with pytest.raises(SubscriptionClosedError, match="999"):
        conn.unsubscribe(999)
    assert conn.data_to_send() == b"SUB ok 1\r\n"


def test_messages_are_delivered_and_counted() -> None:
    conn = connected()
    sid = conn.subscribe("foo.*")
    events = conn.receive_data(
        msg_bytes("foo.a", sid, b"one", reply="r")
        + hmsg_bytes("foo.b", sid, b"two", headers=[("K", "v")])
        + msg_bytes("foo.c", 77, b"for nobody")
    )
    assert events == [
        Msg("foo.a", "r", b"one", None, sid),
        Msg("foo.b", "", b"two", Headers({"K": "v"}), sid),
    ]
    sub = conn.subscription(sid)
    assert sub is not None
    assert sub.delivered == 2
    assert conn.stats.in_msgs == 2
    assert conn.stats.in_bytes == 6


def test_auto_unsubscribe_delivers_exactly_n() -> None:
    conn = connected()
    sid = conn.subscribe("foo", max_msgs=3)
    assert conn.data_to_send() == b"SUB foo 1\r\nUNSUB 1 3\r\n"
    wire = b"".join(msg_bytes("foo", sid, b"%d" % i) for i in range(5))
    events = conn.receive_data(wire)
    assert kinds(events) == ["Msg", "Msg", "Msg", "SubscriptionEnded"]
    assert [e.data for e in events[:3] if isinstance(e, Msg)] == [b"0", b"1", b"2"]
    assert isinstance(events[3], SubscriptionEnded)
    assert (events[3].sid, events[3].reason) == (sid, "max_msgs")
    assert conn.subscription(sid) is None
    assert conn.stats.in_msgs == 3
    assert conn.receive_data(msg_bytes("foo", sid)) == []


def test_unsubscribe_with_max_after_some_delivered() -> None:
    conn = connected()
    sid = conn.subscribe("foo")
    conn.receive_data(msg_bytes("foo", sid) * 2)
    conn.data_to_send()
    # Already delivered 2: asking for at most 2 ends it now.
    assert conn.unsubscribe(sid, max_msgs=2) is True
    assert conn.data_to_send() == b"UNSUB 1\r\n"
    sid = conn.subscribe("foo")
    conn.receive_data(msg_bytes("foo", sid))
    assert conn.unsubscribe(sid, max_msgs=3) is False
    events = conn.receive_data(msg_bytes("foo", sid) * 4)
    assert kinds(events) == ["Msg", "Msg", "SubscriptionEnded"]


# -------------------------------------------------------------------- requests


def test_request_mux() -> None:
    conn = connected()
    t1 = conn.request("svc.echo", b"hi")
    ops = client_ops(conn.data_to_send())
    assert [o[0] for o in ops] == ["SUB", "PUB"]
    _, inbox, queue, resp_sid = ops[0]
    assert queue == ""
    assert inbox.startswith("_INBOX.")
    assert inbox.endswith(".*")
    prefix = inbox[:-1]
    assert len(prefix.split(".")[1]) == 22  # one NUID
    assert ops[1] == ("PUB", "svc.echo", prefix + t1, b"hi")
    t2 = conn.request("svc.echo", b"again", headers={"H": "1"})
    assert t2 != t1
    ops = client_ops(conn.data_to_send())
    assert [o[0] for o in ops] == ["HPUB"]  # the inbox is subscribed once
    assert ops[0][2] == prefix + t2
    # Replies come back as Response events, in any order.
    events = conn.receive_data(
        msg_bytes(prefix + t2, resp_sid, b"r2") + msg_bytes(prefix + t1, resp_sid, b"r1")
    )
    assert kinds(events) == ["Response", "Response"]
    r2, r1 = events
    assert isinstance(r1, Response)
    assert isinstance(r2, Response)
    assert (r1.token, r1.msg.data, r1.msg.subject) == (t1, b"r1", prefix + t1)
    assert (r2.token, r2.msg.data) == (t2, b"r2")
    # A second reply to the same request is dropped.
    assert conn.receive_data(msg_bytes(prefix + t1, resp_sid, b"dup")) == []
    # A reply for a token never issued is dropped.
    assert conn.receive_data(msg_bytes(prefix + "999", resp_sid, b"?")) == []


def test_request_custom_inbox_prefix() -> None:
    conn = connected(inbox_prefix="_MY.in")
    conn.request("x")
    sub = client_ops(conn.data_to_send())[0]
    assert sub[1].startswith("_MY.in.")
    assert conn.new_inbox().startswith("_MY.in.")


def test_cancelled_request_reply_is_dropped() -> None:
    conn = connected()
    token = conn.request("svc")
    ops = client_ops(conn.data_to_send())
    resp_sid, reply = ops[0][3], ops[1][2]
    conn.cancel_request(token)
    conn.cancel_request("never-issued")  # harmless
    assert conn.receive_data(msg_bytes(reply, resp_sid, b"late")) == []


def test_no_responders_reply() -> None:
    conn = connected()
    token = conn.request("nobody.home")
    ops = client_ops(conn.data_to_send())
    resp_sid, reply = ops[0][3], ops[1][2]
    (ev,) = conn.receive_data(hmsg_bytes(reply, resp_sid, status=503))
    assert isinstance(ev, Response)
    assert ev.token == token
    assert ev.msg.is_no_responders
    assert ev.msg.status == 503


def test_request_before_connect_is_buffered() -> None:
    conn = new_conn()
    token = conn.request("svc", b"q")
    assert conn.data_to_send() == b""
    _, events = handshake(conn)
    ops = client_ops(conn.data_to_send())
    assert [o[0] for o in ops] == ["SUB", "PUB"]
    assert ops[1][2].endswith("." + token)
    assert kinds(events) == ["Connected"]


def test_request_inbox_drained_then_request_again() -> None:
    conn = connected()
    conn.request("svc")
    resp_sid = client_ops(conn.data_to_send())[0][3]
    pid = conn.drain_subscription(resp_sid)
    conn.data_to_send()
    events = conn.receive_data(b"PONG\r\n")
    assert kinds(events) == ["Pong", "SubscriptionEnded"]
    assert isinstance(events[0], Pong)
    assert events[0].ping_id == pid
    # The next request makes a new inbox subscription instead of using the dead one.
    token = conn.request("svc")
    ops = client_ops(conn.data_to_send())
    assert [o[0] for o in ops] == ["SUB", "PUB"]
    new_sid = ops[0][3]
    assert new_sid != resp_sid
    (ev,) = conn.receive_data(msg_bytes(ops[1][2], new_sid, b"ok"))
    assert isinstance(ev, Response)
    assert ev.token == token


def test_request_inbox_unsubscribed_then_request_again() -> None:
    conn = connected()
    conn.request("svc")
    resp_sid = client_ops(conn.data_to_send())[0][3]
    conn.unsubscribe(resp_sid)
    conn.data_to_send()
    conn.request("svc")
    assert op_names(conn.data_to_send()) == ["SUB", "PUB"]


def test_nuids_are_unique_and_deterministic() -> None:
    a = new_conn(seed=1)
    b = new_conn(seed=1)
    ids = [a.next_nuid() for _ in range(1000)]
    assert ids == [b.next_nuid() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 22 and i.isalnum() for i in ids)


# ---------------------------------------------------------------------- pings


def test_ping_ids_and_pongs_in_order() -> None:
    conn = connected()
    ids = [conn.ping(), conn.ping(), conn.ping()]
    assert ids == [1, 2, 3]
    assert conn.data_to_send() == b"PING\r\n" * 3
    events = conn.receive_data(b"PONG\r\nPONG\r\n")
    assert [e.ping_id for e in events if isinstance(e, Pong)] == [1, 2]
    assert kinds(events) == ["Pong", "Pong"]
    (ev,) = conn.receive_data(b"PONG\r\n")
    assert isinstance(ev, Pong)
    assert ev.ping_id == 3
    assert conn.receive_data(b"PONG\r\n") == []  # unsolicited PONG: nothing


def test_keepalive_pings_interleave_with_user_pings() -> None:
    conn = connected()
    p1 = conn.ping()
    assert conn.keepalive() is False
    p2 = conn.ping()
    assert conn.data_to_send() == b"PING\r\n" * 3
    events = conn.receive_data(b"PONG\r\n" * 3)
    assert [e.ping_id for e in events if isinstance(e, Pong)] == [p1, p2]
    assert kinds(events) == ["Pong", "Pong"]


def test_keepalive_detects_stale_connection() -> None:
    conn = connected(max_pings_outstanding=2)
    assert conn.keepalive() is False
    assert conn.keepalive() is False
    assert conn.data_to_send() == b"PING\r\n" * 2
    assert conn.keepalive() is True
    assert conn.data_to_send() == b""  # no third PING
    assert conn.keepalive() is True
    # Any PONG proves the connection alive again.
    conn.receive_data(b"PONG\r\n")
    assert conn.keepalive() is False


def test_keepalive_reset_by_user_ping_pong() -> None:
    conn = connected(max_pings_outstanding=1)
    pid = conn.ping()
    assert conn.keepalive() is False
    assert conn.keepalive() is True
    events = conn.receive_data(b"PONG\r\n")
    assert [e.ping_id for e in events if isinstance(e, Pong)] == [pid]
    assert conn.keepalive() is False


def test_keepalive_does_nothing_when_not_connected() -> None:
    conn = new_conn()
    assert conn.keepalive() is False
    conn.connection_made()
    assert conn.keepalive() is False
    assert conn.data_to_send() == b""


# ---------------------------------------------------------------------- drain


def test_drain_subscription() -> None:
    conn = connected()
    sid = conn.subscribe("foo")
    conn.data_to_send()
    pid = conn.drain_subscription(sid)
    assert conn.data_to_send() == b"UNSUB 1\r\nPING\r\n"
    sub = conn.subscription(sid)
    assert sub is not None
    assert sub.draining
    # Messages the server sent before it saw the UNSUB are still delivered.
    events = conn.receive_data(msg_bytes("foo", sid, b"1") + msg_bytes("foo", sid, b"2"))
    assert kinds(events) == ["Msg", "Msg"]
    events = conn.receive_data(b"PONG\r\n" + msg_bytes("foo", sid, b"after"))
    assert kinds(events) == ["Pong", "SubscriptionEnded"]
    assert isinstance(events[0], Pong)
    assert events[0].ping_id == pid
    assert isinstance(events[1], SubscriptionEnded)
    assert (events[1].sid, events[1].reason) == (sid, "drained")
    assert conn.subscription(sid) is None
    with pytest.raises(SubscriptionClosedError):
        conn.drain_subscription(sid)


def test_drain_subscription_while_disconnected() -> None:
    conn = connected()
    sid = conn.subscribe("foo")
    conn.connection_lost()
    pid = conn.drain_subscription(sid)
    assert conn.data_to_send() == b""
    handshake(conn)
    # A draining subscription is not re-subscribed; its ping is sent.
    assert conn.data_to_send() == b"PING\r\n"
    events = conn.receive_data(b"PONG\r\n")
    assert kinds(events) == ["Pong", "SubscriptionEnded"]
    assert isinstance(events[0], Pong)
    assert events[0].ping_id == pid


def test_connection_drain_and_close() -> None:
    conn = connected()
    a = conn.subscribe("a")
    b = conn.subscribe("b", queue="q")
    conn.data_to_send()
    assert conn.start_drain() == [a, b]
    assert conn.state is State.DRAINING_SUBS
    assert conn.is_connected
    assert conn.data_to_send() == b"UNSUB 1\r\nPING\r\nUNSUB 2\r\nPING\r\n"
    with pytest.raises(ConnectionDrainingError, match="cannot subscribe"):
        conn.subscribe("c")
    with pytest.raises(ConnectionDrainingError):
        conn.request("svc")
    conn.publish("still.allowed", b"x")  # publishes still go out while subs drain
    assert conn.data_to_send() == b"PUB still.allowed 1\r\nx\r\n"
    events = conn.receive_data(msg_bytes("a", a, b"last") + b"PONG\r\nPONG\r\n")
    assert kinds(events) == ["Msg", "Pong", "SubscriptionEnded", "Pong", "SubscriptionEnded"]
    assert conn.subscriptions == {}
    pid = conn.drain_publishes()
    assert conn.state is State.DRAINING_PUBS
    assert conn.data_to_send() == b"PING\r\n"
    with pytest.raises(ConnectionDrainingError, match="draining; cannot publish"):
        conn.publish("x", b"")
    (ev,) = conn.receive_data(b"PONG\r\n")
    assert isinstance(ev, Pong)
    assert ev.ping_id == pid
    conn.close()
    assert conn.state is State.CLOSED
    assert conn.is_closed
    assert not conn.is_connected
    with pytest.raises(ConnectionClosedError):
        conn.publish("x", b"")
    with pytest.raises(ConnectionClosedError, match="cannot subscribe"):
        conn.subscribe("x")
    with pytest.raises(ConnectionClosedError):
        conn.ping()
    with pytest.raises(ConnectionClosedError):
        conn.unsubscribe(1)
    assert issubclass(ConnectionClosedError, NotConnectedError)
    conn.close()  # idempotent
    assert conn.connection_lost() == []
    assert conn.state is State.CLOSED


def test_drain_with_no_subscriptions() -> None:
    conn = connected()
    assert conn.start_drain() == []
    assert conn.data_to_send() == b""
    conn.drain_publishes()
    assert conn.data_to_send() == b"PING\r\n"


def test_drain_after_request_refuses_new_requests() -> None:
    conn = connected()
    conn.request("svc")
    conn.data_to_send()
    conn.start_drain()
    conn.receive_data(b"PONG\r\n")  # the inbox subscription is drained
    with pytest.raises(ConnectionDrainingError):
        conn.request("svc")


def test_connection_lost_while_draining_closes() -> None:
    conn = connected()
    conn.subscribe("a")
    conn.start_drain()
    events = conn.connection_lost(OSError("reset"))
    assert kinds(events) == ["Disconnected"]
    assert conn.state is State.CLOSED
    assert conn.subscriptions == {}
    assert conn.pending_bytes == 0


def test_close_from_any_state_forgets_everything() -> None:
    conn = new_conn()
    conn.subscribe("a")
    conn.publish("a", b"buffered")
    conn.ping()
    conn.close()
    assert conn.is_closed
    assert conn.subscriptions == {}
    assert conn.pending_bytes == 0
    with pytest.raises(LocalProtocolError, match=r"'connection_made'.*'closed'"):
        conn.connection_made()


# ---------------------------------------------------------------- transitions


@pytest.mark.parametrize(
    ("setup", "call", "input_name", "state_name"),
    [
        ("connected", "tls_started", "tls_started", "connected"),
        ("new", "tls_started", "tls_started", "disconnected"),
        ("connected", "connection_made", "connection_made", "connected"),
        ("awaiting", "connection_made", "connection_made", "awaiting_info"),
        ("new", "start_drain", "drain", "disconnected"),
        ("awaiting", "start_drain", "drain", "awaiting_info"),
        ("connected", "drain_publishes", "drain_pubs", "connected"),
        ("new", "drain_publishes", "drain_pubs", "disconnected"),
    ],
)
def test_invalid_transition_names_state_and_input(
    setup: str, call: str, input_name: str, state_name: str
) -> None:
    conn = connected() if setup == "connected" else new_conn()
    if setup == "awaiting":
        conn.connection_made()
    before = conn.state
    with pytest.raises(LocalProtocolError) as info:
        getattr(conn, call)()
    assert repr(input_name) in str(info.value)
    assert repr(state_name) in str(info.value)
    assert conn.state is before


def test_transition_table_is_total_or_raises() -> None:
    for state in State:
        assert next_state(state, Input.CLOSE) is State.CLOSED
        for inp in Input:
            if (state, inp) in TRANSITIONS:
                assert next_state(state, inp) is TRANSITIONS[(state, inp)]
            else:
                with pytest.raises(LocalProtocolError) as info:
                    next_state(state, inp)
                assert repr(state.value) in str(info.value)
                assert repr(inp.value) in str(info.value)


# ------------------------------------------------------------------------ TLS


def test_server_requires_tls() -> None:
    conn = new_conn()
    conn.connection_made()
    events = conn.receive_data(info_line(tls_required=True))
    assert kinds(events) == ["StartTLS"]
    assert isinstance(events[0], StartTLS)
    assert events[0].info.tls_required
    assert conn.state is State.TLS_WANTED
    assert conn.data_to_send() == b""  # no CONNECT in clear text
    assert conn.receive_data(b"PONG\r\n") == []  # a stray PONG does not finish anything
    assert conn.state is State.TLS_WANTED
    conn.tls_started()
    assert conn.state is State.CONNECT_SENT
    ops = client_ops(conn.data_to_send())
    assert [o[0] for o in ops] == ["CONNECT", "PING"]
    assert ops[0][1]["tls_required"] is True
    assert kinds(conn.receive_data(b"PONG\r\n")) == ["Connected"]


def test_client_requires_tls() -> None:
    conn = new_conn(tls_required=True)
    conn.connection_made()
    assert kinds(conn.receive_data(info_line())) == ["StartTLS"]


def test_tls_url_requires_tls() -> None:
    conn = new_conn(servers=["tls://secure:4443"])
    conn.connection_made(conn.pool.first_server())
    assert kinds(conn.receive_data(info_line())) == ["StartTLS"]


def test_tls_already_active() -> None:
    conn = new_conn(tls_required=True, tls_handshake_first=True)
    conn.connection_made(tls=True)
    assert conn.receive_data(info_line(tls_required=True)) == []
    ops = client_ops(conn.data_to_send())
    assert ops[0][1]["tls_required"] is True
    assert conn.state is State.CONNECT_SENT


def test_tls_lost_before_upgrade() -> None:
    conn = new_conn()
    conn.connection_made()
    conn.receive_data(info_line(tls_required=True))
    assert kinds(conn.connection_lost()) == ["Disconnected"]
    assert conn.state is State.DISCONNECTED
    with pytest.raises(LocalProtocolError, match=r"'tls_started'.*'disconnected'"):
        conn.tls_started()


# ------------------------------------------------------------------ reconnect


def test_reconnect_resubscribes_before_buffered_publishes() -> None:
    conn = connected()
    plain = conn.subscribe("plain")
    queued = conn.subscribe("q.*", queue="grp")
    limited = conn.subscribe("lim", max_msgs=5)
    conn.receive_data(msg_bytes("lim", limited) * 2)
    in_flight = conn.ping()
    conn.data_to_send()

    err = ConnectionResetError("gone")
    events = conn.connection_lost(err)
    assert kinds(events) == ["Disconnected"]
    assert isinstance(events[0], Disconnected)
    assert events[0].error is err
    assert conn.state is State.DISCONNECTED
    assert not conn.is_connected
    assert set(conn.subscriptions) == {plain, queued, limited}

    conn.publish("buf.a", b"1")
    conn.publish("buf.b", b"22", reply="r")
    assert conn.pending_bytes == len(b"PUB buf.a 1\r\n1\r\nPUB buf.b r 2\r\n22\r\n")
    deferred = conn.ping()
    late = conn.subscribe("late")
    assert conn.data_to_send() == b""

    _, events = handshake(conn)
    assert kinds(events) == ["Connected"]
    assert isinstance(events[0], Connected)
    assert events[0].reconnected is True
    assert conn.stats.reconnects == 1
    assert client_ops(conn.data_to_send()) == [
        ("SUB", "plain", "", plain),
        ("SUB", "q.*", "grp", queued),
        ("SUB", "lim", "", limited),
        ("UNSUB", limited, 3),  # 5 wanted, 2 already delivered
        ("SUB", "late", "", late),
        ("PUB", "buf.a", "", b"1"),
        ("PUB", "buf.b", "r", b"22"),
        ("PING",),  # the ping lost in flight
        ("PING",),  # then the one asked for while disconnected
    ]
    assert conn.pending_bytes == 0
    events = conn.receive_data(b"PONG\r\nPONG\r\n")
    assert [e.ping_id for e in events if isinstance(e, Pong)] == [in_flight, deferred]


def test_reconnect_keeps_remaining_auto_unsubscribe() -> None:
    conn = connected()
    sid = conn.subscribe("lim", max_msgs=3)
    conn.receive_data(msg_bytes("lim", sid) * 2)
    conn.connection_lost()
    handshake(conn)
    assert conn.data_to_send() == b"SUB lim 1\r\nUNSUB 1 1\r\n"
    events = conn.receive_data(msg_bytes("lim", sid) * 2)
    assert kinds(events) == ["Msg", "SubscriptionEnded"]


def test_lost_during_handshake_then_reconnect() -> None:
    conn = new_conn()
    conn.connection_made()
    conn.receive_data(info_line())
    conn.connection_lost()
    conn.connection_made()
    assert conn.data_to_send() == b""  # the old CONNECT is not replayed
    conn.receive_data(info_line())
    assert op_names(conn.data_to_send()) == ["CONNECT", "PING"]
    (ev,) = conn.receive_data(b"PONG\r\n")
    assert isinstance(ev, Connected)
    assert ev.reconnected is False  # never connected before


def test_partial_input_is_forgotten_on_connection_lost() -> None:
    conn = connected()
    sid = conn.subscribe("a")
    conn.receive_data(b"MSG a 1 10\r\nabc")
    conn.connection_lost()
    handshake(conn)
    assert conn.receive_data(msg_bytes("a", sid, b"fresh")) == [Msg("a", "", b"fresh", None, sid)]


def test_connection_lost_twice() -> None:
    conn = connected()
    assert kinds(conn.connection_lost()) == ["Disconnected"]
    assert kinds(conn.connection_lost()) == ["Disconnected"]
    assert conn.state is State.DISCONNECTED


def test_reconnect_buffer_limit() -> None:
    conn = connected(reconnect_buf_size=40)
    conn.connection_lost()
    conn.publish("a", b"x" * 10)  # "PUB a 10\r\n" + 10 + 2 = 22 bytes
    assert conn.pending_bytes == 22
    with pytest.raises(ReconnectBufferFullError, match="22 of 40 bytes used"):
        conn.publish("a", b"y" * 10)
    assert conn.pending_bytes == 22  # the refused message was not kept
    conn.publish("b", b"z")  # 12 bytes still fit
    assert conn.pending_bytes == 34
    assert conn.stats.out_msgs == 2


def test_reconnect_buffer_disabled() -> None:
    conn = connected(reconnect_buf_size=-1)
    conn.connection_lost()
    with pytest.raises(ReconnectBufferFullError, match="disabled"):
        conn.publish("a", b"")
    assert conn.pending_bytes == 0


def test_publish_before_first_connect_is_buffered() -> None:
    conn = new_conn()
    conn.publish("early", b"bird")
    assert conn.pending_bytes > 0
    conn.connection_made()
    conn.publish("during", b"handshake")
    conn.receive_data(info_line())
    assert op_names(conn.data_to_send()) == ["CONNECT", "PING"]
    conn.receive_data(b"PONG\r\n")
    assert client_ops(conn.data_to_send()) == [
        ("PUB", "early", "", b"bird"),
        ("PUB", "during", "", b"handshake"),
    ]


def test_unsubscribe_while_disconnected() -> None:
    conn = connected()
    a = conn.subscribe("a")
    b = conn.subscribe("b")
    conn.connection_lost()
    assert conn.unsubscribe(a) is True
    assert conn.unsubscribe(b, max_msgs=4) is False
    handshake(conn)
    assert conn.data_to_send() == b"SUB b 2\r\nUNSUB 2 4\r\n"


# ----------------------------------------------------------------- statistics


def test_statistics() -> None:
    conn = connected()
    sid = conn.subscribe("in")
    conn.publish("out", b"abc")
    conn.publish("out", b"defgh", headers={"K": "v"})
    conn.receive_data(
        msg_bytes("in", sid, b"1234") + hmsg_bytes("in", sid, b"56", headers=[("A", "b")])
    )
    assert conn.stats.as_dict() == {
        "in_bytes": 6,
        "in_msgs": 2,
        "out_bytes": 8,
        "out_msgs": 2,
        "reconnects": 0,
    }
    assert "out_msgs" in repr(conn.stats)


def test_msg_class_and_client_reach_delivered_messages() -> None:
    class AppMsg(Msg):
        __slots__ = ()

    client = object()
    conn = Connection(msg_class=AppMsg, client=client)
    conn.connection_made()
    conn.receive_data(info_line())
    conn.receive_data(b"PONG\r\n")
    sid = conn.subscribe("a")
    (msg,) = conn.receive_data(msg_bytes("a", sid, b"x"))
    assert type(msg) is AppMsg
    assert msg._client is client


def test_event_reprs_name_fields() -> None:
    assert repr(Pong(3)) == "Pong(ping_id=3)"
    assert repr(SubscriptionEnded(1, "drained")) == "SubscriptionEnded(reason='drained', sid=1)"
    long = Msg("s", "", b"x" * 100, None, 1)
    assert "..." in repr(long)
    assert Msg("s", "", b"", None, 1) != Pong(1)


def test_request_inbox_prefix_with_a_wildcard_is_refused() -> None:
    # Reply subjects are built from the prefix without a check per request, so the
    # prefix is checked once, when the inbox is made.
    conn = new_conn(inbox_prefix="_X.*")
    handshake(conn)
    with pytest.raises(BadSubjectError, match="inbox"):
        conn.request("svc", b"q")


# ------------------------------------------- subjects used once (issue #17)


def test_acks_and_inbox_replies_stay_out_of_the_subject_cache() -> None:
    conn = connected()
    conn.publish("orders", b"x")  # a user's subject is cached
    for i in range(10):
        conn.publish(f"$JS.ACK.S.C.1.{i}.{i}.1700000000000000000.0", b"+ACK")
        conn.publish("svc", b"q", reply=f"_INBOX.abc.{i:x}")  # async publishes, requests
        conn.publish(f"_INBOX.abc.{i}", b"answer")  # a response to a request
    assert set(conn._subjects) == {"orders", "svc"}
    ops = client_ops(conn.data_to_send())
    assert ops[1] == ("PUB", "$JS.ACK.S.C.1.0.0.1700000000000000000.0", "", b"+ACK")
    assert ops[2] == ("PUB", "svc", "_INBOX.abc.0", b"q")
    assert len(ops) == 31
    # still checked, and refused as before
    for bad in ["$JS.ACK.a b", "$JS.ACK.*", "$JS.ACK..x", "$JS.ACK.x."]:
        with pytest.raises(BadSubjectError):
            conn.publish(bad, b"")
    with pytest.raises(BadSubjectError, match="reply subject"):
        conn.publish("svc", b"", reply="_INBOX.abc.>")
    with pytest.raises(BadSubjectError, match="reply subject"):
        conn.publish("svc", b"", reply="_INBOX.a\tb")
    assert conn.data_to_send() == b""


def test_a_custom_inbox_prefix_is_used_once_too() -> None:
    conn = connected(inbox_prefix="_MY")
    conn.publish("svc", b"q", reply="_MY.r.1")
    conn.publish("svc", b"q", reply="_INBOX.r.1")  # not this client's inboxes: cached
    assert set(conn._subjects) == {"svc", "_INBOX.r.1"}


_SUBJECT_PARTS = ["a", "b", ".", "*", ">", " ", "\t", "\r", "\n", "\f", "\v", "\x00", "é", "$JS"]


@pytest.mark.parametrize("n", range(4))
def test_the_quick_subject_check_agrees_with_the_full_one(n: int) -> None:
    import itertools

    from nats_core._connection import _plain_subject
    from nats_core._subjects import is_valid_publish_subject

    for parts in itertools.product(_SUBJECT_PARTS, repeat=n):
        s = "".join(parts)
        if _plain_subject(s):  # never says yes to what the full check refuses
            assert is_valid_publish_subject(s), repr(s)
        elif "*" not in s and ">" not in s:  # says no only to wildcards or bad subjects
            assert not is_valid_publish_subject(s), repr(s)
    assert not _plain_subject(b"a")
    assert not _plain_subject(None)
