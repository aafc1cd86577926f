"""nats_sync and nats-py (the asyncio client from PyPI) on one real nats-server:
messages with headers and request/reply, in both directions.

nats-py runs under ``asyncio.run`` in the test thread; nats_sync runs its own
threads, and its blocking calls that wait on nats-py go through ``asyncio.to_thread``
so the event loop keeps serving."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import nats_sync
from nats_core.errors import NoRespondersError
from pynats.server import NatsServer

nats = pytest.importorskip("nats")
nats_errors = pytest.importorskip("nats.errors")


@pytest.fixture
def nc(nats_server: NatsServer) -> Iterator[nats_sync.Client]:
    client = nats_sync.connect(nats_server.url, name="pynats-interop")
    yield client
    client.close()


async def py_flush(py: Any) -> None:
    """Make sure the server has processed everything ``py`` sent.

    One ``flush()`` is not enough with nats-py 2.16: it writes its PING straight
    to the transport while an earlier SUB or PUB may still wait in nats-py's
    pending buffer for the flusher task, so the PONG can come back before the
    server saw the SUB. By the time that first PONG arrived the flusher has run,
    so the PING of a second ``flush()`` follows everything sent before.
    """
    await py.flush()
    await py.flush()


HEADERS = {
    "X-Trace-Id": "abc-123",
    "lower-key": "v",
    "MiXeD-Case": "value with spaces",
    "X-Unicode": "héllo ✓ 日本語",
}


def test_nats_sync_publishes_to_natspy(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    async def main() -> list[tuple[str, str, bytes, dict[str, str] | None]]:
        py = await nats.connect(nats_server.url)
        try:
            sub = await py.subscribe("interop.to.py")
            await py_flush(py)
            nc.publish("interop.to.py", b"plain")
            nc.publish("interop.to.py", b"with headers", headers=HEADERS)
            nc.publish("interop.to.py", b"", reply="my.reply", headers={"Only": "headers"})
            nc.publish("interop.to.py", bytes(range(256)) * 1000)
            nc.flush(timeout=2)
            out = []
            for _ in range(4):
                m = await sub.next_msg(timeout=2)
                out.append((m.subject, m.reply, m.data, m.headers))
            return out
        finally:
            await py.close()

    got = asyncio.run(main())
    assert got[0] == ("interop.to.py", "", b"plain", None)
    assert got[1] == ("interop.to.py", "", b"with headers", HEADERS)
    assert got[2] == ("interop.to.py", "my.reply", b"", {"Only": "headers"})
    assert got[3][2] == bytes(range(256)) * 1000


def test_natspy_publishes_to_nats_sync(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    sub = nc.subscribe("interop.from.py")
    wild = nc.subscribe("interop.>")
    nc.flush(timeout=2)

    async def main() -> None:
        py = await nats.connect(nats_server.url)
        try:
            await py.publish("interop.from.py", b"plain")
            await py.publish("interop.from.py", b"with headers", headers=HEADERS)
            await py.publish("interop.from.py", b"r", reply="some.reply", headers={"K": "v"})
            await py.publish("interop.from.py", b"\x00" * 500_000)
            await py_flush(py)
        finally:
            await py.close()

    asyncio.run(main())
    msgs = [sub.next_msg(timeout=2) for _ in range(4)]
    assert (msgs[0].data, msgs[0].headers, msgs[0].reply) == (b"plain", None, "")
    assert msgs[1].data == b"with headers"
    assert msgs[1].headers == HEADERS
    assert msgs[1].headers is not None
    assert list(msgs[1].headers) == list(HEADERS)  # case and order preserved
    assert (msgs[2].data, msgs[2].reply) == (b"r", "some.reply")
    assert msgs[2].headers == {"K": "v"}
    assert msgs[3].data == b"\x00" * 500_000
    assert [wild.next_msg(timeout=2).data for _ in range(4)] == [m.data for m in msgs]


def test_multi_valued_headers_reach_natspy(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    # nats-py keeps one value per key; the message must still parse and keep the others
    async def main() -> dict[str, str] | None:
        py = await nats.connect(nats_server.url)
        try:
            sub = await py.subscribe("interop.multi")
            await py_flush(py)
            nc.publish("interop.multi", b"m", headers={"Multi": ["a", "b"], "Single": "s"})
            nc.flush(timeout=2)
            m = await sub.next_msg(timeout=2)
            assert m.data == b"m"
            headers: dict[str, str] | None = m.headers
            return headers
        finally:
            await py.close()

    headers = asyncio.run(main())
    assert headers is not None
    assert headers["Single"] == "s"
    assert headers["Multi"] in ("a", "b")


def test_natspy_responder_nats_sync_request(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    async def main() -> list[nats_sync.Msg]:
        py = await nats.connect(nats_server.url)
        try:

            async def handler(msg: Any) -> None:
                if msg.headers:
                    echo = {"Echo": msg.headers.get("In", "")}
                    await py.publish(msg.reply, b"py-h:" + msg.data, headers=echo)
                else:
                    await msg.respond(b"py:" + msg.data)

            await py.subscribe("interop.py.svc", cb=handler)
            await py_flush(py)
            replies = []
            for body in (b"one", b"two"):
                replies.append(await asyncio.to_thread(nc.request, "interop.py.svc", body, 2))
            replies.append(
                await asyncio.to_thread(
                    lambda: nc.request("interop.py.svc", b"three", 2, headers={"In": "ü"})
                )
            )
            return replies
        finally:
            await py.close()

    replies = asyncio.run(main())
    assert [r.data for r in replies] == [b"py:one", b"py:two", b"py-h:three"]
    assert replies[0].headers is None
    assert replies[2].headers == {"Echo": "ü"}


def test_nats_sync_responder_natspy_request(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    seen_headers: list[object] = []

    def handler(msg: nats_sync.Msg) -> None:
        seen_headers.append(msg.headers)
        msg.respond(msg.data.upper(), headers={"Served-By": "nats_sync", "X-Uni": "cödé"})

    nc.subscribe("interop.sync.svc", cb=handler)
    nc.flush(timeout=2)

    async def main() -> list[tuple[bytes, dict[str, str] | None]]:
        py = await nats.connect(nats_server.url)
        try:
            out = []
            for body in (b"abc", b"xyz"):
                r = await py.request("interop.sync.svc", body, timeout=2)
                out.append((r.data, r.headers))
            r = await py.request("interop.sync.svc", b"h", timeout=2, headers={"Req": "1"})
            out.append((r.data, r.headers))
            return out
        finally:
            await py.close()

    got = asyncio.run(main())
    served = {"Served-By": "nats_sync", "X-Uni": "cödé"}
    assert got == [(b"ABC", served), (b"XYZ", served), (b"H", served)]
    assert seen_headers[:2] == [None, None]
    assert seen_headers[2] == {"Req": "1"}


def test_no_responders_seen_by_both(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    with pytest.raises(NoRespondersError):
        nc.request("interop.nobody", b"", timeout=2)

    async def main() -> None:
        py = await nats.connect(nats_server.url)
        try:
            with pytest.raises(nats_errors.NoRespondersError):
                await py.request("interop.nobody", b"", timeout=2)
        finally:
            await py.close()

    asyncio.run(main())


def test_mixed_queue_group(nats_server: NatsServer, nc: nats_sync.Client) -> None:
    n = 200
    ours = nc.subscribe("interop.q", queue="workers")
    nc.flush(timeout=2)

    async def main() -> list[int]:
        py = await nats.connect(nats_server.url)
        try:
            theirs = await py.subscribe("interop.q", queue="workers")
            await py_flush(py)
            for i in range(n):
                nc.publish("interop.q", str(i).encode())
            nc.flush(timeout=2)
            await py_flush(py)
            got = []
            while True:
                try:
                    got.append(int((await theirs.next_msg(timeout=0.3)).data))
                except nats_errors.TimeoutError:
                    return got
        finally:
            await py.close()

    theirs = asyncio.run(main())
    mine = []
    while True:
        try:
            mine.append(int(ours.next_msg(timeout=0.1).data))
        except TimeoutError:
            break
    assert sorted(mine + theirs) == list(range(n))
    assert mine and theirs
