"""The Service API (ADR-32): the sans-IO state, and the README's example. (Services
against a real nats-server: tests/test_micro_anyio.py, on asyncio and Trio, and
tests/test_micro_sync.py generated from it.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from nats_core.errors import LocalProtocolError
from nats_core.micro import (
    INFO_TYPE,
    PING_TYPE,
    STATS_TYPE,
    ServiceState,
    control_subjects,
    error_headers,
)
from pynats.server import NatsServer


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


# ------------------------------------------------------------------ sans-IO


def _state(**kw: object) -> ServiceState:
    args: dict[str, object] = {
        "name": "calc",
        "version": "1.2.3",
        "id": "ID1",
        "started": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    args.update(kw)
    return ServiceState(**args)  # type: ignore[arg-type]


def test_answers_and_statistics() -> None:
    st = _state(description="adds", metadata={"k": "v"})
    ep = st.add_endpoint("add", "calc.add", "q", {"unit": "n"})
    assert control_subjects("calc", "ID1")[:3] == [
        "$SRV.PING",
        "$SRV.PING.calc",
        "$SRV.PING.calc.ID1",
    ]
    assert len(control_subjects("calc", "ID1")) == 9
    ping = json.loads(st.answer("PING"))
    assert ping == {
        "type": PING_TYPE,
        "name": "calc",
        "id": "ID1",
        "version": "1.2.3",
        "metadata": {"k": "v"},
    }
    info = json.loads(st.answer("INFO"))
    assert info["type"] == INFO_TYPE and info["description"] == "adds"
    assert info["endpoints"] == [
        {"name": "add", "subject": "calc.add", "queue_group": "q", "metadata": {"unit": "n"}}
    ]
    st.record(ep, 300)
    st.record(ep, 101, "400:bad input")
    stats = json.loads(st.answer("STATS", lambda e: {"seen": e.num_requests}))
    assert stats["type"] == STATS_TYPE and stats["started"] == "2026-01-02T03:04:05Z"
    (e,) = stats["endpoints"]
    assert (e["num_requests"], e["num_errors"], e["last_error"]) == (2, 1, "400:bad input")
    assert (e["processing_time"], e["average_processing_time"], e["data"]) == (
        401,
        200,
        {"seen": 2},
    )
    st.reset()
    assert (ep.num_requests, ep.processing_time, ep.last_error) == (0, 0, "")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "a b"}, "service name"),
        ({"name": ""}, "service name"),
        ({"version": "1.0"}, "version"),
        ({"version": "01.0.0"}, "version"),
    ],
)
def test_bad_service_config(kw: dict[str, str], match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        _state(**kw)


def test_versions_and_endpoint_checks() -> None:
    for v in ("0.0.1", "1.0.0-alpha.1", "2.3.4+build.5"):
        _state(version=v)
    st = _state()
    with pytest.raises(LocalProtocolError, match="endpoint name"):
        st.add_endpoint("a.b", "x", "q")
    with pytest.raises(LocalProtocolError):
        st.add_endpoint("ok", "bad subject", "q")
    with pytest.raises(LocalProtocolError):
        error_headers(400, "two\nlines")
    h = error_headers(404, "not here")
    assert (h["Nats-Service-Error-Code"], h["Nats-Service-Error"]) == ("404", "not here")


# ------------------------------------------------- the README (blocking client)


def test_readme_example_runs(server: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("## Services (ADR-32)")[1].split("```python\n")[1].split("```")[0]
    exec(compile(block.replace("nats://127.0.0.1:4222", server.url), "README", "exec"), {})
    # the request is counted before its answer goes out: stats() right after sees it
    assert capsys.readouterr().out.strip() == "b'3' 1"
