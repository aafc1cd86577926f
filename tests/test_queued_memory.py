"""benchmarks/queued_memory.py at tiny sizes: bytes per queued message (part 1) and
resident growth with a callback (part 2), each in a fresh process, on the blocking
client, asyncio and (when installed) nats-py; the figures are there and the counts hold."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pynats.server import NatsServer

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "queued_memory.py"
CLIENTS = ["sync", "asyncio"]
try:
    import nats  # noqa: F401

    CLIENTS.append("nats-py")
except ImportError:
    pass


@pytest.fixture(scope="module")
def qm() -> ModuleType:
    spec = importlib.util.spec_from_file_location("queued_memory", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["queued_memory"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with NatsServer() as srv:
        yield srv.url


@pytest.mark.parametrize("client", CLIENTS)
def test_part1_bytes_per_queued_message(qm: ModuleType, url: str, client: str) -> None:
    n = 2000
    r = qm.run_worker("part1", client, url, n)
    assert r["read"] == n and r["extra"] == 0
    # one 16 B message: at least its payload bytes object (49 B) and its object
    assert 100 < r["obj"] < 1000 and 100 < r["obj_traced"] < 1000
    assert r["per_msg"] > r["obj_traced"] * 0.9
    assert r["per_msg"] < r["obj_traced"] + 200  # the queue adds a slot, not a copy
    assert r["residual"] < n * r["obj_traced"] / 2  # most went back when dropped


@pytest.mark.parametrize("client", CLIENTS)
def test_part2_rss_growth(qm: ModuleType, url: str, client: str) -> None:
    n = 20_000
    r = qm.run_worker("part2", client, url, n)
    assert r["got"] == n
    assert r["growth_kib"] >= 0
    assert 0 < r["peak_queued"] <= n


def test_report_table(qm: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    p1 = {"per_msg": 204.0, "obj_traced": 195.0, "obj": 195, "overhead": 9.0}
    p1 |= {"residual": 12_000, "reader_held": 160_000, "lines": ["x.py:1: size=1 KiB"]}
    p2 = {"growth_kib": 4096, "peak_queued": 6900}
    args = qm.argparse.Namespace(n=100_000, million=1_000_000)
    qm.report({"sync": {"part1": [p1, p1], "part2": [p2]}, "trio": {"part2": [p2]}}, args)
    out = capsys.readouterr().out
    assert "| sync | 204.0 | 195.0 (195) | +9.0 | 11.7 (+156) | 4.0 | 6,900 |" in out
    assert "| trio | - | - | - | - | 4.0 | 6,900 |" in out
    assert "x.py:1: size=1 KiB" in out
