"""JetStream interop with the reference clients, both ways: messages published to
a stream by nats.go or by nats-py are consumed here with the right metadata and
headers, and messages published here are consumed by them; a Key-Value bucket and
an Object Store are shared with nats.go both ways.

nats.go runs as a small Go program (tests/interop_go) built by the test with
Debian's Go and nats.go packages; those tests skip when ``go`` or the nats.go
sources are missing. nats-py runs in the same asyncio loop as nats_anyio.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import nats_anyio
import nats_sync
from js_helpers import uniq
from nats_core.jetstream import KeyDeletedError
from pynats.server import NatsServer

HERE = Path(__file__).resolve().parent
GOPATH = os.environ.get("INTEROP_GOPATH", "/usr/share/gocode")
NATS_GO = Path(GOPATH) / "src/github.com/nats-io/nats.go"


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def nc(server: NatsServer) -> Iterator[nats_sync.Client]:
    with nats_sync.connect(server.url) as client:
        yield client


# ===================================================================== nats.go


@pytest.fixture(scope="module")
def go_interop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nats.go side, compiled once per module (a few seconds the first time)."""
    go = shutil.which("go")
    if go is None or not NATS_GO.is_dir():
        pytest.skip(f"needs `go` and the nats.go sources in {NATS_GO}")
    out = tmp_path_factory.mktemp("go") / "interop"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "CGO_ENABLED": "0"}
    if not os.access(Path.home(), os.W_OK):
        env.setdefault("GOCACHE", str(tmp_path_factory.mktemp("gocache")))
    proc = subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=HERE / "interop_go",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"go build failed:\n{proc.stderr}"
    return out


def run_go(binary: Path, *args: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"interop {args[0]} failed: {proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_nats_go_publishes_we_consume(
    go_interop: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    js = nc.jetstream()
    stream, subj = uniq("G"), uniq("g")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="file")
    acks = run_go(go_interop, "pub", "-url", server.url, "-subject", f"{subj}.in", "-n", "5")
    assert [a["seq"] for a in acks] == [1, 2, 3, 4, 5]
    assert {a["stream"] for a in acks} == {stream}
    consumer = js.create_consumer(stream, durable_name="py", ack_policy="explicit")
    msgs = consumer.fetch(5, max_wait=2)
    assert [m.data for m in msgs] == [b"go %d" % i for i in range(5)]
    for i, m in enumerate(msgs):
        assert m.subject == f"{subj}.in"
        assert m.headers is not None
        assert m.headers["Lang"] == "go"
        assert m.headers.get_all("Multi") == ["a", "b"]
        assert m.headers["Nats-Msg-Id"] == f"go-{i}"
        meta = m.metadata
        assert (meta.stream, meta.consumer) == (stream, "py")
        assert (meta.sequence.stream, meta.sequence.consumer) == (i + 1, i + 1)
        assert meta.num_delivered == 1 and meta.num_pending == 4 - i
        assert abs(meta.timestamp - datetime.now(UTC)) < timedelta(minutes=1)
        m.ack_sync()
    assert consumer.info().ack_floor.stream_seq == 5
    # the same ids again are duplicates for the stream, whoever sends them
    dup = js.publish(f"{subj}.in", b"again", msg_id="go-0")
    assert dup.duplicate is True and dup.seq == 1


def test_we_publish_nats_go_consumes(
    go_interop: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    js = nc.jetstream()
    stream, subj = uniq("G"), uniq("g")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    for i in range(4):
        js.publish(
            f"{subj}.out",
            b"py %d" % i,
            headers={"Lang": "python", "Multi": ["x", "y"]},
            msg_id=f"py-{i}",
        )
    consumer = js.create_consumer(stream, durable_name="go", ack_policy="explicit")
    got = run_go(
        go_interop,
        "sub",
        "-url",
        server.url,
        "-stream",
        stream,
        "-durable",
        "go",
        "-n",
        "4",
    )
    assert [g["data"] for g in got] == [f"py {i}" for i in range(4)]
    for i, g in enumerate(got):
        assert g["subject"] == f"{subj}.out"
        assert g["headers"]["Lang"] == ["python"]
        assert g["headers"]["Multi"] == ["x", "y"]
        assert g["headers"]["Nats-Msg-Id"] == [f"py-{i}"]
        assert (g["stream"], g["consumer"]) == (stream, "go")
        assert (g["stream_seq"], g["consumer_seq"], g["delivered"]) == (i + 1, i + 1, 1)
        assert g["pending"] == 3 - i
        stored = js.get_msg(stream, i + 1)
        assert stored.time is not None
        assert abs(g["timestamp_ns"] / 1e9 - stored.time.timestamp()) < 0.001
    info = consumer.info()  # nats.go acked every one
    assert info.ack_floor.stream_seq == 4 and info.num_ack_pending == 0


def test_key_value_with_nats_go(go_interop: Path, server: NatsServer, nc: nats_sync.Client) -> None:
    """A bucket nats.go made, read and written here; our writes, read by nats.go."""
    js = nc.jetstream()
    bucket = uniq("KVG")
    url = ["-url", server.url, "-bucket", bucket]
    (put,) = run_go(go_interop, "kv-put", *url, "-key", "cfg.port", "-value", "4222")
    kv = js.key_value(bucket)
    assert kv.status().history == 5
    entry = kv.get("cfg.port")
    assert (entry.value, entry.revision) == (b"4222", put["revision"])
    rev = kv.update("cfg.port", b"4223", last=put["revision"])
    kv.put("cfg.host", b"a")
    (got,) = run_go(go_interop, "kv-get", *url, "-key", "cfg.port")
    assert (got["value"], got["revision"], got["op"]) == ("4223", rev, "KeyValuePutOp")
    kv.delete("cfg.host")
    (gone,) = run_go(go_interop, "kv-get", *url, "-key", "cfg.host")
    assert gone == {"error": "not found"}
    (keys,) = run_go(go_interop, "kv-keys", *url)
    assert keys["keys"] == ["cfg.port"]
    run_go(go_interop, "kv-delete", *url, "-key", "cfg.port")
    with pytest.raises(KeyDeletedError):
        kv.get("cfg.port")
    assert kv.keys() == []
    assert kv.create("cfg.port", b"again") > rev  # over nats.go's delete marker


def test_object_store_with_nats_go(
    go_interop: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    """An object nats.go stored, read here (digest checked); ours, read by nats.go."""
    js = nc.jetstream()
    bucket = uniq("OBG")
    url = ["-url", server.url, "-bucket", bucket]
    size = 5 * 1024 * 1024 + 123  # several MiB, not a whole number of chunks
    (put,) = run_go(go_interop, "obj-put", *url, "-key", "go/file.bin", "-n", str(size))
    obs = js.object_store(bucket)
    got = obs.get("go/file.bin")
    assert got.data == bytes(i % 251 for i in range(size))
    assert (got.info.size, got.info.chunks, got.info.digest) == (
        put["size"],
        put["chunks"],
        put["digest"],
    )
    ours = obs.put("py/notes.txt", b"from python " * 300_000, description="notes")  # 3.4 MiB
    (read,) = run_go(go_interop, "obj-get", *url, "-key", "py/notes.txt")
    assert (read["size"], read["digest"], read["description"]) == (
        ours.size,
        ours.digest,
        "notes",
    )
    assert read["data_head"] == "from python from"
    obs.add_link("py/alias", ours)  # nats.go follows our link
    (via,) = run_go(go_interop, "obj-get", *url, "-key", "py/alias")
    assert (via["size"], via["data_head"]) == (ours.size, "from python from")
    assert sorted(i.name for i in obs.list()) == ["go/file.bin", "py/alias", "py/notes.txt"]


# ===================================================================== nats-py


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # nats-py is asyncio-only


@pytest.fixture
async def anc(server: NatsServer) -> AsyncIterator[nats_anyio.Client]:
    async with nats_anyio.connect(server.url) as client:
        yield client


@pytest.fixture
async def peer(server: NatsServer) -> AsyncIterator[Any]:
    nats = pytest.importorskip("nats")
    client = await nats.connect(server.url)
    yield client
    await client.close()


@pytest.mark.anyio
async def test_nats_py_publishes_we_consume(anc: nats_anyio.Client, peer: Any) -> None:
    js = anc.jetstream()
    stream, subj = uniq("P"), uniq("p")
    await js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="file")
    pjs = peer.jetstream()
    for i in range(3):
        ack = await pjs.publish(
            f"{subj}.in", b"nats-py %d" % i, headers={"Lang": "py", "Nats-Msg-Id": f"np-{i}"}
        )
        assert (ack.stream, ack.seq) == (stream, i + 1)
    consumer = await js.create_consumer(stream, durable_name="ours", ack_policy="explicit")
    msgs = await consumer.fetch(3, max_wait=2)
    assert [m.data for m in msgs] == [b"nats-py %d" % i for i in range(3)]
    for i, m in enumerate(msgs):
        assert m.headers is not None and m.headers["Lang"] == "py"
        assert m.headers["Nats-Msg-Id"] == f"np-{i}"
        meta = m.metadata
        assert (meta.stream, meta.consumer, meta.sequence.stream) == (stream, "ours", i + 1)
        assert meta.num_pending == 2 - i
        await m.ack_sync()
    # an ordered consumer reads them too, in order
    oc = await js.ordered_consumer(stream)
    assert [m.metadata.sequence.stream for m in await oc.fetch(3, max_wait=1)] == [1, 2, 3]


@pytest.mark.anyio
async def test_we_publish_nats_py_consumes(anc: nats_anyio.Client, peer: Any) -> None:
    js = anc.jetstream()
    stream, subj = uniq("P"), uniq("p")
    await js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    futs = [
        await js.publish_async(f"{subj}.out", b"ours %d" % i, headers={"Lang": "pynats"})
        for i in range(3)
    ]
    await js.publish_async_complete(timeout=5)
    assert [f.result().seq for f in futs] == [1, 2, 3]
    consumer = await js.create_consumer(stream, durable_name="theirs", ack_policy="explicit")
    psub = await peer.jetstream().pull_subscribe_bind("theirs", stream)
    got = await psub.fetch(3, timeout=2)
    assert [m.data for m in got] == [b"ours %d" % i for i in range(3)]
    for i, m in enumerate(got):
        assert m.headers == {"Lang": "pynats"}
        assert m.metadata.stream == stream and m.metadata.consumer == "theirs"
        assert m.metadata.sequence.stream == i + 1 and m.metadata.num_delivered == 1
        await m.ack_sync()
    info = await consumer.info()
    assert info.ack_floor.stream_seq == 3 and info.num_ack_pending == 0


# ============================================================ nats.go, push consumers


@pytest.fixture(scope="module")
def go_push(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nats.go's push consumer side (tests/interop_go/push), compiled once per module."""
    go = shutil.which("go")
    if go is None or not NATS_GO.is_dir():
        pytest.skip(f"needs `go` and the nats.go sources in {NATS_GO}")
    out = tmp_path_factory.mktemp("go") / "push"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "CGO_ENABLED": "0"}
    if not os.access(Path.home(), os.W_OK):
        env.setdefault("GOCACHE", str(tmp_path_factory.mktemp("gocache")))
    proc = subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=HERE / "interop_go" / "push",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"go build failed:\n{proc.stderr}"
    return out


def wait_unbound(js: nats_sync.JetStream, stream: str, name: str, timeout: float = 5) -> None:
    """Wait until nobody listens on the push consumer's deliver subject (the
    server notices a client that left a moment after it closed)."""
    deadline = time.monotonic() + timeout
    while js.consumer_info(stream, name).push_bound:
        assert time.monotonic() < deadline, f"{stream}/{name} is still bound"
        time.sleep(0.05)


def test_nats_go_push_consumer_we_bind(
    go_push: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    """A durable push consumer made by nats.go's js.AddConsumer, bound here by
    stream + consumer, read with next_msg and acked (ack_sync)."""
    js = nc.jetstream()
    stream, subj = uniq("GP"), uniq("gp")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    for i in range(4):
        js.publish(f"{subj}.a" if i % 2 else f"{subj}.b", b"m %d" % i)
    (made,) = run_go(
        go_push, "add", "-url", server.url, "-stream", stream, "-durable", "goadd",
        "-subject", f"{subj}.a",
    )  # fmt: skip
    assert made["name"] == "goadd" and made["ack_policy"] == "AckExplicit"
    assert made["deliver_subject"] and made["filter_subject"] == f"{subj}.a"
    sub = js.subscribe(f"{subj}.a", stream=stream, consumer="goadd")
    assert sub.deliver_subject == made["deliver_subject"]
    for i in range(2):
        msg = sub.next_msg(timeout=5)
        assert (msg.subject, msg.data) == (f"{subj}.a", b"m %d" % (2 * i + 1))
        meta = msg.metadata
        assert (meta.stream, meta.consumer) == (stream, "goadd")
        assert (meta.sequence.stream, meta.sequence.consumer) == (2 * i + 2, i + 1)
        assert meta.num_delivered == 1 and meta.num_pending == 1 - i
        msg.ack_sync()
    info = sub.consumer_info()
    assert info.ack_floor.stream_seq == 4 and info.num_ack_pending == 0
    assert info.push_bound
    sub.unsubscribe()  # bound, not created: the consumer stays
    wait_unbound(js, stream, "goadd")
    assert js.consumer_info(stream, "goadd").delivered.consumer_seq == 2


def test_nats_go_durable_push_subscription_we_continue(
    go_push: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    """nats.go's js.Subscribe(nats.Durable) makes a durable, reads and acks two
    messages and leaves; here ``durable=`` binds to it and reads on from the
    third, acked by the callback."""
    js = nc.jetstream()
    stream, subj = uniq("GP"), uniq("gp")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    for i in range(2):
        js.publish(f"{subj}.in", b"first %d" % i, headers={"Lang": "python"})
    got = run_go(
        go_push, "sub", "-url", server.url, "-subject", f"{subj}.>", "-durable", "godur",
        "-n", "2",
    )  # fmt: skip
    *msgs, info = got
    assert [m["data"] for m in msgs] == ["first 0", "first 1"]
    assert [(m["stream_seq"], m["consumer_seq"]) for m in msgs] == [(1, 1), (2, 2)]
    assert all(m["headers"]["Lang"] == ["python"] and m["consumer"] == "godur" for m in msgs)
    assert (info["name"], info["ack_floor"], info["num_ack_pending"]) == ("godur", 2, 0)
    wait_unbound(js, stream, "godur")  # nats.go left without unsubscribing: it stays
    for i in range(3):
        js.publish(f"{subj}.in", b"then %d" % i)
    seen: list[tuple[bytes, int, int, int]] = []

    def handle(msg: nats_sync.Msg) -> None:
        meta = msg.metadata
        seen.append((msg.data, meta.sequence.stream, meta.sequence.consumer, meta.num_delivered))

    sub = js.subscribe(f"{subj}.>", handle, durable="godur")  # auto-acked after handle
    deadline = time.monotonic() + 5
    while js.consumer_info(stream, "godur").ack_floor.stream_seq < 5:
        assert time.monotonic() < deadline, f"acked: {seen}"
        time.sleep(0.05)
    assert seen == [(b"then %d" % i, i + 3, i + 3, 1) for i in range(3)]
    assert sub.cached_info is not None and sub.cached_info.config.deliver_subject
    assert js.consumer_info(stream, "godur").num_ack_pending == 0
    sub.unsubscribe()  # bound, not created: nats.go's durable stays
    assert js.consumer_info(stream, "godur").name == "godur"


def test_our_durable_push_subscription_nats_go_binds(
    go_push: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    """A durable made here by js.subscribe(durable=) reads two messages and
    goes away with its connection (so the consumer stays); nats.go binds to it
    with nats.Bind(stream, consumer), reads on and acks."""
    js = nc.jetstream()
    stream, subj = uniq("GP"), uniq("gp")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="file")
    for i in range(2):
        js.publish(f"{subj}.in", b"py %d" % i)
    with nats_sync.connect(server.url) as other:
        sub = other.jetstream().subscribe(f"{subj}.>", durable="pydur", manual_ack=True)
        for i in range(2):
            msg = sub.next_msg(timeout=5)
            assert msg.data == b"py %d" % i
            msg.ack_sync()
        deliver = sub.deliver_subject
    wait_unbound(js, stream, "pydur")  # closed, not unsubscribed: the durable stays
    for i in range(2, 5):
        js.publish(f"{subj}.in", b"py %d" % i, headers={"Multi": ["x", "y"]})
    got = run_go(
        go_push, "sub", "-url", server.url, "-subject", f"{subj}.>", "-stream", stream,
        "-durable", "pydur", "-n", "3",
    )  # fmt: skip
    *msgs, info = got
    assert [m["data"] for m in msgs] == [f"py {i}" for i in range(2, 5)]
    for i, m in enumerate(msgs):
        assert (m["stream"], m["consumer"], m["subject"]) == (stream, "pydur", f"{subj}.in")
        assert (m["stream_seq"], m["consumer_seq"], m["delivered"]) == (i + 3, i + 3, 1)
        assert m["pending"] == 2 - i and m["headers"]["Multi"] == ["x", "y"]
    assert info["deliver_subject"] == deliver and info["ack_policy"] == "AckExplicit"
    assert (info["ack_floor"], info["num_ack_pending"]) == (5, 0)
    ours = js.consumer_info(stream, "pydur")
    assert ours.ack_floor.stream_seq == 5 and ours.num_ack_pending == 0


def test_our_push_consumer_nats_go_durable(
    go_push: Path, server: NatsServer, nc: nats_sync.Client
) -> None:
    """A durable push consumer made here with create_consumer(deliver_subject=),
    read and acked by nats.go's js.Subscribe(nats.Durable), which unsubscribes
    and leaves it (nats.go deletes only a consumer it made)."""
    js = nc.jetstream()
    stream, subj = uniq("GP"), uniq("gp")
    js.create_stream(name=stream, subjects=[f"{subj}.>"], storage="memory")
    js.create_consumer(
        stream,
        durable_name="pycc",
        deliver_subject=nc.new_inbox(),
        filter_subject=f"{subj}.a",
        ack_policy="explicit",
    )
    for i in range(6):  # the filter skips the first three
        js.publish(f"{subj}.b" if i < 3 else f"{subj}.a", b"%d" % i)
    got = run_go(
        go_push, "sub", "-url", server.url, "-subject", f"{subj}.a", "-durable", "pycc",
        "-n", "3", "-unsubscribe",
    )  # fmt: skip
    *msgs, info = got
    assert [(m["data"], m["stream_seq"], m["consumer_seq"]) for m in msgs] == [
        ("3", 4, 1),
        ("4", 5, 2),
        ("5", 6, 3),
    ]
    assert (info["name"], info["ack_floor"], info["num_ack_pending"]) == ("pycc", 6, 0)
    wait_unbound(js, stream, "pycc")
    ours = js.consumer_info(stream, "pycc")
    assert ours.ack_floor.stream_seq == 6 and ours.num_pending == 0
