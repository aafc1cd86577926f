"""The async client leaves nothing open behind it: the memory streams that carry
its callbacks are closed with the client (else a ``ResourceWarning`` when they
are collected), after a normal close and after a failed connect."""

from __future__ import annotations

import gc
import warnings

import pytest

import nats_anyio
from nats_core.errors import ConnectError
from pynats.server import NatsServer, free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _unclosed_streams(seen: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in seen
        if issubclass(w.category, ResourceWarning) and "MemoryObject" in str(w.message)
    ]


async def _use_and_close(url: str) -> None:
    async with nats_anyio.connect(url, error_cb=print, closed_cb=print) as nc:
        await nc.flush()


async def _fail_to_connect() -> None:
    with pytest.raises(ConnectError):
        async with nats_anyio.connect(
            f"nats://127.0.0.1:{free_port()}", max_reconnect_attempts=0, connect_timeout=0.5
        ):
            pass  # pragma: no cover


async def test_closed_client_leaves_no_open_stream(nats_server_session: NatsServer) -> None:
    gc.collect()  # what earlier tests left is not this test's
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            await _use_and_close(nats_server_session.url)
        gc.collect()
    assert _unclosed_streams(seen) == []


async def test_failed_connect_leaves_no_open_stream() -> None:
    gc.collect()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        await _fail_to_connect()
        gc.collect()
    assert _unclosed_streams(seen) == []
