"""``pynats bench``: pynats beside nats-py and nats.go (see :mod:`pynats.bench`), and
``pynats bench load``: load a server with N publishers and subscribers (see
:mod:`pynats.cli.bench_load`), and ``pynats bench layers``: JetStream, Key-Value,
Object Store and services beside nats-py (see :mod:`pynats.bench_layers`).

``bench`` is a group that runs the client benchmark when no subcommand is given,
so ``pynats bench --n ... --clients ...`` works as it always did.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

import nats_sync

from .. import bench as _bench
from .. import bench_layers as _layers
from . import _common as c
from . import bench_load as _load

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])

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


class _BenchGroup(c.NatsGroup):
    """A group that, run without a subcommand, is a command taking the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mine = {o for p in self.params for o in p.opts}
        self.params.extend(g for g in c._global_options() if not mine.intersection(g.opts))


@click.group(
    "bench",
    cls=_BenchGroup,
    invoke_without_command=True,
    short_help="Benchmark pynats beside nats-py and nats.go (and: bench load, layers).",
)
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
@click.pass_context
def bench(
    ctx: click.Context,
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
    `pynats bench load SUBJECT` loads a server with N publishers and subscribers;
    `pynats bench layers` measures JetStream, Key-Value, Object Store and services.
    """
    if ctx.invoked_subcommand is not None:
        return
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


@bench.command("load")
@click.argument("subject")
@click.option(
    "--pub",
    "pubs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="publisher connections (threads)",
)
@click.option(
    "--sub",
    "subs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="subscriber connections (threads)",
)
@click.option(
    "--msgs",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    metavar="M",
    help="messages in all, shared between the publishers",
)
@click.option(
    "--size",
    type=c.Size(),
    default="128",
    show_default=True,
    metavar="B",
    help=f"payload bytes (at least {_load.STAMP_SIZE}: the first carry the send time)",
)
@click.option(
    "--js",
    "jetstream",
    is_flag=True,
    help="JetStream: publish with acks to a stream, consume with a pull consumer and acks",
)
@click.option(
    "--stream",
    default="BENCH",
    show_default=True,
    callback=c.check_name,
    help="the stream to create on SUBJECT (with --js)",
)
@click.option("--keep", is_flag=True, help="keep the stream afterwards (with --js)")
@click.option(
    "--timeout",
    "run_timeout",
    type=c.Duration(),
    default="60s",
    show_default=True,
    help="stop after this long even if messages are missing (here, not the connect timeout)",
)
@c.json_option
def bench_load(
    subject: str,
    pubs: int,
    subs: int,
    msgs: int,
    size: int,
    jetstream: bool,
    stream: str,
    keep: bool,
    run_timeout: float,
) -> None:
    """Load the server: --pub publishers and --sub subscribers, each a thread with
    its own connection, send --msgs messages of --size bytes on SUBJECT.

    Core NATS: every subscriber gets every message. --js: the publishers publish
    with acks to a stream on SUBJECT (created, deleted afterwards unless --keep)
    and the subscribers share one pull consumer, acking each message. Prints
    msgs/s, MB/s and end-to-end latency percentiles per client and in all.
    """
    if size < _load.STAMP_SIZE:
        raise click.BadParameter(
            f"{size}: at least {_load.STAMP_SIZE} bytes (the send time travels in the payload)",
            param_hint="'--size'",
        )
    if any(ch in subject for ch in " \t\r\n"):
        raise click.BadParameter(f"{subject!r} is not a valid subject", param_hint="'SUBJECT'")
    tokens = subject.split(".")
    if "*" in tokens or ">" in tokens or "" in tokens:
        raise click.BadParameter(
            f"{subject!r}: want a subject without wildcards or empty tokens",
            param_hint="'SUBJECT'",
        )
    cfg = _load.LoadConfig(
        subject=subject,
        pubs=pubs,
        subs=subs,
        msgs=msgs,
        size=size,
        timeout=run_timeout,
        jetstream=jetstream,
        stream=stream,
        keep=keep,
    )
    nc = c.connect_from()  # checks the server is there; sets the JetStream stream up
    url, kw = c.connect_options()
    servers = nc.connected_url or url

    def connect(name: str) -> nats_sync.Client:
        return nats_sync.connect(servers, name=name, **kw)

    js = c.jetstream_from(nc) if jetstream else None
    mode = "JetStream" if jetstream else "core NATS"
    c.info(f"{mode}: {pubs} publisher(s), {subs} subscriber(s), {msgs} x {size} B on {subject}")
    result = _load.run_load(cfg, connect, js)
    data = result.to_dict()
    c.emit(data, lambda: _render(data))
    if not result.complete:
        got = data["aggregate"].get("sub", {}).get("msgs", 0)
        raise c.fail(
            "incomplete run: "
            + "; ".join(
                [
                    f"{row['role']} {row['client']}: {row['error']}"
                    for row in _rows(data)
                    if row["error"]
                ]
                or [
                    f"sent {data['aggregate']['pub']['msgs']} of {msgs}, "
                    f"received {got} of {msgs * (1 if jetstream else subs)}"
                ]
            )
        )


def _layer_names(choices: Sequence[str]) -> Callable[[click.Context, click.Parameter, str], str]:
    """A callback checking a comma-separated list of ``choices`` (empty allowed)."""

    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown:
            raise click.BadParameter(
                f"unknown {', '.join(unknown)}; choose from {','.join(choices)}", ctx, param
            )
        return ",".join(dict.fromkeys(names))

    return check


def _count(name: str, default: int, text: str, min: int = 1) -> Callable[[F], F]:
    return click.option(
        name,
        type=click.IntRange(min=min),
        default=default,
        show_default=True,
        metavar="N",
        help=text,
    )


_D = _layers.LayersConfig()


@bench.command("layers")
@_count("--n", _D.n, "messages consumed by fetch and messages() (a file stream of 128 B)")
@_count("--p", _D.p, "JetStream publishes, each waiting for its ack")
@_count("--a", _D.a, "publish_async calls, per window (256 and 4096)")
@_count("--k", _D.k, "Key-Value puts of 128 B, then as many gets")
@_count("--w", _D.w, "keys in the watched Key-Value bucket")
@_count("--o", _D.o, "puts and gets of a 1 MiB object", min=0)
@_count("--big", _D.big, "puts and gets of a 64 MiB object (0: none)", min=0)
@_count("--r", _D.r, "requests to the service endpoint")
@click.option(
    "--repeat",
    "--rounds",
    "repeat",
    type=click.IntRange(min=1),
    default=_D.repeat,
    show_default=True,
    metavar="K",
    help="run every client K times, interleaved, keeping each figure's best",
)
@click.option(
    "--clients",
    default=",".join(_layers.ALL_CLIENTS),
    show_default=True,
    callback=_layer_names(_layers.ALL_CLIENTS),
    help="clients to run, comma-separated (nats.go: a Go worker, built when Go and "
    "Debian's nats.go are installed, else skipped with a note)",
)
@click.option(
    "--go-src",
    type=click.Path(file_okay=False, exists=True),
    help="the nats.go worker's source (default: benchmarks/golayers of this checkout)",
)
@click.option(
    "--only",
    default="",
    callback=_layer_names(_layers.WORKLOADS),
    metavar="WORKLOADS",
    help="workloads to run, comma-separated (default: all; " + ", ".join(_layers.WORKLOADS) + ")",
)
@click.option(
    "--timeout",
    "run_timeout",
    type=c.Duration(),
    default=f"{_D.timeout:.0f}s",
    show_default=True,
    help="give up on a client's run after this long (here, not the connect timeout)",
)
@click.option("--pure-python", is_flag=True, help="switch the C module off in every pynats client")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False),
    help="write every round's figures, the best and the ratios to this file",
)
def bench_layers(
    n: int,
    p: int,
    a: int,
    k: int,
    w: int,
    o: int,
    big: int,
    r: int,
    repeat: int,
    clients: str,
    only: str,
    run_timeout: float,
    pure_python: bool,
    json_file: str | None,
    go_src: str | None,
) -> None:
    """JetStream, Key-Value, Object Store and services: pynats beside nats-py and nats.go.

    Starts its own nats-server with JetStream, fills a file stream with --n
    messages and a bucket with --w keys, then runs on every client (pynats
    blocking, asyncio, Trio, nats-py if installed, nats.go 1.22 if Go and
    Debian's nats.go are), each in its own process, rounds interleaved: acked
    publish, publish_async (windows 256 and 4096), fetch, messages() with
    explicit acks and ack none, KV put/get/watch, Object Store put/get of 1 MiB
    (--big: 64 MiB) and a service endpoint. Prints the best figure of each,
    with each pynats client's ratio to nats-py and nats.go.
    """
    if c.options().server:
        raise click.UsageError(
            "bench layers starts its own nats-server (with JetStream); leave --server out"
        )
    cfg = _layers.LayersConfig(
        n=n,
        p=p,
        a=a,
        k=k,
        w=w,
        o=o,
        big=big,
        r=r,
        repeat=repeat,
        clients=tuple(clients.split(",")) if clients else (),
        only=tuple(only.split(",")) if only else (),
        timeout=run_timeout,
        json=json_file,
        pure_python=pure_python,
        go_src=go_src,
    )
    try:
        cfg.check()
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    try:
        results = _layers.run(cfg)
    except ValueError as e:
        raise c.fail(str(e)) from None
    if results["failed"]:
        raise c.fail(f"failed: {', '.join(results['failed'])} (their errors are above)")


def _rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [*data["publishers"], *data["subscribers"]]


def _render(data: dict[str, Any]) -> None:
    def line(label: str, row: dict[str, Any]) -> list[str]:
        lat = row["latency_ms"]
        pct = [f"{lat[k]:.3f}" for k in ("p50", "p90", "p99", "max")] if lat else [""] * 4
        return [
            label,
            str(row["msgs"]),
            f"{row['msgs_per_sec']:,.0f}",
            f"{row['mb_per_sec']:.2f}",
            *pct,
            row.get("error") or "",
        ]

    rows = [line(f"{r['role']} {r['client']}", r) for r in _rows(data)]
    agg = data["aggregate"]
    rows += [line(f"{role} (all)", agg[role]) for role in ("pub", "sub") if role in agg]
    cfg = data["config"]
    mode = f"JetStream stream {cfg['stream']}" if cfg["jetstream"] else "core NATS"
    right = ["Msgs", "Msgs/s", "MB/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    c.table(
        ["Client", *right, "Error"],
        rows,
        title=f"{mode}: {cfg['msgs']} x {cfg['size']} B on {cfg['subject']}, "
        f"{data['seconds']:.2f}s",
        right=right,
    )


def register(root: click.Group) -> None:
    """Add ``bench``, ``bench load`` and ``bench layers``."""
    root.add_command(bench)
