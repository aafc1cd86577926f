"""``pynats server``: run an embedded nats-server until Ctrl-C or SIGTERM.

``server`` is a group: without a subcommand it runs a server with the group's
options; other modules add subcommands (``server ping``...) to it with
``root.commands["server"].add_command(...)``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..server import NatsServer, NatsServerError
from . import _common as c

__all__ = ["register", "server"]


@click.group(
    "server",
    cls=c.NatsGroup,
    invoke_without_command=True,
    short_help="Run an embedded nats-server (and more: pynats server --help).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="loopback address to listen on"
)
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=4222,
    show_default=True,
    help="client port (0: a free one)",
)
@click.option("--jetstream", "--js", "jetstream", is_flag=True, help="enable JetStream")
@click.option(
    "--store-dir",
    type=click.Path(file_okay=False),
    help="JetStream store directory (implies --jetstream)",
    show_default="a temporary one, deleted on exit",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True),
    help="nats-server configuration file (--host and --port still win)",
)
@click.option("--server-name", help="the server's name", show_default="its id")
@click.option("--cluster-name", help="join or form a cluster of this name")
@click.option(
    "--cluster-port",
    type=click.IntRange(0, 65535),
    help="cluster (route) port",
    show_default="a free one when clustered",
)
@click.option("--routes", metavar="URL,...", help="routes to other cluster members")
@click.option("--user", "auth_user", help="require this user name from clients")
@click.option("--password", "auth_password", help="and this password")
@click.option("--debug", "-D", is_flag=True, help="log debug and trace lines")
@click.pass_context
def server(
    ctx: click.Context,
    host: str,
    port: int,
    jetstream: bool,
    store_dir: str | None,
    config_file: str | None,
    server_name: str | None,
    cluster_name: str | None,
    cluster_port: int | None,
    routes: str | None,
    auth_user: str | None,
    auth_password: str | None,
    debug: bool,
) -> int | None:
    """Run an embedded nats-server in the foreground until Ctrl-C or SIGTERM.

    Its temporary files go when it stops. The options configure the server;
    the connection options (--server, --user...) belong to subcommands.
    """
    if ctx.invoked_subcommand is not None:
        return None
    if (auth_user is None) != (auth_password is None):
        raise click.UsageError("--user and --password go together")
    args: list[str] = []
    if auth_user is not None and auth_password is not None:
        args += ["--user", auth_user, "--pass", auth_password]
    config = None
    if config_file is not None:
        try:
            config = Path(config_file).read_text()
        except OSError as e:
            raise c.fail(f"cannot read {config_file}: {e.strerror or e}") from None
    try:
        srv = NatsServer(
            host=host,
            port=port or None,
            jetstream=jetstream or store_dir is not None,
            store_dir=store_dir,
            config=config,
            server_name=server_name,
            cluster_name=cluster_name,
            cluster_port=cluster_port,
            routes=[r for r in (routes or "").split(",") if r] or None,
            args=args,
            debug=debug,
        )
    except (ValueError, NatsServerError) as e:
        raise c.fail(str(e)) from None
    try:
        srv.start()
    except NatsServerError as e:
        log = srv.log_text()
        if "address already in use" in log:
            raise c.fail(f"cannot listen on {host}:{port}: the port is already in use") from None
        lines = [ln for ln in log.splitlines() if "[FTL]" in ln or "[ERR]" in ln]
        reason = lines[-1].split("] ", 1)[-1] if lines else str(e).splitlines()[0]
        raise c.fail(f"nats-server did not start: {reason}") from None
    try:
        extra = f", JetStream store {srv.store_dir}" if srv.store_dir is not None else ""
        cluster = f", cluster {srv.cluster_url}" if srv.cluster_url else ""
        c.out(f"nats-server {srv.version} listening on {srv.url}{extra}{cluster}")
        c.info(f"nats-server pid {srv.pid}; Ctrl-C stops it")
        while srv.running:
            time.sleep(0.2)
        tail = [ln for ln in srv.log_text().splitlines() if ln.strip()][-1:]
        raise c.fail(
            "nats-server exited unexpectedly" + (f"; its last line: {tail[0]}" if tail else "")
        )
    finally:
        srv.stop()


def register(root: click.Group) -> None:
    """Add the ``server`` group."""
    root.add_command(server)
