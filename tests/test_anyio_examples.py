"""The nats_anyio examples run against a test server (and standalone) and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pynats.server import NatsServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["asyncio_example.py", "trio_service.py"]
EXPECTED = {"asyncio_example.py": "reply: b'echo: ping'", "trio_service.py": "20 + 22 = 42"}


def _run(script: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def _env_without_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NATS_URL"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_with_url_argument(script: str, nats_server: NatsServer) -> None:
    proc = _run(script, [nats_server.url], _env_without_url())
    assert proc.returncode == 0, proc.stderr
    assert EXPECTED[script] in proc.stdout
    assert "embedded" not in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_with_nats_url_env(script: str, nats_server: NatsServer) -> None:
    proc = _run(script, [], {**_env_without_url(), "NATS_URL": nats_server.url})
    assert proc.returncode == 0, proc.stderr
    assert EXPECTED[script] in proc.stdout
    assert "embedded" not in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_starts_its_own_server(script: str) -> None:
    proc = _run(script, [], _env_without_url())
    assert proc.returncode == 0, proc.stderr
    assert "started an embedded nats-server" in proc.stdout
    assert EXPECTED[script] in proc.stdout
