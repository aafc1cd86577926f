"""Faults injected on real TCP (and TLS) connections to a real nats-server.

Each client connects through :class:`fault_proxy.FaultProxy`, a loopback proxy
that cuts, stalls, dribbles or corrupts the byte stream, so the transports the
in-memory tests never reach are exercised: plain sockets in ``nats_sync``,
asyncio's transport in ``nats_anyio`` on asyncio, anyio's sockets on Trio.

Every scenario runs on the three (``kind``: ``sync``, ``asyncio``, ``trio``)
through one small async adapter; the blocking client's calls run in worker
threads of an asyncio test. Some run over TLS as well (``target``: a TLS
nats-server; the proxy forwards the encrypted bytes). A second, blocking
client (``peer``) connects to the server directly: it publishes, answers
requests and watches what arrives.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

import nats_anyio
import nats_sync
from fault_proxy import FaultProxy
from nats_core import Msg, encode_headers
from nats_core.errors import (
    ConnectionClosedError,
    NatsTimeoutError,
    ReconnectBufferFullError,
    RemoteProtocolError,
    StaleConnectionError,
)
from pynats.server import NatsServer
from security_helpers import Certs, make_certs, tls_block

pytestmark = pytest.mark.anyio

HeadersArg = Mapping[str, str | Sequence[str]] | None

#: Options of every client under test: reconnect at once, forever.
CLIENT_OPTS: dict[str, Any] = {
    "reconnect_time_wait": 0.05,
    "reconnect_jitter": 0,
    "reconnect_jitter_tls": 0,
    "max_reconnect_attempts": -1,
    "connect_timeout": 5.0,
}
#: Liveness PINGs often enough to notice a stalled connection within a second.
STALE_OPTS: dict[str, Any] = {"ping_interval": 0.25, "max_pings_outstanding": 2}


@pytest.fixture(params=["sync", "asyncio", "trio"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def anyio_backend(kind: str) -> str:
    # The blocking client runs in worker threads of an asyncio test.
    return "trio" if kind == "trio" else "asyncio"


# ------------------------------------------------------------------ servers


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(Path(tmp_path_factory.mktemp("faults-certs")))


@pytest.fixture(scope="module")
def tls_server(certs: Certs) -> Iterator[NatsServer]:
    with NatsServer(config=tls_block(certs.server_cert, certs.server_key)) as srv:
        yield srv


@dataclass(frozen=True)
class Target:
    """The server the proxy forwards to, and the TLS options its clients need."""

    server: NatsServer
    tls: bool
    opts: dict[str, Any]  # client options: the CA file for TLS

    @property
    def scheme(self) -> str:
        return "tls" if self.tls else "nats"

    @property
    def direct_url(self) -> str:
        return f"{self.scheme}://{self.server.host}:{self.server.port}"


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    """The plain server, or with ``indirect`` parameter ``"tls"`` the TLS one."""
    if getattr(request, "param", "plain") == "tls":
        certs: Certs = request.getfixturevalue("certs")
        return Target(request.getfixturevalue("tls_server"), True, {"tls_ca_file": certs.ca})
    return Target(request.getfixturevalue("server"), False, {})


#: Parametrize a test over the plain and the TLS server.
both_transports = pytest.mark.parametrize("target", ["plain", "tls"], indirect=True)


@pytest.fixture
def proxy(target: Target) -> Iterator[FaultProxy]:
    with FaultProxy((target.server.host, target.server.port), scheme=target.scheme) as p:
        yield p


@pytest.fixture
def peer(target: Target) -> Iterator[nats_sync.Client]:
    """A blocking client connected straight to the server."""
    with nats_sync.connect(target.direct_url, **target.opts) as nc:
        yield nc


# ------------------------------------------------------------------ adapter


class Sub(Protocol):
    sid: int

    async def next_msg(self, timeout: float = 5.0) -> Msg: ...


class Client(Protocol):
    @property
    def nc(self) -> nats_sync.Client | nats_anyio.Client: ...

    async def publish(
        self, subject: str, data: bytes = b"", headers: HeadersArg = None
    ) -> None: ...
    async def subscribe(self, subject: str) -> Sub: ...
    async def request(self, subject: str, data: bytes = b"", timeout: float = 5.0) -> Msg: ...
    async def flush(self, timeout: float = 5.0) -> None: ...
    async def close(self) -> None: ...


class SyncSub:
    def __init__(self, sub: nats_sync.Subscription) -> None:
        self._sub = sub
        self.sid = sub.sid

    async def next_msg(self, timeout: float = 5.0) -> Msg:
        return await anyio.to_thread.run_sync(self._sub.next_msg, timeout)


class SyncClient:
    """The blocking client; each call in a worker thread."""

    def __init__(self, nc: nats_sync.Client) -> None:
        self.nc = nc

    async def publish(self, subject: str, data: bytes = b"", headers: HeadersArg = None) -> None:
        await anyio.to_thread.run_sync(partial(self.nc.publish, subject, data, headers=headers))

    async def subscribe(self, subject: str) -> Sub:
        return SyncSub(await anyio.to_thread.run_sync(self.nc.subscribe, subject))

    async def request(self, subject: str, data: bytes = b"", timeout: float = 5.0) -> Msg:
        return await anyio.to_thread.run_sync(partial(self.nc.request, subject, data, timeout))

    async def flush(self, timeout: float = 5.0) -> None:
        await anyio.to_thread.run_sync(self.nc.flush, timeout)

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self.nc.close)


class AnyioSub:
    def __init__(self, sub: nats_anyio.Subscription) -> None:
        self._sub = sub
        self.sid = sub.sid

    async def next_msg(self, timeout: float = 5.0) -> Msg:
        return await self._sub.next_msg(timeout)


class AnyioClient:
    def __init__(self, nc: nats_anyio.Client) -> None:
        self.nc = nc

    async def publish(self, subject: str, data: bytes = b"", headers: HeadersArg = None) -> None:
        await self.nc.publish(subject, data, headers=headers)
        await anyio.lowlevel.checkpoint()  # publish may not yield; let the client's tasks run

    async def subscribe(self, subject: str) -> Sub:
        return AnyioSub(await self.nc.subscribe(subject))

    async def request(self, subject: str, data: bytes = b"", timeout: float = 5.0) -> Msg:
        return await self.nc.request(subject, data, timeout)

    async def flush(self, timeout: float = 5.0) -> None:
        await self.nc.flush(timeout)

    async def close(self) -> None:
        await self.nc.close()


class Recorder:
    """Connection callbacks, errors, and why each disconnect happened."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.errors: list[BaseException] = []
        self.reasons: list[BaseException | None] = []
        self.asyncio_bugs: list[BaseException] = []  # see _cpython_156512
        self.nc: nats_sync.Client | nats_anyio.Client | None = None

    def options(self) -> dict[str, Any]:
        def disconnected() -> None:
            self.reasons.append(self.nc.last_error if self.nc is not None else None)
            self.events.append("disconnected")

        return {
            "disconnected_cb": disconnected,
            "reconnected_cb": lambda: self.events.append("reconnected"),
            "error_cb": self.errors.append,
        }


def _cpython_156512(context: dict[str, Any]) -> bool:
    """CPython's selector transport calls ``connection_lost`` twice when a write
    made from ``resume_writing()`` fails (asyncio's TLS protocol writes from
    there): the second call raises AttributeError in the event loop
    (python/cpython#156512). Not the client's doing; the client sees one loss."""
    exc = context.get("exception")
    return isinstance(exc, AttributeError) and "_call_connection_lost" in str(
        context.get("handle", "")
    )


@contextmanager
def known_asyncio_errors_ignored(rec: Recorder) -> Iterator[None]:
    """Keep the CPython bug above (only it) from failing an asyncio test: anyio's
    test runner raises what reaches the loop's exception handler."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _cpython_156512(context):
            rec.asyncio_bugs.append(context["exception"])
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


@asynccontextmanager
async def open_client(kind: str, url: str, rec: Recorder, **opts: Any) -> AsyncIterator[Client]:
    """A client of ``kind`` connected to ``url``; closed at the end of the block."""
    options = {**CLIENT_OPTS, **rec.options(), **opts}
    if kind == "asyncio":
        with known_asyncio_errors_ignored(rec):
            async with nats_anyio.connect(url, **options) as anc:
                rec.nc = anc
                yield AnyioClient(anc)
            assert anc.is_closed
    elif kind == "sync":
        nc = await anyio.to_thread.run_sync(partial(nats_sync.connect, url, **options))
        rec.nc = nc
        try:
            yield SyncClient(nc)
        finally:
            await anyio.to_thread.run_sync(nc.close)
        assert nc.is_closed
    else:
        async with nats_anyio.connect(url, **options) as anc:
            rec.nc = anc
            yield AnyioClient(anc)
        assert anc.is_closed


async def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    deadline = anyio.current_time() + timeout
    while not cond():
        if anyio.current_time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or cond}")
        await anyio.sleep(0.01)


async def reconnected(c: Client, n: int = 1) -> None:
    """Wait until the client has reconnected ``n`` times in all and is connected."""
    await wait_for(
        lambda: c.nc.stats.reconnects >= n and c.nc.is_connected,
        what=f"reconnect #{n} (status {c.nc.status}, last error {c.nc.last_error!r})",
    )


def cut_count_is(proxy: FaultProxy, n: int) -> bool:
    return proxy.down.cuts == n


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await anyio.to_thread.run_sync(fn)


Opener = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def connect(kind: str, target: Target, proxy: FaultProxy) -> Opener:
    """``connect(rec, **opts)``: a client of ``kind`` connected through the proxy
    (as an async context manager)."""
    return partial(open_client, kind, proxy.url, **target.opts)


def echo(msg: nats_sync.Msg) -> None:
    msg.respond(b"re:" + msg.data, headers={"Echo": "yes"})


# ---------------------------------------------------------------- scenarios


async def test_cut_mid_payload_reconnects_and_drops_the_partial_message(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Cut 37 bytes into a MSG payload: reconnect, resubscribe, and the next
    messages are the first delivered."""
    rec = Recorder()
    with anyio.fail_after(30):
        async with connect(rec) as c:
            sub = await c.subscribe("cut.x")
            await c.flush()
            payload = b"0123456789" * 10
            head = b"MSG cut.x %d %d\r\n" % (sub.sid, len(payload))
            proxy.down.cut_after(len(head) + 37)  # inside the payload
            peer.publish("cut.x", payload)
            peer.flush(timeout=5)
            await wait_for(lambda: proxy.down.cuts == 1, what="the cut")
            assert proxy.down.last_cut == head + payload[:37]
            await reconnected(c)
            assert proxy.accepted == 2
            assert isinstance(rec.reasons[0], OSError), rec.reasons
            await c.flush()  # the SUB was replayed before this PING
            for i in range(3):
                peer.publish("cut.x", b"after-%d" % i)
            peer.flush(timeout=5)
            got = [(await sub.next_msg()).data for _ in range(3)]
            assert got == [b"after-0", b"after-1", b"after-2"]  # nothing partial before
            with pytest.raises(NatsTimeoutError):
                await sub.next_msg(timeout=0.2)
            assert rec.events[:2] == ["disconnected", "reconnected"]
            assert c.nc.stats.reconnects == 1


async def test_cut_at_each_point_of_a_message(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Cut inside the control line, the header block, the payload, the trailing
    CRLF and between two messages: only whole messages are ever delivered."""
    rec = Recorder()
    headers = {"Key": "value", "Multi": ["a", "b"]}
    first = b"A" * 40 + b"\r\nMSG sweep.x 1 2\r\nhi\r\n" + b"A" * 20  # looks like protocol
    second = b"B" * 30
    with anyio.fail_after(40):
        async with connect(rec) as c:
            sub = await c.subscribe("sweep.x")
            await c.flush()
            hdr = encode_headers(headers)
            line = b"HMSG sweep.x %d %d %d\r\n" % (sub.sid, len(hdr), len(hdr) + len(first))
            frame = line + hdr + first + b"\r\n"
            stream = frame + b"MSG sweep.x %d %d\r\n%s\r\n" % (sub.sid, len(second), second)
            points = {
                "before anything": 0,
                "in the verb": 2,
                "before the control line's LF": len(line) - 1,
                "in the header block": len(line) + 12,
                "between headers and payload": len(line) + len(hdr),
                "in the payload": len(line) + len(hdr) + 50,
                "before the trailing CRLF": len(frame) - 2,
                "between CR and LF": len(frame) - 1,
                "between the two messages": len(frame),
                "in the second message": len(frame) + 20,
            }
            for n, (where, at) in enumerate(points.items(), start=1):
                proxy.down.cut_after(at)
                peer.publish("sweep.x", first, headers=headers)
                peer.publish("sweep.x", second)
                peer.flush(timeout=5)
                await wait_for(partial(cut_count_is, proxy, n), what=f"the cut {where}")
                assert proxy.down.last_cut == stream[:at], (where, proxy.down.last_cut)
                await reconnected(c, n)
                await c.flush()  # resubscribed
                marker = b"marker-%d" % n
                peer.publish("sweep.x", marker)
                peer.flush(timeout=5)
                got = []
                while (msg := await sub.next_msg()).data != marker:
                    got.append(msg)
                for msg in got:  # whatever was delivered is whole
                    assert msg.data == first and msg.headers == headers, where
                if at >= len(frame):
                    assert len(got) == 1, where
                elif at >= len(frame) - 2:  # the payload is all there, its CRLF is not
                    assert len(got) <= 1, where
                else:
                    assert got == [], where
            assert all(isinstance(r, OSError) for r in rec.reasons), rec.reasons


SLOW_MSGS: list[tuple[str, bytes, dict[str, str | list[str]] | None]] = [
    ("slow.a", b"", None),
    ("slow.a", b"x", {"K": "v"}),
    ("slow.b.c", b"hello\r\nMSG fake 1 3\r\nabc\r\n", {"Multi": ["1", "2", "3"], "Other": "o"}),
    ("slow.b.c", bytes(range(256)) * 3, {"Long": "h" * 300}),
    ("slow.a", b"\r\n" * 40, None),
    ("slow.d", b"", {"Only": "headers"}),
    ("slow.a", b"NATS/1.0\r\n\r\nnot a header block", {"Nats-Msg-Id": "id-1"}),
    ("slow.e", b"tail", None),
]


@both_transports
async def test_slow_reads_reassemble_messages_exactly(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Every byte from the server, the handshake's (and TLS's) included, comes
    1 to 7 at a time."""
    rec = Recorder()
    peer.subscribe("slow.svc", cb=echo)
    peer.flush(timeout=5)
    proxy.down.slow(7, 0.0003)
    with anyio.fail_after(30):
        async with connect(rec, connect_timeout=10) as c:
            sub = await c.subscribe("slow.>")
            await c.flush(timeout=10)
            pieces, sent = proxy.down.pieces, proxy.down.bytes
            for subject, data, headers in SLOW_MSGS:
                peer.publish(subject, data, headers=headers)
            peer.flush(timeout=5)
            for subject, data, headers in SLOW_MSGS:
                msg = await sub.next_msg(timeout=10)
                assert (msg.subject, msg.data) == (subject, data)
                if headers is None:
                    assert msg.headers is None
                else:
                    assert msg.headers == headers
            reply = await c.request("slow.svc", b"question " * 20, timeout=10)
            assert reply.data == b"re:" + b"question " * 20
            assert reply.headers == {"Echo": "yes"}
            dribbled = proxy.down.bytes - sent
            assert proxy.down.pieces - pieces >= dribbled // 7  # it was dribbled indeed
            assert dribbled > sum(len(data) for _, data, _ in SLOW_MSGS)
            assert c.nc.stats.reconnects == 0 and not rec.errors and not rec.events


@both_transports
async def test_garbage_from_the_server_then_reconnect(
    connect: Opener, target: Target, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """In clear, garbage is a protocol error (to ``error_cb`` too); under TLS the
    TLS layer refuses it first (a transport error). Either way: reconnect."""
    rec = Recorder()
    watch = peer.subscribe("garbage.up")
    peer.flush(timeout=5)
    with anyio.fail_after(30):
        async with connect(rec) as c:
            sub = await c.subscribe("garbage.down")
            await c.flush()
            assert proxy.inject(b"GARBAGE FROM THE SERVER\r\n") == 1
            await reconnected(c)
            if target.tls:
                assert isinstance(rec.reasons[0], OSError), rec.reasons
            else:
                await wait_for(
                    lambda: any(isinstance(e, RemoteProtocolError) for e in rec.errors),
                    what="the protocol error in error_cb",
                )
                assert isinstance(rec.reasons[0], RemoteProtocolError), rec.reasons
                assert isinstance(c.nc.last_error, RemoteProtocolError)
            await c.flush()
            peer.publish("garbage.down", b"fine")
            assert (await sub.next_msg()).data == b"fine"
            await c.publish("garbage.up", b"also fine")
            await c.flush()
            got = await in_thread(lambda: watch.next_msg(timeout=5))
            assert got.data == b"also fine"


async def test_stalled_server_is_stale_and_calls_time_out(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """The server stops sending: flush and request time out on time while the
    unanswered PINGs mark the connection stale; the reconnect completes once
    the server answers again."""
    rec = Recorder()
    peer.subscribe("stale.svc", cb=echo)
    peer.flush(timeout=5)
    with anyio.fail_after(30):
        async with connect(rec, **STALE_OPTS) as c:
            sub = await c.subscribe("stale.x")
            await c.flush()
            proxy.down.stall()  # no PONG, no reply, no INFO for a new connection
            outcomes: dict[str, tuple[BaseException | None, float]] = {}

            async def call(name: str, fn: Callable[[], Any]) -> None:
                start = anyio.current_time()
                try:
                    await fn()
                    err = None
                except Exception as e:
                    err = e
                outcomes[name] = (err, anyio.current_time() - start)

            async with anyio.create_task_group() as tg:
                tg.start_soon(call, "flush", lambda: c.flush(timeout=1.0))
                tg.start_soon(call, "request", lambda: c.request("stale.svc", b"?", timeout=1.0))
            for name, (err, took) in outcomes.items():  # the disconnect came, or not yet
                assert isinstance(err, NatsTimeoutError), (name, err)
                assert 0.9 <= took < 3.5, (name, took)
            await wait_for(lambda: "disconnected" in rec.events, what="the stale connection")
            assert isinstance(rec.reasons[0], StaleConnectionError), rec.reasons
            assert await in_thread(lambda: proxy.wait_accepted(2)), "no reconnect attempt"
            assert not c.nc.is_connected  # the handshake cannot complete while stalled
            proxy.down.resume()
            await reconnected(c)
            await c.flush()
            peer.publish("stale.x", b"back")
            assert (await sub.next_msg()).data == b"back"
            assert (await c.request("stale.svc", b"!")).data == b"re:!"


@both_transports
async def test_server_stops_reading_while_publishing(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Publish waits while the server does not read, past 1 MiB (or
    ``max_outbound_bytes``) queued, as both clients document; the stale
    connection is noticed all the same, which ends the wait."""
    rec = Recorder()
    watch = peer.subscribe("flood.after")
    peer.flush(timeout=5)
    with anyio.fail_after(40):
        async with connect(rec, max_outbound_bytes=256 * 1024, **STALE_OPTS) as c:
            await c.flush()
            proxy.up.stall()
            chunk = b"x" * 16384
            longest = 0.0
            count = 0
            queued = 0  # the most bytes the client's core held after a publish
            start = anyio.current_time()
            while c.nc.is_connected and anyio.current_time() - start < 15:
                t0 = anyio.current_time()
                await c.publish("flood", chunk)
                longest = max(longest, anyio.current_time() - t0)
                queued = max(queued, c.nc._conn.outbound_size)
                count += 1
            assert not c.nc.is_connected, f"still connected after {count} publishes"
            assert longest >= 0.1, "publish never waited for the stalled server"
            assert longest < 5.0, f"one publish waited {longest:.1f} s"
            assert queued <= 256 * 1024 + len(chunk) + 64, queued
            await wait_for(lambda: "disconnected" in rec.events, what="the disconnect")
            assert isinstance(rec.reasons[0], StaleConnectionError), rec.reasons
            proxy.up.resume()
            await reconnected(c)
            await c.publish("flood.after", b"works")
            await c.flush(timeout=10)
            got = await in_thread(lambda: watch.next_msg(timeout=5))
            assert got.data == b"works"


async def wait_stuck(progress: Callable[[], int], quiet: float = 0.3) -> None:
    """Wait until ``progress()`` stopped changing for ``quiet`` seconds."""
    last, since = progress(), anyio.current_time()
    deadline = since + 15
    while anyio.current_time() - since < quiet:
        await anyio.sleep(0.02)
        if progress() != last:
            last, since = progress(), anyio.current_time()
        if anyio.current_time() > deadline:
            pytest.fail("the publisher never got stuck")


@both_transports
async def test_cut_while_the_client_is_blocked_writing(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """The server stops reading while the client publishes 8 MB, then the
    connection is cut 700 kB into the backlog: the blocked write fails, the
    client reconnects, and the server delivers only whole messages, in order."""
    size = 512 * 1024

    def payload(i: int) -> bytes:
        return b"%04d" % i * (size // 4)

    rec = Recorder()
    watch = peer.subscribe("big.>", pending_bytes_limit=-1)
    peer.flush(timeout=5)
    with anyio.fail_after(40):
        async with connect(rec) as c:
            await c.flush()
            proxy.up.stall()
            published = 0

            async def flood() -> None:
                nonlocal published
                for i in range(16):
                    try:
                        await c.publish("big.x", payload(i))
                    except ReconnectBufferFullError:  # documented, while reconnecting
                        pass
                    published += 1

            async with anyio.create_task_group() as tg:
                tg.start_soon(flood)
                await wait_stuck(lambda: published)
                assert published < 16, "publish never waited for the stalled server"
                proxy.up.cut_after(700_000)
                proxy.up.resume()
            await wait_for(lambda: proxy.up.cuts == 1, what="the cut")
            await reconnected(c)
            assert isinstance(rec.reasons[0], OSError), rec.reasons
            await c.publish("big.end", b"end")
            await c.flush(timeout=10)
            seen: list[int] = []
            while (msg := await in_thread(lambda: watch.next_msg(timeout=10))).data != b"end":
                i = int(msg.data[:4])
                assert msg.data == payload(i), f"message {i} is corrupt"
                seen.append(i)
            assert seen == sorted(set(seen)), seen  # no duplicate, in order
            if not proxy.up.last_cut.startswith(b"PUB"):  # TLS: the cut is somewhere
                assert seen[:1] == [0] and 1 not in seen, seen  # in clear: in message 1
            assert c.nc.is_connected


async def test_drop_all_with_requests_in_flight(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Requests answered after the reconnect succeed (the reply inbox is
    resubscribed); unanswered ones time out at their timeout, not later."""
    rec = Recorder()
    gate = threading.Event()
    arrived: list[bytes] = []

    def hold(msg: nats_sync.Msg) -> None:
        gate.wait(10)  # answer once the client is back
        msg.respond(b"re:" + msg.data)

    peer.subscribe("drop.hold", cb=hold)
    peer.subscribe("drop.*", cb=lambda m: arrived.append(m.data))
    peer.subscribe("drop.mute", cb=lambda m: None)  # never answers
    peer.flush(timeout=5)
    try:
        with anyio.fail_after(30):
            async with connect(rec) as c:
                sub = await c.subscribe("drop.sub")
                await c.flush()
                results: dict[bytes, tuple[bytes | BaseException, float]] = {}

                async def ask(subject: str, data: bytes, timeout: float) -> None:
                    start = anyio.current_time()
                    try:
                        out: bytes | BaseException = (await c.request(subject, data, timeout)).data
                    except Exception as e:
                        out = e
                    results[data] = (out, anyio.current_time() - start)

                async with anyio.create_task_group() as tg:
                    for i in range(4):
                        tg.start_soon(ask, "drop.hold", b"h%d" % i, 10.0)
                    for i in range(2):
                        tg.start_soon(ask, "drop.mute", b"m%d" % i, 1.0)
                    await wait_for(lambda: len(arrived) == 6, what="the requests at the server")
                    assert proxy.drop_all() == 1
                    await reconnected(c)
                    await c.flush()  # the reply inbox is subscribed again
                    gate.set()
                for i in range(4):
                    out, took = results[b"h%d" % i]
                    assert out == b"re:h%d" % i, (out, took)
                for i in range(2):
                    out, took = results[b"m%d" % i]
                    assert isinstance(out, NatsTimeoutError), out
                    assert 0.9 <= took < 3.5, took
                assert isinstance(rec.reasons[0], OSError), rec.reasons
                peer.publish("drop.sub", b"still here")
                assert (await sub.next_msg()).data == b"still here"
    finally:
        gate.set()


@pytest.mark.parametrize("target", ["tls"], indirect=True)
async def test_tls_cut_mid_record_reconnects(
    connect: Opener, proxy: FaultProxy, peer: nats_sync.Client
) -> None:
    """Cut inside a TLS record carrying a MSG: the TLS read path ends the
    connection, the client reconnects over TLS and reads and writes again."""
    rec = Recorder()
    peer.subscribe("tls.svc", cb=echo)
    watch = peer.subscribe("tls.up")
    peer.flush(timeout=5)
    with anyio.fail_after(30):
        async with connect(rec) as c:
            sub = await c.subscribe("tls.x")
            await c.flush()
            assert c.nc.server_info is not None and c.nc.server_info.tls_required
            # 40 kB of payload span three TLS records: the cut ends the second
            proxy.down.cut_after(20000)
            peer.publish("tls.x", b"y" * 40000)
            peer.flush(timeout=5)
            await wait_for(lambda: proxy.down.cuts == 1, what="the cut")
            assert len(proxy.down.last_cut) == 20000
            await reconnected(c)
            assert isinstance(rec.reasons[0], OSError), rec.reasons
            await c.flush()
            peer.publish("tls.x", b"after")
            assert (await sub.next_msg()).data == b"after"  # not the cut one
            assert (await c.request("tls.svc", b"ping")).data == b"re:ping"
            await c.publish("tls.up", b"z" * 100000)  # the TLS write path, several records
            await c.flush()
            got = await in_thread(lambda: watch.next_msg(timeout=5))
            assert got.data == b"z" * 100000


@pytest.mark.parametrize("target", ["tls"], indirect=True)  # in clear: test_anyio_faults.py
async def test_close_while_the_server_stopped_reading(connect: Opener, proxy: FaultProxy) -> None:
    """close() returns after its bounded last flush although megabytes are stuck
    on a server that stopped reading (TLS: the TLS write is the one stuck), and
    the publish waiting meanwhile fails with ConnectionClosedError."""
    rec = Recorder()
    with anyio.fail_after(30):
        async with connect(rec, connect_timeout=1.0) as c:
            await c.flush()
            proxy.up.stall()
            published = 0

            async def flood() -> None:
                nonlocal published
                with pytest.raises(ConnectionClosedError):  # the waiting publish fails
                    for _ in range(32):
                        await c.publish("stuck", b"s" * 512 * 1024)
                        published += 1

            async with anyio.create_task_group() as tg:
                tg.start_soon(flood)
                await wait_stuck(lambda: published)
                assert published < 32, "publish never waited for the stalled server"
                start = anyio.current_time()
                await c.close()
                took = anyio.current_time() - start
            assert c.nc.is_closed
            assert took < 5.0, took  # a last flush of 2 s (sync) or connect_timeout (anyio)


# ---------------------------------------------------------------- the proxy


def test_proxy_counts_cuts_and_closes_without_leaks(server: NatsServer) -> None:
    """The proxy on its own, with raw sockets: bytes counted, a stalled link,
    an injection, a drop, and a close that leaves no thread or connection."""
    before = {t.name for t in threading.enumerate()}
    with FaultProxy((server.host, server.port)) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as a:
            assert a.recv(4096).startswith(b"INFO ")  # the server's greeting
            hello = b'CONNECT {"verbose":false}\r\nPING\r\n'
            a.sendall(hello)
            assert a.recv(4096) == b"PONG\r\n"
            assert proxy.accepted == 1 and proxy.active == 1
            assert proxy.bytes_up == len(hello)
            assert proxy.inject(b"+OK\r\n") == 1
            assert a.recv(4096) == b"+OK\r\n"
            assert proxy.drop_all() == 1
            assert a.recv(4096) == b""  # closed
        proxy.down.stall()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as b:
            assert proxy.wait_accepted(2)
            b.settimeout(0.2)
            with pytest.raises(TimeoutError):
                b.recv(4096)  # the INFO is held
            proxy.down.cut_after(5)
            proxy.down.resume()
            b.settimeout(5)
            assert b.recv(4096) == b"INFO "
            assert b.recv(4096) == b""
            assert proxy.down.cuts == 1 and proxy.down.last_cut == b"INFO "
        proxy.up.stall()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            assert proxy.wait_accepted(3)
            proxy.close()  # with a connection still open and a direction stalled
            assert proxy.active == 0
            c.settimeout(5)
            while c.recv(4096):  # the INFO perhaps, then the end
                pass
    assert {t.name for t in threading.enumerate()} <= before
