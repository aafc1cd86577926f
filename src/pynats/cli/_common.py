"""The framework of the ``pynats`` command: global options, connecting, output, errors.

The command is a click group (``pynats.cli.root``) whose subcommands live in one
module per command group. **Adding a group** takes a module and one line:

1. Write ``src/pynats/cli/<name>.py`` with a ``register(root: click.Group) -> None``
   function that adds its commands, e.g.::

       import click
       from . import _common as c

       @click.group(cls=c.NatsGroup, help="Manage streams.")
       def stream() -> None:
           "Manage JetStream streams."

       @stream.command("ls")          # NatsGroup makes every leaf a NatsCommand
       @c.json_option
       def stream_ls() -> None:
           "List the streams."
           nc = c.connect_from()
           js = c.jetstream_from(nc)
           names = sorted(js.stream_names())
           c.emit(names, lambda: c.table(["Stream"], [[n] for n in names]))

       def register(root: click.Group) -> None:
           root.add_command(stream)

2. Add ``"<name>",`` to ``GROUPS`` in ``src/pynats/cli/__init__.py``.

A module that adds commands to an existing group (``server ping``) finds it with
``root.commands["server"]`` in its ``register`` and calls ``add_command`` on it.

What every leaf command gets from :class:`NatsCommand` (a group's commands are
made with ``cls=NatsCommand`` when the group is a :class:`NatsGroup`):

* the global options (:data:`GLOBAL_OPTIONS`), accepted before the subcommand
  (on the root) or after it; the last one given wins. Read them with
  :func:`options`, or just call :func:`connect_from` / :func:`jetstream_from`.
  A group's own options (``pynats server --port``) come before its subcommand.
* :func:`connect_from` returns a connected :class:`nats_sync.Client` that prints
  its lifecycle on stderr (disconnected, reconnecting, reconnected to X, closed),
  is closed when the command ends, and makes the command exit 1 if the client
  gave up reconnecting.
* errors: raise :class:`CliError` (or :func:`fail`) for a one-line
  ``pynats: ...`` message and exit code 1; ``click.BadParameter`` /
  ``click.UsageError`` for bad input (exit code 2). ``NatsError``, ``OSError`` and
  ``TimeoutError`` escaping a command become one line and exit code 1 too;
  Ctrl-C exits 130, SIGTERM 143, never with a traceback.
* output: :func:`table` (a rich table; colour only on a terminal), :func:`emit`
  (``--json`` given by :func:`json_option`: JSON with sorted, stable keys; else
  the human rendering), :func:`info` for progress lines on stderr and
  :func:`write_bytes` for message bodies (bytes-safe whatever the locale).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

import nats_sync
from nats_core.context import parse_selected_context, selected_context_path

__all__ = [
    "GLOBAL_OPTIONS",
    "CliError",
    "Duration",
    "GlobalOptions",
    "NatsCommand",
    "NatsGroup",
    "Size",
    "check_name",
    "close_client",
    "confirm",
    "connect_from",
    "emit",
    "fail",
    "human_bytes",
    "human_duration",
    "info",
    "jetstream_from",
    "json_option",
    "options",
    "server_url",
    "table",
    "to_jsonable",
    "write_bytes",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_TIMEOUT = 5.0
_META = "pynats.options"
_SESSION = "pynats.session"


class CliError(click.ClickException):
    """A failure reported as one line on stderr (``pynats: message``), exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        """Print ``pynats: message`` on stderr."""
        click.echo(f"pynats: {self.format_message()}", file=file or sys.stderr)


def fail(message: str) -> CliError:
    """A :class:`CliError` to raise: ``raise fail("no such stream")``."""
    return CliError(message)


# ---------------------------------------------------------------- parameter types


if TYPE_CHECKING:
    _FloatType = click.ParamType[float]  # generic in click's stubs from 8.2
    _IntType = click.ParamType[int]
else:
    _FloatType = click.ParamType
    _IntType = click.ParamType


class Duration(_FloatType):
    """Seconds as a number (``0.5``) or with a unit: ``250ms``, ``2s``, ``1m``, ``1h``."""

    name = "duration"
    _UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Seconds as a float (negative values are rejected)."""
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h)?\s*", str(value))
            if m is None:
                self.fail(f"{value!r} is not a duration (e.g. 1.5, 250ms, 2s, 1m)", param, ctx)
            seconds = float(m.group(1)) * self._UNITS[m.group(2) or "s"]
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds


class Size(_IntType):
    """A byte count: ``1024``, ``512K``, ``10MB``, ``1.5GiB`` (K/M/G/T, powers of 1024);
    ``-1`` means unlimited."""

    name = "size"
    _UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Bytes as an int (``-1``: unlimited)."""
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text == "-1":
            return -1
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?", text, re.IGNORECASE)
        if m is None:
            self.fail(f"{value!r} is not a size (e.g. 1024, 512K, 10MB, 1GiB, -1)", param, ctx)
        return int(float(m.group(1)) * self._UNITS[m.group(2).lower()])


def human_bytes(n: int | None) -> str:
    """``1536`` as ``1.5 KiB`` (``-1``/``None``: ``unlimited``)."""
    if n is None or n < 0:
        return "unlimited"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def human_duration(value: _dt.timedelta | float | None, zero: str = "forever") -> str:
    """A duration as ``1h2m3s`` / ``250ms`` (``0``/``None``: ``zero``)."""
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else (value or 0.0)
    if seconds <= 0:
        return zero
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    if secs or not parts:
        frac = seconds - whole
        parts.append(f"{secs + frac:.3g}s" if frac and not parts else f"{secs}s")
    return "".join(parts)


def check_name(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback: a stream, consumer or bucket name (no spaces, ``.``,
    ``*``, ``>``, ``/`` or ``\\``), else a usage error (exit 2)."""
    if value is None:
        return value
    if not value or re.search(r"[\s.*>/\\]", value):
        raise click.BadParameter(f"{value!r} is not a valid name (no spaces, '.', '*', '>', '/')")
    return value


def confirm(question: str, force: bool) -> None:
    """Go on when ``force`` or the user says yes on a terminal; else a one-line
    error (exit 1) saying to pass ``--force``."""
    if force:
        return
    if not sys.stdin or not sys.stdin.isatty():
        raise fail(f"{question} Not confirmed: pass --force (-f) to do it without asking")
    if not click.confirm(question, default=False, err=True):
        raise fail("not confirmed")


# ---------------------------------------------------------------- global options


@dataclasses.dataclass
class GlobalOptions:
    """The global options as given (``None``: not given)."""

    server: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds: str | None = None
    nkey: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    tlsca: str | None = None
    tlsfirst: bool = False
    context: str | None = None
    timeout: float | None = None
    js_domain: str | None = None

    @property
    def request_timeout(self) -> float:
        """``--timeout`` or its default (5 s)."""
        return DEFAULT_TIMEOUT if self.timeout is None else self.timeout


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value is not False and param.name is not None:
        opts: GlobalOptions = ctx.meta.setdefault(_META, GlobalOptions())
        setattr(opts, param.name, value)
    return value


def _global(*decls: str, help: str, show_default: str | None = None, **kw: Any) -> click.Option:
    return click.Option(
        list(decls),
        default=None,
        expose_value=False,
        callback=_store,
        help=help,
        show_default=show_default,
        **kw,
    )


def _global_options() -> list[click.Option]:
    """Fresh instances of the global options (one set per command)."""
    return [
        _global(
            "-s",
            "--server",
            metavar="URL",
            help="NATS server URL(s), comma-separated",
            show_default=f"$NATS_URL, else the context's, else {DEFAULT_URL}",
        ),
        _global("--user", help="user name", show_default="none"),
        _global("--password", help="password", show_default="none"),
        _global("--token", help="authentication token", show_default="none"),
        _global(
            "--creds", metavar="FILE", help="user credentials (.creds) file", show_default="none"
        ),
        _global("--nkey", metavar="FILE", help="NKey seed file", show_default="none"),
        _global("--tlscert", metavar="FILE", help="TLS client certificate", show_default="none"),
        _global("--tlskey", metavar="FILE", help="TLS client key", show_default="none"),
        _global(
            "--tlsca",
            metavar="FILE",
            help="CA certificates to verify the server",
            show_default="none",
        ),
        click.Option(
            ["--tlsfirst"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_store,
            help="TLS handshake before the server's INFO",
            show_default=True,
        ),
        _global(
            "--context",
            metavar="NAME",
            help="nats CLI context to take settings from",
            show_default="the selected one, if any",
        ),
        _global(
            "--timeout",
            type=Duration(),
            help="connect and request timeout (1.5, 250ms, 2s)",
            show_default=f"{DEFAULT_TIMEOUT:g}s",
        ),
        _global("--js-domain", metavar="DOMAIN", help="JetStream domain", show_default="none"),
    ]


#: The names of the global options (the ``dest`` of each), for reference.
GLOBAL_OPTIONS = tuple(o.name for o in _global_options())


class NatsCommand(click.Command):
    """A leaf command: accepts the global options after its own arguments too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mine = {o for p in self.params for o in p.opts}
        self.params.extend(g for g in _global_options() if not mine.intersection(g.opts))


class NatsGroup(click.Group):
    """A group whose commands are :class:`NatsCommand` and subgroups :class:`NatsGroup`."""

    command_class = NatsCommand
    group_class = type  # subgroups are of this same class


def options(ctx: click.Context | None = None) -> GlobalOptions:
    """The global options given (on the root or on the subcommand)."""
    ctx = ctx or click.get_current_context()
    opts: GlobalOptions = ctx.meta.setdefault(_META, GlobalOptions())
    return opts


def _selected_context() -> str | None:
    """The name of the nats CLI's selected context, or ``None``."""
    try:
        text = Path(selected_context_path(os.environ)).read_text()
    except OSError:
        return None
    try:
        return parse_selected_context(text)
    except ValueError:
        return None


def server_url(ctx: click.Context | None = None) -> str | None:
    """The server asked for with ``--server`` or ``$NATS_URL`` (``None``: neither)."""
    return options(ctx).server or os.environ.get("NATS_URL") or None


# ---------------------------------------------------------------- connecting


class _Session:
    """A connected client and what its callbacks saw."""

    def __init__(self) -> None:
        self.nc: nats_sync.Client | None = None
        self.closing = False
        self.disconnected = False
        self.gave_up = False

    def say(self, text: str) -> None:
        if not self.closing:
            info(text)

    def on_disconnected(self) -> None:
        self.disconnected = True
        self.say("disconnected, reconnecting")

    def on_reconnect_error(self, err: BaseException) -> None:
        self.say(f"reconnecting: {err}")

    def on_reconnected(self) -> None:
        self.disconnected = False
        url = self.nc.connected_url if self.nc is not None else None
        self.say(f"reconnected to {url}")

    def on_closed(self) -> None:
        if self.closing:
            return
        if self.disconnected:  # not a drain()'s close: the client gave up
            self.gave_up = True
            info("connection closed: gave up reconnecting")
        else:
            info("connection closed")

    def on_error(self, err: BaseException) -> None:
        self.say(f"error: {err}")

    def close(self) -> None:
        self.closing = True
        if self.nc is not None:
            self.nc.close()


def connect_options(ctx: click.Context | None = None) -> tuple[str | None, dict[str, Any]]:
    """``(servers, options)`` for :func:`nats_sync.connect` from the global options
    (the context, if any, is in ``options["context"]``)."""
    g = options(ctx)
    kw: dict[str, Any] = {}
    for key, value in (
        ("user", g.user),
        ("password", g.password),
        ("token", g.token),
        ("user_credentials", g.creds),
        ("nkeys_seed", g.nkey),
        ("tls_cert_file", g.tlscert),
        ("tls_key_file", g.tlskey),
        ("tls_ca_file", g.tlsca),
        ("connect_timeout", g.timeout),
    ):
        if value is not None:
            kw[key] = value
    if g.tlsfirst:
        kw["tls_handshake_first"] = True
    context = g.context if g.context is not None else _selected_context()
    if context is not None:
        kw["context"] = context
    return server_url(ctx), kw


def connect_from(
    ctx: click.Context | None = None, *, servers: str | None = None, name: str | None = None
) -> nats_sync.Client:
    """A client connected as the global options say, closed when the command ends.

    ``servers`` replaces the URL the options give (``pynats demo`` passes its
    embedded server's). Its lifecycle is printed on stderr; if it gives up
    reconnecting, the command exits 1. Calling it twice in one command returns
    the same client.
    """
    ctx = ctx or click.get_current_context()
    existing: _Session | None = ctx.meta.get(_SESSION)
    if existing is not None and existing.nc is not None:
        return existing.nc
    url, kw = connect_options(ctx)
    session = _Session()
    root = ctx.find_root()
    cmd = name or "pynats " + " ".join(ctx.command_path.split()[1:])
    try:
        nc = nats_sync.connect(
            servers or url,
            name=cmd.strip(),
            disconnected_cb=session.on_disconnected,
            reconnected_cb=session.on_reconnected,
            reconnect_error_cb=session.on_reconnect_error,
            closed_cb=session.on_closed,
            error_cb=session.on_error,
            **kw,
        )
    except (nats_sync.NatsError, OSError) as e:
        text = str(e)
        if "cannot connect" not in text:
            text = f"cannot connect to {servers or url or DEFAULT_URL}: {text}"
        raise fail(text) from None
    session.nc = nc
    ctx.meta[_SESSION] = session
    root.call_on_close(session.close)
    return nc


def close_client(ctx: click.Context | None = None) -> None:
    """Close the command's client now (quietly), e.g. before its server stops."""
    ctx = ctx or click.get_current_context()
    session: _Session | None = ctx.meta.get(_SESSION)
    if session is not None:
        session.close()


def gave_up(ctx: click.Context) -> bool:
    """Whether the command's client gave up reconnecting."""
    session: _Session | None = ctx.meta.get(_SESSION)
    return session is not None and session.gave_up


def jetstream_from(nc: nats_sync.Client, ctx: click.Context | None = None) -> Any:
    """``nc.jetstream()`` with ``--js-domain`` and ``--timeout`` applied."""
    g = options(ctx)
    kw: dict[str, Any] = {"timeout": g.request_timeout}
    if g.js_domain:
        kw["domain"] = g.js_domain
    return nc.jetstream(**kw)


# ---------------------------------------------------------------- output

_stdout: Console | None = None
_stderr: Console | None = None


def console() -> Console:
    """The rich console on stdout (colour only on a terminal)."""
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        _stdout = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    return _stdout


def err_console() -> Console:
    """The rich console on stderr."""
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        _stderr = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    return _stderr


def info(text: str) -> None:
    """A ``pynats: ...`` line on stderr (progress, lifecycle)."""
    _safe_write(sys.stderr, f"pynats: {text}\n")


def out(text: str = "") -> None:
    """A line of plain text on stdout, whatever the locale's encoding."""
    _safe_write(sys.stdout, text + "\n")


def _safe_write(stream: Any, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        enc = getattr(stream, "encoding", None) or "utf-8"
        stream.write(text.encode(enc, "backslashreplace").decode(enc))
    stream.flush()


def write_bytes(data: bytes) -> None:
    """Write raw bytes on stdout (a message body), flushed."""
    sys.stdout.flush()
    buf = getattr(sys.stdout, "buffer", None)
    if buf is not None:
        buf.write(data)
        buf.flush()
    else:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Sequence[str] = (),
) -> None:
    """Print a table on stdout; ``right`` names the right-aligned (numeric) columns."""
    t = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for col in columns:
        t.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console().print(t)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, datetimes, timedeltas and bytes made JSON-friendly."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON with sorted keys."""
    out(json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False))


def json_option(f: F) -> F:
    """Add ``--json`` (machine-readable output; read it back with :func:`emit`)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=lambda ctx, _p, v: ctx.meta.__setitem__("pynats.json", v) if v else None,
        help="print JSON (stable, sorted keys) instead of text",
    )(f)


def want_json(ctx: click.Context | None = None) -> bool:
    """Whether ``--json`` was given."""
    ctx = ctx or click.get_current_context()
    return bool(ctx.meta.get("pynats.json"))


def emit(data: Any, render: Callable[[], object]) -> None:
    """``data`` as JSON if ``--json`` was given, else call ``render()``."""
    if want_json():
        print_json(data)
    else:
        render()
