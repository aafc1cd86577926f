"""The Service API (ADR-32): the sans-IO state, then services on the async client
(asyncio and Trio) and the blocking client against a real nats-server."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

import nats_anyio
import nats_sync
from nats_core.errors import LocalProtocolError, NatsTimeoutError, NoRespondersError
from nats_core.micro import (
    INFO_TYPE,
    PING_TYPE,
    STATS_TYPE,
    ServiceState,
    control_subjects,
    error_headers,
    service_error,
)
from pynats.server import NatsServer
from sync_helpers import wait_until


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


# ------------------------------------------------------------------ async


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def anc(server: NatsServer) -> AsyncIterator[nats_anyio.Client]:
    async with nats_anyio.connect(server.url) as nc:
        yield nc


@pytest.mark.anyio
async def test_async_service(anc: nats_anyio.Client, server: NatsServer) -> None:
    async def add(req: nats_anyio.Request) -> None:
        a, b = json.loads(req.data)
        await req.respond(b"%d" % (a + b))

    async def div(req: nats_anyio.Request) -> None:
        a, b = json.loads(req.data)
        if b == 0:
            await req.respond_error(400, "division by zero")
            return
        await req.respond(b"%d" % (a // b))

    def boom(req: nats_anyio.Request) -> None:  # plain functions work too
        raise ValueError("kaput: db password in /etc/app.conf")

    svc = await nats_anyio.add_service(anc, "calc", "1.0.0", description="math")
    async with svc:
        await svc.add_endpoint("add", add, subject="calc.add")
        grp = svc.add_group("calc").add_group("int")
        await grp.add_endpoint("div", div)
        await svc.add_endpoint("boom", boom, queue_group="")
        async with nats_anyio.connect(server.url) as client:
            assert (await client.request("calc.add", b"[2, 3]")).data == b"5"
            assert (await client.request("calc.int.div", b"[7, 2]")).data == b"3"
            err = await client.request("calc.int.div", b"[1, 0]")
            e = service_error(err)
            assert e is not None and (e.code, e.description) == (400, "division by zero")
            err = await client.request("boom", b"")
            e = service_error(err)
            # a generic description: the exception's text stays in the local log
            assert e is not None and (e.code, e.description) == (500, "internal service error")
            ping = json.loads((await client.request("$SRV.PING.calc", b"")).data)
            assert (ping["name"], ping["id"]) == ("calc", svc.id)
            info = json.loads((await client.request(f"$SRV.INFO.calc.{svc.id}", b"")).data)
            assert [(x["name"], x["subject"], x["queue_group"]) for x in info["endpoints"]] == [
                ("add", "calc.add", "q"),
                ("div", "calc.int.div", "q"),
                ("boom", "boom", ""),
            ]
            stats = json.loads((await client.request("$SRV.STATS", b"")).data)
            by_name = {x["name"]: x for x in stats["endpoints"]}
            assert by_name["add"]["num_requests"] == 1 and by_name["add"]["num_errors"] == 0
            assert by_name["div"]["num_requests"] == 2 and by_name["div"]["num_errors"] == 1
            assert by_name["div"]["last_error"] == "400:division by zero"
            assert by_name["boom"]["last_error"] == "500:internal service error"
            assert b"kaput" not in (await client.request("$SRV.STATS", b"")).data
            assert by_name["add"]["processing_time"] > 0
            assert svc.stats()["endpoints"][0]["num_requests"] == 1
    assert svc.stopped
    async with nats_anyio.connect(server.url) as client:
        with pytest.raises(NoRespondersError):
            await client.request("calc.add", b"[1, 1]", timeout=1)


@pytest.mark.anyio
async def test_async_handler_that_answers_then_raises(
    anc: nats_anyio.Client, server: NatsServer
) -> None:
    async def half(req: nats_anyio.Request) -> None:
        await req.respond(b"partial")
        raise RuntimeError("after the answer")

    async with await nats_anyio.add_service(anc, "half", "1.0.0") as svc:
        await svc.add_endpoint("half", half)
        async with nats_anyio.connect(server.url) as client:
            inbox = client.new_inbox()
            sub = await client.subscribe(inbox)
            await client.publish("half", b"", reply=inbox)
            assert (await sub.next_msg(2)).data == b"partial"
            with pytest.raises(NatsTimeoutError):
                await sub.next_msg(0.3)  # one answer per request, no error after it
        (ep,) = svc.endpoints
        assert (ep.num_requests, ep.num_errors) == (1, 1)
        assert ep.last_error == "500:internal service error"


# ------------------------------------------------------------------ blocking


@pytest.mark.parametrize("expose", [False, True])
def test_handler_exception_text_only_when_exposed(
    server: NatsServer, expose: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(req: nats_sync.Request) -> None:
        raise ValueError("secret\r\ntable")

    with (
        nats_sync.connect(server.url) as nc,
        nats_sync.add_service(nc, "leaky", "1.0.0", expose_errors=expose) as svc,
    ):
        svc.add_endpoint("boom", boom)
        e = service_error(nc.request("boom", b"", timeout=2))
        text = "secret table" if expose else "internal service error"
        assert e is not None and (e.code, e.description) == (500, text)
        assert svc.endpoints[0].last_error == f"500:{text}"
    # the traceback is in the local log either way
    logged = [r for r in caplog.records if r.exc_info and "the handler raised" in r.getMessage()]
    assert logged and "secret" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_sync_services_share_a_queue_group(server: NatsServer) -> None:
    hits: list[str] = []
    lock = threading.Lock()

    def handler_for(tag: str) -> nats_sync._micro.Handler:
        def handle(req: nats_sync.Request) -> None:
            with lock:
                hits.append(tag)
            req.respond(tag.encode())

        return handle

    with nats_sync.connect(server.url) as nc1, nats_sync.connect(server.url) as nc2:
        s1 = nats_sync.add_service(nc1, "echo", "0.1.0", metadata={"zone": "a"})
        s2 = nats_sync.add_service(nc2, "echo", "0.1.0")
        s1.add_endpoint("echo", handler_for("one"))
        s2.add_endpoint("echo", handler_for("two"))
        nc1.flush()
        nc2.flush()
        with nats_sync.connect(server.url) as client:
            answers = {client.request("echo", b"x").data for _ in range(40)}
            assert answers <= {b"one", b"two"}
            assert len(hits) == 40  # the queue group: each request handled once
            # Discovery reaches both instances; by id, only one.
            inbox = client.new_inbox()
            sub = client.subscribe(inbox)
            client.publish("$SRV.PING.echo", b"", reply=inbox)
            pings = [json.loads(sub.next_msg(2).data) for _ in range(2)]
            assert {p["id"] for p in pings} == {s1.id, s2.id}
            one = json.loads(client.request(f"$SRV.INFO.echo.{s1.id}", b"").data)
            assert one["metadata"] == {"zone": "a"}
        s1.stop()
        wait_until(lambda: s1.stopped)
        with nats_sync.connect(server.url) as client:
            assert {client.request("echo", b"x").data for _ in range(5)} == {b"two"}
        s2.reset()
        assert s2.endpoints[0].num_requests == 0
        s2.stop()


def test_readme_example_runs(server: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("## Services (ADR-32)")[1].split("```python\n")[1].split("```")[0]
    exec(compile(block.replace("nats://127.0.0.1:4222", server.url), "README", "exec"), {})
    assert capsys.readouterr().out.strip() == "b'3' 1"
