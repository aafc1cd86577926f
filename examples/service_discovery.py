"""A service with discovery (asyncio): two instances of "calc", found and measured.

Two instances of the service "calc" run on their own connections (ADR-32, as
nats.go's micro: endpoints on a queue group, discovery on $SRV). A client finds
them with discover.ping, reads their endpoints with discover.info, calls them,
and reads the request counts with discover.stats.

    python examples/service_discovery.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import AsyncExitStack, ExitStack

import nats_anyio
from nats_anyio import discover


async def add(req: nats_anyio.Request) -> None:
    a, b = map(int, req.data.split())
    await req.respond(b"%d" % (a + b))


async def div(req: nats_anyio.Request) -> None:
    a, b = map(int, req.data.split())
    if b == 0:
        await req.respond_error(400, "division by zero")
        return
    await req.respond(b"%d" % (a // b))


async def main(url: str) -> None:
    async with AsyncExitStack() as stack:
        for n in range(2):
            nc = await stack.enter_async_context(nats_anyio.connect(url, name=f"calc-{n}"))
            svc = await nats_anyio.add_service(nc, "calc", "1.2.0", description="integer math")
            await svc.add_endpoint("add", add, subject="calc.add")
            await svc.add_endpoint("div", div, subject="calc.div")

        client = await stack.enter_async_context(nats_anyio.connect(url, name="client"))
        pings = await discover.ping(client, "calc", timeout=2, stall=0.3)
        print(f"found {len(pings)} instances of calc: {sorted(p.version for p in pings)}")
        info = (await discover.info(client, "calc", pings[0].id))[0]
        print("endpoints:", ", ".join(f"{e.name} on {e.subject}" for e in info.endpoints or []))

        for i in range(6):
            reply = await client.request("calc.add", b"%d %d" % (i, i), timeout=2)
            assert reply.data == b"%d" % (2 * i)
        reply = await client.request("calc.div", b"7 0", timeout=2)
        print("7 / 0:", reply.headers.get("Nats-Service-Error") if reply.headers else None)

        stats = await discover.stats(client, "calc", timeout=2, stall=0.3)
        total: dict[str, int] = {}
        for instance in stats:
            for ep in instance.endpoints or []:
                total[ep.name] = total.get(ep.name, 0) + ep.num_requests
        print(f"requests across instances: add={total['add']} div={total['div']}")


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
