"""``pynats bench layers`` end to end at a tiny size, in process (the workers are
subprocesses): the table has a positive figure for every client and workload
asked and a ratio to nats-py per pynats client; without nats-py (its import made
to fail) the column is skipped with a note; ``--json``; bad input exits 2. Also
the ``benchmarks/layers.py`` wrapper and the table on its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pynats.bench_layers import table
from pynats.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--n", "200", "--p", "20", "--a", "200", "--k", "20", "--w", "50", "--o", "1"]
TINY += ["--r", "20", "--repeat", "1", "--timeout", "60s"]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def pynats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def parse(out: str) -> tuple[list[str], dict[str, list[str]]]:
    """The Markdown table's header and its rows by workload."""
    lines = [ln for ln in out.splitlines() if ln.startswith("| ")]
    assert lines, out
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return cells[0], {row[0]: row for row in cells[1:]}


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_table_beside_natspy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("nats")
    out_file = tmp_path / "layers.json"
    only = ["js_pub", "msgs_ack", "kv_get", "svc"]
    rc, out, err = pynats(
        capsys,
        "bench",
        "layers",
        *TINY,
        "--clients",
        "sync,asyncio,nats-py",
        "--only",
        ",".join(only),
        "--json",
        str(out_file),
    )
    assert rc == 0, err
    head, rows = parse(out)
    assert head == ["workload", "unit", "sync", "asyncio", "nats-py", "sync/py", "asyncio/py"]
    assert sorted(rows) == sorted(only)  # kv_put ran beside kv_get but is not shown
    for name in only:
        row = rows[name]
        assert all(number(v) > 0 for v in row[2:]), row
    assert rows["kv_get"][1] == "ops/s" and rows["svc"][1] == "req/s"
    data = json.loads(out_file.read_text())
    assert data["skipped"] == [] and data["failed"] == []
    assert set(data["best"]) == {"sync", "asyncio", "nats-py"}
    assert set(data["ratios"]) == {"sync", "asyncio"}
    assert data["ratios"]["sync"]["js_pub"] > 0
    assert len(data["rounds"]) == 1 and data["args"]["n"] == 200


def test_without_natspy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # import nats fails
    rc, out, err = pynats(
        capsys, "bench", "layers", *TINY, "--clients", "trio,nats-py", "--only", "fetch,kv_watch"
    )
    assert rc == 0, err
    assert "nats-py is not installed" in err
    head, rows = parse(out)
    assert head == ["workload", "unit", "trio"]
    assert sorted(rows) == ["fetch", "kv_watch"]
    assert all(number(row[2]) > 0 for row in rows.values())


def _go_available() -> bool:
    import shutil

    return (
        bool(shutil.which("go"))
        and Path("/usr/share/gocode/src/github.com/nats-io/nats.go").is_dir()
    )


@pytest.mark.skipif(not _go_available(), reason="needs golang-go and Debian's nats.go")
def test_table_beside_natsgo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "layers.json"
    only = ["js_async_256", "fetch", "kv_watch", "obj_rt", "svc"]
    rc, out, err = pynats(
        capsys,
        "bench",
        "layers",
        *TINY,
        "--clients",
        "sync,nats.go",
        "--only",
        ",".join(only),
        "--json",
        str(out_file),
    )
    assert rc == 0, err
    head, rows = parse(out)
    assert head == ["workload", "unit", "sync", "nats.go", "sync/go"]
    assert sorted(rows) == sorted(only)
    for name in only:
        assert all(number(v) > 0 for v in rows[name][2:]), rows[name]
    data = json.loads(out_file.read_text())
    assert data["failed"] == [] and set(data["ratios_go"]) == {"sync"}
    assert set(only) <= set(data["ratios_go"]["sync"])  # obj_put, obj_get ran too


def test_natsgo_missing_is_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = pynats(
        capsys,
        "bench",
        "layers",
        *TINY,
        "--clients",
        "sync,nats.go",
        "--only",
        "kv_get",
        "--go-src",
        str(tmp_path),  # no main.go there
    )
    assert rc == 0, err
    assert "nats.go: not available" in err
    head, rows = parse(out)
    assert head == ["workload", "unit", "sync"] and number(rows["kv_get"][2]) > 0


def test_only_natspy_missing_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)
    rc, _out, err = pynats(capsys, "bench", "layers", "--clients", "nats-py")
    assert rc == 1
    assert "nats-py is not installed" in err and "no client left" in err


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--only", "nope"], "unknown nope"),
        (["--clients", "sync,nats.rs"], "unknown nats.rs"),
        (["--only", "obj64_get"], "needs --big"),
        (["--n", "0"], "--n"),
        (["--server", "nats://127.0.0.1:1"], "starts its own nats-server"),
    ],
)
def test_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], text: str) -> None:
    rc, _out, err = pynats(capsys, "bench", "layers", *args)
    assert rc == 2
    assert text in err


def test_script_wrapper_help() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "layers.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "--only" in res.stdout and "--rounds" in res.stdout and "kv_watch" in res.stdout


def test_table_ratios_and_gaps() -> None:
    best = {"sync": {"js_pub": 300.0, "svc": 50.0}, "nats-py": {"js_pub": 100.0}}
    _head, rows = parse(table(best, ["sync", "trio", "nats-py"]))
    assert rows["js_pub"] == ["js_pub", "msgs/s", "300", "-", "100", "3.00", "-"]
    assert rows["svc"] == ["svc", "req/s", "50.0", "-", "-", "-", "-"]
    assert "fetch" not in rows
