"""Every ``python`` block of docs/jetstream.md runs, against a fresh JetStream server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pynats.server import NatsServer

DOC = Path(__file__).resolve().parent.parent / "docs" / "jetstream.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BLOCKS = _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 8
    assert any("nats_anyio" in b for b in BLOCKS)


_NEEDS = re.compile(r"^# needs nats-server (\d+)\.(\d+)")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    needs = _NEEDS.match(code)  # a first line "# needs nats-server 2.11": newer servers only
    if needs and _version(NatsServer.binary_version()) < (int(needs[1]), int(needs[2])):
        pytest.skip(f"the example needs nats-server {needs[1]}.{needs[2]}")
    with NatsServer(jetstream=True) as server:
        source = code.replace("nats://127.0.0.1:4222", server.url)
        exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "__doc_example__"})
    capsys.readouterr()
