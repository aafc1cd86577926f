"""Every program of examples/ runs against a real server, within a short bound, and
prints what it should; the examples of docs/index.md run too.

Each example takes the server URL as argv[1] (or NATS_URL) and starts an embedded
server without one (tests/test_anyio_examples.py checks that path for the first two).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
}
JETSTREAM: set[str] = set()


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
    tested = set(EXPECTED) | {"asyncio_example.py", "trio_service.py"}  # test_anyio_examples
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
