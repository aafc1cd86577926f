"""nats_anyio under plain asyncio: pub/sub with headers, a callback responder,
requests (one at a time and gathered), and an RTT measurement.

    python examples/asyncio_example.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack

import nats_anyio


async def main(url: str) -> None:
    async with nats_anyio.connect(url, name="asyncio-example") as nc:
        greetings = await nc.subscribe("greet.*")

        async def echo(msg: nats_anyio.Msg) -> None:
            await msg.respond(b"echo: " + msg.data)

        await nc.subscribe("svc.echo", cb=echo)

        await nc.publish("greet.joe", b"hello", headers={"Lang": ["en", "fr"]})
        msg = await greetings.next_msg(timeout=2)
        langs = msg.headers.get_all("Lang") if msg.headers else []
        print(f"received {msg.data!r} on {msg.subject} (Lang: {', '.join(langs)})")

        reply = await nc.request("svc.echo", b"ping", timeout=2)
        print(f"reply: {reply.data!r}")

        replies = await asyncio.gather(
            *(nc.request("svc.echo", b"%d" % i, timeout=2) for i in range(3))
        )
        print("gathered:", [r.data.decode() for r in replies])
        print(f"rtt: {await nc.rtt() * 1000:.3f} ms, stats: {nc.stats.as_dict()}")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer()).url
            print(f"started an embedded nats-server at {url}")
        asyncio.run(main(url))
    return 0


if __name__ == "__main__":
    sys.exit(run())
