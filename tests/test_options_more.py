"""More of nats.go's connection options in both clients, against real servers:
``flusher_timeout`` (FlusherTimeout), ``use_old_request_style``
(UseOldRequestStyle) and ``tls`` as a callable (ClientTLSConfig)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

import nats_anyio
import nats_sync
from fault_proxy import FaultProxy
from nats_core import build_options
from nats_core.errors import ConfigError, NatsTimeoutError, NoRespondersError
from pynats.server import NatsServer
from security_helpers import Certs, make_certs, tls_block


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


@pytest.fixture
def proxy(server: NatsServer) -> Iterator[FaultProxy]:
    with FaultProxy((server.host, server.port)) as p:
        yield p


class Recorder:
    """What the connection callbacks saw, thread-safe enough for the tests."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.events: list[str] = []
        self.disconnected = threading.Event()
        self.reconnected = threading.Event()

    def opts(self) -> dict[str, Any]:
        def error_cb(e: BaseException) -> None:
            self.errors.append(e)

        def disconnected_cb() -> None:
            self.events.append("disconnected")
            self.disconnected.set()

        def reconnected_cb() -> None:
            self.events.append("reconnected")
            self.reconnected.set()

        return {
            "error_cb": error_cb,
            "disconnected_cb": disconnected_cb,
            "reconnected_cb": reconnected_cb,
        }


#: Quick reconnects; no liveness PING during the test (the flusher timeout alone acts).
FAST = {"reconnect_time_wait": 0.1, "connect_timeout": 1.0, "ping_interval": 60.0}
CHUNK = b"x" * (256 * 1024)


def _flusher_error(rec: Recorder) -> BaseException:
    found = [e for e in rec.errors if isinstance(e, NatsTimeoutError)]
    assert found, rec.errors
    assert "flusher timeout" in str(found[0])
    return found[0]


# ------------------------------------------------------------ flusher_timeout


def test_sync_flusher_timeout_fails_a_blocked_write(server: NatsServer, proxy: FaultProxy) -> None:
    rec = Recorder()
    with (
        nats_sync.connect(server.url) as peer,
        nats_sync.connect(proxy.url, flusher_timeout=0.5, **FAST, **rec.opts()) as nc,
    ):
        watch = peer.subscribe("ft.after")
        peer.flush()
        nc.flush()
        proxy.up.stall()  # the server stops reading: the socket buffers fill up
        start = time.monotonic()

        def flood() -> None:
            while not rec.disconnected.is_set() and time.monotonic() - start < 20:
                try:
                    nc.publish("ft.flood", CHUNK)  # past 1 MiB queued, publish writes
                except Exception:  # the reconnect buffer may fill: not the point here
                    time.sleep(0.01)

        t = threading.Thread(target=flood)
        t.start()
        assert rec.disconnected.wait(20), "the blocked write never failed the connection"
        took = time.monotonic() - start
        t.join(10)
        _flusher_error(rec)
        assert took < 10, took
        proxy.up.resume()
        assert rec.reconnected.wait(10), "no reconnect"
        nc.publish("ft.after", b"back")
        nc.flush(timeout=5)
        assert watch.next_msg(timeout=5).data == b"back"
        assert rec.events[:2] == ["disconnected", "reconnected"]


def test_sync_without_flusher_timeout_the_write_waits(proxy: FaultProxy) -> None:
    """The control: the same stall without the option keeps the connection."""
    assert build_options().flusher_timeout is None  # no limit by default
    rec = Recorder()
    with nats_sync.connect(proxy.url, **FAST, **rec.opts()) as nc:
        nc.flush()
        proxy.up.stall()
        stop = threading.Event()

        def flood() -> None:
            while not stop.is_set():
                try:
                    nc.publish("ft.flood", CHUNK)
                except Exception:
                    return

        t = threading.Thread(target=flood)
        t.start()
        time.sleep(2.0)
        assert nc.is_connected and not rec.disconnected.is_set()
        stop.set()
        proxy.up.resume()
        t.join(10)
        nc.flush(timeout=10)
    with pytest.raises(Exception, match="flusher_timeout"):
        build_options(flusher_timeout=0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_anyio_flusher_timeout_fails_a_blocked_write(
    server: NatsServer, proxy: FaultProxy
) -> None:
    rec = Recorder()
    with anyio.fail_after(40):
        async with (
            nats_anyio.connect(server.url) as peer,
            nats_anyio.connect(proxy.url, flusher_timeout=0.5, **FAST, **rec.opts()) as nc,
        ):
            watch = await peer.subscribe("ft.after")
            await peer.flush()
            await nc.flush()
            proxy.up.stall()
            start = anyio.current_time()
            while not rec.disconnected.is_set() and anyio.current_time() - start < 20:
                try:
                    await nc.publish("ft.flood", CHUNK)
                except Exception:
                    await anyio.sleep(0.01)
            assert rec.disconnected.is_set(), "the blocked write never failed the connection"
            assert anyio.current_time() - start < 10
            _flusher_error(rec)
            proxy.up.resume()
            while not rec.reconnected.is_set():
                await anyio.sleep(0.02)
            await nc.publish("ft.after", b"back")
            await nc.flush(timeout=5)
            assert (await watch.next_msg(timeout=5)).data == b"back"
            assert rec.events[:2] == ["disconnected", "reconnected"]


# ----------------------------------------------------- use_old_request_style


def _table(nc: Any) -> list[str]:
    """Subjects of the core's subscription table (the request inbox included)."""
    return sorted(s.subject for s in nc._conn.subscriptions.values())


def test_sync_old_request_style(server: NatsServer) -> None:
    seen: list[tuple[str, list[str]]] = []
    with (
        nats_sync.connect(server.url) as svc,
        nats_sync.connect(server.url, use_old_request_style=True) as nc,
    ):

        def echo(m: nats_sync.Msg) -> None:
            seen.append((m.reply, _table(nc)))  # while nc's request waits
            m.respond(m.data.upper(), headers=m.headers)

        svc.subscribe("old.echo", cb=echo)
        svc.subscribe("old.mute", cb=lambda m: None)
        svc.flush()
        base = nc.num_subscriptions
        for i in range(3):
            msg = nc.request("old.echo", b"hi %d" % i, timeout=2, headers={"K": "v"})
            assert (msg.data, msg.headers["K"]) == (b"HI %d" % i, "v")
        replies = [r for r, _ in seen]
        assert len(set(replies)) == 3  # a unique inbox each time
        for reply, table in seen:
            assert table == [reply]  # its own subscription, no wildcard one
            assert reply.startswith("_INBOX.") and "*" not in reply
        with pytest.raises(NoRespondersError):
            nc.request("old.nobody", b"", timeout=2)
        with pytest.raises(NatsTimeoutError):
            nc.request("old.mute", b"", timeout=0.3)
        nc.flush()
        assert _table(nc) == [] and nc.num_subscriptions == base  # none outlives its request
        assert not any(s.endswith(".*") for s in _table(nc))


def test_sync_new_request_style_uses_one_wildcard_inbox(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as svc, nats_sync.connect(server.url) as nc:
        svc.subscribe("new.echo", cb=lambda m: m.respond(m.data))
        svc.flush()
        for _ in range(3):
            assert nc.request("new.echo", b"x", timeout=2).data == b"x"
        (only,) = _table(nc)
        assert only.startswith("_INBOX.") and only.endswith(".*")


@pytest.mark.anyio
async def test_anyio_old_request_style(server: NatsServer) -> None:
    seen: list[tuple[str, list[str]]] = []
    async with (
        nats_anyio.connect(server.url) as svc,
        nats_anyio.connect(server.url, use_old_request_style=True) as nc,
    ):

        async def echo(m: nats_anyio.Msg) -> None:
            seen.append((m.reply, _table(nc)))
            await m.respond(m.data.upper(), headers=m.headers)

        async def mute(m: nats_anyio.Msg) -> None:
            pass

        await svc.subscribe("old.echo", cb=echo)
        await svc.subscribe("old.mute", cb=mute)
        await svc.flush()
        for i in range(3):
            msg = await nc.request("old.echo", b"hi %d" % i, timeout=2, headers={"K": "v"})
            assert (msg.data, msg.headers["K"]) == (b"HI %d" % i, "v")
        assert len({r for r, _ in seen}) == 3
        for reply, table in seen:
            assert table == [reply]
        with pytest.raises(NoRespondersError):
            await nc.request("old.nobody", b"", timeout=2)
        with pytest.raises(NatsTimeoutError):
            await nc.request("old.mute", b"", timeout=0.3)
        with anyio.move_on_after(0.2):  # a cancelled request leaves nothing behind either
            await nc.request("old.mute", b"", timeout=5)
        await nc.flush()
        assert _table(nc) == [] and nc.num_subscriptions == 0
        # and without the option: one wildcard inbox for all requests
        assert (await svc.request("old.echo", b"x", timeout=2)).data == b"X"
        assert [s for s in _table(svc) if s.endswith(".*")]


# ------------------------------------------------------- tls as a callable


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    pytest.importorskip("trustme")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def mtls_server(certs: Certs) -> Iterator[NatsServer]:
    """A server that wants a client certificate signed by the test CA."""
    config = tls_block(certs.server_cert, certs.server_key, ca=certs.ca, verify=True)
    with NatsServer(config=config) as srv:
        yield srv


class Rotating:
    """A ``tls=`` callable whose client certificate the test changes (None: none)."""

    def __init__(self, certs: Certs, make: Callable[..., ssl.SSLContext]) -> None:
        self.certs = certs
        self.make = make
        self.cert: tuple[str, str] | None = (certs.client_cert, certs.client_key)
        self.calls: list[tuple[str, str] | None] = []

    def __call__(self) -> ssl.SSLContext:
        self.calls.append(self.cert)
        if self.cert is None:
            return self.make(self.certs.ca)
        return self.make(self.certs.ca, *self.cert)


#: Reconnect attempts in quick succession.
QUICK = {
    "reconnect_time_wait": 0.05,
    "reconnect_jitter_tls": 0.0,
    "connect_timeout": 1.0,
    "max_reconnect_attempts": -1,
}


def test_tls_must_be_a_context_or_a_callable() -> None:
    with pytest.raises(ConfigError, match="tls must be"):
        build_options(tls="/etc/ssl/cert.pem")
    assert build_options(tls=lambda: None).core.tls_required  # a callable: TLS required


def test_sync_tls_callable_is_asked_at_every_dial(mtls_server: NatsServer, certs: Certs) -> None:
    tls = Rotating(certs, nats_sync.make_ssl_context)
    rec = Recorder()
    with nats_sync.connect(mtls_server.url, tls=tls, **QUICK, **rec.opts()) as nc:
        assert tls.calls == [(certs.client_cert, certs.client_key)]
        assert nc.tls_connection_state is not None
        tls.cert = None  # "rotated" to no certificate: the server refuses it
        nc.force_reconnect()
        deadline = time.monotonic() + 10
        while len(tls.calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(tls.calls) >= 4 and not nc.is_connected  # asked again at each attempt
        tls.cert = (certs.other_cert, certs.other_key)  # rotated to a new valid one
        assert rec.reconnected.wait(10)
        assert tls.calls[-1] == (certs.other_cert, certs.other_key)
        nc.flush(timeout=5)
        assert nc.is_connected and rec.events[-1] == "reconnected"


@pytest.mark.anyio
async def test_anyio_tls_callable_is_asked_at_every_dial(
    mtls_server: NatsServer, certs: Certs
) -> None:
    tls = Rotating(certs, nats_anyio.make_ssl_context)
    rec = Recorder()
    with anyio.fail_after(30):
        async with nats_anyio.connect(mtls_server.url, tls=tls, **QUICK, **rec.opts()) as nc:
            assert tls.calls == [(certs.client_cert, certs.client_key)]
            tls.cert = None
            await nc.force_reconnect()
            while len(tls.calls) < 4:
                await anyio.sleep(0.02)
            assert not nc.is_connected
            tls.cert = (certs.other_cert, certs.other_key)
            while not rec.reconnected.is_set():
                await anyio.sleep(0.02)
            assert tls.calls[-1] == (certs.other_cert, certs.other_key)
            await nc.flush(timeout=5)
            assert nc.tls_connection_state is not None


def test_sync_tls_callable_that_fails(mtls_server: NatsServer, certs: Certs) -> None:
    def broken() -> ssl.SSLContext:
        raise ValueError("no certificate today")

    with pytest.raises(nats_sync.ConnectError, match="no certificate today"):
        nats_sync.connect(mtls_server.url, tls=broken, connect_timeout=1.0)
    tls = Rotating(certs, nats_sync.make_ssl_context)
    rec = Recorder()
    with nats_sync.connect(mtls_server.url, tls=tls, **QUICK, **rec.opts()) as nc:
        tls.make = lambda *a: broken()  # failing while reconnecting: it keeps trying
        nc.force_reconnect()
        deadline = time.monotonic() + 10
        while len(tls.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(tls.calls) >= 3 and not nc.is_closed
        tls.make = nats_sync.make_ssl_context
        assert rec.reconnected.wait(10)
        nc.flush(timeout=5)
