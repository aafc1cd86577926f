"""A JetStream push consumer on Trio: the server pushes, the subscription acks.

``js.subscribe`` (nats.go's js.Subscribe) creates a durable push consumer on the
stream capturing "events.>" and delivers its messages to this subscription; with
flow control and idle heartbeats the server never runs ahead of a slow reader.
Each message read is acked here (``manual_ack=True``; ``ack_sync`` waits for the
server to confirm); with a callback instead, the subscription acks when the
callback returns.

    python examples/push_consumer.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server with JetStream (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

import trio

import nats_anyio


async def main(url: str) -> None:
    async with nats_anyio.connect(url, name="push-consumer") as nc:
        js = nc.jetstream()
        await js.create_stream(name="EVENTS", subjects=["events.>"])
        for i in range(6):
            await js.publish(f"events.{'click' if i % 2 else 'view'}", b"event %d" % i)

        sub = await js.subscribe(
            "events.>",
            durable="auditor",
            manual_ack=True,
            idle_heartbeat=1.0,
            flow_control=True,
        )
        with trio.fail_after(5):
            for _ in range(6):
                msg = await sub.next_msg(timeout=2)
                meta = msg.metadata
                print(f"#{meta.sequence.stream} {msg.subject}: {msg.data.decode()}")
                await msg.ack_sync()  # waits for the server to confirm the ack
        info = await sub.consumer_info()
        print(f"consumer {info.name}: {info.num_ack_pending} unacked, {info.num_pending} pending")
        await sub.unsubscribe()  # a durable this subscription created is deleted with it
        await js.delete_stream("EVENTS")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer(jetstream=True)).url
            print(f"started an embedded nats-server at {url}")
        trio.run(main, url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
