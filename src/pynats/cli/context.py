"""``pynats context``: the ``nats`` CLI's contexts (shared with it): add, ls, select,
show, rm. Files under ``$XDG_CONFIG_HOME/nats`` (``~/.config/nats``):
``context/<name>.json`` (the same JSON keys natscli writes) and ``context.txt``
(the selected one)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from nats_core.context import (
    check_context_name,
    config_dir,
    context_path,
    known_contexts,
    parse_context,
    parse_selected_context,
    selected_context_path,
)
from nats_core.errors import ConfigError

from . import _common as c

__all__ = ["context", "register"]

#: The keys natscli (jsm.go's natscontext) writes, in its order, all of them.
NATSCLI_KEYS: tuple[str, ...] = (
    "description",
    "url",
    "socks_proxy",
    "token",
    "user",
    "password",
    "creds",
    "nkey",
    "cert",
    "key",
    "ca",
    "nsc",
    "jetstream_domain",
    "jetstream_api_prefix",
    "jetstream_event_prefix",
    "inbox_prefix",
    "user_jwt",
    "color_scheme",
    "tls_first",
)
_SECRETS = ("password", "token", "user_jwt", "user_seed")


def _name(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None:
        return value
    try:
        return check_context_name(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def _env() -> dict[str, str]:
    return dict(os.environ)


def _path(name: str) -> Path:
    return Path(context_path(name, _env()))


def _selected() -> str | None:
    try:
        return parse_selected_context(Path(selected_context_path(_env())).read_text())
    except (OSError, ConfigError):
        return None


def _read(name: str) -> dict[str, Any]:
    path = _path(name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise c.fail(f"no context named {name} (in {path.parent})") from None
    parse_context(text, name)  # checks it, one line on error
    data = json.loads(text)
    if not isinstance(data, dict):  # pragma: no cover - parse_context refused it
        raise c.fail(f"context {name} is not a JSON object")
    return data


def _write(name: str, data: dict[str, Any]) -> Path:
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    return {k: ("*****" if k in _SECRETS and v else v) for k, v in data.items()}


@click.group(cls=c.NatsGroup)
def context() -> None:
    """Connection contexts shared with the nats CLI: add, ls, select, show, rm."""


@context.command("add")
@click.argument("name", callback=_name)
@click.option("--description", help="a description", show_default="none")
@click.option(
    "--url", "url", metavar="URL", help="server URL(s)", show_default="nats://localhost:4222"
)
@click.option("--user", "ctx_user", help="user name", show_default="none")
@click.option("--password", "ctx_password", help="password", show_default="none")
@click.option("--token", "ctx_token", help="token", show_default="none")
@click.option("--creds", "ctx_creds", metavar="FILE", help="credentials file", show_default="none")
@click.option("--nkey", "ctx_nkey", metavar="FILE", help="NKey seed file", show_default="none")
@click.option(
    "--tlscert", "ctx_cert", metavar="FILE", help="TLS client certificate", show_default="none"
)
@click.option("--tlskey", "ctx_key", metavar="FILE", help="TLS client key", show_default="none")
@click.option("--tlsca", "ctx_ca", metavar="FILE", help="TLS CA certificates", show_default="none")
@click.option("--tlsfirst", "ctx_tls_first", is_flag=True, help="TLS handshake first")
@click.option("--js-domain", "ctx_domain", help="JetStream domain", show_default="none")
@click.option("--inbox-prefix", help="inbox prefix", show_default="_INBOX")
@click.option("--select", "select_it", is_flag=True, help="select it too")
@click.option("-f", "--force", is_flag=True, help="replace an existing context")
def context_add(
    name: str,
    description: str | None,
    url: str | None,
    ctx_user: str | None,
    ctx_password: str | None,
    ctx_token: str | None,
    ctx_creds: str | None,
    ctx_nkey: str | None,
    ctx_cert: str | None,
    ctx_key: str | None,
    ctx_ca: str | None,
    ctx_tls_first: bool,
    ctx_domain: str | None,
    inbox_prefix: str | None,
    select_it: bool,
    force: bool,
) -> None:
    """Save the context NAME (the settings given; natscli's file format).

    Only the options given after NAME belong to the context (the global
    connection options are not saved); use --url for the server."""
    path = _path(name)
    if path.exists() and not force:
        raise c.fail(f"context {name} exists: pass --force to replace it")
    data: dict[str, Any] = {k: "" for k in NATSCLI_KEYS}
    data["tls_first"] = False
    for key, value in (
        ("description", description),
        ("url", url),
        ("user", ctx_user),
        ("password", ctx_password),
        ("token", ctx_token),
        ("creds", ctx_creds and os.path.abspath(ctx_creds)),
        ("nkey", ctx_nkey and os.path.abspath(ctx_nkey)),
        ("cert", ctx_cert and os.path.abspath(ctx_cert)),
        ("key", ctx_key and os.path.abspath(ctx_key)),
        ("ca", ctx_ca and os.path.abspath(ctx_ca)),
        ("jetstream_domain", ctx_domain),
        ("inbox_prefix", inbox_prefix),
    ):
        if value:
            data[key] = value
    data["tls_first"] = ctx_tls_first
    written = _write(name, data)
    c.out(f"context {name} saved in {written}")
    if select_it:
        _select(name)


def _select(name: str) -> None:
    target = Path(selected_context_path(_env()))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(name)
    c.out(f"context {name} selected")


@context.command("ls")
@c.json_option
def context_ls() -> None:
    """List the contexts (the selected one marked with *)."""
    folder = Path(config_dir(_env())) / "context"
    try:
        names = known_contexts(os.listdir(folder))
    except FileNotFoundError:
        names = []
    selected = _selected()
    rows: list[dict[str, Any]] = []
    for n in names:
        try:
            ctx = parse_context(_path(n).read_text(), n)
            rows.append(
                {
                    "name": n,
                    "description": ctx.description,
                    "url": ctx.url,
                    "selected": n == selected,
                }
            )
        except (OSError, ConfigError) as e:
            rows.append(
                {
                    "name": n,
                    "description": f"(unreadable: {e})",
                    "url": "",
                    "selected": n == selected,
                }
            )

    def render() -> None:
        if not rows:
            c.out(f"no contexts (in {folder})")
            return
        c.table(
            ["Name", "Description", "URL"],
            [
                [r["name"] + ("*" if r["selected"] else ""), r["description"], r["url"]]
                for r in rows
            ],
        )

    c.emit(rows, render)


@context.command("select")
@click.argument("name", callback=_name)
def context_select(name: str) -> None:
    """Select the context NAME: commands use it unless --context says otherwise."""
    _read(name)
    _select(name)


@context.command("show")
@click.argument("name", callback=_name, required=False)
@click.option("--secrets", is_flag=True, help="show passwords and tokens too")
@c.json_option
def context_show(name: str | None, secrets: bool) -> None:
    """Show the context NAME (default: the selected one); secrets masked."""
    name = name or _selected()
    if name is None:
        raise c.fail("no context selected: give a NAME (pynats context ls lists them)")
    data = _read(name)
    shown = data if secrets else _masked(data)

    def render() -> None:
        c.out(f"context {name}" + (" (selected)" if name == _selected() else ""))
        c.table(
            ["Setting", "Value"],
            [[k, v] for k, v in shown.items() if v not in ("", None, False)],
        )
        c.out(f"file: {_path(name)}")

    c.emit({"name": name, **shown}, render)


@context.command("rm")
@click.argument("name", callback=_name)
@click.option("-f", "--force", is_flag=True, help="do not ask; remove the selected one too")
def context_rm(name: str, force: bool) -> None:
    """Remove the context NAME (the selected one only with --force, which unselects it)."""
    _read(name)
    selected = _selected() == name
    if selected and not force:
        raise c.fail(f"context {name} is selected: pass --force to remove it anyway")
    c.confirm(f"Remove context {name}?", force)
    _path(name).unlink()
    if selected:
        Path(selected_context_path(_env())).unlink(missing_ok=True)
    c.out(f"context {name} removed")


def register(root: click.Group) -> None:
    """Add the ``context`` group."""
    root.add_command(context)
