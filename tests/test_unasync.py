"""The blocking JetStream and Key-Value modules are generated from the async ones:
they must be current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_sync_jetstream_is_current() -> None:
    """Fails when src/nats_sync/_jetstream.py or _kv.py was edited by hand or not regenerated."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, (
        "a generated module is stale: run `python scripts/unasync.py`\n" + proc.stderr
    )


def test_replacements() -> None:
    mod = _load()
    line = "    async def f(self) -> AsyncThing:  # nats_anyio\n"
    assert mod.unasync_line(line) == "    def f(self) -> AsyncThing:  # nats_sync\n"
    assert mod.unasync_line("        x = await self.g(await h())\n") == "        x = self.g(h())\n"
    assert mod.unasync_line("    async with a as b:\n") == "    with a as b:\n"
    assert mod.unasync_line("        async for m in it:\n") == "        for m in it:\n"
    assert mod.unasync_line("    def __aiter__(self):\n") == "    def __iter__(self):\n"
    assert mod.unasync_line("    async def __anext__(self):\n") == "    def __next__(self):\n"
    assert mod.unasync_line("    async def __aenter__(self):\n") == "    def __enter__(self):\n"
    assert mod.unasync_line("    async def __aexit__(self):\n") == "    def __exit__(self):\n"
    assert mod.unasync_line("raise StopAsyncIteration\n") == "raise StopIteration\n"
    # words that merely contain the tokens stay as they are
    assert mod.unasync_line("awaiting = asyncio_thing\n") == "awaiting = asyncio_thing\n"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    mod = _load()
    src = tmp_path / "src" / "nats_anyio"
    dst = tmp_path / "src" / "nats_sync"
    src.mkdir(parents=True)
    dst.mkdir(parents=True)
    names = [Path(source).name for source, _ in mod.FILES]
    assert names == ["_jetstream.py", "_kv.py", "_micro.py", "_objectstore.py"]
    for name in names:
        (src / name).write_text((ROOT / "src/nats_anyio" / name).read_text())
    assert mod.run(check=False, root=tmp_path) == 0
    for name in names:
        made = (dst / name).read_text()
        assert made == (ROOT / "src/nats_sync" / name).read_text()
        assert "async def" not in made and "await " not in made
        assert f"Generated from ``nats_anyio/{name}``" in made
    generated = (dst / "_jetstream.py").read_text()
    assert mod.run(check=True, root=tmp_path) == 0
    (dst / "_jetstream.py").write_text(generated.replace("def publish(", "def publish_(", 1))
    assert mod.run(check=True, root=tmp_path) == 1
