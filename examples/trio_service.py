"""A Trio service answering requests, and a client calling it.

Two service workers share a queue group; each lives in a nursery of the
service's connection and answers "a b" with the sum. A second connection
calls the service, then the nursery is cancelled and both connections close.

    python examples/trio_service.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

import trio

import nats_anyio

SUBJECT = "math.add"


async def worker(
    nc: nats_anyio.Client,
    name: str,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer requests until cancelled."""
    sub = await nc.subscribe(SUBJECT, queue="adders")
    await nc.flush()  # the server knows the subscription before we say we are ready
    task_status.started()
    async for msg in sub:
        a, b = (int(x) for x in msg.data.split())
        await msg.respond(str(a + b).encode(), headers={"Worker": name})


async def main(url: str) -> None:
    async with (
        nats_anyio.connect(url, name="trio-service") as service,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(worker, service, "w1")
        await nursery.start(worker, service, "w2")

        async with nats_anyio.connect(url, name="trio-client") as client:
            for a, b in [(1, 2), (20, 22), (100, -1)]:
                reply = await client.request(SUBJECT, f"{a} {b}".encode(), timeout=2)
                worker_name = reply.headers["Worker"] if reply.headers else "?"
                print(f"{a} + {b} = {reply.data.decode()} (answered by {worker_name})")
        nursery.cancel_scope.cancel()  # stop the workers
    print("service stopped")


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
