"""``pynats kv``: Key-Value buckets and their keys."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import click

from nats_core.jetstream import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyExistsError,
    KeyNotFoundError,
)
from nats_core.jetstream.kv import KeyValueEntry, KeyValueStatus

from . import _common as c
from .core import _read_body

__all__ = ["kv", "register"]


def _js() -> Any:
    return c.jetstream_from(c.connect_from())


def _bucket(name: str) -> Any:
    try:
        return _js().key_value(name)
    except BucketNotFoundError:
        raise c.fail(f"bucket {name} not found") from None


def _check_key(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None:
        return value
    if not value or value.startswith(".") or value.endswith(".") or " " in value:
        raise click.BadParameter(f"{value!r} is not a valid key")
    return value


def status_json(st: KeyValueStatus) -> dict[str, Any]:
    """A bucket's status with stable keys."""
    cfg = st.stream_info.config
    return {
        "bucket": st.bucket,
        "values": st.values,
        "history": st.history,
        "ttl": st.ttl,
        "bytes": st.bytes,
        "storage": cfg.storage,
        "replicas": cfg.num_replicas,
        "compressed": st.is_compressed,
        "max_bytes": cfg.max_bytes,
        "max_value_size": cfg.max_msg_size,
        "description": cfg.description,
        "backing_store": st.backing_store,
        "stream": cfg.name,
    }


def entry_json(e: KeyValueEntry) -> dict[str, Any]:
    """An entry with stable keys (value as text, invalid UTF-8 replaced)."""
    return {
        "bucket": e.bucket,
        "key": e.key,
        "value": e.value.decode("utf-8", "replace"),
        "revision": e.revision,
        "created": e.created,
        "operation": e.operation,
        "delta": e.delta,
    }


@click.group(cls=c.NatsGroup)
def kv() -> None:
    """Key-Value buckets: add, ls, status, rm; keys: put, get, create, update, del,
    purge, history, keys, watch."""


@kv.command("add")
@click.argument("bucket", callback=c.check_name)
@click.option(
    "--history",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="values kept per key",
)
@click.option(
    "--ttl", type=c.Duration(), default=0.0, show_default="0 (forever)", help="how long values live"
)
@click.option(
    "--max-bytes",
    type=c.Size(),
    default=-1,
    show_default=True,
    help="bucket size limit (-1: unlimited)",
)
@click.option(
    "--max-value-size",
    type=c.Size(),
    default=-1,
    show_default=True,
    help="largest value (-1: unlimited)",
)
@click.option(
    "--storage",
    type=click.Choice(["file", "memory"]),
    default="file",
    show_default=True,
    help="storage type",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="replicas (clustered)",
)
@click.option("--description", help="a description", show_default="none")
@click.option("--compress", is_flag=True, help="compress the stored data")
@c.json_option
def kv_add(
    bucket: str,
    history: int,
    ttl: float,
    max_bytes: int,
    max_value_size: int,
    storage: str,
    replicas: int,
    description: str | None,
    compress: bool,
) -> None:
    """Create the bucket BUCKET (the same configuration again is not an error)."""
    store = _js().create_key_value(
        bucket=bucket,
        history=history,
        ttl=ttl,
        max_bytes=max_bytes,
        max_value_size=max_value_size,
        storage=storage,
        replicas=replicas,
        description=description,
        compression=compress,
    )
    st = store.status()
    c.emit(status_json(st), lambda: _render_status(st, f"bucket {bucket} created"))


def _render_status(st: KeyValueStatus, headline: str | None = None) -> None:
    if headline:
        c.out(headline)
    d = status_json(st)
    c.table(
        ["Field", "Value"],
        [
            ("Bucket", d["bucket"]),
            ("Description", d["description"] or ""),
            ("Values", f"{d['values']:,}"),
            ("History", d["history"]),
            ("TTL", c.human_duration(d["ttl"])),
            ("Size", c.human_bytes(d["bytes"])),
            ("Max bytes", c.human_bytes(d["max_bytes"])),
            ("Max value size", c.human_bytes(d["max_value_size"])),
            ("Storage", d["storage"]),
            ("Replicas", d["replicas"]),
            ("Compressed", "yes" if d["compressed"] else "no"),
            ("Backing stream", d["stream"]),
        ],
    )


@kv.command("ls")
@c.json_option
def kv_ls() -> None:
    """List the buckets."""
    rows = sorted((status_json(s) for s in _js().key_value_stores()), key=lambda d: d["bucket"])

    def render() -> None:
        if not rows:
            c.out("no Key-Value buckets")
            return
        c.table(
            ["Bucket", "Values", "Size", "History", "TTL", "Description"],
            [
                [
                    d["bucket"],
                    f"{d['values']:,}",
                    c.human_bytes(d["bytes"]),
                    d["history"],
                    c.human_duration(d["ttl"]),
                    d["description"] or "",
                ]
                for d in rows
            ],
            right=["Values", "Size", "History"],
        )

    c.emit(rows, render)


@kv.command("status")
@click.argument("bucket", callback=c.check_name)
@c.json_option
def kv_status(bucket: str) -> None:
    """Show the bucket's configuration and state."""
    st = _bucket(bucket).status()
    c.emit(status_json(st), lambda: _render_status(st))


@kv.command("rm")
@click.argument("bucket", callback=c.check_name)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def kv_rm(bucket: str, force: bool) -> None:
    """Delete the bucket and every key in it."""
    _bucket(bucket)
    c.confirm(f"Delete bucket {bucket} and all its keys?", force)
    _js().delete_key_value(bucket)
    c.out(f"bucket {bucket} deleted")


def _value(value: str | None, file: str | None) -> bytes:
    return _read_body(value, file)


value_file = click.option(
    "--file", "file", type=click.Path(dir_okay=False), help="read the value from FILE"
)


@kv.command("put")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.argument("value", required=False)
@value_file
def kv_put(bucket: str, key: str, value: str | None, file: str | None) -> None:
    """Set KEY to VALUE (else --file, else stdin); prints the new revision."""
    rev = _bucket(bucket).put(key, _value(value, file))
    c.out(f"{key} revision {rev}")


@kv.command("create")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.argument("value", required=False)
@value_file
def kv_create(bucket: str, key: str, value: str | None, file: str | None) -> None:
    """Set KEY only when it has no value (exit 1 when it has one)."""
    try:
        rev = _bucket(bucket).create(key, _value(value, file))
    except KeyExistsError:
        raise c.fail(f"key {key} exists already in bucket {bucket}") from None
    c.out(f"{key} created at revision {rev}")


@kv.command("update")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.argument("value", required=False)
@click.option(
    "--revision",
    type=click.IntRange(0),
    required=True,
    help="the revision KEY must be at (0: no value yet)",
)
@value_file
def kv_update(bucket: str, key: str, value: str | None, revision: int, file: str | None) -> None:
    """Set KEY only when it is at --revision (exit 1 when it is not)."""
    try:
        rev = _bucket(bucket).update(key, _value(value, file), revision)
    except KeyExistsError:
        raise c.fail(f"key {key} is not at revision {revision}") from None
    c.out(f"{key} updated to revision {rev}")


@kv.command("get")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.option("--revision", type=click.IntRange(1), help="this revision", show_default="latest")
@click.option("--raw", is_flag=True, help="only the value")
@c.json_option
def kv_get(bucket: str, key: str, revision: int | None, raw: bool) -> None:
    """Show KEY's value (exit 1 when it has none)."""
    try:
        e = _bucket(bucket).get(key, revision)
    except KeyDeletedError:
        raise c.fail(f"key {key} was deleted from bucket {bucket}") from None
    except KeyNotFoundError:
        raise c.fail(f"key {key} not found in bucket {bucket}") from None

    def render() -> None:
        if raw:
            c.write_bytes(e.value)
            return
        when = e.created.astimezone().isoformat(timespec="seconds") if e.created else "?"
        c.out(f"{bucket} > {key} revision {e.revision} created {when}")
        c.out()
        c.write_bytes(e.value + (b"" if e.value.endswith(b"\n") else b"\n"))

    c.emit(entry_json(e), render)


@kv.command("del")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def kv_del(bucket: str, key: str, force: bool) -> None:
    """Delete KEY (a delete marker: its history stays)."""
    store = _bucket(bucket)
    c.confirm(f"Delete key {key} of bucket {bucket}?", force)
    store.delete(key)
    c.out(f"{key} deleted")


@kv.command("purge")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def kv_purge(bucket: str, key: str, force: bool) -> None:
    """Delete KEY and its history."""
    store = _bucket(bucket)
    c.confirm(f"Purge key {key} of bucket {bucket} with its history?", force)
    store.purge(key)
    c.out(f"{key} purged")


@kv.command("history")
@click.argument("bucket", callback=c.check_name)
@click.argument("key", callback=_check_key)
@c.json_option
def kv_history(bucket: str, key: str) -> None:
    """Show every kept value of KEY, oldest first."""
    try:
        entries = _bucket(bucket).history(key)
    except KeyNotFoundError:
        raise c.fail(f"key {key} not found in bucket {bucket}") from None
    c.emit(
        [entry_json(e) for e in entries],
        lambda: c.table(
            ["Revision", "Operation", "Created", "Length", "Value"],
            [
                [
                    e.revision,
                    e.operation,
                    e.created.astimezone().isoformat(timespec="seconds") if e.created else "",
                    len(e.value),
                    _preview(e.value),
                ]
                for e in entries
            ],
            right=["Revision", "Length"],
        ),
    )


def _preview(value: bytes, size: int = 40) -> str:
    text = value.decode("utf-8", "replace")
    text = text.replace("\n", "\\n")
    return text if len(text) <= size else text[: size - 3] + "..."


@kv.command("keys")
@click.argument("bucket", callback=c.check_name)
@click.argument("pattern", default=">")
@c.json_option
def kv_keys(bucket: str, pattern: str) -> None:
    """List the keys that have a value (matching PATTERN, default all)."""
    keys = sorted(_bucket(bucket).keys(pattern))

    def render() -> None:
        if not keys:
            c.info(f"no keys in bucket {bucket}")
        for k in keys:
            c.out(k)

    c.emit(keys, render)


@kv.command("watch")
@click.argument("bucket", callback=c.check_name)
@click.argument("pattern", default=">")
@click.option("--history", "include_history", is_flag=True, help="every kept value first")
@click.option("--updates-only", is_flag=True, help="only the changes from now on")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def kv_watch(
    bucket: str, pattern: str, include_history: bool, updates_only: bool, as_json: bool
) -> None:
    """Print the keys' values, then every change as it happens, until Ctrl-C."""
    import json

    store = _bucket(bucket)
    with store.watch(pattern, include_history=include_history, updates_only=updates_only) as w:
        c.info(f"watching {bucket} > {pattern}; Ctrl-C stops")
        for e in w:
            if e is None:
                continue
            if as_json:
                c.out(json.dumps(c.to_jsonable(entry_json(e)), sort_keys=True))
                continue
            when = (e.created or _dt.datetime.now(_dt.UTC)).astimezone()
            stamp = when.strftime("%H:%M:%S")
            if e.operation != "PUT":
                c.out(f"[{stamp}] {e.operation} {bucket} > {e.key}")
            else:
                c.out(f"[{stamp}] PUT {bucket} > {e.key} ({e.revision}): {_preview(e.value, 200)}")


def register(root: click.Group) -> None:
    """Add the ``kv`` group."""
    root.add_command(kv)
