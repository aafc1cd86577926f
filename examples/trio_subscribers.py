"""A Trio nursery of subscribers, one task per subscription, on one connection.

Three subscriber tasks with overlapping wildcards live in a nursery; each signals
it is subscribed (``nursery.start``) before the readings are published, counts what
it gets, and returns on the "end" message. If anything hangs, ``trio.fail_after``
cancels the whole nursery: the subscriptions and the client's tasks end with it.

    python examples/trio_subscribers.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

import trio

import nats_anyio

PATTERNS = ["sensors.temp.*", "sensors.*.kitchen", "sensors.>"]
ROOMS = ["kitchen", "hall", "attic"]


async def subscriber(
    nc: nats_anyio.Client,
    pattern: str,
    counts: dict[str, int],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    sub = await nc.subscribe(pattern)
    await nc.flush()  # the server has the SUB: nothing published after this is missed
    task_status.started()
    try:
        async for msg in sub:
            if msg.data == b"end":
                return
            counts[pattern] = counts.get(pattern, 0) + 1
    finally:
        with trio.CancelScope(shield=True):  # unsubscribe even when cancelled
            await sub.unsubscribe()


async def main(url: str) -> None:
    counts: dict[str, int] = {}
    with trio.fail_after(10):
        async with (
            nats_anyio.connect(url, name="trio-subscribers") as nc,
            trio.open_nursery() as nursery,
        ):
            for pattern in PATTERNS:
                await nursery.start(subscriber, nc, pattern, counts)
            for i in range(10):
                for room in ROOMS:
                    await nc.publish(f"sensors.temp.{room}", b"%d" % (20 + i))
                    await nc.publish(f"sensors.humidity.{room}", b"%d" % (40 + i))
            await nc.publish("sensors.temp.kitchen", b"end")  # matches every pattern
        # the nursery waited for every subscriber to return, then the client closed
    for pattern in PATTERNS:
        print(f"{pattern:<20} {counts.get(pattern, 0)} readings")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer()).url
            print(f"started an embedded nats-server at {url}")
        trio.run(main, url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
