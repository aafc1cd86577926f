"""A configuration held in a Key-Value bucket, and a watcher that applies changes (asyncio).

The service reads its settings from the bucket "config" and watches "app.>": the
current values first, then every change as it is made, deletes included, with no
restart. Another connection (an operator) changes the settings meanwhile.

    python examples/kv_config_watcher.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server with JetStream (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack

import nats_anyio
from nats_core.jetstream import KeyValueOp


async def watch_config(nc: nats_anyio.Client, config: dict[str, str], ready: asyncio.Event) -> None:
    """Keep ``config`` equal to the bucket's "app.>" keys until "app.stop" is set."""
    kv = await nc.jetstream().key_value("config")
    async with kv.watch("app.>") as watcher:
        async for entry in watcher:
            if entry is None:  # the current values are all in: start serving
                print("initial config:", dict(sorted(config.items())))
                ready.set()
                continue
            if entry.operation is KeyValueOp.PUT:
                config[entry.key] = entry.value.decode()
                print(f"set {entry.key} = {config[entry.key]} (revision {entry.revision})")
            else:  # DEL or PURGE
                config.pop(entry.key, None)
                print(f"removed {entry.key}")
            if entry.key == "app.stop":
                return


async def main(url: str) -> None:
    async with nats_anyio.connect(url, name="operator") as operator:
        js = operator.jetstream()
        kv = await js.create_key_value(bucket="config", history=5)
        await kv.put("app.log_level", b"info")
        await kv.put("app.workers", b"4")

        config: dict[str, str] = {}
        ready = asyncio.Event()
        async with nats_anyio.connect(url, name="service") as service:
            watcher = asyncio.create_task(watch_config(service, config, ready))
            await ready.wait()
            await kv.put("app.log_level", b"debug")
            entry = await kv.get("app.workers")
            await kv.update("app.workers", b"8", last=entry.revision)  # only if unchanged
            await kv.delete("app.workers")
            await kv.put("app.stop", b"1")
            await asyncio.wait_for(watcher, timeout=5)
        print("final config:", dict(sorted(config.items())))
        await js.delete_key_value("config")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer(jetstream=True)).url
            print(f"started an embedded nats-server at {url}")
        asyncio.run(main(url))
    return 0


if __name__ == "__main__":
    sys.exit(run())
