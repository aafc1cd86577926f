"""The sans-IO core driven by a plain ``selectors`` loop: no nats_sync, no nats_anyio.

nats_core.Connection never touches a socket: bytes read go in with
``receive_data()`` and come back as events; what the connection wants written
comes out of ``data_to_send()``. This program owns the socket and the loop:
connect (INFO, CONNECT, PING, then PONG gives ``Connected``), subscribe, answer
requests, publish, receive, request and measure a round trip.

    python examples/sansio_selectors.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from nats_core import (
    Connected,
    Connection,
    ConnectOptions,
    Disconnected,
    Event,
    Msg,
    Pong,
    Response,
    ServerErrorEvent,
    StartTLS,
)


class SelectorClient:
    """One socket, one selector, one ``Connection``: the whole adapter."""

    def __init__(self, url: str) -> None:
        self.conn = Connection(ConnectOptions(servers=[url], name="sansio-selectors"))
        server = self.conn.pool.first_server()
        self.sock = socket.create_connection((server.host, server.port), timeout=2)
        self.sock.setblocking(False)
        self.conn.connection_made(server)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.out = bytearray()  # bytes taken from the core, not yet accepted by the kernel
        self.handlers: dict[int, Callable[[Msg], None]] = {}  # sid -> message handler

    def _write(self) -> None:
        self.out += self.conn.data_to_send()  # CONNECT, PONGs, SUBs, PUBs, ...
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            del self.out[:sent]
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        self.sel.modify(self.sock, want)

    def step(self, timeout: float) -> list[Event]:
        """Write what is queued, wait up to ``timeout`` for the socket, return events."""
        self._write()
        events: list[Event] = []
        for _key, mask in self.sel.select(timeout):
            if mask & selectors.EVENT_READ:
                data = self.sock.recv(65536)
                if not data:
                    return self.conn.connection_lost(ConnectionError("server closed"))
                events += self.conn.receive_data(data)
        for event in events:
            if isinstance(event, Msg) and event.sid in self.handlers:
                self.handlers[event.sid](event)
            elif isinstance(event, StartTLS):
                raise RuntimeError("this example speaks plain TCP; see docs/sans-io.md for TLS")
            elif isinstance(event, ServerErrorEvent):
                print("server error:", event.error)
        self._write()  # answers the handlers queued (responds, PONGs)
        return events

    def wait_for(self, match: Callable[[Event], bool], timeout: float = 2.0) -> Event:
        """Run the loop until an event ``match`` accepts comes; return it."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for event in self.step(left):
                if isinstance(event, Disconnected):
                    raise ConnectionError(f"disconnected: {event.error}")
                if match(event):
                    return event
        raise TimeoutError("nothing matching came in time")

    def close(self) -> None:
        self.conn.close()
        self.sel.close()
        self.sock.close()


def main(url: str) -> None:
    client = SelectorClient(url)
    conn = client.conn
    try:
        connected = client.wait_for(lambda e: isinstance(e, Connected))
        assert isinstance(connected, Connected)
        print(f"connected to nats-server {connected.info.version}")

        # A responder living in the same loop: its handler queues the answer.
        echo_sid = conn.subscribe("svc.echo")
        client.handlers[echo_sid] = lambda m: conn.publish(m.reply or "", b"echo: " + m.data)

        greet_sid = conn.subscribe("greet.*")
        conn.publish("greet.joe", b"hello", headers={"Lang": ["en", "fr"]})
        msg = client.wait_for(lambda e: isinstance(e, Msg) and e.sid == greet_sid)
        assert isinstance(msg, Msg)
        langs = msg.headers.get_all("Lang") if msg.headers else []
        print(f"received {msg.data!r} on {msg.subject} (Lang: {', '.join(langs)})")

        token = conn.request("svc.echo", b"ping")
        reply = client.wait_for(lambda e: isinstance(e, Response) and e.token == token)
        assert isinstance(reply, Response)
        print(f"reply: {reply.msg.data!r}")

        start = time.monotonic()
        ping_id = conn.ping()  # a flush: the PONG says the server has all we sent
        client.wait_for(lambda e: isinstance(e, Pong) and e.ping_id == ping_id)
        print(f"rtt: {(time.monotonic() - start) * 1000:.3f} ms, stats: {conn.stats.as_dict()}")
    finally:
        client.close()


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer()).url
            print(f"started an embedded nats-server at {url}")
        main(url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
