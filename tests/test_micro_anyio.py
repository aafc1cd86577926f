"""Services (ADR-32) against a real nats-server on the async client, on asyncio and on Trio.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
(The sans-IO state and the README's example: tests/test_micro.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import nats_anyio
from anyio_helpers import wait_until
from nats_core.errors import NatsTimeoutError, NoRespondersError
from nats_core.micro import service_error
from pynats.server import NatsServer

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


async def test_service(server: NatsServer) -> None:
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

    async with nats_anyio.connect(server.url) as nc:
        svc = await nats_anyio.add_service(nc, "calc", "1.0.0", description="math")
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
                # a request is counted once its handler returned, after the answer went out
                await wait_until(lambda: sum(ep.num_requests for ep in svc.endpoints) == 4)
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
        with pytest.raises(NoRespondersError):  # the service's subscriptions are gone
            await nc.request("calc.add", b"[1, 1]", timeout=1)


async def test_handler_that_answers_then_raises(server: NatsServer) -> None:
    async def half(req: nats_anyio.Request) -> None:
        await req.respond(b"partial")
        raise RuntimeError("after the answer")

    async with (
        nats_anyio.connect(server.url) as nc,
        await nats_anyio.add_service(nc, "half", "1.0.0") as svc,
    ):
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


@pytest.mark.parametrize("expose", [False, True])
async def test_handler_exception_text_only_when_exposed(
    server: NatsServer, expose: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(req: nats_anyio.Request) -> None:
        raise ValueError("secret\r\ntable")

    async with (
        nats_anyio.connect(server.url) as nc,
        await nats_anyio.add_service(nc, "leaky", "1.0.0", expose_errors=expose) as svc,
    ):
        await svc.add_endpoint("boom", boom)
        e = service_error(await nc.request("boom", b"", timeout=2))
        text = "secret table" if expose else "internal service error"
        assert e is not None and (e.code, e.description) == (500, text)
        # the statistics are recorded once the handler returned, after the answer went out
        await wait_until(lambda: svc.endpoints[0].num_requests == 1)
        assert svc.endpoints[0].last_error == f"500:{text}"
    # the traceback is in the local log either way
    logged = [r for r in caplog.records if r.exc_info and "the handler raised" in r.getMessage()]
    assert logged and "secret" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_services_share_a_queue_group(server: NatsServer) -> None:
    hits: list[str] = []

    def handler_for(tag: str) -> nats_anyio._micro.Handler:
        async def handle(req: nats_anyio.Request) -> None:
            hits.append(tag)
            await req.respond(tag.encode())

        return handle

    async with (
        nats_anyio.connect(server.url) as nc1,
        nats_anyio.connect(server.url) as nc2,
    ):
        s1 = await nats_anyio.add_service(nc1, "echo", "0.1.0", metadata={"zone": "a"})
        s2 = await nats_anyio.add_service(nc2, "echo", "0.1.0")
        await s1.add_endpoint("echo", handler_for("one"))
        await s2.add_endpoint("echo", handler_for("two"))
        await nc1.flush()
        await nc2.flush()
        async with nats_anyio.connect(server.url) as client:
            answers = {(await client.request("echo", b"x")).data for _ in range(40)}
            assert answers <= {b"one", b"two"}
            assert len(hits) == 40  # the queue group: each request handled once
            # Discovery reaches both instances; by id, only one.
            inbox = client.new_inbox()
            sub = await client.subscribe(inbox)
            await client.publish("$SRV.PING.echo", b"", reply=inbox)
            pings = [json.loads((await sub.next_msg(2)).data) for _ in range(2)]
            assert {p["id"] for p in pings} == {s1.id, s2.id}
            one = json.loads((await client.request(f"$SRV.INFO.echo.{s1.id}", b"")).data)
            assert one["metadata"] == {"zone": "a"}
        await s1.stop()
        await wait_until(lambda: s1.stopped)
        async with nats_anyio.connect(server.url) as client:
            assert {(await client.request("echo", b"x")).data for _ in range(5)} == {b"two"}
        # each request is counted once its handler returned
        await wait_until(lambda: sum(s.endpoints[0].num_requests for s in (s1, s2)) == 45)
        s2.reset()
        assert s2.endpoints[0].num_requests == 0
        await s2.stop()
