"""JetStream behaviour only the async client has: cancellation. (Everything else
the async client does is tested in tests/test_js_anyio.py, which is also the
source of the blocking client's tests/test_js_sync.py.)"""

from __future__ import annotations

import anyio
import pytest

import nats_anyio
from anyio_helpers import uniq
from pynats.server import NatsServer

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


async def test_cancelled_next_keeps_the_iterator(js_server: NatsServer) -> None:
    async with nats_anyio.connect(js_server.url) as nc:
        js = nc.jetstream(timeout=3.0)
        name, subj = uniq("S"), uniq("s")
        await js.create_stream(name=name, subjects=[f"{subj}.>"], storage="memory")
        c = await js.create_consumer(name, ack_policy="none")
        async with c.messages() as it:
            with anyio.move_on_after(0.3) as scope:
                await it.next()
            assert scope.cancelled_caught
            await js.publish(f"{subj}.a", b"later")
            assert (await it.next(timeout=3)).data == b"later"
