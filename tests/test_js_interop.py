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
    (put,) = run_go(go_interop, "obj-put", *url, "-key", "go/file.bin", "-n", "300000")
    obs = js.object_store(bucket)
    got = obs.get("go/file.bin")
    assert got.data == bytes(i % 251 for i in range(300_000))
    assert (got.info.size, got.info.chunks, got.info.digest) == (
        put["size"],
        put["chunks"],
        put["digest"],
    )
    ours = obs.put("py/notes.txt", b"from python " * 20_000, description="notes")
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
