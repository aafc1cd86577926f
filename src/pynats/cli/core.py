"""Core NATS commands: ``pub``, ``sub``, ``request``, ``reply``."""

from __future__ import annotations

import datetime as _dt
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

import nats_sync
from nats_core import NUID, Headers

from . import _common as c

__all__ = ["register", "render_template"]

_TEMPLATE = re.compile(rb"\{\{\s*([A-Za-z]+)\s*(?:\(([^)]*)\))?\s*\}\}")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def check_template(template: bytes) -> None:
    """Raise :class:`click.BadParameter` for an unknown or malformed ``{{...}}``."""
    for m in _TEMPLATE.finditer(template):
        render_template(m.group(0), 1, random.Random(0), NUID(random.Random(0)))


def render_template(template: bytes, count: int, rng: random.Random, nuid: NUID) -> bytes:
    """Expand natscli's templates in ``template``: ``{{Count}}`` (1, 2, ...),
    ``{{TimeStamp}}`` (RFC 3339, UTC), ``{{Unix}}``, ``{{UnixNano}}``, ``{{Time}}``,
    ``{{ID}}`` (a unique id) and ``{{Random(n,m)}}`` (n to m random letters/digits)."""
    if b"{{" not in template:
        return template

    def one(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode().lower()
        arg = m.group(2)
        if arg is not None and name != "random":
            raise click.BadParameter(f"{{{{{m.group(1).decode()}}}}} takes no arguments")
        now = _dt.datetime.now(_dt.UTC)
        if name == "count":
            return str(count).encode()
        if name == "timestamp":
            return now.isoformat().replace("+00:00", "Z").encode()
        if name == "unix":
            return str(int(now.timestamp())).encode()
        if name == "unixnano":
            return str(time.time_ns()).encode()
        if name == "time":
            return now.strftime("%H:%M:%S").encode()
        if name == "id":
            return nuid.next().encode()
        if name == "random":
            nums = re.fullmatch(rb"\s*(\d+)\s*,\s*(\d+)\s*", arg or b"")
            if nums is None or int(nums.group(1)) > int(nums.group(2)):
                raise click.BadParameter("{{Random(n,m)}} wants two lengths, n <= m")
            size = rng.randint(int(nums.group(1)), int(nums.group(2)))
            return "".join(rng.choice(_ALNUM) for _ in range(size)).encode()
        raise click.BadParameter(
            f"unknown template {m.group(0).decode(errors='replace')} (known: Count, "
            "TimeStamp, Unix, UnixNano, Time, ID, Random(n,m))"
        )

    return _TEMPLATE.sub(one, template)


def _arg_bytes(text: str) -> bytes:
    """A command-line string as the bytes it was given (undecodable bytes kept)."""
    return os.fsencode(text)


def _headers(pairs: Sequence[str]) -> list[tuple[str, bytes]]:
    out = []
    for pair in pairs:
        cut = min((i for i in (pair.find(":"), pair.find("=")) if i > 0), default=-1)
        if cut < 0:
            raise click.BadParameter(f"wants KEY:VALUE (or KEY=VALUE), got {pair!r}")
        out.append((pair[:cut].strip(), _arg_bytes(pair[cut + 1 :].strip())))
    return out


def _render_headers(
    pairs: list[tuple[str, bytes]], count: int, rng: random.Random, nuid: NUID
) -> Headers | None:
    if not pairs:
        return None
    h = Headers()
    for key, value in pairs:
        h.add(key, render_template(value, count, rng, nuid).decode("utf-8", "replace"))
    return h


def _read_body(body: str | None, file: str | None) -> bytes:
    if body is not None and file is not None:
        raise click.UsageError("give the body as an argument or with --file, not both")
    if body is not None:
        return _arg_bytes(body)
    if file is not None:
        try:
            with open(file, "rb") as f:
                return f.read()
        except OSError as e:
            raise c.fail(f"cannot read {file}: {e.strerror or e}") from None
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return b""
        buf = getattr(sys.stdin, "buffer", None)
        return buf.read() if buf is not None else os.fsencode(sys.stdin.read())
    except (OSError, ValueError):
        return b""


header_option = click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    metavar="KEY:VALUE",
    help="add a header (repeatable; templates allowed in the value)",
)
body_help = (
    "BODY defaults to --file, else stdin when it is not a terminal. Templates: {{Count}}, "
    "{{TimeStamp}}, {{Unix}}, {{UnixNano}}, {{Time}}, {{ID}}, {{Random(n,m)}}."
)


# ---------------------------------------------------------------- display


class Printer:
    """How ``sub``, ``request`` and ``reply`` show the messages they see."""

    def __init__(
        self,
        *,
        raw: bool = False,
        headers_only: bool = False,
        timestamps: bool = False,
        translate: str | None = None,
    ) -> None:
        self.raw = raw
        self.headers_only = headers_only
        self.timestamps = timestamps
        self.translate = translate

    def body(self, msg: nats_sync.Msg) -> bytes:
        """The body, piped through ``--translate`` if given."""
        if self.translate is None:
            return msg.data
        return run_command(self.translate, msg.data, msg.subject)

    def show(self, msg: nats_sync.Msg, n: int, extra: str = "") -> None:
        """Print message ``n``."""
        data = self.body(msg)
        stamp = ""
        if self.timestamps:
            stamp = _dt.datetime.now().astimezone().isoformat(timespec="milliseconds") + " "
        if self.raw:
            if self.timestamps:
                c.write_bytes(stamp.encode())
            c.write_bytes(data + b"\n")
            return
        reply = f' with reply "{msg.reply}"' if msg.reply else ""
        c.out(f'[#{n}] {stamp}Received on "{msg.subject}"{reply}{extra}')
        headers = msg.headers
        if headers:
            for k, v in headers.multi_items():
                c.out(f"{k}: {v}")
        if self.headers_only:
            c.out()
            return
        c.out()
        c.write_bytes(data + (b"" if data.endswith(b"\n") else b"\n"))
        c.out()


def run_command(command: str, data: bytes, subject: str) -> bytes:
    """Run ``command`` in a shell with ``data`` on stdin (``$NATS_SUBJECT`` set);
    its stdout, or a one-line error when it fails."""
    env = dict(os.environ, NATS_SUBJECT=subject)
    try:
        proc = subprocess.run(
            command, shell=True, input=data, capture_output=True, env=env, timeout=60
        )
    except subprocess.TimeoutExpired:
        raise c.fail(f"{command!r} took more than 60 s") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
        c.info(f"{command!r} exited with code {proc.returncode}" + (f": {last}" if last else ""))
    return proc.stdout


# ---------------------------------------------------------------- pub


@click.command("pub", cls=c.NatsCommand, epilog=body_help)
@click.argument("subject")
@click.argument("body", required=False)
@click.option("--file", "-f", type=click.Path(dir_okay=False), help="read the body from FILE")
@header_option
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="how many messages",
)
@click.option(
    "--sleep",
    type=c.Duration(),
    default=0.0,
    show_default="0",
    help="pause between messages (0.1, 250ms)",
)
@click.option("--reply", metavar="SUBJECT", default="", help="reply subject to set")
@click.option(
    "--jetstream",
    "-J",
    is_flag=True,
    help="publish to a stream and print each acknowledgement",
)
@click.option("--quiet", "-q", is_flag=True, help="print nothing on success")
def pub(
    subject: str,
    body: str | None,
    file: str | None,
    headers: tuple[str, ...],
    count: int,
    sleep: float,
    reply: str,
    jetstream: bool,
    quiet: bool,
) -> None:
    """Publish BODY to SUBJECT (COUNT times)."""
    template = _read_body(body, file)
    check_template(template)
    pairs = _headers(headers)
    for _, value in pairs:
        check_template(value)
    if jetstream and reply:
        raise click.UsageError("--reply cannot be used with --jetstream")
    nc = c.connect_from()
    js = c.jetstream_from(nc) if jetstream else None
    rng = random.Random()
    nuid = NUID(random.Random())
    for i in range(1, count + 1):
        data = render_template(template, i, rng, nuid)
        h = _render_headers(pairs, i, rng, nuid)
        if js is not None:
            ack = js.publish(subject, data, headers=h)
            if not quiet:
                dup = " (duplicate)" if ack.duplicate else ""
                c.out(f"stored in stream {ack.stream} as sequence {ack.seq}{dup}")
        else:
            nc.publish(subject, data, reply=reply, headers=h)
        if sleep and i < count:
            if js is None:
                nc.flush(c.options().request_timeout)
            time.sleep(sleep)
    nc.flush(c.options().request_timeout)
    if not quiet:
        c.out(f"published {count} message(s) to {subject}")


# ---------------------------------------------------------------- sub


@click.command("sub", cls=c.NatsCommand)
@click.argument("subject", required=False)
@click.option("--queue", "-q", default="", help="join this queue group")
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=0),
    default=0,
    show_default="0: forever",
    help="stop after N messages",
)
@click.option("--raw", "-r", is_flag=True, help="print only the bodies, one per line")
@click.option("--headers-only", is_flag=True, help="print subjects and headers, not bodies")
@click.option("--timestamps", "-t", is_flag=True, help="print when each message arrived")
@click.option(
    "--translate",
    metavar="CMD",
    help="pipe each body through the shell command CMD ($NATS_SUBJECT is set) and print its output",
)
@click.option("--stream", metavar="STREAM", help="read from this JetStream stream, acking")
@click.option(
    "--durable",
    metavar="NAME",
    help="with --stream: use (or create) this durable pull consumer",
)
def sub(
    subject: str | None,
    queue: str,
    count: int,
    raw: bool,
    headers_only: bool,
    timestamps: bool,
    translate: str | None,
    stream: str | None,
    durable: str | None,
) -> None:
    """Print the messages on SUBJECT as they arrive (or a stream's, with --stream)."""
    if raw and headers_only:
        raise click.UsageError("--raw and --headers-only exclude each other")
    if durable and not stream:
        raise click.UsageError("--durable needs --stream")
    if not subject and not stream:
        raise click.UsageError("give a SUBJECT (or --stream)")
    if stream and queue:
        raise click.UsageError("--queue cannot be used with --stream")
    printer = Printer(
        raw=raw, headers_only=headers_only, timestamps=timestamps, translate=translate
    )
    nc = c.connect_from()
    if stream:
        _sub_stream(nc, stream, durable, subject, count, printer)
        return
    assert subject is not None
    s = nc.subscribe(subject, queue=queue, max_msgs=count)
    nc.flush(c.options().request_timeout)
    c.info(f"listening on {subject}" + (f" (queue {queue})" if queue else ""))
    for n, msg in enumerate(s, 1):
        printer.show(msg, n)


def _sub_stream(
    nc: nats_sync.Client,
    stream: str,
    durable: str | None,
    subject: str | None,
    count: int,
    printer: Printer,
) -> None:
    js = c.jetstream_from(nc)
    fields: dict[str, Any] = {"ack_policy": "explicit"}
    if subject:
        fields["filter_subject"] = subject
    if durable:
        fields["durable_name"] = durable
        consumer = js.create_or_update_consumer(stream, **fields)
    else:
        fields["inactive_threshold"] = 300.0
        consumer = js.create_consumer(stream, **fields)
    c.info(f"reading stream {stream} with consumer {consumer.name}")
    n = 0
    while count == 0 or n < count:
        want = 100 if count == 0 else min(100, count - n)
        for msg in consumer.fetch(want, max_wait=5.0):
            n += 1
            meta = msg.metadata
            printer.show(msg, n, f" (stream sequence {meta.sequence.stream})")
            msg.ack()
    nc.flush(c.options().request_timeout)


# ---------------------------------------------------------------- request


@click.command("request", cls=c.NatsCommand, epilog=body_help)
@click.argument("subject")
@click.argument("body", required=False)
@click.option("--file", "-f", type=click.Path(dir_okay=False), help="read the body from FILE")
@header_option
@click.option(
    "--replies",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="wait for N replies (0: as many as come within --timeout)",
)
@click.option("--raw", "-r", is_flag=True, help="print only the reply bodies")
def request(
    subject: str,
    body: str | None,
    file: str | None,
    headers: tuple[str, ...],
    replies: int,
    raw: bool,
) -> int:
    """Send a request to SUBJECT and print the reply (or replies)."""
    template = _read_body(body, file)
    check_template(template)
    pairs = _headers(headers)
    rng, nuid = random.Random(), NUID(random.Random())
    data = render_template(template, 1, rng, nuid)
    h = _render_headers(pairs, 1, rng, nuid)
    timeout = c.options().request_timeout
    printer = Printer(raw=raw)
    nc = c.connect_from()
    start = time.perf_counter()

    def took() -> str:
        return f" after {(time.perf_counter() - start) * 1e3:.2f} ms"

    if replies == 1:
        msg = nc.request(subject, data, timeout=timeout, headers=h)
        printer.show(msg, 1, took())
        return 0
    got = 0
    with nc.request_many(
        subject, data, headers=h, timeout=timeout, max_msgs=replies or None
    ) as answers:
        for msg in answers:
            got += 1
            printer.show(msg, got, took())
    if got == 0:
        raise c.fail(f"no reply on {subject} within {timeout:g}s")
    if replies and got < replies:
        c.info(f"{got} of {replies} replies within {timeout:g}s")
        return 1
    return 0


# ---------------------------------------------------------------- reply


@click.command("reply", cls=c.NatsCommand, epilog=body_help)
@click.argument("subject")
@click.argument("body", required=False)
@click.option("--queue", "-q", default="", help="queue group", show_default="none")
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=0),
    default=0,
    show_default="0: forever",
    help="stop after N requests",
)
@click.option(
    "--command",
    "command",
    metavar="CMD",
    help="reply with the output of the shell command CMD, given the request on stdin",
)
@click.option("--echo", is_flag=True, help="reply with the request's own body and headers")
@header_option
@click.option("--quiet", is_flag=True, help="do not print the requests")
def reply(
    subject: str,
    body: str | None,
    queue: str,
    count: int,
    command: str | None,
    echo: bool,
    headers: tuple[str, ...],
    quiet: bool,
) -> None:
    """Answer the requests on SUBJECT with BODY (or --echo, or --command's output)."""
    if (body is not None) + (command is not None) + echo > 1:
        raise click.UsageError("give one of BODY, --command and --echo")
    template = _arg_bytes(body) if body is not None else b""
    check_template(template)
    pairs = _headers(headers)
    rng, nuid = random.Random(), NUID(random.Random())
    printer = Printer()
    nc = c.connect_from()
    s = nc.subscribe(subject, queue=queue, max_msgs=count)
    nc.flush(c.options().request_timeout)
    c.info(f"answering requests on {subject}" + (f" (queue {queue})" if queue else ""))
    answer: Callable[[nats_sync.Msg, int], tuple[bytes, Headers | None]]
    if echo:

        def answer(msg: nats_sync.Msg, _n: int) -> tuple[bytes, Headers | None]:
            h = Headers()
            if msg.headers:
                for k, v in msg.headers.multi_items():
                    h.add(k, v)
            for key, value in pairs:
                h.add(key, value.decode("utf-8", "replace"))
            return msg.data, h or None

    elif command is not None:
        cmd = command

        def answer(msg: nats_sync.Msg, n: int) -> tuple[bytes, Headers | None]:
            return run_command(cmd, msg.data, msg.subject), _render_headers(pairs, n, rng, nuid)

    else:

        def answer(msg: nats_sync.Msg, n: int) -> tuple[bytes, Headers | None]:
            return render_template(template, n, rng, nuid), _render_headers(pairs, n, rng, nuid)

    for n, msg in enumerate(s, 1):
        if not quiet:
            printer.show(msg, n)
        if msg.reply:
            data, h = answer(msg, n)
            nc.publish(msg.reply, data, headers=h)
    nc.flush(c.options().request_timeout)


def register(root: click.Group) -> None:
    """Add ``pub``, ``sub``, ``request`` and ``reply``."""
    for cmd in (pub, sub, request, reply):
        root.add_command(cmd)
