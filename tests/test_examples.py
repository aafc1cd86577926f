"""Every program of examples/ runs against a real server, within a short bound, and
prints what it should; the examples of docs/index.md run too.

Each example takes the server URL as argv[1] (or NATS_URL) and starts an embedded
server without one (tests/test_anyio_examples.py checks that path for the first two).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynats.server import NatsServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# script -> what its output must contain (JetStream examples get a JetStream server).
EXPECTED: dict[str, list[str]] = {
    "sansio_selectors.py": [
        "connected to nats-server",
        "received b'hello' on greet.joe (Lang: en, fr)",
        "reply: b'echo: ping'",
        "rtt: ",
    ],
    "worker_pool.py": ["20 jobs answered by 4 workers", "each job was handled once"],
    "service_discovery.py": [
        "found 2 instances of calc",
        "endpoints: add on calc.add, div on calc.div",
        "7 / 0: division by zero",
        "requests across instances: add=6 div=1",
    ],
    "kv_config_watcher.py": [
        "initial config: {'app.log_level': 'info', 'app.workers': '4'}",
        "removed app.workers",
        "final config: {'app.log_level': 'debug', 'app.stop': '1'}",
    ],
    "objectstore_upload.py": [
        "up: [####################] 100% 1048576/1048576 bytes",
        "stored random.bin: 1048576 bytes in 16 chunks, SHA-256=",
        "down: [####################] 100%",
        "downloaded copy is identical",
    ],
    "trio_subscribers.py": ["sensors.temp.*       30", "sensors.*.kitchen    20", "sensors.>   "],
    "scatter_gather.py": ["4 quotes, ended by STALL", "best: globex at 9"],
    "ordered_replay.py": [
        "#4: alice -> carol 7",
        "balances: {'alice': 68, 'bob': 120, 'carol': 112}",
    ],
    "push_consumer.py": ["#6 events.click: event 5", "consumer auditor: 0 unacked, 0 pending"],
}
SIGTERM_EXAMPLE = "js_consumer_sigterm.py"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NATS_URL"}


def _run(script: str, url: str, timeout: float = 20) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), url],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    # asyncio_example.py and trio_service.py: tests/test_anyio_examples.py
    tested = set(EXPECTED) | {SIGTERM_EXAMPLE, "asyncio_example.py", "trio_service.py"}
    assert scripts == tested


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example(script: str, server: NatsServer) -> None:
    out = _run(script, server.url)
    for line in EXPECTED[script]:
        assert line in out, f"{script}: {line!r} not in output:\n{out}"


def test_consumer_stops_cleanly_on_sigterm(server: NatsServer) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / SIGTERM_EXAMPLE), server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the five orders handled: now stop it
            line = proc.stdout.readline()
            seen.append(line)
            if not line or "(5)" in line:
                break
        assert "handled orders.new order-4 (5)\n" in seen, seen
        proc.send_signal(signal.SIGTERM)  # our own child, by its pid
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM: draining" in out
    assert "stopped cleanly after 5 orders, 0 unacknowledged" in out


_BLOCK = re.compile(r"^ *```python\n(.*?)^ *```", re.S | re.M)


def _doc_blocks(name: str) -> list[str]:
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    blocks = []
    for block in _BLOCK.findall(text):
        lines = block.splitlines()
        indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
        blocks.append("\n".join(x[indent:] for x in lines) + "\n")
    return blocks


INDEX_BLOCKS = _doc_blocks("index.md")


@pytest.mark.parametrize("code", INDEX_BLOCKS, ids=[f"index{i}" for i in range(len(INDEX_BLOCKS))])
def test_index_example_runs(
    code: str, server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source = code.replace("nats://127.0.0.1:4222", server.url)
    exec(compile(source, "docs/index.md example", "exec"), {"__name__": "__doc_example__"})
    assert "hello" in capsys.readouterr().out
