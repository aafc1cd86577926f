"""``pynats bench load`` end to end against an embedded JetStream server, in
process: core and JetStream runs with tiny counts, table rows, ``--json`` keys,
bad input (exit 2). The client benchmark (``pynats bench --n``) is in test_cli."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nats_sync
from pynats.cli import main
from pynats.cli.bench_load import percentile
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def srv() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _env(srv: NatsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NATS_URL", srv.url)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


ROW_KEYS = {"role", "client", "msgs", "bytes", "seconds", "msgs_per_sec", "mb_per_sec"}
LAT_KEYS = {"p50", "p90", "p99", "max"}


def test_core_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = pynats(
        capsys, "bench", "load", "bl.core", "--pub", "2", "--sub", "2", "--msgs", "200"
    )
    assert rc == 0, err
    assert "core NATS: 200 x 128 B on bl.core" in out
    for col in ("Msgs/s", "MB/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        assert col in out
    for row in ("pub 1", "pub 2", "sub 1", "sub 2", "pub (all)", "sub (all)"):
        assert row in out
    sub_all = next(line for line in out.splitlines() if line.startswith("sub (all)"))
    assert sub_all.split()[2] == "400"  # fan-out: each subscriber got all 200


def test_core_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = pynats(
        capsys,
        "bench",
        "load",
        "bl.json",
        "--sub",
        "3",
        "--msgs",
        "200",
        "--size",
        "1K",
        "--json",
    )
    assert rc == 0, err
    data = json.loads(out)
    assert set(data) == {"aggregate", "complete", "config", "publishers", "seconds", "subscribers"}
    assert data["complete"] is True
    assert data["config"]["size"] == 1024 and data["config"]["jetstream"] is False
    assert len(data["publishers"]) == 1 and len(data["subscribers"]) == 3
    for row in data["publishers"] + data["subscribers"]:
        assert ROW_KEYS | {"error", "latency_ms"} == set(row)
        assert row["error"] is None
    for row in data["subscribers"]:
        assert row["msgs"] == 200 and row["bytes"] == 200 * 1024
        assert set(row["latency_ms"]) == LAT_KEYS
        lat = row["latency_ms"]
        assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert data["aggregate"]["pub"]["msgs"] == 200
    assert data["aggregate"]["sub"]["msgs"] == 600
    assert set(data["aggregate"]["sub"]["latency_ms"]) == LAT_KEYS


def test_jetstream(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = pynats(
        capsys,
        "bench",
        "load",
        "bl.js",
        "--js",
        "--stream",
        "BLJS",
        "--pub",
        "2",
        "--sub",
        "2",
        "--msgs",
        "200",
        "--size",
        "16",
        "--json",
    )
    assert rc == 0, err
    data = json.loads(out)
    assert data["complete"] is True
    assert data["config"]["jetstream"] is True and data["config"]["stream"] == "BLJS"
    assert [p["msgs"] for p in data["publishers"]] == [100, 100]
    # the subscribers share one pull consumer: 200 in all
    assert sum(s["msgs"] for s in data["subscribers"]) == 200
    assert data["aggregate"]["sub"]["msgs"] == 200
    with nats_sync.connect(srv.url) as nc:
        assert "BLJS" not in list(nc.jetstream().stream_names())  # deleted


def test_jetstream_keep_table(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = pynats(
        capsys, "bench", "load", "bl.keep", "--js", "--stream", "BLKEEP", "--keep", "--msgs", "200"
    )
    assert rc == 0, err
    assert "JetStream stream BLKEEP: 200 x 128 B on bl.keep" in out
    assert "pub 1" in out and "sub 1" in out and "sub (all)" in out
    with nats_sync.connect(srv.url) as nc:
        js = nc.jetstream()
        info = js.stream_info("BLKEEP")
        assert info.state.messages == 200
        assert list(js.consumer_names("BLKEEP")) == []  # the bench's consumer is gone
        js.delete_stream("BLKEEP")


def test_timeout_bounds_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    # a count far too big for 300ms: the run stops at --timeout, reports what it
    # measured and exits 1 (incomplete)
    rc, out, err = pynats(
        capsys,
        "bench",
        "load",
        "bl.slow",
        "--msgs",
        "50000000",
        "--size",
        "8",
        "--timeout",
        "300ms",
        "--json",
    )
    assert rc == 1
    assert "incomplete run" in err
    data = json.loads(out)
    assert data["complete"] is False
    assert 0 < data["publishers"][0]["msgs"] < 50_000_000


@pytest.mark.parametrize(
    "args, text",
    [
        (["--size", "4"], "at least 8 bytes"),
        (["--pub", "0"], "--pub"),
        (["--sub", "-1"], "--sub"),
        (["--msgs", "0"], "--msgs"),
        (["--size", "big"], "not a size"),
        (["--timeout", "soon"], "not a duration"),
        (["--js", "--stream", "a.b"], "not a valid name"),
    ],
)
def test_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], text: str) -> None:
    rc, _, err = pynats(capsys, "bench", "load", "bl.bad", *args)
    assert rc == 2 and text in err


@pytest.mark.parametrize("subject", ["bl.*", "bl.>", "bl..x", "a b"])
def test_bad_subject(capsys: pytest.CaptureFixture[str], subject: str) -> None:
    rc, _, err = pynats(capsys, "bench", "load", subject)
    assert rc == 2 and "SUBJECT" in err


def test_missing_subject_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert pynats(capsys, "bench", "load")[0] == 2
    rc, out, _ = pynats(capsys, "bench", "--help")
    assert rc == 0 and "load" in out and "--clients" in out
    rc, out, _ = pynats(capsys, "bench", "load", "--help")
    assert rc == 0 and "--pub" in out and "--js" in out and "--server" in out


def test_no_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = pynats(capsys, "bench", "load", "x", "-s", "nats://127.0.0.1:1", "--msgs", "5")
    assert rc == 1 and err.startswith("pynats: ") and "Traceback" not in err


def test_percentile() -> None:
    values = list(range(1, 101))
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert percentile([], 50) == 0 and percentile([7], 99) == 7
