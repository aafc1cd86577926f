"""The layers above the core: JetStream, Key-Value, Object Store, services (issue #17).

``pynats bench layers`` (and ``python benchmarks/layers.py``) starts one nats-server
with JetStream (a file store in a temporary directory, on a free loopback port;
stopped at the end, by its own handle), fills a file stream with N messages of
128 B and a Key-Value bucket with W keys, then runs, each client in its own
process (pynats blocking, asyncio and Trio, nats-py, and nats.go 1.22: the Go
worker in ``benchmarks/golayers``), rounds interleaved, the same workloads:

- ``js_pub``: P JetStream publishes of 128 B, each waiting for its ack;
- ``js_async_256`` / ``js_async_4096``: A ``publish_async`` with at most 256 /
  4096 in flight (``publish_async_max_pending``), then waiting for completion;
- ``fetch``: the N messages with ``fetch(500)`` batches, each acked (explicit);
- ``msgs_ack`` / ``msgs_none``: the N messages through ``messages()`` (ack
  explicit, every message acked / ack policy none). nats-py has no
  ``messages()``: its figure is the same ``fetch(500)`` loop, its fastest pull;
- ``kv_put`` / ``kv_get``: K puts of 128 B over 100 keys, then K gets (ops/s);
- ``kv_watch``: a watcher of the W keys, messages/s until the initial values end;
- ``obj_put`` / ``obj_get`` / ``obj_rt``: O puts and gets of a 1 MiB object (MB/s;
  ``obj_rt`` is bytes over the time of put + get), and with ``--big K`` K of
  64 MiB (``obj64_*``);
- ``svc``: R sequential requests to a service endpoint (ADR-32, the library's
  own service: ``add_service`` / nats-py's ``nats.micro``) on another connection.

It prints a table, the best of ``--repeat`` rounds for each figure, with each
pynats client's ratio to nats-py and to nats.go. Both peers are optional: when
``import nats`` fails, or Go, Debian's nats.go (``golang-go``,
``golang-github-nats-io-go-nats-dev``) or the Go source is missing, that column
and its ratios are left out, with a note. nats.go 1.22 has no ``messages()``
either: its ``msgs_*`` figures are its ``Fetch`` loop (see its README). Defaults (N=30,000)
keep a run of one round near a minute on the project's 2-core VM and
``--repeat 3`` under four minutes.

    pynats bench layers                          # 3 rounds, every client
    pynats bench layers --repeat 1 --only js_async_256,js_async_4096
    pynats bench layers --n 100000 --big 2       # the issue's 100k, 64 MiB objects

The workers are ``python -m pynats.bench_layers --worker CLIENT PARAMS_JSON``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._bench_layers_workers import CLIENTS, OURS, WORKERS, WORKLOADS, fill, unit

__all__ = [
    "CLIENTS",
    "WORKLOADS",
    "LayersConfig",
    "build_parser",
    "main",
    "natspy_available",
    "ratios",
    "run",
    "run_worker",
    "table",
]

NATSPY_MISSING = "nats-py is not installed (pip install nats-py): its column and the ratios skipped"
GO_MISSING = (
    "nats.go: not available (needs golang-go, golang-github-nats-io-go-nats-dev and the "
    "source benchmarks/golayers: --go-src): its column skipped"
)
#: The nats.go 1.22 worker's source in a checkout of pynats (see its README).
GO_SRC = Path(__file__).resolve().parents[2] / "benchmarks" / "golayers"
#: Every client a run may ask for: ours, nats-py, and nats.go (a Go worker).
ALL_CLIENTS = (*CLIENTS, "nats.go")


@dataclasses.dataclass(frozen=True)
class LayersConfig:
    """What ``pynats bench layers`` runs: counts per workload, rounds, clients."""

    n: int = 30_000  # messages consumed (fetch, messages())
    p: int = 3_000  # acked JetStream publishes
    a: int = 30_000  # async JetStream publishes, per window
    k: int = 2_000  # KV puts, then as many gets
    w: int = 20_000  # keys in the watched bucket
    o: int = 8  # 1 MiB object puts+gets
    big: int = 0  # 64 MiB object puts+gets
    r: int = 3_000  # service requests
    repeat: int = 3  # interleaved rounds, each figure's best kept
    clients: tuple[str, ...] = ALL_CLIENTS
    only: tuple[str, ...] = ()  # workloads (empty: all)
    timeout: float = 300.0  # seconds per client run
    json: str | None = None  # write every round's figures there
    pure_python: bool = False  # switch the C module off in our workers
    go_src: str | None = None  # the nats.go worker's source (default: GO_SRC)

    def check(self) -> None:
        """Raise :class:`ValueError` naming what is wrong (an unknown client or workload)."""
        bad = [c for c in self.clients if c not in ALL_CLIENTS]
        if bad or not self.clients:
            what = f"unknown client(s) {', '.join(bad)}" if bad else "no client given"
            raise ValueError(f"{what}; choose from {','.join(ALL_CLIENTS)}")
        bad = [w for w in self.only if w not in WORKLOADS]
        if bad:
            raise ValueError(
                f"unknown workload(s) {', '.join(bad)}; choose from {','.join(WORKLOADS)}"
            )
        big = [w for w in self.only if w.startswith("obj64")]
        if big and not self.big:
            raise ValueError(f"{big[0]} needs --big K (K objects of 64 MiB)")
        if self.repeat < 1:
            raise ValueError("--repeat wants at least 1 round")


def natspy_available() -> bool:
    """Whether nats-py can be imported (its worker runs in this same interpreter)."""
    try:
        import nats  # noqa: F401
    except ImportError:
        return False
    return True


def run_worker(
    client: str,
    params: dict[str, Any],
    timeout: float,
    env: dict[str, str] | None = None,
    gobin: str | None = None,
) -> tuple[dict[str, float], bool]:
    """Run one client's worker process (``gobin``: the nats.go worker's binary,
    for client ``nats.go``): its figures (those printed before a failure are
    kept), and whether it succeeded (a failure is told on stderr)."""
    if client == "nats.go":
        assert gobin is not None
        cmd = [gobin, json.dumps(params)]
    else:
        cmd = [sys.executable, "-m", "pynats.bench_layers", "--worker", client, json.dumps(params)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        print(f"  {client}: timed out after {timeout:.0f} s", file=sys.stderr)
        return {}, False
    if out.returncode:
        print(f"  {client} failed ({out.returncode}):\n{out.stderr[-3000:]}", file=sys.stderr)
    got: dict[str, float] = {}
    for line in out.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name in WORKLOADS:
            got[name] = float(value)
    return got, out.returncode == 0


def _fmt(v: float | None) -> str:
    return "-" if v is None else (f"{v:,.1f}" if v < 100 else f"{v:,.0f}")


def ratios(best: dict[str, dict[str, float]], peer: str = "nats-py") -> dict[str, dict[str, float]]:
    """Each pynats client's figure over ``peer``'s, per workload (where both ran)."""
    py = best.get(peer, {})
    return {
        c: {w: v / py[w] for w, v in best[c].items() if py.get(w)} for c in OURS if c in best and py
    }


def table(
    best: dict[str, dict[str, float]], clients: Sequence[str], only: Sequence[str] = ()
) -> str:
    """The Markdown table of the best figures, with a ``CLIENT/py`` ratio column per
    pynats client when nats-py is among ``clients`` (``CLIENT/go`` for nats.go);
    rows for ``only`` (or all that ran)."""
    head = ["workload", "unit", *clients]
    ours = [c for c in clients if c in OURS]
    peers = [(p, tag) for p, tag in (("nats-py", "py"), ("nats.go", "go")) if p in clients]
    for _, tag in peers:
        head += [f"{c}/{tag}" for c in ours]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in WORKLOADS:
        if only and name not in only:
            continue
        vals = [best.get(c, {}).get(name) for c in clients]
        if all(v is None for v in vals):
            continue
        cells = [name, unit(name)] + [_fmt(v) for v in vals]
        for peer, _ in peers:
            pv = best.get(peer, {}).get(name)
            for c in ours:
                v = best.get(c, {}).get(name)
                cells.append("-" if v is None or not pv else f"{v / pv:.2f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def run(cfg: LayersConfig) -> dict[str, Any]:
    """Run the benchmark as ``cfg`` says: progress on stderr, the table on stdout.

    Returns the figures: ``best`` (client -> workload -> value), every round's in
    ``rounds``, ``ratios`` to nats-py, the clients ``skipped`` (nats-py when it is
    not installed) and those whose worker ``failed``. Raises :class:`ValueError`
    for a bad configuration.
    """
    from .server import NatsServer

    cfg.check()
    clients = list(dict.fromkeys(cfg.clients))
    skipped: list[str] = []
    if "nats-py" in clients and not natspy_available():
        print(NATSPY_MISSING, file=sys.stderr)
        clients.remove("nats-py")
        skipped.append("nats-py")
    gobin = None
    if "nats.go" in clients:
        from .bench import go_build

        gobin = go_build(Path(cfg.go_src) if cfg.go_src else GO_SRC, "golayers")
        if gobin is None:
            print(GO_MISSING, file=sys.stderr)
            clients.remove("nats.go")
            skipped.append("nats.go")
    if not clients:
        raise ValueError(f"no client left to run ({', '.join(skipped)} not available)")
    env = dict(os.environ)
    if cfg.pure_python:
        env["PYNATS_PURE_PYTHON"] = "1"
    counts = {k: getattr(cfg, k) for k in ("n", "p", "a", "k", "w", "o", "big", "r")}
    rounds: list[dict[str, dict[str, float]]] = []
    failed: list[str] = []
    started = time.perf_counter()
    with NatsServer(jetstream=True) as server:
        t = time.perf_counter()
        fill(server.url, cfg.n, cfg.w)
        print(f"server {server.url}: filled in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        for rnd in range(cfg.repeat):
            got: dict[str, dict[str, float]] = {}
            for client in clients:
                params = {
                    "url": server.url,
                    "tag": "".join(ch for ch in client if ch.isalnum()) + str(rnd),
                    "only": list(cfg.only),
                    **counts,
                }
                t = time.perf_counter()
                got[client], ok = run_worker(client, params, cfg.timeout, env, gobin)
                if not ok and client not in failed:
                    failed.append(client)
                print(
                    f"round {rnd + 1} {client}: {time.perf_counter() - t:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            rounds.append(got)
    best: dict[str, dict[str, float]] = {}
    for got in rounds:
        for client, figs in got.items():
            for name, v in figs.items():
                b = best.setdefault(client, {})
                b[name] = max(b.get(name, 0.0), v)
    seconds = time.perf_counter() - started
    print(
        f"\nbest of {cfg.repeat} rounds; N={cfg.n} consumed, P={cfg.p} acked and A={cfg.a} "
        f"async publishes, K={cfg.k} KV ops, W={cfg.w} watched keys, O={cfg.o} x 1 MiB"
        + (f", {cfg.big} x 64 MiB" if cfg.big else "")
        + f", R={cfg.r} service requests; {seconds:.0f} s in all\n"
    )
    print(table(best, clients, cfg.only), flush=True)
    results: dict[str, Any] = {
        "args": dataclasses.asdict(cfg),
        "clients": clients,
        "rounds": rounds,
        "best": best,
        "ratios": ratios(best),
        "ratios_go": ratios(best, "nats.go"),
        "skipped": skipped,
        "failed": failed,
        "seconds": seconds,
    }
    if cfg.json:
        Path(cfg.json).write_text(json.dumps(results, indent=1))
    return results


def _names(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))


def build_parser() -> argparse.ArgumentParser:
    """The arguments of ``python benchmarks/layers.py`` / ``python -m pynats.bench_layers``."""
    d = LayersConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=d.n, help=f"messages consumed (default {d.n})")
    ap.add_argument("--p", type=int, default=d.p, help="acked JetStream publishes")
    ap.add_argument("--a", type=int, default=d.a, help="async JetStream publishes")
    ap.add_argument("--k", type=int, default=d.k, help="KV puts, then gets")
    ap.add_argument("--w", type=int, default=d.w, help="keys in the watched bucket")
    ap.add_argument("--o", type=int, default=d.o, help="1 MiB object puts+gets")
    ap.add_argument("--big", type=int, default=d.big, help="64 MiB object puts+gets (0: none)")
    ap.add_argument("--r", type=int, default=d.r, help="service requests")
    ap.add_argument(
        "--repeat", "--rounds", type=int, default=d.repeat, help="interleaved rounds (best kept)"
    )
    ap.add_argument("--clients", default=",".join(ALL_CLIENTS), help=f"of {','.join(ALL_CLIENTS)}")
    ap.add_argument("--go-src", help=f"the nats.go worker's source (default {GO_SRC})")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--json", help="write every round's figures to this file")
    ap.add_argument("--timeout", type=float, default=d.timeout, help="seconds per client run")
    ap.add_argument("--pure-python", action="store_true", help="switch the C module off in ours")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line (or, with ``--worker``, one worker)."""
    ap = build_parser()
    args, rest = ap.parse_known_args(argv)
    if args.worker:
        if os.environ.get("PYNATS_PURE_PYTHON"):
            from nats_core import speedups

            speedups.disable()
        WORKERS[args.worker](json.loads(rest[0]))
        return 0
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    cfg = LayersConfig(
        **{k: getattr(args, k) for k in ("n", "p", "a", "k", "w", "o", "big", "r", "repeat")},
        clients=_names(args.clients),
        only=_names(args.only),
        timeout=args.timeout,
        json=args.json,
        pure_python=args.pure_python,
        go_src=args.go_src,
    )
    try:
        results = run(cfg)
    except ValueError as e:
        ap.error(str(e))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
