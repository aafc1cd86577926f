"""``pynats object``: Object Store buckets and their objects (files of any size)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from nats_core.jetstream import BucketNotFoundError, ObjectNotFoundError
from nats_core.jetstream.objectstore import ObjectInfo, ObjectStoreStatus

from . import _common as c

__all__ = ["object_group", "register"]

Progress = Callable[[int, "int | None"], object]


def _js() -> Any:
    return c.jetstream_from(c.connect_from())


def _bucket(name: str) -> Any:
    try:
        return _js().object_store(name)
    except BucketNotFoundError:
        raise c.fail(f"object store {name} not found") from None


def status_json(st: ObjectStoreStatus) -> dict[str, Any]:
    """A bucket's status with stable keys."""
    return {
        "bucket": st.bucket,
        "description": st.description,
        "ttl": st.ttl,
        "storage": st.storage,
        "replicas": st.replicas,
        "sealed": st.sealed,
        "size": st.size,
        "backing_store": st.backing_store,
        "stream": st.stream_info.config.name,
    }


def info_json(i: ObjectInfo) -> dict[str, Any]:
    """An object's metadata with stable keys."""
    return {
        "bucket": i.bucket,
        "name": i.name,
        "size": i.size,
        "chunks": i.chunks,
        "digest": i.digest,
        "description": i.description,
        "modified": i.mtime,
        "deleted": i.deleted,
        "nuid": i.nuid,
        "headers": i.headers,
        "metadata": i.metadata,
        "link": None if i.link is None else {"bucket": i.link.bucket, "name": i.link.name},
    }


def _when(i: ObjectInfo) -> str:
    return i.mtime.astimezone().isoformat(timespec="seconds") if i.mtime else ""


@contextmanager
def transfer_progress(what: str, total: int | None) -> Iterator[Progress]:
    """A ``progress(done, total)`` callback: a rich bar with throughput on a
    terminal (stderr), else nothing until the end; a summary line after."""
    start = time.monotonic()
    done_box = [0]
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )

        bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=c.err_console(),
            transient=True,
        )
        task = bar.add_task(what, total=total)

        def update(done: int, size: int | None) -> None:
            done_box[0] = done
            bar.update(task, completed=done, total=size)

        with bar:
            yield update
    else:

        def update(done: int, size: int | None) -> None:
            done_box[0] = done

        yield update
    elapsed = max(time.monotonic() - start, 1e-6)
    done = done_box[0]
    c.info(
        f"{what}: {c.human_bytes(done)} in {elapsed:.2f}s ({c.human_bytes(int(done / elapsed))}/s)"
    )


@click.group("object", cls=c.NatsGroup)
def object_group() -> None:
    """Object Store buckets: add, ls, status, seal, rm; objects: put, get, info, rm
    (with --object), watch."""


@object_group.command("add")
@click.argument("bucket", callback=c.check_name)
@click.option(
    "--ttl",
    type=c.Duration(),
    default=0.0,
    show_default="0 (forever)",
    help="how long objects live",
)
@click.option(
    "--max-bytes",
    type=c.Size(),
    default=-1,
    show_default=True,
    help="bucket size limit (-1: unlimited)",
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
def object_add(
    bucket: str,
    ttl: float,
    max_bytes: int,
    storage: str,
    replicas: int,
    description: str | None,
    compress: bool,
) -> None:
    """Create the Object Store bucket BUCKET."""
    store = _js().create_object_store(
        bucket=bucket,
        ttl=ttl,
        max_bytes=max_bytes,
        storage=storage,
        replicas=replicas,
        description=description,
        compression=compress,
    )
    st = store.status()
    c.emit(status_json(st), lambda: _render_status(st, f"object store {bucket} created"))


def _render_status(st: ObjectStoreStatus, headline: str | None = None) -> None:
    if headline:
        c.out(headline)
    d = status_json(st)
    c.table(
        ["Field", "Value"],
        [
            ("Bucket", d["bucket"]),
            ("Description", d["description"] or ""),
            ("Size", c.human_bytes(d["size"])),
            ("TTL", c.human_duration(d["ttl"])),
            ("Storage", d["storage"]),
            ("Replicas", d["replicas"]),
            ("Sealed", "yes" if d["sealed"] else "no"),
            ("Backing stream", d["stream"]),
        ],
    )


@object_group.command("ls")
@click.argument("bucket", required=False, callback=c.check_name)
@click.option("--deleted", is_flag=True, help="deleted objects too")
@c.json_option
def object_ls(bucket: str | None, deleted: bool) -> None:
    """List the buckets, or the objects of BUCKET."""
    if bucket is None:
        rows = sorted((status_json(s) for s in _js().object_stores()), key=lambda d: d["bucket"])

        def render_buckets() -> None:
            if not rows:
                c.out("no object stores")
                return
            c.table(
                ["Bucket", "Size", "Sealed", "Description"],
                [
                    [
                        d["bucket"],
                        c.human_bytes(d["size"]),
                        "yes" if d["sealed"] else "no",
                        d["description"] or "",
                    ]
                    for d in rows
                ],
                right=["Size"],
            )

        c.emit(rows, render_buckets)
        return
    infos = _bucket(bucket).list(show_deleted=deleted)
    data = [info_json(i) for i in infos]

    def render_objects() -> None:
        if not infos:
            c.out(f"no objects in {bucket}")
            return
        c.table(
            ["Name", "Size", "Modified", "Digest"] + (["Deleted"] if deleted else []),
            [
                [i.name, c.human_bytes(i.size), _when(i), i.digest]
                + (["yes" if i.deleted else "no"] if deleted else [])
                for i in infos
            ],
            right=["Size"],
        )

    c.emit(data, render_objects)


@object_group.command("status")
@click.argument("bucket", callback=c.check_name)
@c.json_option
def object_status(bucket: str) -> None:
    """Show the bucket's configuration and state."""
    st = _bucket(bucket).status()
    c.emit(status_json(st), lambda: _render_status(st))


@object_group.command("put")
@click.argument("bucket", callback=c.check_name)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--name", help="the object's name", show_default="the file's name")
@click.option("--description", help="a description", show_default="none")
@click.option(
    "--chunk-size", type=c.Size(), default=128 * 1024, show_default="128K", help="chunk size"
)
@c.json_option
def object_put(
    bucket: str, file: str, name: str | None, description: str | None, chunk_size: int
) -> None:
    """Store FILE (``-``: stdin) in BUCKET, with a progress bar on a terminal."""
    if chunk_size <= 0:
        raise click.BadParameter("must be positive", param_hint="--chunk-size")
    store = _bucket(bucket)
    if file == "-":
        obj = name or "stdin"
        src: Any = sys.stdin.buffer
        total = None
    else:
        path = Path(file)
        if not path.is_file():
            raise c.fail(f"cannot read {file}: no such file")
        obj = name or path.name
        src = None
        total = path.stat().st_size
    with transfer_progress(f"put {obj}", total) as progress:
        if src is not None:
            info = store.put(
                obj, src, description=description, chunk_size=chunk_size, progress=progress
            )
        else:
            info = store.put_file(
                file, obj, description=description, chunk_size=chunk_size, progress=progress
            )
    c.emit(
        info_json(info),
        lambda: c.out(f"stored {obj} in {bucket}: {c.human_bytes(info.size)}, {info.digest}"),
    )


@object_group.command("get")
@click.argument("bucket", callback=c.check_name)
@click.argument("name")
@click.option(
    "--output",
    "-O",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="write to this file (-: stdout)",
    show_default="./NAME",
)
@click.option("--force", "-f", is_flag=True, help="replace an existing file")
def object_get(bucket: str, name: str, output: str | None, force: bool) -> None:
    """Fetch the object NAME into a file, with a progress bar on a terminal
    (the size and digest are checked)."""
    store = _bucket(bucket)
    try:
        meta = store.get_info(name)
    except ObjectNotFoundError:
        raise c.fail(f"object {name} not found in {bucket}") from None
    if output == "-":
        with (
            transfer_progress(f"get {name}", meta.size) as progress,
            store.get(name, progress=progress) as result,
        ):
            for chunk in result:
                c.write_bytes(chunk)
        return
    target = output or os.path.basename(name) or "object"
    if os.path.exists(target) and not force:
        raise c.fail(f"{target} exists: pass --force to replace it")
    with transfer_progress(f"get {name}", meta.size) as progress:
        info = store.get_file(name, target, progress=progress)
    c.out(f"wrote {name} to {target}: {c.human_bytes(info.size)}")


@object_group.command("info")
@click.argument("bucket", callback=c.check_name)
@click.argument("name")
@c.json_option
def object_info(bucket: str, name: str) -> None:
    """Show an object's metadata."""
    try:
        i = _bucket(bucket).get_info(name)
    except ObjectNotFoundError:
        raise c.fail(f"object {name} not found in {bucket}") from None
    c.emit(
        info_json(i),
        lambda: c.table(
            ["Field", "Value"],
            [
                ("Bucket", i.bucket),
                ("Name", i.name),
                ("Description", i.description or ""),
                ("Size", f"{c.human_bytes(i.size)} ({i.size:,} bytes)"),
                ("Chunks", i.chunks),
                ("Digest", i.digest),
                ("Modified", _when(i)),
            ],
        ),
    )


@object_group.command("rm")
@click.argument("bucket", callback=c.check_name)
@click.argument("name", required=False)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def object_rm(bucket: str, name: str | None, force: bool) -> None:
    """Delete the object NAME, or without NAME the bucket and all its objects."""
    store = _bucket(bucket)
    if name is None:
        c.confirm(f"Delete object store {bucket} and all its objects?", force)
        _js().delete_object_store(bucket)
        c.out(f"object store {bucket} deleted")
        return
    try:
        store.get_info(name)
    except ObjectNotFoundError:
        raise c.fail(f"object {name} not found in {bucket}") from None
    c.confirm(f"Delete object {name} of {bucket}?", force)
    store.delete(name)
    c.out(f"deleted {name} from {bucket}")


@object_group.command("seal")
@click.argument("bucket", callback=c.check_name)
@click.option("-f", "--force", is_flag=True, help="do not ask for confirmation")
def object_seal(bucket: str, force: bool) -> None:
    """Seal the bucket: no more puts or deletes (it cannot be undone)."""
    store = _bucket(bucket)
    c.confirm(f"Seal object store {bucket}? It cannot be undone.", force)
    store.seal()
    c.out(f"object store {bucket} sealed")


@object_group.command("watch")
@click.argument("bucket", callback=c.check_name)
@click.option("--updates-only", is_flag=True, help="only the changes from now on")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def object_watch(bucket: str, updates_only: bool, as_json: bool) -> None:
    """Print the objects, then every change as it happens, until Ctrl-C."""
    store = _bucket(bucket)
    with store.watch(updates_only=updates_only) as w:
        c.info(f"watching object store {bucket}; Ctrl-C stops")
        for i in w:
            if i is None:
                continue
            if as_json:
                c.out(json.dumps(c.to_jsonable(info_json(i)), sort_keys=True))
            elif i.deleted:
                c.out(f"[{_when(i)}] DEL {bucket} > {i.name}")
            else:
                c.out(f"[{_when(i)}] PUT {bucket} > {i.name}: {c.human_bytes(i.size)} {i.digest}")


def register(root: click.Group) -> None:
    """Add the ``object`` group."""
    root.add_command(object_group)
