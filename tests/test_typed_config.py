"""Typed configuration (issue #15): the keyword arguments of ``create_stream``,
``create_consumer``, ``create_key_value``, ``create_object_store`` and
``connect`` are TypedDicts that mypy checks, kept in step with the dataclasses;
and a list field given one ``str`` holds a one-item list, in every config.

The mypy tests run ``mypy --strict`` on small programs written to a temporary
directory (a few seconds with a warm cache, kept in pytest's cache directory).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import textwrap
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest

import nats_anyio
import nats_sync
from nats_core import ClientOptions, ConnectOptions, build_options
from nats_core.errors import ConfigTypeError, NatsError
from nats_core.jetstream import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    Placement,
    PriorityPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats_core.jetstream import typed as jt
from nats_core.jetstream.kv import KeyValueConfig, kv_stream_config
from nats_core.jetstream.objectstore import ObjectStoreConfig, obj_stream_config
from nats_core.jetstream.ordered import OrderedConsumerState
from nats_core.typed_options import EXTRA_OPTIONS, NOT_OPTIONS, ConnectOptionsDict
from pynats.server import NatsServer

SRC = Path(__file__).resolve().parent.parent / "src"

CONFIGS: list[tuple[type[Any], type[Any]]] = [
    (StreamConfig, jt.StreamConfigFields),
    (ConsumerConfig, jt.ConsumerConfigFields),
    (KeyValueConfig, jt.KeyValueConfigFields),
    (ObjectStoreConfig, jt.ObjectStoreConfigFields),
]


# ============================================================ keys in step


@pytest.mark.parametrize(("config", "fields"), CONFIGS, ids=lambda c: c.__name__)
def test_typeddict_keys_are_the_dataclass_fields(config: type[Any], fields: type[Any]) -> None:
    names = {f.name for f in dataclasses.fields(config)}
    keys = set(fields.__annotations__)
    assert keys - names == set(), f"{fields.__name__} has keys {config.__name__} lacks"
    assert names - keys == set(), f"add {sorted(names - keys)} to {fields.__name__}"
    assert fields.__total__ is False  # a config= may be given instead of every field


def test_connect_options_keys_are_the_option_fields() -> None:
    names = {f.name for f in dataclasses.fields(ConnectOptions)}
    names |= {f.name for f in dataclasses.fields(ClientOptions)}
    names = (names - NOT_OPTIONS) | EXTRA_OPTIONS
    keys = set(ConnectOptionsDict.__annotations__)
    assert keys - names == set(), "ConnectOptionsDict has keys that are no option"
    assert names - keys == set(), f"add {sorted(names - keys)} to nats_core.typed_options"


def _enums_in(tp: Any) -> set[type[enum.Enum]]:
    found: set[type[enum.Enum]] = set()
    for arg in get_args(tp) or (tp,):
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            found.add(arg)
        elif get_args(arg):
            found |= _enums_in(arg)
    return found


def _literals_in(tp: Any) -> set[str]:
    if get_origin(tp) is typing.Literal:
        return set(get_args(tp))
    return {v for arg in get_args(tp) for v in _literals_in(arg)}


@pytest.mark.parametrize(("config", "fields"), CONFIGS, ids=lambda c: c.__name__)
def test_enum_fields_take_the_member_or_its_value(config: type[Any], fields: type[Any]) -> None:
    """Where the dataclass takes an enum, the TypedDict takes it or exactly its values."""
    hints = get_type_hints(config)
    typed = get_type_hints(fields)
    checked = 0
    for name, tp in hints.items():
        for e in _enums_in(tp):
            assert e in _enums_in(typed[name]), name
            assert _literals_in(typed[name]) == {m.value for m in e}, name
            checked += 1
    assert checked or config is not StreamConfig


def _annotation(fn: Any, param: str) -> str:
    """The annotation of ``param`` as written (the modules use postponed annotations)."""
    fn = getattr(fn, "__wrapped__", fn)
    return str(inspect.signature(fn).parameters[param].annotation)


def test_the_adapters_use_the_typeddicts() -> None:
    """Every call that takes a config as keywords declares them with Unpack."""
    calls = {
        "create_stream": jt.StreamConfigFields,
        "update_stream": jt.StreamConfigFields,
        "create_or_update_stream": jt.StreamConfigFields,
        "create_consumer": jt.ConsumerConfigFields,
        "update_consumer": jt.ConsumerConfigFields,
        "create_or_update_consumer": jt.ConsumerConfigFields,
        "create_key_value": jt.KeyValueConfigFields,
        "update_key_value": jt.KeyValueConfigFields,
        "create_or_update_key_value": jt.KeyValueConfigFields,
        "create_object_store": jt.ObjectStoreConfigFields,
        "update_object_store": jt.ObjectStoreConfigFields,
        "create_or_update_object_store": jt.ObjectStoreConfigFields,
    }
    for js in (nats_anyio.JetStream, nats_sync.JetStream):
        for name, td in calls.items():
            assert _annotation(getattr(js, name), "fields") == f"Unpack[{td.__name__}]", name
    for handle in (nats_anyio.Stream, nats_sync.Stream):
        for name in ("create_consumer", "update_consumer", "create_or_update_consumer"):
            assert _annotation(getattr(handle, name), "fields") == "Unpack[ConsumerConfigFields]"
    for mod in (nats_anyio, nats_sync):
        assert _annotation(mod.connect, "options") == "Unpack[ConnectOptionsDict]", mod
    for handle in (nats_anyio.Stream, nats_sync.Stream):
        assert _annotation(handle.ordered_consumer, "opts") == "Unpack[OrderedConsumerOptions]"
    for js in (nats_anyio.JetStream, nats_sync.JetStream):
        assert _annotation(js.queue_subscribe, "options") == "Unpack[PushSubscribeOptions]"


def _keywords(fn: Any) -> dict[str, str]:
    """The keyword-only parameters of ``fn`` and their annotations as written."""
    params = inspect.signature(getattr(fn, "__wrapped__", fn)).parameters.values()
    return {p.name: str(p.annotation) for p in params if p.kind is p.KEYWORD_ONLY}


def test_ordered_consumer_options_are_those_of_js_ordered_consumer() -> None:
    typed = {k: v.__forward_arg__ for k, v in jt.OrderedConsumerOptions.__annotations__.items()}
    for js in (nats_anyio.JetStream, nats_sync.JetStream):
        assert _keywords(js.ordered_consumer) == typed


def test_push_subscribe_options_are_those_of_js_subscribe_but_queue() -> None:
    typed = {k: v.__forward_arg__ for k, v in jt.PushSubscribeOptions.__annotations__.items()}
    for js in (nats_anyio.JetStream, nats_sync.JetStream):
        keywords = _keywords(js.subscribe)
        assert keywords.pop("queue") == "str | None"
        assert keywords == typed


def test_nc_jetstream_takes_the_keywords_of_jetstream() -> None:
    for mod in (nats_anyio, nats_sync):
        assert _keywords(mod.Client.jetstream) == _keywords(mod.JetStream.__init__), mod


# ================================================================= mypy


GOOD = """
    from datetime import timedelta
    from typing import assert_type
    import nats_anyio, nats_sync
    from nats_core.jetstream import AckPolicy, DeliverPolicy, StorageType, StreamConfig

    def blocking(url: str) -> None:
        with nats_sync.connect(url, name="app", connect_timeout=1.5, no_echo=True,
                               max_reconnect_attempts=-1, error_cb=print,
                               tls_ca_file=["a.pem", "b.pem"]) as nc:
            js = nc.jetstream()
            js.create_stream(name="T", subjects="orders.*", storage="memory")
            js.create_stream(name="U", subjects=["a.>"], storage=StorageType.FILE,
                             retention="workqueue", discard="new", max_age=60,
                             duplicate_window=timedelta(seconds=5), compression="s2")
            js.update_stream(StreamConfig(name="T"), max_msgs=10)
            js.create_or_update_stream(name="T", description=None)
            c = js.create_consumer("T", durable_name="d", filter_subjects="orders.1",
                                   ack_policy="explicit", deliver_policy="last_per_subject",
                                   replay_policy="instant", ack_wait=30, backoff=[1, 2.5])
            js.update_consumer("T", durable_name="d", ack_policy=AckPolicy.NONE)
            js.create_or_update_consumer("T", priority_policy="pinned_client",
                                         priority_groups="g")
            (js.stream("T")).create_consumer(durable_name="e", max_deliver=3)
            js.create_key_value(bucket="cfg", history=5, storage="memory", ttl=10)
            js.update_key_value(bucket="cfg", max_bytes=1024)
            js.create_object_store(bucket="files", storage="file", replicas=1)
            del c
            with js.subscribe("orders.*", durable="p") as push:
                push.next_msg(1.0)
            js.queue_subscribe("orders.*", "q", durable="w").unsubscribe()
            qsub = js.queue_subscribe("orders.*", "q", print, durable="w", ack_policy="explicit",
                                      manual_ack=True, idle_heartbeat=5, error_cb=print)
            assert_type(qsub, nats_sync.PushSubscription)
            with js.queue_subscribe("orders.*", "q", deliver_policy=DeliverPolicy.NEW) as qpush:
                assert_type(qpush, nats_sync.PushSubscription)
            js.stream("T").ordered_consumer(filter_subjects="orders.1", deliver_policy="last")
            nc.jetstream(domain="hub", timeout=2.0, publish_async_max_pending=10)

    async def asynchronous(url: str) -> None:
        async with nats_anyio.connect(url, name="app", ping_interval=10.0,
                                      retry_on_failed_connect=True) as nc:
            js = nc.jetstream()
            await js.create_stream(name="T", subjects="orders.*", storage="memory")
            await js.create_consumer("T", durable_name="d", filter_subjects=["a", "b"])
            s = await js.stream("T")
            await s.create_or_update_consumer(durable_name="d", ack_policy="all")
            await js.create_key_value(bucket="cfg", history=5)
            await js.create_or_update_object_store(bucket="files", description="x")
            async with js.subscribe("orders.*", durable="p") as push:
                await push.next_msg(1.0)
            sub = await js.queue_subscribe("orders.*", "q", durable="w")
            assert_type(sub, nats_anyio.PushSubscription)
            await sub.unsubscribe()
            async with js.queue_subscribe("orders.*", "q", None, ack_policy=AckPolicy.ALL,
                                          inactive_threshold=timedelta(seconds=30),
                                          pending_msgs_limit=100) as qpush:
                assert_type(qpush, nats_anyio.PushSubscription)
            await s.ordered_consumer(filter_subjects=["a", "b"], headers_only=True)
            nc.jetstream(api_prefix="$JS.x.API", publish_async_timeout=None)
"""

# Every line marked "# bad" must be reported, and no other line.
BAD = """
    import nats_anyio, nats_sync

    def blocking(url: str) -> None:
        nats_sync.connect(url, conect_timeout=1.0)  # bad: misspelt option
        nats_sync.connect(url, ping_interval="10")  # bad: wrong type
        with nats_sync.connect(url) as nc:
            js = nc.jetstream()
            js.create_stream(name="T", subjcts=["a"])  # bad: typo
            js.create_stream(name="T", storage="fil")  # bad: wrong enum string
            js.create_stream(name="T", retention="work_queue")  # bad: wrong enum string
            js.create_stream(name="T", max_msgs="10")  # bad: wrong type
            js.update_stream(name="T", subjects=[1])  # bad: wrong item type
            js.create_or_update_stream(name="T", discard="newest")  # bad
            js.create_consumer("T", ack_policy="explict")  # bad: wrong enum string
            js.create_consumer("T", filter_subject=["a"])  # bad: a str field
            js.update_consumer("T", deliverpolicy="all")  # bad: typo
            js.create_key_value(bukket="x")  # bad: typo
            js.create_key_value(bucket="x", storage="disk")  # bad: wrong enum string
            js.create_object_store(bucket="x", history=3)  # bad: not an object store field
            js.stream("T").create_consumer(max_deliver="3")  # bad: wrong type
            js.subscribe("a").next_mgs()  # bad: a PushSubscription, not Any
            with js.subscribe("a") as push:
                push.next_mgs()  # bad: a PushSubscription, not Any
            nc.jetstream(domian="x")  # bad: typo
            nc.jetstream(timeout="5")  # bad: wrong type
            js.stream("T").ordered_consumer(filter_subjcts="a")  # bad: typo
            js.stream("T").ordered_consumer(opt_start_seq="1")  # bad: wrong type
            js.queue_subscribe("a", "q", durabel="x")  # bad: typo
            js.queue_subscribe("a", "q", ack_policy=5)  # bad: wrong type

    async def asynchronous(url: str) -> None:
        async with nats_anyio.connect(url, tls_hostnme="x") as nc:  # bad: misspelt option
            js = nc.jetstream()
            await js.create_stream(name="T", storage="fil")  # bad
            await js.create_consumer("T", replay_policy="fast")  # bad
            await js.create_object_store(bucket="x", storage="ram")  # bad
            (await js.subscribe("a")).next_mgs()  # bad: a PushSubscription, not Any
            async with js.subscribe("a") as push:
                push.next_mgs()  # bad: a PushSubscription, not Any
            async with js.queue_subscribe("a", "q") as qpush:
                qpush.next_mgs()  # bad: a PushSubscription, not Any
            nc.jetstream(domian="x")  # bad: typo
            s = await js.stream("T")
            await s.ordered_consumer(filter_subjcts="a")  # bad: typo
            await js.queue_subscribe("a", "q", durabel="x")  # bad: typo
            await js.queue_subscribe("a", "q", ack_policy=5)  # bad: wrong type
"""


def _mypy(tmp_path: Path, cache: Path, source: str) -> dict[int, str]:
    api = pytest.importorskip("mypy.api")
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent(source))
    out, err, _status = api.run(
        [
            "--strict",
            "--follow-imports=silent",  # others' modules are checked by `mypy src`
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(cache),
            str(prog),
        ]
    )
    errors: dict[int, str] = {}
    for line in out.splitlines():
        m = re.match(r".*prog\.py:(\d+): error: (.*)", line)
        if m:
            errors[int(m.group(1))] = errors.get(int(m.group(1)), "") + m.group(2)
    assert not err, err
    return errors


@pytest.fixture
def mypy_cache(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MYPYPATH", str(SRC))  # this tree's packages, whatever is installed
    return Path(request.config.cache.mkdir("mypy-typed-config"))


def test_mypy_accepts_correct_calls(tmp_path: Path, mypy_cache: Path) -> None:
    errors = _mypy(tmp_path, mypy_cache, GOOD)
    assert errors == {}, errors


def test_mypy_catches_typos_enum_strings_and_types(tmp_path: Path, mypy_cache: Path) -> None:
    source = textwrap.dedent(BAD)
    marked = {i for i, line in enumerate(source.splitlines(), 1) if "# bad" in line}
    errors = _mypy(tmp_path, mypy_cache, source)
    assert set(errors) == marked, errors
    # The reports name what is wrong: the unknown key, the expected literals.
    text = "\n".join(errors.values())
    assert '"subjcts"' in text and '"conect_timeout"' in text
    assert "Literal['file', 'memory']" in text


# ============================================= connect options at run time

#: (option, a value of the wrong type, the type the error names)
WRONG_OPTIONS = [
    ("max_reconnect_attempts", "x", "an int"),
    ("reconnect_buf_size", 1.5, "an int"),
    ("ping_interval", "10", "a number"),
    ("connect_timeout", True, "a number"),  # a bool is no number
    ("no_echo", 1, "a bool"),
    ("allow_reconnect", "yes", "a bool"),
    ("name", 3, "a str or None"),
    ("inbox_prefix", b"_IN", "a str"),
    ("error_cb", "print", "a callable or None"),
    ("reconnect_delay_cb", 2.0, "a callable or None"),
    (
        "tls_ca_file",
        ["a.pem", 3],
        "a str or a path (os.PathLike) or a sequence of (str or PathLike) or None",
    ),
    (
        "user_credentials",
        ("only-one",),
        "a str or a path (os.PathLike) or a tuple (str or PathLike, str or PathLike) or None",
    ),
]


@pytest.mark.parametrize(("name", "value", "expected"), WRONG_OPTIONS)
def test_wrongly_typed_option_names_the_option_and_type(
    name: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigTypeError) as info:
        build_options("nats://127.0.0.1:1", **{name: value})
    assert isinstance(info.value, TypeError) and isinstance(info.value, NatsError)
    assert f"option {name} must be {expected}, not {type(value).__name__}" in str(info.value)


def test_secret_options_of_the_wrong_type_keep_the_value_out_of_the_error() -> None:
    with pytest.raises(ConfigTypeError) as info:
        build_options("nats://127.0.0.1:1", password=123456789)
    assert "password" in str(info.value) and "123456789" not in str(info.value)


def test_rightly_typed_options_pass() -> None:
    opts = build_options(
        "nats://127.0.0.1:1",
        connect_timeout=1,  # an int is a number
        ping_interval=2.5,
        max_reconnect_attempts=-1,
        name=None,
        no_echo=True,
        user=lambda: "u",
        password="p",
        tls_ca_file=["a.pem", "b.pem"],
        user_credentials=("a.jwt", "b.nk"),
        error_cb=print,
        flusher_timeout=None,
        nkey_seed=b"SU",
    )
    assert opts.connect_timeout == 1 and opts.core.max_reconnect_attempts == -1


@pytest.mark.parametrize(("name", "value", "expected"), WRONG_OPTIONS[:6])
def test_sync_connect_checks_option_types(name: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigTypeError, match=f"option {name} must be {expected}"):
        nats_sync.connect("nats://127.0.0.1:1", **{name: value})


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize(("name", "value", "expected"), WRONG_OPTIONS[:6])
async def test_anyio_connect_checks_option_types(
    name: str, value: Any, expected: str, anyio_backend: str
) -> None:
    with pytest.raises(ConfigTypeError, match=f"option {name} must be {expected}"):
        async with nats_anyio.connect("nats://127.0.0.1:1", **{name: value}):
            pass


# ======================================================== str as a list


def test_stream_subjects_str_is_one_item_list() -> None:
    cfg = StreamConfig(name="T", subjects="orders.*")  # type: ignore[arg-type]
    assert cfg.subjects == ["orders.*"]
    assert cfg.to_json()["subjects"] == ["orders.*"]
    cfg = dataclasses.replace(StreamConfig(name="T"), subjects="a.b")  # type: ignore[arg-type]
    assert cfg.subjects == ["a.b"]
    assert StreamConfig(name="T", subjects=("a", "b")).subjects == ("a", "b")  # type: ignore[arg-type]


def test_consumer_list_fields_str_is_one_item_list() -> None:
    cfg = ConsumerConfig(filter_subjects="a.1", priority_groups="g")  # type: ignore[arg-type]
    assert cfg.filter_subjects == ["a.1"]
    assert cfg.priority_groups == ["g"]
    assert cfg.to_json()["filter_subjects"] == ["a.1"]


def test_nested_list_fields() -> None:
    assert Placement(tags="ssd").tags == ["ssd"]  # type: ignore[arg-type]
    src = StreamSource(name="A", subject_transforms=SubjectTransform(src="a", dest="b"))  # type: ignore[arg-type]
    assert src.subject_transforms == [SubjectTransform(src="a", dest="b")]
    assert StreamConfig(name="T", sources=src).sources == [src]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: StreamConfig(name="T", sources="A"), "StreamConfig.sources"),
        (lambda: ConsumerConfig(backoff="1s"), "ConsumerConfig.backoff"),
        (lambda: KeyValueConfig(bucket="b", sources="A"), "KeyValueConfig.sources"),
    ],
)
def test_str_for_a_list_of_non_strings_names_the_field(build: Any, field: str) -> None:
    with pytest.raises(TypeError, match=re.escape(field)):
        build()


def test_key_value_config_lists() -> None:
    src = StreamSource(name="other")
    cfg = KeyValueConfig(bucket="b", sources=src, placement=Placement(tags="ssd"))  # type: ignore[arg-type]
    assert cfg.sources == [src]
    sc = kv_stream_config(cfg)
    assert [s.name for s in sc.sources or []] == ["KV_other"]
    assert sc.placement is not None and sc.placement.tags == ["ssd"]


def test_object_store_config_has_no_list_to_confuse() -> None:
    """ObjectStoreConfig has no list field; its stream's subjects are a list."""
    hints = get_type_hints(ObjectStoreConfig)
    assert not [n for n, tp in hints.items() if "list" in str(tp)]
    assert obj_stream_config(ObjectStoreConfig(bucket="f")).subjects == [
        "$O.f.C.>",
        "$O.f.M.>",
    ]


def test_ordered_consumer_filter_subjects_str() -> None:
    state = OrderedConsumerState("S", name_prefix="p", filter_subjects="a.1")
    assert state.filter_subjects == ["a.1"]


def _list_of_str_fields(cls: type[Any]) -> list[str]:
    out = []
    for name, tp in get_type_hints(cls).items():
        for arg in get_args(tp) or (tp,):
            if get_origin(arg) is list and get_args(arg) == (str,):
                out.append(name)
    return out


@pytest.mark.parametrize(
    "cls",
    [StreamConfig, ConsumerConfig, Placement, StreamSource, KeyValueConfig, ObjectStoreConfig],
)
def test_every_list_of_str_field_takes_one_str(cls: type[Any]) -> None:
    required = {"bucket": "b"} if cls in (KeyValueConfig, ObjectStoreConfig) else {}
    for name in _list_of_str_fields(cls):
        assert getattr(cls(**required, **{name: "x.y"}), name) == ["x.y"], name


def test_enum_values_and_seconds_are_normalized() -> None:
    cfg = StreamConfig(name="T", storage="memory", max_age=60)  # type: ignore[arg-type]
    assert cfg.storage is StorageType.MEMORY
    assert cfg.max_age == timedelta(seconds=60)
    c = ConsumerConfig(ack_policy="all", deliver_policy="new", backoff=[1, 2.5])  # type: ignore[arg-type, list-item]
    assert c.ack_policy is AckPolicy.ALL and c.deliver_policy is DeliverPolicy.NEW
    assert c.backoff == [timedelta(seconds=1), timedelta(seconds=2.5)]
    # An unknown value is left for the request to reject (InvalidOptionError there).
    assert ConsumerConfig(priority_policy="sticky").priority_policy == "sticky"  # type: ignore[arg-type]
    assert ConsumerConfig(priority_policy="overflow").priority_policy is PriorityPolicy.OVERFLOW  # type: ignore[arg-type]
    assert isinstance(StreamConfig.from_json({"name": "T", "max_age": 10**9}).max_age, timedelta)


# ============================================================ real server


def test_sync_create_stream_subjects_str(js_server: NatsServer) -> None:
    with nats_sync.connect(js_server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        info = js.create_stream(name="TYPED_SYNC", subjects="orders.*", storage="memory")
        assert info.config.subjects == ["orders.*"]
        c = js.create_consumer("TYPED_SYNC", durable_name="d", filter_subjects="orders.1")
        assert c.cached_info.config.filter_subjects == ["orders.1"] or (
            c.cached_info.config.filter_subject == "orders.1"
        )
        js.delete_stream("TYPED_SYNC")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_anyio_create_stream_subjects_str(js_server: NatsServer, anyio_backend: str) -> None:
    name = f"TYPED_{anyio_backend.upper()}"
    async with nats_anyio.connect(js_server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        info = await js.create_stream(name=name, subjects=f"{name}.*", storage="memory")
        assert info.config.subjects == [f"{name}.*"]
        c = await js.create_consumer(name, durable_name="d", filter_subjects=f"{name}.1")
        assert c.cached_info.config.filter_subjects == [f"{name}.1"] or (
            c.cached_info.config.filter_subject == f"{name}.1"
        )
        await js.delete_stream(name)
