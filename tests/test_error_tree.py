"""One error tree (#15): everything pynats raises derives from NatsError, with
the builtin a Python program would catch mixed in, and messages that name the
operation the connection refused."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any, cast

import pytest

import nats_anyio
import nats_sync
from core_helpers import connected
from nats_core import State, request_refusal
from nats_core._state import REFUSED, Command, check_command
from nats_core.errors import (
    BadHeaderError,
    BadPayloadError,
    BadSubjectError,
    ConfigError,
    ConfigTypeError,
    ConnectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    ConnectionReconnectingError,
    LocalProtocolError,
    MaxPayloadError,
    NatsError,
    NatsTimeoutError,
    NotConnectedError,
    TransportError,
)
from nats_core.jetstream.errors import (
    AsyncPublishTimeoutError,
    BatchGetTimeoutError,
    FastBatchAckTimeoutError,
    InvalidNameError,
    InvalidOptionError,
    NotJetStreamMessageError,
)
from nats_core.jetstream.kv import BucketNotFoundError, KeyNotFoundError, KeyValueError
from nats_core.jetstream.objectstore import (
    ObjectNotFoundError,
    ObjectStoreError,
    ObjectStoreNotFoundError,
    ObjectWriter,
)
from pynats.server import NatsServer

#: The modules whose exported exception classes make up the tree.
MODULES = [
    "nats_core.errors",
    "nats_core.jetstream",
    "nats_core.jetstream.errors",
    "nats_core.jetstream.kv",
    "nats_core.jetstream.objectstore",
    "nats_core.micro",
    "nats_core.system",
    "nats_anyio",
    "nats_sync",
]


def exported_errors() -> list[tuple[str, type[BaseException]]]:
    found: dict[type[BaseException], str] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                found.setdefault(obj, f"{name}.{attr}")
    return sorted(((where, cls) for cls, where in found.items()), key=lambda p: p[0])


ERRORS = exported_errors()


def test_the_walk_finds_the_tree() -> None:
    names = {cls.__name__ for _, cls in ERRORS}
    assert len(ERRORS) > 100
    assert {"NatsError", "BadPayloadError", "ObjectStoreNotFoundError", "ServiceError"} <= names
    assert {"ServerAPIError", "KeyValueError", "APIError", "PullStatusError"} <= names


@pytest.mark.parametrize(("where", "cls"), ERRORS, ids=[w for w, _ in ERRORS])
def test_every_exported_error_is_a_nats_error(where: str, cls: type[BaseException]) -> None:
    assert issubclass(cls, NatsError), f"{where} does not derive from NatsError"


#: The builtin each class also is, as the README's error section documents it.
MIXINS: list[tuple[type[BaseException], type[BaseException]]] = [
    (BadPayloadError, TypeError),
    (BadPayloadError, LocalProtocolError),
    (ConfigError, ValueError),
    (ConfigTypeError, TypeError),
    (ConfigTypeError, ConfigError),
    (BadSubjectError, ValueError),
    (BadHeaderError, ValueError),
    (MaxPayloadError, ValueError),
    (InvalidNameError, ValueError),
    (InvalidOptionError, ValueError),
    (NotJetStreamMessageError, ValueError),
    (NatsTimeoutError, TimeoutError),
    (AsyncPublishTimeoutError, TimeoutError),
    (BatchGetTimeoutError, TimeoutError),
    (FastBatchAckTimeoutError, TimeoutError),
    (NotConnectedError, ConnectionError),
    (ConnectionClosedError, ConnectionError),
    (ConnectionClosedError, NotConnectedError),
    (ConnectionReconnectingError, ConnectionError),
    (TransportError, ConnectionError),
    (TransportError, OSError),  # `except OSError` keeps working
    (ConnectError, ConnectionError),
    (ConnectError, TransportError),
    (KeyNotFoundError, KeyError),
    (ObjectNotFoundError, KeyError),
    (ObjectStoreNotFoundError, ObjectStoreError),
    (ObjectStoreNotFoundError, BucketNotFoundError),  # what it raised before
]


@pytest.mark.parametrize(
    ("cls", "builtin"), MIXINS, ids=[f"{c.__name__}-{b.__name__}" for c, b in MIXINS]
)
def test_builtin_mixins(cls: type[BaseException], builtin: type[BaseException]) -> None:
    assert issubclass(cls, builtin)
    assert issubclass(cls, NatsError)


def test_mixed_in_errors_keep_their_message() -> None:
    assert str(ConnectionClosedError("the connection is closed")) == "the connection is closed"
    assert str(TransportError("reset")) == "reset"
    assert str(BadPayloadError("payload must be bytes")) == "payload must be bytes"
    assert str(ConnectionReconnectingError("lost")) == "lost"


def test_bucket_not_found_stays_a_key_value_error() -> None:
    assert issubclass(BucketNotFoundError, KeyValueError)
    assert not issubclass(KeyValueError, ObjectStoreError)


# --------------------------------------------------------------- local checks


def test_object_writer_errors() -> None:
    with pytest.raises(InvalidOptionError, match="chunk_size"):
        ObjectWriter(0)
    w = ObjectWriter(4)
    with pytest.raises(BadPayloadError) as info:
        list(w.split("text"))  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)


def test_core_str_payload_is_a_bad_payload_error() -> None:
    conn = connected()
    for call in (
        lambda: conn.publish("s", "text"),  # type: ignore[arg-type]
        lambda: conn.publish("s", "text", reply="r"),  # type: ignore[arg-type]
        lambda: conn.try_publish("s", "text"),  # type: ignore[arg-type]
        lambda: conn.request("s", "text"),  # type: ignore[arg-type]
    ):
        with pytest.raises(BadPayloadError, match=r"not str: encode it first") as info:
            call()
        assert isinstance(info.value, TypeError)
    with pytest.raises(BadPayloadError, match="not int"):
        conn.publish("s", 5)  # type: ignore[arg-type]


def _bad_config_calls() -> list[Any]:
    """Calls with a wrong argument, each raising a builtin error before (#15)."""
    from nats_anyio._js_manage import with_fields
    from nats_core import ClientState, EventQueue
    from nats_core.jetstream import (
        ConsumerConfig,
        JSApi,
        StreamConfig,
        parse_time,
        to_nanos,
    )
    from nats_core.jetstream import requests as req
    from nats_core.jetstream.kv import KeyValueConfig
    from nats_core.jetstream.msg import nak_payload, term_payload

    wrong: Any = ConsumerConfig()
    return [
        pytest.param(lambda: req.add_stream(wrong), TypeError, id="add_stream(ConsumerConfig)"),
        pytest.param(
            lambda: req.create_consumer("S", StreamConfig(name="S")),  # type: ignore[arg-type]
            TypeError,
            id="create_consumer(StreamConfig)",
        ),
        pytest.param(
            lambda: with_fields(StreamConfig, wrong, {}), TypeError, id="with_fields(wrong class)"
        ),
        pytest.param(
            lambda: KeyValueConfig(bucket="b", sources="A"),  # type: ignore[arg-type]
            TypeError,
            id="KeyValueConfig(sources=str)",
        ),
        pytest.param(
            lambda: StreamConfig(name="S", sources="A"),  # type: ignore[arg-type]
            TypeError,
            id="StreamConfig(sources=str)",
        ),
        pytest.param(lambda: JSApi(domain="a.b"), ValueError, id="JSApi(domain=a.b)"),
        pytest.param(
            lambda: JSApi(prefix="$JS.x.API", domain="d"), ValueError, id="JSApi(prefix+domain)"
        ),
        pytest.param(lambda: JSApi(prefix="."), ValueError, id="JSApi(prefix=empty)"),
        pytest.param(
            lambda: JSApi().consumer_create("S", None, "a"), ValueError, id="consumer_create"
        ),
        pytest.param(lambda: to_nanos("10"), TypeError, id="to_nanos(str)"),  # type: ignore[arg-type]
        pytest.param(
            lambda: ConsumerConfig(ack_wait="10").to_json(),  # type: ignore[arg-type]
            TypeError,
            id="ConsumerConfig(ack_wait=str)",
        ),
        pytest.param(lambda: parse_time("yesterday"), ValueError, id="parse_time"),
        pytest.param(
            lambda: StreamConfig.from_json([]),  # type: ignore[arg-type]
            TypeError,
            id="from_json(list)",
        ),
        pytest.param(lambda: EventQueue(max_size=0), ValueError, id="EventQueue(max_size=0)"),
        pytest.param(
            lambda: ClientState.status_changed(wrong, print, "gone"),  # raises before using self
            ValueError,
            id="status_changed(unknown)",
        ),
        pytest.param(lambda: nak_payload(-1), ValueError, id="nak(delay=-1)"),
        pytest.param(lambda: term_payload("a\nb"), ValueError, id="term(two lines)"),
        pytest.param(
            lambda: nats_sync.Subscription.status_changed(wrong, print, "gone"),
            ValueError,
            id="sync sub.status_changed(unknown)",
        ),
        pytest.param(
            lambda: nats_anyio.Subscription.status_changed(wrong, print, "gone"),
            ValueError,
            id="anyio sub.status_changed(unknown)",
        ),
        pytest.param(
            lambda: _js_publish_options(publish_async_max_pending=0),
            ValueError,
            id="publish_async_max_pending=0",
        ),
        pytest.param(
            lambda: _js_publish_options(publish_async_timeout=-1),
            ValueError,
            id="publish_async_timeout=-1",
        ),
    ]


def _js_publish_options(**opts: Any) -> None:
    """A JetStream context of a client never connected: its options are checked first."""
    nats_sync.JetStream(cast(Any, None), **opts)


@pytest.mark.parametrize(("call", "builtin"), _bad_config_calls())
def test_bad_arguments_are_nats_errors_and_builtins(
    call: Any, builtin: type[BaseException]
) -> None:
    with pytest.raises(NatsError) as info:
        call()
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, LocalProtocolError)  # nothing was sent


# ------------------------------------------------- refusals name the command


def test_every_command_is_refused_once_closed() -> None:
    for command in Command:
        assert REFUSED[(State.CLOSED, command)] is ConnectionClosedError
        with pytest.raises(ConnectionClosedError, match=f"closed; cannot {command.value}$"):
            check_command(State.CLOSED, command)


def test_requests_are_refused_while_draining() -> None:
    for state in (State.DRAINING_SUBS, State.DRAINING_PUBS):
        with pytest.raises(ConnectionDrainingError, match=r"draining; cannot request$"):
            check_command(state, Command.REQUEST)
    check_command(State.CONNECTED, Command.REQUEST)
    check_command(State.DISCONNECTED, Command.REQUEST)  # buffered for the reconnect


def test_core_refusals_name_the_operation() -> None:
    conn = connected()
    conn.request("svc")  # the inbox subscription exists: a later refusal is the request's
    conn.data_to_send()
    conn.start_drain()
    with pytest.raises(ConnectionDrainingError, match="cannot request"):
        conn.request("svc")
    conn.close()
    for call, name in (
        (lambda: conn.request("svc"), "request"),
        (lambda: conn.publish("s", b""), "publish"),
        (lambda: conn.subscribe("s"), "subscribe"),
        (lambda: conn.unsubscribe(1), "unsubscribe"),
        (conn.ping, "flush"),
    ):
        with pytest.raises(ConnectionClosedError, match=f"cannot {name}$") as info:
            call()
        assert isinstance(info.value, ConnectionError)


def test_request_refusal_says_request() -> None:
    closed = request_refusal(ConnectionClosedError("the connection is closed; cannot subscribe"))
    assert type(closed) is ConnectionClosedError
    assert str(closed) == "the connection is closed; cannot request"
    draining = request_refusal(ConnectionDrainingError("x; cannot subscribe"))
    assert type(draining) is ConnectionDrainingError
    assert str(draining) == "the connection is draining; cannot request"
    other = BadSubjectError("bad")
    assert request_refusal(other) is other


def test_a_request_on_a_fresh_closed_connection_says_request() -> None:
    conn = connected()
    conn.close()
    with pytest.raises(ConnectionClosedError, match=r"cannot request$"):
        conn.request("svc")


# ------------------------------------------------------ both clients, a server


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_sync_client(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url)
    try:
        with pytest.raises(BadPayloadError) as info:
            nc.publish("s", "text")  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)
        with pytest.raises(TypeError):
            nc.request("s", "text", timeout=0.5)  # type: ignore[arg-type]
        nc.flush()
    finally:
        nc.close()
    with pytest.raises(ConnectionClosedError, match="cannot request") as closed:
        nc.request("s", b"", timeout=0.5)
    assert isinstance(closed.value, ConnectionError)
    with pytest.raises(ConnectionClosedError, match="cannot flush"):
        nc.flush()
    with pytest.raises(ConnectionClosedError, match="cannot subscribe"):
        nc.subscribe("s")
    with pytest.raises(ConnectionClosedError, match="cannot publish"):
        nc.publish("s", b"")
    with (
        pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"),
        nc.request_many("s", b"") as replies,
    ):
        list(replies)
    with pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"):
        nc.request_many("s", b"").collect()


def test_sync_old_style_request_after_close_says_request(server: NatsServer) -> None:
    nc = nats_sync.connect(server.url, use_old_request_style=True)
    nc.close()
    with pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"):
        nc.request("s", b"", timeout=0.5)


def test_sync_bad_config(server: NatsServer) -> None:
    with pytest.raises(ConfigError) as info:
        nats_sync.connect("foo://127.0.0.1:1")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        nats_sync.connect(server.url, max_payload_limit=-1)


@pytest.mark.anyio
async def test_anyio_client(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        with pytest.raises(BadPayloadError) as info:
            await nc.publish("s", "text")  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)
        with pytest.raises(TypeError):
            await nc.request("s", "text", timeout=0.5)  # type: ignore[arg-type]
        await nc.flush()
    with pytest.raises(ConnectionClosedError, match="cannot request") as closed:
        await nc.request("s", b"", timeout=0.5)
    assert isinstance(closed.value, ConnectionError)
    with pytest.raises(ConnectionClosedError, match="cannot flush"):
        await nc.flush()
    with pytest.raises(ConnectionClosedError, match="cannot subscribe"):
        await nc.subscribe("s")
    with pytest.raises(ConnectionClosedError, match="cannot publish"):
        await nc.publish("s", b"")
    with pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"):
        async with nc.request_many("s", b"") as replies:
            [m async for m in replies]
    with pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"):
        await nc.request_many("s", b"").collect()


@pytest.mark.anyio
async def test_anyio_old_style_request_after_close_says_request(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url, use_old_request_style=True) as nc:
        pass
    with pytest.raises(ConnectionClosedError, match=r"closed; cannot request$"):
        await nc.request("s", b"", timeout=0.5)


@pytest.mark.anyio
async def test_anyio_bad_config(server: NatsServer) -> None:
    with pytest.raises(ConfigError) as info:
        async with nats_anyio.connect("foo://127.0.0.1:1"):
            pass
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        async with nats_anyio.connect(server.url, max_payload_limit=-1):
            pass


def test_sync_missing_object_store_is_still_a_bucket_not_found(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc, pytest.raises(BucketNotFoundError):
        nc.jetstream().object_store("missing")


def test_sync_missing_object_store(server: NatsServer) -> None:
    with nats_sync.connect(server.url) as nc, pytest.raises(ObjectStoreNotFoundError):
        nc.jetstream().object_store("missing")


@pytest.mark.anyio
async def test_anyio_missing_object_store_is_still_a_bucket_not_found(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        with pytest.raises(BucketNotFoundError):
            await nc.jetstream().object_store("missing")


@pytest.mark.anyio
async def test_anyio_missing_object_store(server: NatsServer) -> None:
    async with nats_anyio.connect(server.url) as nc:
        with pytest.raises(ObjectStoreNotFoundError):
            await nc.jetstream().object_store("missing")


def test_the_readme_lists_the_whole_tree() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Errors\n") :]
    section = section[: section.index("\n## ", 1)]
    missing = [cls.__name__ for _, cls in ERRORS if not re.search(rf"\b{cls.__name__}\b", section)]
    assert missing == []
