"""Scatter-gather with request_many (asyncio): ask every price service, keep the best.

Five quote services answer on "quotes.widget" (plain subscriptions, not a queue
group, so every one of them gets the request), each after its own delay; one of
them is too slow. ``nc.request_many`` sends one request and gathers the replies
until no reply came for ``stall`` seconds or ``timeout`` in all (ADR-47).

    python examples/scatter_gather.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack

import nats_anyio

SUPPLIERS = {"acme": (0.01, 12), "globex": (0.03, 9), "initech": (0.02, 15), "umbrella": (0.05, 11)}
SLOW = ("hooli", 2.0, 5)  # answers after the gather is over


async def main(url: str) -> None:
    async with (
        nats_anyio.connect(url, name="suppliers") as suppliers,
        nats_anyio.connect(url, name="buyer") as buyer,
    ):
        for name, (delay, price) in [*SUPPLIERS.items(), (SLOW[0], SLOW[1:])]:

            async def quote(
                msg: nats_anyio.Msg, name: str = name, delay: float = delay, price: int = price
            ) -> None:
                await asyncio.sleep(delay)
                await msg.respond(b"%d" % price, headers={"Supplier": name})

            await suppliers.subscribe("quotes.widget", cb=quote)
        await suppliers.flush()

        quotes: dict[str, int] = {}
        async with buyer.request_many("quotes.widget", b"1", timeout=1.0, stall=0.3) as replies:
            async for msg in replies:
                supplier = msg.headers["Supplier"] if msg.headers else "?"
                quotes[supplier] = int(msg.data)
        print(f"{len(quotes)} quotes, ended by {replies.reason.name}:")
        for supplier, price in sorted(quotes.items(), key=lambda kv: kv[1]):
            print(f"  {supplier:<10} {price}")
        best = min(quotes, key=quotes.__getitem__)
        print(f"best: {best} at {quotes[best]}")


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
