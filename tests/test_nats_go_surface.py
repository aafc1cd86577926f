"""The compass of docs/connection.md: every name listed as ours beside nats.go's
Conn, Subscription and Option names exists, in both clients."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest

import nats_anyio
import nats_sync
from nats_core import ClientOptions, ConnectOptions

DOC = Path(__file__).resolve().parent.parent / "docs" / "connection.md"
#: connect() keywords handled before the options are built.
CONNECT_KEYWORDS = {"server", "transport_factory", "context", "dont_randomize"}


def tables() -> dict[str, list[tuple[str, list[str], str]]]:
    """Section (Conn, Subscription, Options) -> rows (nats.go names, our names, note)."""
    text = DOC.read_text().split("## The compass", 1)[1]
    out: dict[str, list[tuple[str, list[str], str]]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
            out[section] = []
        elif line.startswith("|") and not line.startswith(("|---", "| nats.go")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            go, ours, note = cells[0], cells[1], cells[2] if len(cells) > 2 else ""
            names = re.findall(r"`([a-z_]+)`", ours)
            assert names or (ours == "—" and note), f"{section} {go}: no name and no reason"
            out[section].append((go, names, note))
    return out


def names_of(cls: type) -> set[str]:
    """Attributes of ``cls``: class attributes, annotations and ``self.x =`` in its code."""
    found = set(dir(cls))
    for klass in cls.__mro__:
        found |= set(getattr(klass, "__annotations__", {}))
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        found |= set(re.findall(r"self\.([a-z_]+)\s*(?::[^=\n]+)?=", src))
    return found


def test_the_tables_are_there() -> None:
    t = tables()
    assert set(t) == {"Conn", "Subscription", "Options"}
    assert len(t["Conn"]) >= 40 and len(t["Subscription"]) >= 15 and len(t["Options"]) >= 45


@pytest.mark.parametrize("client", [nats_sync.Client, nats_anyio.Client])
def test_conn_names_exist(client: type) -> None:
    have = names_of(client)
    missing = [n for _go, ours, _ in tables()["Conn"] for n in ours if n not in have]
    assert not missing, f"{client.__module__}.Client lacks {missing}"


@pytest.mark.parametrize("sub", [nats_sync.Subscription, nats_anyio.Subscription])
def test_subscription_names_exist(sub: type) -> None:
    have = names_of(sub)
    missing = [n for _go, ours, _ in tables()["Subscription"] for n in ours if n not in have]
    assert not missing, f"{sub.__module__}.Subscription lacks {missing}"


def test_option_names_exist() -> None:
    have = {f.name for f in fields(ClientOptions)} | {f.name for f in fields(ConnectOptions)}
    have |= CONNECT_KEYWORDS
    missing = [n for _go, ours, _ in tables()["Options"] for n in ours if n not in have]
    assert not missing, f"connect() takes no option {missing}"
