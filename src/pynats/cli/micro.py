"""``pynats micro``: find services (ADR-32 discovery) and read their info and stats."""

from __future__ import annotations

import time
from typing import Any

import click

from nats_sync import discover

from . import _common as c
from .misc import us

__all__ = ["micro", "register"]


def _wait() -> float:
    return c.options().request_timeout


stall_option = click.option(
    "--stall",
    type=c.Duration(),
    default=0.3,
    show_default="300ms",
    help="stop waiting this long after the last answer",
)


@click.group(cls=c.NatsGroup)
def micro() -> None:
    """Services (micro): ls, info, stats, ping, found by service discovery."""


@micro.command("ls")
@click.argument("name", required=False)
@stall_option
@c.json_option
def micro_ls(name: str | None, stall: float) -> None:
    """List the running service instances (of NAME, or all)."""
    nc = c.connect_from()
    infos = discover.info(nc, name, timeout=_wait(), stall=stall)
    infos.sort(key=lambda i: (i.name, i.id))
    data: list[dict[str, Any]] = [
        {
            "name": i.name,
            "id": i.id,
            "version": i.version,
            "description": i.description,
            "endpoints": [e.name for e in i.endpoints or []],
        }
        for i in infos
    ]

    def render() -> None:
        if not data:
            c.out("no services found" + (f" named {name}" if name else ""))
            return
        c.table(
            ["Name", "Id", "Version", "Endpoints", "Description"],
            [
                [d["name"], d["id"], d["version"], ", ".join(d["endpoints"]), d["description"]]
                for d in data
            ],
        )

    c.emit(data, render)


def _need(found: list[Any], name: str, instance: str | None) -> None:
    if not found:
        who = f"instance {instance} of service {name}" if instance else f"service {name}"
        raise c.fail(f"no answer from {who}")


@micro.command("info")
@click.argument("name")
@click.argument("instance", required=False)
@stall_option
@c.json_option
def micro_info(name: str, instance: str | None, stall: float) -> None:
    """Show the service NAME: every instance (or INSTANCE, an id) and its endpoints."""
    infos = discover.info(c.connect_from(), name, instance, timeout=_wait(), stall=stall)
    _need(infos, name, instance)
    infos.sort(key=lambda i: i.id)

    def render() -> None:
        for i in infos:
            c.out(f"{i.name} {i.version} ({i.id}){': ' + i.description if i.description else ''}")
            if i.metadata:
                c.out("  metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(i.metadata.items())))
            c.table(
                ["Endpoint", "Subject", "Queue group"],
                [[e.name, e.subject, e.queue_group or ""] for e in i.endpoints or []],
            )

    c.emit([i.to_json() for i in infos], render)


@micro.command("stats")
@click.argument("name")
@click.argument("instance", required=False)
@stall_option
@c.json_option
def micro_stats(name: str, instance: str | None, stall: float) -> None:
    """Show the request counts, errors and processing times of the service NAME."""
    stats = discover.stats(c.connect_from(), name, instance, timeout=_wait(), stall=stall)
    _need(stats, name, instance)
    stats.sort(key=lambda s: s.id)
    rows = []
    for s in stats:
        for e in s.endpoints or []:
            avg = e.average_processing_time / 1e9
            rows.append(
                [
                    s.id,
                    e.name,
                    f"{e.num_requests:,}",
                    f"{e.num_errors:,}",
                    us(avg),
                    e.last_error,
                ]
            )
    c.emit(
        [s.to_json() for s in stats],
        lambda: c.table(
            ["Instance", "Endpoint", "Requests", "Errors", "Average time", "Last error"],
            rows,
            right=["Requests", "Errors", "Average time"],
        ),
    )


@micro.command("ping")
@click.argument("name", required=False)
@stall_option
@c.json_option
def micro_ping(name: str | None, stall: float) -> None:
    """Ping the services (NAME, or all) and show who answered (exit 1: nobody)."""
    start = time.monotonic()
    pings = discover.ping(c.connect_from(), name, timeout=_wait(), stall=stall)
    elapsed = time.monotonic() - start
    if not pings:
        raise c.fail("no service answered" + (f" to {name}" if name else ""))
    pings.sort(key=lambda p: (p.name, p.id))

    def render() -> None:
        for p in pings:
            c.out(f"{p.name} {p.version} {p.id}")
        c.info(f"{len(pings)} answer(s) in {elapsed * 1000:.0f}ms")

    c.emit([p.to_json() for p in pings], render)


def register(root: click.Group) -> None:
    """Add the ``micro`` group."""
    root.add_command(micro)
