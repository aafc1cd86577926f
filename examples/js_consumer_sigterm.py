"""A JetStream worker that shuts down gracefully on SIGTERM (blocking client).

It consumes the durable consumer "billing" of the stream ORDERS in the background
(``consumer.consume(cb)``), acking each order after handling it. On SIGTERM (what
systemd, Kubernetes and ``kill`` send) or Ctrl-C it drains the consume: no new
pull, the orders already delivered are handled and acked, then the connection is
drained and the program exits 0. Nothing is lost: an unacked order is redelivered
to the next worker.

    python examples/js_consumer_sigterm.py [nats://127.0.0.1:4222]
    kill -TERM <pid>

It publishes a few orders itself so there is something to do. The server URL comes
from argv[1] or the NATS_URL environment variable; without either, an embedded
nats-server with JetStream (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import ExitStack

import nats_sync
from nats_core.jetstream import StreamNotFoundError


def main(url: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())

    handled = 0

    def handle(msg: nats_sync.Msg) -> None:
        nonlocal handled
        handled += 1
        print(f"handled {msg.subject} {msg.data.decode()} ({handled})", flush=True)
        msg.ack()

    with nats_sync.connect(url, name="billing-worker") as nc:
        js = nc.jetstream()
        try:
            js.stream_info("ORDERS")
        except StreamNotFoundError:
            js.create_stream(name="ORDERS", subjects=["orders.>"])
        consumer = js.create_or_update_consumer(
            "ORDERS", durable_name="billing", ack_policy="explicit"
        )
        for i in range(5):
            js.publish("orders.new", b"order-%d" % i)

        # A drain hands out what the pull in flight still brings, until that pull
        # ends: expires= bounds how long a shutdown can take.
        cc = consumer.consume(handle, max_messages=10, expires=2)
        print(f"consuming (pid {os.getpid()}); send SIGTERM to stop", flush=True)
        stop.wait()
        print("SIGTERM: draining", flush=True)
        cc.drain()  # no new pulls; the messages already here are handled
        if not cc.wait_closed(timeout=5):
            cc.stop()
        pending = consumer.info().num_ack_pending
        nc.drain()
    print(f"stopped cleanly after {handled} orders, {pending} unacknowledged", flush=True)


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer(jetstream=True)).url
            print(f"started an embedded nats-server at {url}")
        main(url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
