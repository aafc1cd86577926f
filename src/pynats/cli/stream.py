"""``pynats stream``: add, list, inspect, edit, remove, purge and read JetStream streams."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import nats_sync
from nats_core.jetstream import (
    MsgNotFoundError,
    StoredMsg,
    StreamConfig,
    StreamInfo,
    StreamNotFoundError,
)

from . import _common as c

__all__ = ["register", "show_message", "stream"]

_STORAGE = click.Choice(["file", "memory"], case_sensitive=False)
_RETENTION = click.Choice(["limits", "interest", "workqueue"], case_sensitive=False)
_DISCARD = click.Choice(["old", "new"], case_sensitive=False)


def _config_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The stream settings shared by ``add`` and ``edit`` (``None``: not given)."""
    opts = [
        click.option(
            "--subjects",
            "subjects",
            multiple=True,
            metavar="SUBJECT[,SUBJECT...]",
            help="subjects to store (repeatable or comma-separated)",
            show_default="the stream's name",
        ),
        click.option("--description", help="a description", show_default="none"),
        click.option(
            "--storage", type=_STORAGE, help="file or memory storage", show_default="file"
        ),
        click.option(
            "--retention",
            type=_RETENTION,
            help="when messages go: limits, interest, workqueue",
            show_default="limits",
        ),
        click.option(
            "--discard",
            type=_DISCARD,
            help="at a limit, discard old messages or refuse new ones",
            show_default="old",
        ),
        click.option(
            "--max-msgs", type=int, help="messages kept (-1: unlimited)", show_default="-1"
        ),
        click.option(
            "--max-bytes",
            type=c.Size(),
            help="bytes kept (512M, 1G; -1: unlimited)",
            show_default="-1",
        ),
        click.option(
            "--max-age",
            type=c.Duration(),
            help="how long messages are kept (1h, 30m; 0: forever)",
            show_default="0",
        ),
        click.option(
            "--max-msg-size",
            type=c.Size(),
            help="largest message accepted (-1: the server's)",
            show_default="-1",
        ),
        click.option(
            "--max-msgs-per-subject",
            type=int,
            help="messages kept per subject (-1: unlimited)",
            show_default="-1",
        ),
        click.option(
            "--replicas", type=click.IntRange(1, 5), help="replicas (clustered)", show_default="1"
        ),
        click.option(
            "--dupe-window",
            type=c.Duration(),
            help="duplicate detection window (2m)",
            show_default="2m",
        ),
        click.option(
            "--allow-direct/--no-allow-direct",
            default=None,
            help="allow direct gets from any replica",
            show_default="off",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False, exists=True),
            help="a JSON stream configuration (the server's format); options override it",
            show_default="none",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _fields(kw: dict[str, Any]) -> dict[str, Any]:
    """The StreamConfig fields given on the command line."""
    subjects = [s.strip() for item in kw.pop("subjects", ()) for s in item.split(",") if s.strip()]
    fields: dict[str, Any] = {}
    if subjects:
        fields["subjects"] = subjects
    simple = {
        "description": "description",
        "storage": "storage",
        "retention": "retention",
        "discard": "discard",
        "max_msgs": "max_msgs",
        "max_bytes": "max_bytes",
        "max_msg_size": "max_msg_size",
        "max_msgs_per_subject": "max_msgs_per_subject",
        "replicas": "num_replicas",
        "allow_direct": "allow_direct",
    }
    for opt, name in simple.items():
        if kw.get(opt) is not None:
            fields[name] = (
                kw[opt].lower() if opt in ("storage", "retention", "discard") else kw[opt]
            )
    for opt, name in (("max_age", "max_age"), ("dupe_window", "duplicate_window")):
        if kw.get(opt) is not None:
            fields[name] = _dt.timedelta(seconds=kw[opt])
    return fields


def _load_config(path: str | None) -> StreamConfig | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise c.fail(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise click.BadParameter(f"{path} is not JSON: {e}", param_hint="--config") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} is not a JSON object", param_hint="--config")
    return StreamConfig.from_json(data)


def _js() -> Any:
    return c.jetstream_from(c.connect_from())


def stream_info_of(js: Any, name: str) -> StreamInfo:
    """The stream's info, or a one-line "stream NAME not found" (exit 1)."""
    try:
        info: StreamInfo = js.stream_info(name)
    except StreamNotFoundError:
        raise c.fail(f"stream {name} not found") from None
    return info


def info_json(info: StreamInfo) -> dict[str, Any]:
    """A stream's info as the server's JSON (stable keys, durations in ns)."""
    return info.to_json()


def _render_info(info: StreamInfo, headline: str | None = None) -> None:
    if headline:
        c.out(headline)
    cfg, st = info.config, info.state
    rows: list[tuple[str, Any]] = [
        ("Name", cfg.name),
        ("Description", cfg.description),
        ("Subjects", ", ".join(cfg.subjects or [])),
        ("Storage", cfg.storage),
        ("Retention", cfg.retention),
        ("Discard", cfg.discard),
        ("Replicas", cfg.num_replicas),
        ("Max messages", "unlimited" if (cfg.max_msgs or -1) < 0 else cfg.max_msgs),
        ("Max bytes", c.human_bytes(cfg.max_bytes)),
        ("Max age", c.human_duration(cfg.max_age)),
        ("Max message size", c.human_bytes(cfg.max_msg_size)),
        (
            "Max per subject",
            "unlimited" if (cfg.max_msgs_per_subject or -1) < 0 else cfg.max_msgs_per_subject,
        ),
        ("Duplicate window", c.human_duration(cfg.duplicate_window, zero="none")),
        ("Allow direct", "yes" if cfg.allow_direct else "no"),
        ("Sealed", "yes" if cfg.sealed else "no"),
        ("Created", info.created.isoformat(timespec="seconds") if info.created else None),
        ("Messages", f"{st.messages:,}"),
        ("Bytes", c.human_bytes(st.bytes)),
        ("First sequence", st.first_seq),
        ("Last sequence", st.last_seq),
        ("Deleted", st.num_deleted or 0),
        ("Subjects stored", st.num_subjects or 0),
        ("Consumers", st.consumer_count),
    ]
    c.table(["Field", "Value"], [(k, v) for k, v in rows if v is not None])


@click.group(cls=c.NatsGroup)
def stream() -> None:
    """Manage JetStream streams: add, ls, info, edit, rm, purge, get, view."""


@stream.command("add")
@click.argument("name", callback=c.check_name)
@_config_options
@c.json_option
def stream_add(name: str, config_file: str | None, **kw: Any) -> None:
    """Create the stream NAME (the same configuration again is not an error)."""
    cfg = _load_config(config_file) or StreamConfig()
    cfg = dataclasses.replace(cfg, name=name, **_fields(kw))
    info = _js().create_stream(cfg)
    c.emit(info_json(info), lambda: _render_info(info, f"stream {name} created"))


@stream.command("ls")
@click.option("--subject", help="only the streams capturing SUBJECT", show_default="all")
@click.option("--names", "names_only", is_flag=True, help="names only, one a line")
@c.json_option
def stream_ls(subject: str | None, names_only: bool) -> None:
    """List the streams with their message counts and sizes."""
    js = _js()
    if names_only:
        names = sorted(js.stream_names(subject=subject))
        c.emit(names, lambda: c.out("\n".join(names)) if names else None)
        return
    infos = sorted(js.list_streams(subject=subject), key=lambda i: i.config.name)
    data = [
        {
            "name": i.config.name,
            "subjects": i.config.subjects or [],
            "messages": i.state.messages,
            "bytes": i.state.bytes,
            "consumers": i.state.consumer_count,
            "created": i.created,
            "last_ts": i.state.last_ts,
        }
        for i in infos
    ]

    def render() -> None:
        if not infos:
            c.out("no streams")
            return
        c.table(
            ["Stream", "Subjects", "Messages", "Bytes", "Consumers", "Last message"],
            [
                [
                    d["name"],
                    ", ".join(d["subjects"]),
                    f"{d['messages']:,}",
                    c.human_bytes(d["bytes"]),
                    d["consumers"],
                    d["last_ts"].isoformat(timespec="seconds") if d["last_ts"] else "never",
                ]
                for d in data
            ],
            right=["Messages", "Bytes", "Consumers"],
        )

    c.emit(data, render)


@stream.command("info")
@click.argument("name", callback=c.check_name)
@c.json_option
def stream_info(name: str) -> None:
    """Show the stream's configuration and state."""
    info = stream_info_of(_js(), name)
    c.emit(info_json(info), lambda: _render_info(info))


@stream.command("edit")
@click.argument("name", callback=c.check_name)
@_config_options
@c.json_option
def stream_edit(name: str, config_file: str | None, **kw: Any) -> None:
    """Change the given settings of the stream NAME (the others stay)."""
    js = _js()
    fields = _fields(kw)
    base = _load_config(config_file) or stream_info_of(js, name).config
    if not fields and config_file is None:
        raise click.UsageError("nothing to change: give at least one setting or --config")
    cfg = dataclasses.replace(base, name=name, **fields)
    info = js.update_stream(cfg)
    c.emit(info_json(info), lambda: _render_info(info, f"stream {name} updated"))


@stream.command("rm")
@click.argument("name", callback=c.check_name)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def stream_rm(name: str, force: bool) -> None:
    """Delete the stream and every message in it."""
    js = _js()
    stream_info_of(js, name)  # a clear "not found" before asking
    c.confirm(f"Delete stream {name} and all its messages?", force)
    js.delete_stream(name)
    c.out(f"stream {name} deleted")


@stream.command("purge")
@click.argument("name", callback=c.check_name)
@click.option("--subject", help="only the messages on SUBJECT", show_default="all")
@click.option(
    "--seq", type=click.IntRange(1), help="only those before sequence SEQ", show_default="all"
)
@click.option("--keep", type=click.IntRange(0), help="keep the last KEEP", show_default="none")
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
@c.json_option
def stream_purge(
    name: str, subject: str | None, seq: int | None, keep: int | None, force: bool
) -> None:
    """Remove messages from the stream (all, or as the options say)."""
    if seq is not None and keep is not None:
        raise click.UsageError("--seq and --keep do not go together")
    js = _js()
    stream_info_of(js, name)
    c.confirm(f"Purge messages from stream {name}?", force)
    n = js.purge_stream(name, subject=subject, seq=seq, keep=keep)
    c.emit({"stream": name, "purged": n}, lambda: c.out(f"purged {n:,} message(s) from {name}"))


def msg_json(m: StoredMsg, stream: str | None = None) -> dict[str, Any]:
    """A stored message as JSON: subject, seq, time, headers, data (text or base64)."""
    out: dict[str, Any] = {
        "stream": m.stream or stream,
        "subject": m.subject,
        "seq": m.seq,
        "time": m.time,
        "headers": {k: v for k, v in m.headers.multi_items()} if m.headers else None,
    }
    try:
        out["data"] = m.data.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        out["data_base64"] = base64.b64encode(m.data).decode()
    return out


def show_message(
    subject: str, seq: int, time: _dt.datetime | None, headers: Any, data: bytes, raw: bool
) -> None:
    """Print one stored message (natscli's layout), or only its body with ``raw``."""
    if raw:
        c.write_bytes(data + (b"" if data.endswith(b"\n") else b"\n"))
        return
    when = time.astimezone().isoformat(timespec="seconds") if time else "?"
    c.out(f"[{seq}] Subject: {subject} Received: {when}")
    if headers:
        for k, v in headers.multi_items():
            c.out(f"  {k}: {v}")
    c.out()
    c.write_bytes(data + (b"" if data.endswith(b"\n") else b"\n"))
    c.out()


@stream.command("get")
@click.argument("name", callback=c.check_name)
@click.argument("seq", type=click.IntRange(1), required=False)
@click.option("--last-for", "last_for", metavar="SUBJECT", help="the last message on SUBJECT")
@click.option("--raw", is_flag=True, help="only the body")
@c.json_option
def stream_get(name: str, seq: int | None, last_for: str | None, raw: bool) -> None:
    """Show the message SEQ of the stream (or the last one on --last-for)."""
    if (seq is None) == (last_for is None):
        raise click.UsageError("give a sequence or --last-for SUBJECT (one of them)")
    js = _js()
    stream_info_of(js, name)
    try:
        m = js.get_msg(name, seq, last_by_subject=last_for)
    except MsgNotFoundError:
        what = f"message {seq}" if seq is not None else f"no message on {last_for}"
        raise c.fail(f"stream {name}: {what} not found") from None
    c.emit(
        msg_json(m, name), lambda: show_message(m.subject, m.seq, m.time, m.headers, m.data, raw)
    )


@stream.command("view")
@click.argument("name", callback=c.check_name)
@click.option(
    "--count", "-n", type=click.IntRange(1), default=10, show_default=True, help="messages a page"
)
@click.option("--seq", "start_seq", type=click.IntRange(1), help="start at this sequence")
@click.option(
    "--since", type=c.Duration(), help="start with the messages of the last DURATION (1h, 30m)"
)
@click.option("--subject", help="only messages on SUBJECT (wildcards allowed)", show_default="all")
@click.option("--raw", is_flag=True, help="only the bodies")
@click.option("--all", "all_pages", is_flag=True, help="every page without asking")
@c.json_option
def stream_view(
    name: str,
    count: int,
    start_seq: int | None,
    since: float | None,
    subject: str | None,
    raw: bool,
    all_pages: bool,
) -> None:
    """Page through the stream's messages, oldest first (from --seq or --since).

    On a terminal it asks before each next page; otherwise one page is shown
    (every page with --all)."""
    if start_seq is not None and since is not None:
        raise click.UsageError("--seq and --since do not go together")
    js = _js()
    stream_info_of(js, name)
    fields: dict[str, Any] = {
        "ack_policy": "none",
        "mem_storage": True,
        "inactive_threshold": _dt.timedelta(seconds=30),
        "num_replicas": 1,
    }
    if start_seq is not None:
        fields.update(deliver_policy="by_start_sequence", opt_start_seq=start_seq)
    elif since is not None:
        start = _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=since)
        fields.update(deliver_policy="by_start_time", opt_start_time=start)
    else:
        fields["deliver_policy"] = "all"
    if subject:
        fields["filter_subject"] = subject
    consumer = js.create_consumer(name, **fields)
    interactive = sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    collected: list[dict[str, Any]] = []
    try:
        while True:
            batch = consumer.fetch_no_wait(count)
            msgs: list[nats_sync.Msg] = list(batch)
            pending = 0
            for msg in msgs:
                md = msg.metadata
                pending = md.num_pending
                if c.want_json():
                    collected.append(
                        {
                            "stream": name,
                            "subject": msg.subject,
                            "seq": md.sequence.stream,
                            "time": md.timestamp,
                            "headers": dict(msg.headers.multi_items()) if msg.headers else None,
                            "data": msg.data.decode("utf-8", "replace"),
                        }
                    )
                else:
                    show_message(
                        msg.subject, md.sequence.stream, md.timestamp, msg.headers, msg.data, raw
                    )
            if not msgs:
                if not c.want_json():
                    c.info(f"stream {name}: no messages" + (" here" if start_seq or since else ""))
                break
            if pending == 0:
                break
            if all_pages:
                continue
            if interactive and not c.want_json():
                if click.confirm(f"{pending:,} more: next page?", default=True, err=True):
                    continue
            elif not c.want_json():
                c.info(f"{pending:,} more message(s): --seq {_next_seq(msgs)} shows the next page")
            break
    finally:
        try:
            js.delete_consumer(name, consumer.name)
        except nats_sync.NatsError:
            pass
    if c.want_json():
        c.print_json(collected)


def _next_seq(msgs: list[nats_sync.Msg]) -> int:
    return msgs[-1].metadata.sequence.stream + 1


def register(root: click.Group) -> None:
    """Add the ``stream`` group."""
    root.add_command(stream)
