"""``pynats consumer``: add, list, inspect, remove, read from, pause and resume consumers."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import click

import nats_sync
from nats_core.jetstream import ConsumerInfo, ConsumerNotFoundError

from . import _common as c
from .stream import show_message, stream_info_of

__all__ = ["consumer", "register"]

_DELIVER = click.Choice(["all", "last", "new", "last_per_subject"], case_sensitive=False)
_ACK = click.Choice(["explicit", "all", "none"], case_sensitive=False)
_REPLAY = click.Choice(["instant", "original"], case_sensitive=False)


def _js() -> Any:
    return c.jetstream_from(c.connect_from())


def _info_of(js: Any, stream: str, name: str) -> ConsumerInfo:
    stream_info_of(js, stream)
    try:
        info: ConsumerInfo = js.consumer_info(stream, name)
    except ConsumerNotFoundError:
        raise c.fail(f"consumer {name} not found on stream {stream}") from None
    return info


def _render_info(info: ConsumerInfo, headline: str | None = None) -> None:
    if headline:
        c.out(headline)
    cfg = info.config
    filters = cfg.filter_subjects or ([cfg.filter_subject] if cfg.filter_subject else [])
    rows: list[tuple[str, Any]] = [
        ("Stream", info.stream_name),
        ("Name", info.name),
        ("Durable", "yes" if cfg.durable_name else "no (ephemeral)"),
        ("Description", cfg.description),
        ("Filter subjects", ", ".join(filters) or "all"),
        ("Deliver policy", cfg.deliver_policy),
        ("Ack policy", cfg.ack_policy),
        ("Ack wait", c.human_duration(cfg.ack_wait, zero="default")),
        ("Max deliver", "unlimited" if (cfg.max_deliver or -1) < 0 else cfg.max_deliver),
        ("Max ack pending", cfg.max_ack_pending),
        ("Replay policy", cfg.replay_policy),
        ("Pull", "no (push)" if cfg.deliver_subject else "yes"),
        ("Created", info.created.isoformat(timespec="seconds") if info.created else None),
        ("Delivered (stream seq)", info.delivered.stream_seq if info.delivered else 0),
        ("Ack floor (stream seq)", info.ack_floor.stream_seq if info.ack_floor else 0),
        ("Pending", f"{info.num_pending:,}"),
        ("Ack pending", f"{info.num_ack_pending:,}"),
        ("Redelivered", f"{info.num_redelivered:,}"),
        ("Waiting pulls", info.num_waiting),
        ("Paused", _paused(info)),
    ]
    c.table(["Field", "Value"], [(k, v) for k, v in rows if v is not None])


def _paused(info: ConsumerInfo) -> str:
    if not info.paused:
        return "no"
    until = info.config.pause_until
    return "until " + until.isoformat(timespec="seconds") if until else "yes"


@click.group(cls=c.NatsGroup)
def consumer() -> None:
    """Manage JetStream consumers: add, ls, info, rm, next, pause, resume."""


@consumer.command("add")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="SUBJECT",
    help="only these subjects (repeatable)",
    show_default="all",
)
@click.option("--description", help="a description", show_default="none")
@click.option(
    "--deliver",
    type=_DELIVER,
    default="all",
    show_default=True,
    help="where to start: all, last, new, last_per_subject",
)
@click.option("--start-seq", type=click.IntRange(1), help="start at this stream sequence")
@click.option("--since", type=c.Duration(), help="start with the messages of the last DURATION")
@click.option("--ack", type=_ACK, default="explicit", show_default=True, help="ack policy")
@click.option("--ack-wait", type=c.Duration(), help="redeliver after (30s)", show_default="30s")
@click.option(
    "--max-deliver", type=int, help="deliveries per message (-1: unlimited)", show_default="-1"
)
@click.option(
    "--max-pending", type=click.IntRange(1), help="unacked messages at most", show_default="1000"
)
@click.option("--replay", type=_REPLAY, default="instant", show_default=True, help="replay speed")
@click.option(
    "--ephemeral",
    is_flag=True,
    help="not durable: gone after --inactive of no use",
)
@click.option(
    "--inactive",
    type=c.Duration(),
    help="an ephemeral consumer's lifetime without use",
    show_default="5s (server)",
)
@c.json_option
def consumer_add(
    stream: str,
    name: str,
    filters: tuple[str, ...],
    description: str | None,
    deliver: str,
    start_seq: int | None,
    since: float | None,
    ack: str,
    ack_wait: float | None,
    max_deliver: int | None,
    max_pending: int | None,
    replay: str,
    ephemeral: bool,
    inactive: float | None,
) -> None:
    """Create the pull consumer NAME on STREAM (durable unless --ephemeral)."""
    if start_seq is not None and since is not None:
        raise click.UsageError("--start-seq and --since do not go together")
    fields: dict[str, Any] = {
        "name": name,
        "deliver_policy": deliver.lower(),
        "ack_policy": ack.lower(),
        "replay_policy": replay.lower(),
    }
    if not ephemeral:
        fields["durable_name"] = name
    if start_seq is not None:
        fields.update(deliver_policy="by_start_sequence", opt_start_seq=start_seq)
    if since is not None:
        start = _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=since)
        fields.update(deliver_policy="by_start_time", opt_start_time=start)
    if len(filters) == 1:
        fields["filter_subject"] = filters[0]
    elif filters:
        fields["filter_subjects"] = list(filters)
    for key, value in (
        ("description", description),
        ("max_deliver", max_deliver),
        ("max_ack_pending", max_pending),
    ):
        if value is not None:
            fields[key] = value
    if ack_wait is not None:
        fields["ack_wait"] = _dt.timedelta(seconds=ack_wait)
    if inactive is not None:
        fields["inactive_threshold"] = _dt.timedelta(seconds=inactive)
    js = _js()
    stream_info_of(js, stream)
    handle = js.create_consumer(stream, **fields)
    info = handle.cached_info
    c.emit(
        info.to_json(),
        lambda: _render_info(info, f"consumer {name} created on stream {stream}"),
    )


@consumer.command("ls")
@click.argument("stream", callback=c.check_name)
@click.option("--names", "names_only", is_flag=True, help="names only, one a line")
@c.json_option
def consumer_ls(stream: str, names_only: bool) -> None:
    """List the consumers of STREAM."""
    js = _js()
    stream_info_of(js, stream)
    if names_only:
        names = sorted(js.consumer_names(stream))
        c.emit(names, lambda: c.out("\n".join(names)) if names else None)
        return
    infos = sorted(js.list_consumers(stream), key=lambda i: i.name)
    data = [
        {
            "stream": stream,
            "name": i.name,
            "durable": bool(i.config.durable_name),
            "pending": i.num_pending,
            "ack_pending": i.num_ack_pending,
            "redelivered": i.num_redelivered,
            "delivered_stream_seq": i.delivered.stream_seq if i.delivered else 0,
            "last_active": i.delivered.last_active if i.delivered else None,
            "paused": bool(i.paused),
        }
        for i in infos
    ]

    def render() -> None:
        if not data:
            c.out(f"no consumers on stream {stream}")
            return
        c.table(
            ["Consumer", "Durable", "Pending", "Ack pending", "Redelivered", "Last active"],
            [
                [
                    d["name"],
                    "yes" if d["durable"] else "no",
                    f"{d['pending']:,}",
                    f"{d['ack_pending']:,}",
                    f"{d['redelivered']:,}",
                    d["last_active"].isoformat(timespec="seconds") if d["last_active"] else "never",
                ]
                for d in data
            ],
            right=["Pending", "Ack pending", "Redelivered"],
        )

    c.emit(data, render)


@consumer.command("info")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@c.json_option
def consumer_info(stream: str, name: str) -> None:
    """Show the consumer's configuration and state."""
    info = _info_of(_js(), stream, name)
    c.emit(info.to_json(), lambda: _render_info(info))


@consumer.command("rm")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def consumer_rm(stream: str, name: str, force: bool) -> None:
    """Delete the consumer NAME of STREAM."""
    js = _js()
    _info_of(js, stream, name)
    c.confirm(f"Delete consumer {name} of stream {stream}?", force)
    js.delete_consumer(stream, name)
    c.out(f"consumer {name} deleted from stream {stream}")


@consumer.command("next")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@click.option(
    "--count", "-n", type=click.IntRange(1), default=1, show_default=True, help="messages to get"
)
@click.option(
    "--wait",
    type=c.Duration(),
    default=5.0,
    show_default="5s",
    help="how long to wait for the messages",
)
@click.option("--no-ack", is_flag=True, help="do not acknowledge them")
@click.option("--raw", is_flag=True, help="only the bodies")
def consumer_next(stream: str, name: str, count: int, wait: float, no_ack: bool, raw: bool) -> None:
    """Get the next messages from the pull consumer and acknowledge them.

    Exits 1 when none came within --wait."""
    js = _js()
    _info_of(js, stream, name)
    handle = js.consumer(stream, name)
    got = 0
    while got < count:
        batch = handle.fetch(count - got, max_wait=wait)
        msgs: list[nats_sync.Msg] = list(batch)
        if not msgs:
            break
        for msg in msgs:
            md = msg.metadata
            show_message(msg.subject, md.sequence.stream, md.timestamp, msg.headers, msg.data, raw)
            if not no_ack and handle.cached_info.config.ack_policy not in (None, "none"):
                msg.ack_sync()
                if not raw:
                    c.info(f"acknowledged message {md.sequence.stream}")
            got += 1
    if got == 0:
        raise c.fail(f"no message from consumer {name} within {c.human_duration(wait)}")


@consumer.command("pause")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@click.option(
    "--for",
    "duration",
    type=c.Duration(),
    required=True,
    help="pause for this long (10m, 1h)",
)
@c.json_option
def consumer_pause(stream: str, name: str, duration: float) -> None:
    """Stop delivering from the consumer for a while (nats-server 2.11+)."""
    js = _js()
    _info_of(js, stream, name)
    until = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=duration)
    resp = js.pause_consumer(stream, name, until)
    when = resp.pause_until.isoformat(timespec="seconds") if resp.pause_until else "?"
    c.emit(resp.to_json(), lambda: c.out(f"consumer {name} paused until {when}"))


@consumer.command("resume")
@click.argument("stream", callback=c.check_name)
@click.argument("name", callback=c.check_name)
@c.json_option
def consumer_resume(stream: str, name: str) -> None:
    """Resume a paused consumer now (nats-server 2.11+)."""
    js = _js()
    _info_of(js, stream, name)
    resp = js.resume_consumer(stream, name)
    c.emit(resp.to_json(), lambda: c.out(f"consumer {name} resumed"))


def register(root: click.Group) -> None:
    """Add the ``consumer`` group."""
    root.add_command(consumer)
