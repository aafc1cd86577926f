"""One error tree: the blocking and the async client raise the same classes,
all defined once in ``nats_core.errors``, for the same faults."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import nats_anyio
import nats_sync
from nats_core import errors
from pynats.server import NatsServer, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(config='authorization { user: "u", password: "p" }\n') as srv:
        yield srv


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A listener that accepts and never says anything (a handshake times out)."""
    lsock = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])
            except OSError:
                return

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield lsock.getsockname()[1]
    stop.set()
    try:
        lsock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    lsock.close()
    for s in held:
        s.close()
    t.join(5)


def faults(server: NatsServer, silent_port: int) -> dict[str, dict[str, Any]]:
    """Each fault: the connect() arguments, and what to do once connected."""
    url = server.url.replace("nats://", "nats://u:p@")
    return {
        "refused": {"url": f"nats://127.0.0.1:{free_port()}"},
        "bad url": {"url": "http://127.0.0.1:4222"},
        "bad option": {"url": url, "connect_timeout": -1},
        "bad inbox prefix": {"url": url, "inbox_prefix": "a b"},
        "bad max_payload_limit": {"url": url, "max_payload_limit": 0},
        "unknown option": {"url": url, "no_such_option": 1},
        "handshake timeout": {"url": f"nats://127.0.0.1:{silent_port}", "connect_timeout": 0.3},
        "wrong password": {"url": server.url, "user": "u", "password": "wrong"},
        "tls wanted": {"url": server.url.replace("nats://", "tls://u:p@")},
        "no responders": {"url": url, "then": "request"},
        "bad subject": {"url": url, "then": "publish bad"},
        "closed": {"url": url, "then": "publish closed"},
        "payload too big": {"url": url, "then": "publish big"},
    }


EXPECTED = {
    "refused": errors.ConnectError,
    "bad url": errors.ConfigError,
    "bad option": errors.ConfigError,
    "bad inbox prefix": errors.ConfigError,
    "bad max_payload_limit": errors.ConfigError,
    "unknown option": errors.ConfigTypeError,
    "handshake timeout": errors.NatsTimeoutError,
    "wrong password": errors.AuthorizationError,
    "tls wanted": errors.SecureConnectionWantedError,
    "no responders": errors.NoRespondersError,
    "bad subject": errors.BadSubjectError,
    "closed": errors.ConnectionClosedError,
    "payload too big": errors.MaxPayloadError,
}

_OPTS = {"max_reconnect_attempts": 0, "reconnect_time_wait": 0.01}


def _split(spec: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    kw = {**_OPTS, **spec}
    return kw.pop("url"), kw.pop("then", None), kw


def sync_fault(spec: dict[str, Any]) -> type[BaseException] | None:
    url, then, kw = _split(spec)
    try:
        nc = nats_sync.connect(url, **kw)
        try:
            if then == "request":
                nc.request("nobody.here", b"", timeout=2)
            elif then == "publish bad":
                nc.publish("bad subject", b"")
            elif then == "publish big":
                nc.publish("big", b"x" * (nc.max_payload + 1))
            elif then == "publish closed":
                nc.close()
                nc.publish("a", b"")
        finally:
            nc.close()
    except Exception as e:
        return type(e)
    return None


async def async_fault(spec: dict[str, Any]) -> type[BaseException] | None:
    url, then, kw = _split(spec)
    try:
        async with nats_anyio.connect(url, **kw) as nc:
            if then == "request":
                await nc.request("nobody.here", b"", timeout=2)
            elif then == "publish bad":
                await nc.publish("bad subject", b"")
            elif then == "publish big":
                await nc.publish("big", b"x" * (nc.max_payload + 1))
            elif then == "publish closed":
                await nc.close()
                await nc.publish("a", b"")
    except Exception as e:
        return type(e)
    return None


def test_error_classes_are_defined_once() -> None:
    for name in ("ConnectError", "TransportError", "ConfigError", "NatsError"):
        cls = getattr(errors, name)
        assert getattr(nats_sync, name, cls) is cls
        assert getattr(nats_anyio, name, cls) is cls
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.ConfigError, errors.LocalProtocolError)
    assert issubclass(errors.ConnectError, errors.TransportError)
    assert issubclass(errors.TransportError, OSError)


def _check(got: dict[str, type[BaseException] | None]) -> None:
    wrong = {k: (v, EXPECTED[k]) for k, v in got.items() if v is not EXPECTED[k]}
    assert not wrong, wrong


def test_sync_client_raises_the_tree(server: NatsServer, silent_port: int) -> None:
    _check({name: sync_fault(spec) for name, spec in faults(server, silent_port).items()})


@pytest.mark.anyio
async def test_async_client_raises_the_same_classes(server: NatsServer, silent_port: int) -> None:
    got = {name: await async_fault(spec) for name, spec in faults(server, silent_port).items()}
    _check(got)


def test_reading_a_missing_credentials_file_is_a_config_error(tmp_path: Any) -> None:
    missing = str(tmp_path / "nope.creds")
    with pytest.raises(errors.ConfigError, match=r"nope\.creds"):
        nats_sync.connect("nats://127.0.0.1:1", user_credentials=missing)
