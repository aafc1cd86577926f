"""``pynats rtt`` (round trip time to the server) and ``pynats events`` (the
connection's lifecycle as it happens)."""

from __future__ import annotations

import datetime as _dt
import json
import statistics
import threading
from typing import Any

import click

from . import _common as c

__all__ = ["events", "register", "rtt"]


@click.command("rtt", cls=c.NatsCommand)
@click.option(
    "--count", "-n", type=click.IntRange(1), default=5, show_default=True, help="round trips"
)
@c.json_option
def rtt(count: int) -> None:
    """Measure the round trip time to the server (PING/PONG)."""
    nc = c.connect_from()
    times = [nc.rtt(timeout=c.options().request_timeout) for _ in range(count)]
    lo, avg, hi = min(times), statistics.fmean(times), max(times)
    data = {
        "url": nc.connected_url,
        "server": nc.connected_server_name,
        "count": count,
        "rtts": times,
        "min": lo,
        "avg": avg,
        "max": hi,
    }

    def render() -> None:
        c.out(
            f"{data['url']} ({data['server']}): rtt avg {us(avg)}, "
            f"min {us(lo)}, max {us(hi)} over {count} round trip(s)"
        )

    c.emit(data, render)


def us(seconds: float) -> str:
    """Seconds as ``123µs`` or ``1.23ms``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    return f"{seconds * 1e3:.2f}ms"


@click.command("events", cls=c.NatsCommand)
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def events(as_json: bool) -> None:
    """Print the connection's lifecycle as it happens (connected, disconnected,
    reconnecting, reconnected, lame duck mode, servers discovered, closed) until
    Ctrl-C."""
    nc = c.connect_from()
    lock = threading.Lock()

    def say(event: str, **fields: Any) -> None:
        now = _dt.datetime.now().astimezone()
        with lock:
            if as_json:
                line = {"time": now.isoformat(timespec="milliseconds"), "event": event, **fields}
                c.out(json.dumps(line, sort_keys=True))
            else:
                extra = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
                c.out(
                    f"[{now.strftime('%H:%M:%S.%f')[:-3]}] {event}" + (f" {extra}" if extra else "")
                )

    def on_status(status: str) -> None:
        if status == "connected":
            say("reconnected", url=nc.connected_url, server=nc.connected_server_name)
        else:
            say(status)

    def on_discovered() -> None:
        say("discovered_servers", servers=",".join(nc.discovered_servers))

    def on_lame_duck() -> None:
        say("lame_duck_mode", server=nc.connected_server_name)

    nc.status_changed(on_status)
    nc.set_discovered_servers_cb(on_discovered)
    nc.set_lame_duck_cb(on_lame_duck)
    say("connected", url=nc.connected_url, server=nc.connected_server_name)
    c.info("printing connection events; Ctrl-C stops")
    done = threading.Event()
    nc.status_changed(lambda _s: done.set(), "closed")
    while not done.wait(0.5):
        pass


def register(root: click.Group) -> None:
    """Add ``rtt`` and ``events``."""
    root.add_command(rtt)
    root.add_command(events)
