"""``pynats server ping/info/check``: servers seen through the system account, and a
health check for monitoring (exit 0 OK, 1 warning, 2 critical, as natscli's)."""

from __future__ import annotations

import time
from typing import Any

import click

import nats_sync
from nats_core.errors import NoRespondersError

from . import _common as c

__all__ = ["register"]

OK, WARNING, CRITICAL = 0, 1, 2
_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}

_SYS_HINT = (
    "no server answered on $SYS: connect as a user of the system account "
    "(--creds, --user/--password or a context that has one)"
)


def _system(stall: float) -> nats_sync.SystemClient:
    return nats_sync.SystemClient(
        c.connect_from(), timeout=c.options().request_timeout, stall=stall
    )


def _answers(results: list[Any]) -> list[Any]:
    """The successful answers; a one-line error when there is none."""
    ok = [r for r in results if not isinstance(r, Exception)]
    for r in results:
        if isinstance(r, Exception):
            c.info(str(r))
    if not ok:
        raise c.fail(_SYS_HINT)
    return ok


stall_option = click.option(
    "--stall",
    type=c.Duration(),
    default=0.3,
    show_default="300ms",
    help="stop waiting this long after the last answer",
)


@click.command("ping", cls=c.NatsCommand)
@stall_option
@c.json_option
def server_ping(stall: float) -> None:
    """Ping every server through the system account and list who answered."""
    start = time.monotonic()
    try:
        found = _answers(_system(stall).idz())
    except NoRespondersError:
        raise c.fail(_SYS_HINT) from None
    elapsed = time.monotonic() - start
    found.sort(key=lambda r: r.server.name)
    data = [
        {
            "name": r.server.name,
            "id": r.server.id,
            "host": r.server.host,
            "cluster": r.server.cluster,
            "version": r.server.ver,
        }
        for r in found
    ]

    def render() -> None:
        c.table(
            ["Server", "Cluster", "Version", "Host"],
            [[d["name"], d["cluster"] or "", d["version"] or "", d["host"]] for d in data],
        )
        c.info(f"{len(data)} server(s) answered in {elapsed * 1000:.0f}ms")

    c.emit(data, render)


@click.command("info", cls=c.NatsCommand)
@click.argument("server_id", metavar="[SERVER_ID]", required=False)
@stall_option
@c.json_option
def server_info(server_id: str | None, stall: float) -> None:
    """Show a server's VARZ (SERVER_ID: its id; default: the one connected to)."""
    nc = c.connect_from()
    sid = server_id or nc.connected_server_id
    try:
        (answer,) = _answers(_system(stall).varz(sid))
    except NoRespondersError:
        raise c.fail(_SYS_HINT) from None
    except nats_sync.NatsTimeoutError:
        raise c.fail(f"server {sid} did not answer") from None
    v = answer.data

    def render() -> None:
        c.table(
            ["Field", "Value"],
            [
                ("Name", v.server_name),
                ("Id", v.server_id),
                ("Version", v.version),
                ("Uptime", v.uptime or ""),
                ("Connections", f"{v.connections:,}"),
                ("Total connections", f"{v.total_connections:,}"),
                ("Subscriptions", f"{v.subscriptions:,}"),
                ("Messages in", f"{v.in_msgs:,}"),
                ("Slow consumers", f"{v.slow_consumers:,}"),
                ("Memory", c.human_bytes(v.mem)),
                ("Cores", v.cores),
                ("JetStream", "yes" if v.jetstream else "no"),
            ],
        )

    c.emit(answer.raw.get("data", v.to_json()), render)


class _Check:
    """A natscli-style check: the worst status wins; perf data in Nagios format."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = OK
        self.messages: list[str] = []
        self.perf: list[str] = []
        self.data: dict[str, Any] = {}

    def raise_to(self, status: int, message: str) -> None:
        self.status = max(self.status, status)
        self.messages.append(f"{_NAMES[status]}:{message}")

    def timing(self, name: str, seconds: float, warn: float, crit: float) -> None:
        self.data[name] = seconds
        self.perf.append(f"{name}={seconds:.4f}s;{warn:.4f};{crit:.4f}")
        if seconds >= crit:
            self.raise_to(CRITICAL, f"{name} {seconds:.4f}s >= {crit:.4f}s")
        elif seconds >= warn:
            self.raise_to(WARNING, f"{name} {seconds:.4f}s >= {warn:.4f}s")

    def usage(self, name: str, used: int, limit: int, warn: float, crit: float) -> None:
        if limit <= 0:
            self.data[name] = {"used": used, "limit": None, "percent": None}
            return
        pct = 100.0 * used / limit
        self.data[name] = {"used": used, "limit": limit, "percent": pct}
        self.perf.append(f"{name}={pct:.1f}%;{warn:.0f};{crit:.0f}")
        if pct >= crit:
            self.raise_to(CRITICAL, f"{name} {pct:.1f}% >= {crit:.0f}%")
        elif pct >= warn:
            self.raise_to(WARNING, f"{name} {pct:.1f}% >= {warn:.0f}%")

    def line(self) -> str:
        text = f"{_NAMES[self.status]} {self.name}"
        if self.messages:
            text += " " + ", ".join(self.messages)
        if self.perf:
            text += " | " + " ".join(self.perf)
        return text


def _percent(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 100:
        raise click.BadParameter("a percentage from 0 to 100")
    return value


@click.command("check", cls=c.NatsCommand)
@click.option(
    "--connect-warn",
    type=c.Duration(),
    default=0.5,
    show_default="500ms",
    help="warn when connecting takes this long",
)
@click.option(
    "--connect-crit",
    type=c.Duration(),
    default=1.0,
    show_default="1s",
    help="critical when connecting takes this long",
)
@click.option(
    "--rtt-warn",
    type=c.Duration(),
    default=0.5,
    show_default="500ms",
    help="warn when the round trip takes this long",
)
@click.option(
    "--rtt-crit",
    type=c.Duration(),
    default=1.0,
    show_default="1s",
    help="critical when the round trip takes this long",
)
@click.option(
    "--jetstream/--no-jetstream",
    default=True,
    show_default=True,
    help="check JetStream too (reachable, memory and storage use)",
)
@click.option(
    "--mem-warn",
    type=float,
    default=75.0,
    show_default=True,
    callback=_percent,
    help="warn at this % of the account's JetStream memory",
)
@click.option(
    "--mem-crit",
    type=float,
    default=90.0,
    show_default=True,
    callback=_percent,
    help="critical at this % of it",
)
@click.option(
    "--store-warn",
    type=float,
    default=75.0,
    show_default=True,
    callback=_percent,
    help="warn at this % of the account's JetStream storage",
)
@click.option(
    "--store-crit",
    type=float,
    default=90.0,
    show_default=True,
    callback=_percent,
    help="critical at this % of it",
)
@c.json_option
def server_check(
    connect_warn: float,
    connect_crit: float,
    rtt_warn: float,
    rtt_crit: float,
    jetstream: bool,
    mem_warn: float,
    mem_crit: float,
    store_warn: float,
    store_crit: float,
) -> int:
    """Check the connection and JetStream, for monitoring (Nagios-style line).

    Exit code 0: OK, 1: warning, 2: critical (no connection, JetStream
    unavailable, a threshold crossed)."""
    check = _Check("Connection")
    start = time.monotonic()
    try:
        nc = c.connect_from()
    except c.CliError as e:
        check.raise_to(CRITICAL, e.format_message())
        return _report(check)
    check.timing("connect_time", time.monotonic() - start, connect_warn, connect_crit)
    try:
        check.timing("rtt", nc.rtt(timeout=c.options().request_timeout), rtt_warn, rtt_crit)
    except (nats_sync.NatsError, TimeoutError) as e:
        check.raise_to(CRITICAL, f"no round trip: {e}")
    check.data["url"] = nc.connected_url
    if jetstream and check.status < CRITICAL:
        check.name = "Connection and JetStream"
        try:
            acct = c.jetstream_from(nc).account_info()
        except (nats_sync.NatsError, TimeoutError) as e:
            check.raise_to(CRITICAL, f"JetStream: {e}")
        else:
            check.usage("memory", acct.memory, acct.limits.max_memory, mem_warn, mem_crit)
            check.usage("storage", acct.storage, acct.limits.max_storage, store_warn, store_crit)
            check.data["streams"] = acct.streams
            check.data["consumers"] = acct.consumers
    return _report(check)


def _report(check: _Check) -> int:
    c.emit(
        {
            "status": _NAMES[check.status],
            "code": check.status,
            "messages": check.messages,
            **check.data,
        },
        lambda: c.out(check.line()),
    )
    return check.status


def register(root: click.Group) -> None:
    """Add ``ping``, ``info`` and ``check`` to the ``server`` group."""
    group: Any = root.commands["server"]
    for cmd in (server_ping, server_info, server_check):
        group.add_command(cmd)
