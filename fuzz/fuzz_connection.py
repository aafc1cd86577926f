"""Atheris harness for the client Connection fed by a hostile server.

After a valid INFO, any bytes from the server either become events or raise
``RemoteProtocolError``, never anything else (no LocalProtocolError, no
KeyError...), whatever the client does in between.

Run: ``pip install .[fuzz]`` then ``python fuzz/fuzz_connection.py -max_total_time=60``.
"""

from __future__ import annotations

import json
import random
import sys

try:
    import atheris
except ImportError:  # importable (and testable) without atheris
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from nats_core import Connection, ConnectOptions, Event, State
        from nats_core.errors import (
            LocalProtocolError,
            ReconnectBufferFullError,
            RemoteProtocolError,
            SubscriptionClosedError,
        )
else:
    from nats_core import Connection, ConnectOptions, Event, State
    from nats_core.errors import (
        LocalProtocolError,
        ReconnectBufferFullError,
        RemoteProtocolError,
        SubscriptionClosedError,
    )

TOKENS = (
    b"MSG foo.x 1 ",
    b"MSG bar 2 r ",
    b"HMSG foo.y 1 ",
    b"PING\r\n",
    b"PONG\r\n",
    b"+OK\r\n",
    b"-ERR 'Permissions Violation for Subscription to \"foo.*\"'\r\n",
    b"-ERR 'Authorization Violation'\r\n",
    b"\r\n",
    b"NATS/1.0 503\r\n\r\n",
    b'INFO {"connect_urls":["10.0.0.1:4222","[::1]:1"],"ldm":true}\r\n',
    b"INFO {}\r\n",
    b"MSG _INBOX.",
    b" 3 ",
    b"5\r\nhello\r\n",
    b"-ERR 'Stale Connection'\r\n",
)


def stretch(b: int) -> bytes:
    """Filler for a byte from 0xE0 to 0xEF: 256 KiB to 4 MiB, so that inputs of
    several MiB reach the INFO and payload caps."""
    return b"x" * ((b - 0xDF) * 256 * 1024)


INFO = {"server_id": "FUZZ", "headers": True, "max_payload": 4096, "nonce": "abc"}
# A client's own moves between reads; any of them may be refused locally.
LOCAL_REFUSALS = (LocalProtocolError, SubscriptionClosedError, ReconnectBufferFullError)


def expand(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b >= 0xF0:
            out += TOKENS[b - 0xF0]
        elif b >= 0xE0:
            out += stretch(b)
        else:
            out.append(b)
    return bytes(out)


def client_action(conn: Connection, code: int) -> None:
    try:
        action = code % 8
        if action == 0:
            conn.ping()
        elif action == 1:
            conn.keepalive()
        elif action == 2:
            conn.publish("pub.subject", b"data", headers={"K": "v"} if code & 8 else None)
        elif action == 3:
            conn.request("svc")
        elif action == 4:
            conn.drain_subscription(1 + code // 8 % 3)
        elif action == 5:
            conn.unsubscribe(1 + code // 8 % 3, max_msgs=code // 32)
        elif action == 6:
            conn.subscribe("foo.*", queue="q" if code & 8 else "")
        elif conn.state is State.CONNECTED and code & 8:
            conn.start_drain()
    except LOCAL_REFUSALS:
        pass


def TestOneInput(data: bytes) -> None:
    flags = data[0] if data else 0
    body = data[1:]
    conn = Connection(
        ConnectOptions(name="fuzz", reconnect_buf_size=1024), rng=random.Random(flags)
    )
    conn.subscribe("foo.*")
    conn.subscribe("bar", queue="q", max_msgs=2)
    conn.request("svc")
    conn.connection_made(conn.pool.first_server())
    info = dict(INFO, tls_required=bool(flags & 1))
    conn.receive_data(b"INFO " + json.dumps(info).encode() + b"\r\n")
    if conn.state is State.TLS_WANTED:
        conn.tls_started()
    if flags & 2:
        conn.receive_data(b"PONG\r\n")
    wire = expand(body) if flags & 4 else body
    step = max(flags // 8 + 1, len(wire) // 32)  # at most ~32 reads per run
    for i in range(0, len(wire), step):
        chunk = wire[i : i + step]
        try:
            events = conn.receive_data(chunk)
        except RemoteProtocolError:
            # The parser stays broken until the transport is replaced.
            try:
                conn.receive_data(b"PING\r\n")
            except RemoteProtocolError:
                pass
            else:
                raise AssertionError("connection accepted input after an error") from None
            conn.connection_lost()
            return
        assert all(isinstance(e, Event) for e in events)
        assert isinstance(conn.data_to_send(), bytes)
        client_action(conn, chunk[0])


def main() -> None:
    if atheris is None:
        sys.exit("atheris is not installed: pip install 'pynats[fuzz]'")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
