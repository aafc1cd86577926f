"""connect(context=...) with contexts of the nats CLI (ADR-21) in a temporary
XDG_CONFIG_HOME, against a real nats-server that wants a user and password:
the blocking client, and the async one on asyncio and Trio. (Parsing and the
option mapping: tests/test_core_context.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import nats_anyio
import nats_sync
from nats_core.errors import ConfigError, NatsError
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(config='authorization { user: "ctxu", password: "ctxp" }\n') as srv:
        yield srv


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The nats config directory, under a temporary XDG_CONFIG_HOME."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("CTX_PASSWORD", "ctxp")
    (tmp_path / "nats" / "context").mkdir(parents=True)
    return tmp_path / "nats"


def write(config: Path, name: str, body: object) -> Path:
    path = config / "context" / f"{name}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_sync_contexts(server: NatsServer, config: Path) -> None:
    write(
        config,
        "dev",
        {"url": server.url, "user": "ctxu", "password": "env://CTX_PASSWORD"},
    )
    write(
        config,
        "hub",
        {"url": server.url, "user": "ctxu", "password": "ctxp", "jetstream_domain": "hub"},
    )
    write(config, "nowhere", {"url": "nats://127.0.0.1:1", "user": "ctxu", "password": "ctxp"})
    with nats_sync.connect(context="dev") as nc:
        nc.flush()
        assert nc.jetstream().api.domain is None
    with nats_sync.connect(context="hub") as nc:
        assert nc.jetstream().api.domain == "hub"
        assert nc.jetstream(domain="other").api.domain == "other"
        assert nc.jetstream(api_prefix="$JS.X.API").api.domain is None
    # explicit options win: the servers here, the password here
    with nats_sync.connect(server.url, context="nowhere") as nc:
        nc.flush()
    with pytest.raises(NatsError):
        nats_sync.connect(context="dev", password="wrong", connect_timeout=2)
    # the selected context
    with pytest.raises(ConfigError, match=r"context\.txt"):
        nats_sync.connect(context="")
    (config / "context.txt").write_text("hub\n")
    with nats_sync.connect(context="") as nc:
        assert nc.jetstream().api.domain == "hub"
    # missing and malformed contexts name the file
    with pytest.raises(ConfigError, match=r"missing\.json"):
        nats_sync.connect(context="missing")
    bad = write(config, "bad", "{not json")
    with pytest.raises(ConfigError, match=re.escape(str(bad))):
        nats_sync.connect(context="bad")
    write(config, "badtype", {"url": 42})
    with pytest.raises(ConfigError, match="badtype"):
        nats_sync.connect(context="badtype")
    with pytest.raises(ConfigError):
        nats_sync.connect(context="../escape")


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_async_contexts(server: NatsServer, config: Path) -> None:
    write(
        config,
        "dev",
        {
            "url": server.url,
            "user": "ctxu",
            "password": "ctxp",
            "jetstream_api_prefix": "$JS.Y.API",
        },
    )
    async with nats_anyio.connect(context="dev") as nc:
        await nc.flush()
        assert nc.jetstream().api.prefix == "$JS.Y.API"
    (config / "context.txt").write_text("dev")
    async with nats_anyio.connect(context="", name="explicit") as nc:
        await nc.flush()
    with pytest.raises(ConfigError, match=r"nope\.json"):
        async with nats_anyio.connect(context="nope"):
            pass
    write(config, "bad", "[]")
    with pytest.raises(ConfigError, match=r"bad\.json"):
        async with nats_anyio.connect(context="bad"):
            pass
