"""The layering holds: the clients use only public ``nats_core`` names, the core
imports no I/O, and no package has an import circle (type-checking imports
count too: a circle there is a circle in the design)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
ADAPTERS = ("nats_sync", "nats_anyio", "pynats")
PACKAGES = ("nats_core", *ADAPTERS)
IO_MODULES = {"socket", "ssl", "select", "selectors", "threading", "asyncio", "anyio", "trio"}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package``."""
    out = {}
    for path in sorted((SRC / package).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) of every import in a module."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            found.append((base, [a.name for a in node.names], node.lineno))
    return found


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


@pytest.mark.parametrize("package", ADAPTERS)
def test_adapters_import_only_public_core_names(package: str) -> None:
    bad = []
    for name, path in modules(package).items():
        for module, names, line in imports(name, path):
            if not module.startswith("nats_core"):
                continue
            if _private(module) or any(n.startswith("_") for n in names):
                bad.append(f"{path.relative_to(SRC)}:{line} imports {module} {names}")
    assert not bad, "\n".join(bad)


def test_core_imports_no_io() -> None:
    bad = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for name, path in modules("nats_core").items()
        for module, _names, line in imports(name, path)
        if module.split(".")[0] in IO_MODULES | set(ADAPTERS)
    ]
    assert not bad, "\n".join(bad)


def _graph(package: str) -> dict[str, set[str]]:
    mods = modules(package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for module, names, _line in imports(name, path):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in mods]
            if not targets and module in mods:
                targets = [module]
            for t in targets:
                # a package's __init__ re-exports its modules: not an edge back up
                if t != name and not name.startswith(t + ".") and t != package:
                    graph[name].add(t)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package: str) -> None:
    cycle = _cycle(_graph(package))
    assert cycle is None, " -> ".join(cycle or [])


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
