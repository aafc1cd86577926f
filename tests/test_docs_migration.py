"""docs/migrating-from-nats-py.md: every example pair runs, nats-py beside pynats, against
one JetStream server, and the two print the same thing.

A pair is a ```python block whose first line is ``# nats-py...`` followed by one or more
blocks whose first line is ``# pynats...`` (they may sit in tabs, indented). Each block runs
on its own (a fresh state: every stream, and so every bucket, is deleted before it), and
what a ``# pynats`` block prints must equal what the ``# nats-py`` block printed, unless
the block ends with an ``# Output:`` comment: then it must print exactly the lines of that
comment (a difference the page shows on purpose). A ``# nats-py`` block's ``# Output:`` is
checked the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import nats_core.errors
import nats_core.jetstream
import nats_sync
from pynats.server import NatsServer

natspy_client = pytest.importorskip("nats.aio.client")
natspy_errors = pytest.importorskip("nats.errors")
natspy_js_errors = pytest.importorskip("nats.js.errors")

DOC = Path(__file__).resolve().parent.parent / "docs" / "migrating-from-nats-py.md"
TEXT = DOC.read_text(encoding="utf-8")
URL = "nats://127.0.0.1:4222"
_BLOCK = re.compile(r"^( *)```python\n(.*?)^ *```", re.S | re.M)


@dataclass
class Block:
    tag: str  # the first line, "# nats-py: ..." or "# pynats: ..."
    code: str
    expected: list[str] | None  # the "# Output:" lines, when there are

    @property
    def kind(self) -> str:
        return "nats-py" if self.tag.startswith("# nats-py") else "pynats"


def _blocks() -> list[Block]:
    blocks = []
    for indent, body in _BLOCK.findall(TEXT):
        lines = [line[len(indent) :] for line in body.splitlines()]
        expected = None
        if "# Output:" in lines:
            at = lines.index("# Output:")
            expected = [line.removeprefix("#").removeprefix(" ") for line in lines[at + 1 :]]
            lines = lines[:at]
        blocks.append(Block(lines[0].strip(), "\n".join(lines) + "\n", expected))
    return blocks


def _pairs() -> list[tuple[Block, list[Block]]]:
    pairs: list[tuple[Block, list[Block]]] = []
    for block in BLOCKS:
        if block.kind == "nats-py":
            pairs.append((block, []))
        else:
            assert pairs, f"a pynats block before any nats-py block: {block.tag}"
            pairs[-1][1].append(block)
    return pairs


BLOCKS = _blocks()
PAIRS = _pairs()


def _pair_id(pair: tuple[Block, list[Block]]) -> str:
    title = pair[0].tag.removeprefix("# nats-py").strip(" :")
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "pair"


def test_every_python_block_is_in_a_pair() -> None:
    tags = [b.tag for b in BLOCKS]
    assert all(t.startswith(("# nats-py", "# pynats")) for t in tags), tags
    assert len(PAIRS) >= 8
    assert all(pynats_blocks for _, pynats_blocks in PAIRS), "a nats-py block without pynats"
    assert len({_pair_id(p) for p in PAIRS}) == len(PAIRS), "pair titles must differ"
    # Both clients appear, and the blocking one too.
    code = "".join(b.code for b in BLOCKS)
    assert "import nats_anyio" in code and "import nats_sync" in code


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


def _reset(url: str) -> None:
    """Delete every stream (Key-Value and Object Store buckets are streams too)."""
    with nats_sync.connect(url) as nc:
        js = nc.jetstream()
        for name in list(js.stream_names()):
            js.delete_stream(name)


def _run(block: Block, url: str) -> list[str]:
    _reset(url)
    out = io.StringIO()
    source = block.code.replace(URL, url)
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        exec(compile(source, f"{DOC.name}: {block.tag}", "exec"), {"__name__": "__doc__"})
    assert time.monotonic() - started < 10, f"{block.tag} took too long"
    lines = out.getvalue().splitlines()
    if block.expected is not None:
        assert lines == block.expected, f"{block.tag} printed {lines}"
    return lines


@pytest.mark.parametrize("pair", PAIRS, ids=[_pair_id(p) for p in PAIRS])
def test_pair_prints_the_same(pair: tuple[Block, list[Block]], server: NatsServer) -> None:
    natspy, ours = pair
    reference = _run(natspy, server.url)
    assert reference, f"{natspy.tag} printed nothing"
    for block in ours:
        lines = _run(block, server.url)
        if block.expected is None:
            assert lines == reference, f"{block.tag} printed {lines}, nats-py {reference}"


def _table(heading: str) -> list[tuple[str, str]]:
    """The first two columns of the table under ``heading``."""
    section = TEXT.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((cells[0], cells[1]))
    return rows[1:]  # without the header row


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z_.]+)`", cell)


def _resolves(name: str, *modules: object) -> bool:
    """``name`` is an attribute of one of ``modules``, or a dotted path that imports."""
    if "." in name:
        module, _, attr = name.rpartition(".")
        try:
            return hasattr(importlib.import_module(module), attr)
        except ImportError:
            return False
    return any(hasattr(m, name) for m in modules)


def test_exception_table_names_exist() -> None:
    rows = _table("## Exceptions")
    assert len(rows) >= 25
    for theirs, ours in rows:
        for name in _names(theirs):
            assert _resolves(name, natspy_errors, natspy_js_errors), name
        for name in _names(ours):
            assert _resolves(name, nats_core.errors, nats_core.jetstream), name


def test_connect_option_table_names_exist() -> None:
    natspy_options = set(inspect.signature(natspy_client.Client.connect).parameters)
    rows = _table("## Connect options")
    assert len(rows) >= 30
    for theirs, ours in rows:
        for name in _names(theirs):
            assert name in natspy_options, name
        for name in _names(ours):
            # pynats' connect() raises TypeError for an option it does not know.
            options: dict[str, object] = {"servers": URL}
            if name != "servers":
                options[name] = print if name.endswith("_cb") else None
            try:
                nats_core.build_options(**options)
            except TypeError as exc:
                assert "unknown option" not in str(exc), name
            except (ValueError, nats_core.errors.NatsError):
                pass  # known, but not with this value
