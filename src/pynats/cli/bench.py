"""``pynats bench``: pynats beside nats-py and nats.go (see :mod:`pynats.bench`)."""

from __future__ import annotations

import argparse

import click

from .. import bench as _bench
from . import _common as c

__all__ = ["register"]

CLIENTS = (*_bench.WORKERS, "nats.go")


def _clients(ctx: click.Context, param: click.Parameter, value: str) -> str:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown or not names:
        what = f"unknown client(s) {', '.join(unknown)}" if unknown else "no client given"
        raise click.BadParameter(f"{what}; choose from {','.join(CLIENTS)}", ctx, param)
    return ",".join(dict.fromkeys(names))


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        sizes = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(s < 0 for s in sizes):
        raise click.BadParameter(
            f"{value!r}: want payload sizes in bytes, comma-separated (e.g. 16,128,4096)",
            ctx,
            param,
        )
    return ",".join(map(str, sizes))


@click.command("bench", cls=c.NatsCommand)
@click.option(
    "--n",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="messages per pub/pubsub run",
)
@click.option(
    "--r",
    type=click.IntRange(min=1),
    default=5_000,
    show_default=True,
    help="requests per reqrep run",
)
@click.option(
    "--sizes",
    default="16,128,4096",
    show_default=True,
    callback=_sizes,
    help="payload sizes in bytes",
)
@click.option(
    "--clients",
    default=",".join(CLIENTS),
    show_default=True,
    callback=_clients,
    help="clients to run, comma-separated",
)
@click.option(
    "--peers",
    type=click.Path(file_okay=False),
    help="folder with bench_natspy.py and gobench/ (nats.go)",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="K",
    help="run every client K times, interleaved, keeping each figure's best",
)
@click.option("--parser", is_flag=True, help="also benchmark the parsers")
@click.option(
    "--parser-count",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="messages for the parser benchmark",
)
@click.option(
    "--memory",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="N",
    help="also measure peak memory receiving N messages",
)
@click.option("--pure-python", is_flag=True, help="switch the C module off in every pynats client")
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False), help="write the results to this file"
)
def bench(
    n: int,
    r: int,
    sizes: str,
    clients: str,
    peers: str | None,
    repeat: int,
    parser: bool,
    parser_count: int,
    memory: int,
    pure_python: bool,
    json_file: str | None,
) -> None:
    """Benchmark pynats (blocking, asyncio, Trio) beside nats-py and nats.go.

    Runs pub, pubsub and reqrep on every client, each in its own process, on an
    embedded nats-server (or --server), and prints msgs/s with ratios to the peers.
    """
    args = argparse.Namespace(
        server=c.server_url(),
        n=n,
        r=r,
        sizes=sizes,
        clients=clients,
        peers=peers,
        repeat=repeat,
        parser=parser,
        parser_count=parser_count,
        memory=memory,
        pure_python=pure_python,
        json=json_file,
    )
    _bench.run(args)


def register(root: click.Group) -> None:
    """Add ``bench``."""
    root.add_command(bench)
