"""Benchmarks: pynats (blocking, asyncio, Trio) beside nats-py and nats.go, in one run.

``pynats bench`` starts an embedded nats-server (or uses ``--server``), runs the
same three workloads on every client, each in its own process, and prints a
table of msgs/s with the ratios to nats-py and nats.go:

* ``pub``: publish N messages, then flush;
* ``pubsub``: publish N messages on one connection, received on another;
* ``reqrep``: R sequential requests answered by a responder on another connection.

``--parser`` adds an in-process parser benchmark (ours and nats-py's fed the same
bytes) and ``--memory`` the peak memory of receiving many messages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .server import NatsServer

__all__ = ["go_build", "main"]

WORKLOADS = ("pub", "pubsub", "reqrep")
OUR_CLIENTS = ("sync", "asyncio", "trio")


# ----------------------------------------------------------------- workers


def _report(name: str, count: int, seconds: float) -> None:
    print(f"{name} {count / seconds:.0f}", flush=True)


def worker_sync(url: str, n: int, size: int, r: int) -> None:
    """The three workloads on nats_sync."""
    import nats_sync

    payload = b"x" * size
    with nats_sync.connect(url) as nc, nats_sync.connect(url) as sc:
        pub = nc.publish
        t = time.perf_counter()
        for _ in range(n):
            pub("bench.pub", payload)
        nc.flush(60)
        _report("pub", n, time.perf_counter() - t)

        done = threading.Event()
        got = 0

        def on_msg(_msg: object) -> None:
            nonlocal got
            got += 1
            if got == n:
                done.set()

        sc.subscribe("bench.ps", cb=on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
        sc.flush()
        t = time.perf_counter()
        for _ in range(n):
            pub("bench.ps", payload)
        nc.flush(60)
        if not done.wait(120):
            raise SystemExit(f"pubsub: only {got} of {n} messages arrived")
        _report("pubsub", n, time.perf_counter() - t)

        sc.subscribe("bench.rr", cb=lambda m: m.respond(b"ok"))
        sc.flush()
        t = time.perf_counter()
        for _ in range(r):
            nc.request("bench.rr", b"hi", timeout=2)
        _report("reqrep", r, time.perf_counter() - t)


async def _async_workload(url: str, n: int, size: int, r: int) -> None:
    import anyio

    import nats_anyio

    payload = b"x" * size
    async with nats_anyio.connect(url) as nc, nats_anyio.connect(url) as sc:
        pub = nc.publish
        t = time.perf_counter()
        for _ in range(n):
            await pub("bench.pub", payload)
        await nc.flush(60)
        _report("pub", n, time.perf_counter() - t)

        done = anyio.Event()
        got = 0

        def on_msg(_msg: object) -> None:
            nonlocal got
            got += 1
            if got == n:
                done.set()

        await sc.subscribe("bench.ps", cb=on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await sc.flush()
        t = time.perf_counter()
        for _ in range(n):
            await pub("bench.ps", payload)
        await nc.flush(60)
        with anyio.fail_after(120):
            await done.wait()
        _report("pubsub", n, time.perf_counter() - t)

        async def respond(m: Any) -> None:
            await m.respond(b"ok")

        await sc.subscribe("bench.rr", cb=respond)
        await sc.flush()
        t = time.perf_counter()
        for _ in range(r):
            await nc.request("bench.rr", b"hi", timeout=2)
        _report("reqrep", r, time.perf_counter() - t)


def worker_asyncio(url: str, n: int, size: int, r: int) -> None:
    """The three workloads on nats_anyio under asyncio."""
    import asyncio

    asyncio.run(_async_workload(url, n, size, r))


def worker_trio(url: str, n: int, size: int, r: int) -> None:
    """The three workloads on nats_anyio under Trio."""
    import trio

    trio.run(_async_workload, url, n, size, r)


def worker_natspy(url: str, n: int, size: int, r: int) -> None:
    """The same workloads on nats-py (as ../shared/peers/bench_natspy.py runs them)."""
    import asyncio

    import nats

    async def run() -> None:
        payload = b"x" * size
        nc = await nats.connect(url)
        sc = await nats.connect(url)
        t = time.perf_counter()
        for _ in range(n):
            await nc.publish("bench.pub", payload)
        await nc.flush()
        _report("pub", n, time.perf_counter() - t)
        got = 0
        done = asyncio.Event()

        async def on_msg(_msg: Any) -> None:
            nonlocal got
            got += 1
            if got == n:
                done.set()

        await sc.subscribe(
            "bench.ps", cb=on_msg, pending_msgs_limit=n * 2, pending_bytes_limit=n * size * 4
        )
        await sc.flush()
        t = time.perf_counter()
        for _ in range(n):
            await nc.publish("bench.ps", payload)
        await nc.flush()
        await asyncio.wait_for(done.wait(), 120)
        _report("pubsub", n, time.perf_counter() - t)

        async def respond(m: Any) -> None:
            await m.respond(b"ok")

        await sc.subscribe("bench.rr", cb=respond)
        await sc.flush()
        t = time.perf_counter()
        for _ in range(r):
            await nc.request("bench.rr", b"hi", timeout=2)
        _report("reqrep", r, time.perf_counter() - t)
        await nc.close()
        await sc.close()

    asyncio.run(run())


WORKERS: dict[str, Callable[[str, int, int, int], None]] = {
    "sync": worker_sync,
    "asyncio": worker_asyncio,
    "trio": worker_trio,
    "nats-py": worker_natspy,
}


def worker_memory(url: str, client: str, n: int, size: int) -> None:
    """Receive ``n`` messages (published by a child process); print peak RSS growth."""
    publisher = [sys.executable, "-m", "pynats.bench", "--publish-only", url, str(n), str(size)]
    if client == "sync":
        import nats_sync

        done = threading.Event()
        got = 0

        def on_msg(_msg: object) -> None:
            nonlocal got
            got += 1
            if got == n:
                done.set()

        with nats_sync.connect(url) as sc:
            sc.subscribe("bench.mem", cb=on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
            sc.flush()
            base = _rss_kib()
            subprocess.run(publisher, check=True)
            if not done.wait(300):
                raise SystemExit(f"memory: only {got} of {n} arrived")
    else:
        import asyncio

        import nats

        base = 0

        async def run() -> None:
            got = 0
            done = asyncio.Event()

            async def on_msg(_msg: Any) -> None:
                nonlocal got
                got += 1
                if got == n:
                    done.set()

            sc = await nats.connect(url)
            await sc.subscribe(
                "bench.mem", cb=on_msg, pending_msgs_limit=n * 2, pending_bytes_limit=n * size * 4
            )
            await sc.flush()
            nonlocal base
            base = _rss_kib()
            proc = await asyncio.create_subprocess_exec(*publisher)
            await proc.wait()
            await asyncio.wait_for(done.wait(), 300)
            await sc.close()

        asyncio.run(run())
    peak = _rss_kib("VmHWM")
    print(f"mem_kib {peak - base}", flush=True)
    print(f"peak_kib {peak}", flush=True)


def _rss_kib(field: str = "VmRSS") -> int:
    """Resident memory in KiB from /proc/self/status: now (VmRSS) or the peak of
    this process image (VmHWM; ru_maxrss would include the parent before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def publish_only(url: str, n: int, size: int) -> None:
    """Publish ``n`` messages to bench.mem (the memory benchmark's sender)."""
    import nats_sync

    payload = b"x" * size
    with nats_sync.connect(url) as nc:
        for _ in range(n):
            nc.publish("bench.mem", payload)
        nc.flush(120)


# ------------------------------------------------------------------ parser


def _msg_stream(count: int, size: int, headers: bool) -> bytes:
    payload = b"x" * size
    if headers:
        hdr = b"NATS/1.0\r\nTrace-Id: abcdef\r\nKind: bench\r\n\r\n"
        one = b"HMSG bench.parse 1 %d %d\r\n%b%b\r\n" % (len(hdr), len(hdr) + size, hdr, payload)
    else:
        one = b"MSG bench.parse 1 %d\r\n%b\r\n" % (size, payload)
    return one * count


def _chunks(data: bytes, chunk: int) -> list[bytes]:
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


def parser_ours(chunks: list[bytes]) -> int:
    """Feed ``chunks`` to our parser (it builds a Msg per message); return the count."""
    from nats_core import Parser

    p = Parser(max_payload=64 * 1024 * 1024)
    n = 0
    for c in chunks:
        n += len(p.feed(c))
    return n


def parser_ours_pure(chunks: list[bytes]) -> int:
    """As :func:`parser_ours` with the C fast path switched off (pure Python)."""
    from nats_core import speedups

    with speedups.disabled():
        return parser_ours(chunks)


def _c_parser() -> bool:
    """True when the parser's C fast path is built and on."""
    from nats_core import speedups

    return speedups.enabled()


def _pure_python() -> None:
    """Switch the C module off in this process (parser fast path, publish frame)."""
    from nats_core import speedups

    speedups.disable()


def parser_ours_headers(chunks: list[bytes]) -> int:
    """As :func:`parser_ours`, and read every message's headers (decoded lazily)."""
    from nats_core import Parser

    p = Parser(max_payload=64 * 1024 * 1024)
    n = 0
    for c in chunks:
        for msg in p.feed(c):
            _ = msg.headers  # type: ignore[union-attr]
            n += 1
    return n


def parser_natspy(chunks: list[bytes]) -> int:
    """Feed ``chunks`` to nats-py's parser; the sink turns each message into a
    nats-py ``Msg`` with nats-py's own code (headers decoded, as its client does)."""
    import asyncio

    from nats.aio.client import Client
    from nats.protocol.parser import Parser

    class Sink:
        def __init__(self) -> None:
            self.n = 0
            self.nc = Client()

        async def _process_msg(
            self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
        ) -> None:
            hdr = await self.nc._process_headers(headers)
            self.nc._build_message(sid, subject, reply, data, hdr)
            self.n += 1

    async def run() -> int:
        sink = Sink()
        p = Parser(sink)
        for c in chunks:
            await p.parse(c)
        return sink.n

    return asyncio.run(run())


def bench_parser(
    count: int, size: int, headers: bool, chunk: int = 65536, rounds: int = 5
) -> dict[str, Any]:
    """MB/s and msgs/s of both parsers on the same MSG or HMSG stream (the best of
    ``rounds`` interleaved runs of each)."""
    data = _msg_stream(count, size, headers)
    chunks = _chunks(data, chunk)
    out: dict[str, Any] = {"bytes": len(data), "count": count}
    runs: list[tuple[str, Callable[[list[bytes]], int]]] = [
        ("pynats", parser_ours),
        ("nats-py", parser_natspy),
    ]
    if headers:
        runs.insert(1, ("pynats+headers", parser_ours_headers))
    if _c_parser():
        runs.insert(1, ("pynats (pure Python)", parser_ours_pure))
    best = dict.fromkeys([name for name, _ in runs], float("inf"))
    for _ in range(rounds):  # interleaved, so a slow spell of the VM hits every parser
        for name, fn in runs:
            t = time.perf_counter()
            got = fn(chunks)
            best[name] = min(best[name], time.perf_counter() - t)
            if got != count:
                raise SystemExit(f"{name} parser returned {got} of {count} messages")
    for name, secs in best.items():
        out[name] = {"msgs_s": count / secs, "mb_s": len(data) / secs / 1e6}
    return out


# ------------------------------------------------------------------ runner


def _run_worker(cmd: list[str], timeout: float) -> dict[str, float]:
    """Run one worker; its figures (those printed before a failure are kept, and
    the failure is reported on stderr)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    figures: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                figures[parts[0]] = float(parts[1])
            except ValueError:
                pass
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if not figures:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        print(f" (failed after {', '.join(figures)}: {last})", end="", file=sys.stderr)
    return figures


def go_build(src: Path, name: str) -> str | None:
    """Build the Go program in ``src`` against Debian's nats.go 1.22 (GOPATH mode,
    ``golang-go`` and ``golang-github-nats-io-go-nats-dev``); the binary's path,
    or None when Go, nats.go or the source is missing or the build fails."""
    if not (src / "main.go").exists() or not shutil.which("go"):
        return None
    if not Path("/usr/share/gocode/src/github.com/nats-io/nats.go").is_dir():
        return None
    out = Path(tempfile.mkdtemp(prefix=f"pynats-{name}-")) / name
    env = dict(
        os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(out.parent / "cache")
    )
    r = subprocess.run(
        ["go", "build", "-o", str(out), "."], cwd=src, env=env, capture_output=True, text=True
    )
    return str(out) if r.returncode == 0 else None


def _gobench(peers: Path | None) -> str | None:
    """Build ../shared/peers/gobench when Go and nats.go are installed."""
    return None if peers is None else go_build(peers / "gobench", "gobench")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmarks as ``args`` say; print progress and the table; return results."""
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [c for c in args.clients.split(",") if c]
    peers = Path(args.peers) if args.peers else None
    results: dict[str, Any] = {
        "n": args.n,
        "r": args.r,
        "sizes": sizes,
        "repeat": max(1, args.repeat),
        "runs": {},  # the best of the rounds
        "all": {},  # every round's figure
    }
    if args.pure_python:
        os.environ["PYNATS_PURE_PYTHON"] = "1"  # for the workers
        _pure_python()
    results["c_parser"] = _c_parser()
    print(
        "parser fast path: " + ("C (nats_core._speedups)" if _c_parser() else "pure Python"),
        file=sys.stderr,
    )
    srv: NatsServer | None = None
    url = args.server
    if url is None:
        srv = NatsServer().start()
        url = srv.url
        print(f"embedded nats-server {srv.version} at {url}", file=sys.stderr)
    try:
        gobin = _gobench(peers) if "nats.go" in clients else None
        if "nats.go" in clients and gobin is None:
            print(
                "nats.go: not available (needs golang-go and "
                "golang-github-nats-io-go-nats-dev, and --peers with gobench/)",
                file=sys.stderr,
            )
        natspy_script = peers / "bench_natspy.py" if peers else None
        rounds = max(1, args.repeat)
        for rnd, size, client in (
            (rnd, size, client) for rnd in range(rounds) for size in sizes for client in clients
        ):
            common = ["--url", url, "--n", str(args.n), "--size", str(size), "--r", str(args.r)]
            if client == "nats.go":
                if gobin is None:
                    continue
                cmd = [
                    gobin,
                    "-url",
                    url,
                    "-n",
                    str(args.n),
                    "-size",
                    str(size),
                    "-r",
                    str(args.r),
                ]
            elif client == "nats-py" and natspy_script and natspy_script.exists():
                cmd = [sys.executable, str(natspy_script), *common]
            else:
                cmd = [sys.executable, "-m", "pynats.bench", "--worker", client, *common]
            tag = f" round {rnd + 1}/{rounds}" if rounds > 1 else ""
            print(
                f"  running {client:8} size={size:<5}{tag} ...",
                end="",
                file=sys.stderr,
                flush=True,
            )
            t = time.perf_counter()
            try:
                figs = _run_worker(cmd, timeout=600)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f" failed: {e}", file=sys.stderr)
                continue
            print(f" {time.perf_counter() - t:.1f} s", file=sys.stderr)
            # Best of the rounds per figure: the VM's noise only ever slows a run down.
            best = results["runs"].setdefault(str(size), {}).setdefault(client, {})
            for name, value in figs.items():
                best[name] = max(best.get(name, 0.0), value)
                results["all"].setdefault(f"{size}/{client}/{name}", []).append(value)
        _print_table(results, clients)
        if args.parser:
            results["parser"] = {}
            for headers in (False, True):
                key = "HMSG" if headers else "MSG"
                res = bench_parser(args.parser_count, 128, headers)
                results["parser"][key] = res
                theirs = res["nats-py"]
                for name in [k for k in res if k.startswith("pynats")]:
                    ours = res[name]
                    print(
                        f"parser {key:4} 128 B: {name} {ours['msgs_s']:,.0f} msgs/s "
                        f"({ours['mb_s']:.0f} MB/s), nats-py {theirs['msgs_s']:,.0f} msgs/s "
                        f"({theirs['mb_s']:.0f} MB/s), ratio "
                        f"{ours['msgs_s'] / theirs['msgs_s']:.2f}"
                    )
        if args.memory:
            results["memory"] = {}
            for client in ("sync", "nats-py"):
                figs = _run_worker(
                    [
                        sys.executable,
                        "-m",
                        "pynats.bench",
                        "--memory-worker",
                        client,
                        url,
                        str(args.memory),
                        "16",
                    ],
                    timeout=900,
                )
                results["memory"][client] = figs.get("mem_kib")
                results["memory"][client + "_peak"] = figs.get("peak_kib")
            m = results["memory"]
            print(
                f"memory receiving {args.memory:,} msgs, growth (peak RSS): "
                f"pynats(sync) {m['sync'] / 1024:.1f} MiB ({m['sync_peak'] / 1024:.1f} MiB), "
                f"nats-py {m['nats-py'] / 1024:.1f} MiB ({m['nats-py_peak'] / 1024:.1f} MiB)"
            )
    finally:
        if srv is not None:
            srv.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


def _print_table(results: dict[str, Any], clients: Sequence[str]) -> None:
    print()
    head = f"{'workload':8} {'size':>5} " + " ".join(f"{c:>10}" for c in clients)
    ours = [c for c in clients if c in OUR_CLIENTS]
    ran = {c for by_client in results["runs"].values() for c, figs in by_client.items() if figs}
    peers = [p for p in ("nats-py", "nats.go") if p in ran]
    tags = {"nats-py": "py", "nats.go": "go"}
    if peers:  # ratio columns only for the peers that ran
        head += "  " + " ".join(f"{c + '/' + tags[p]:>11}" for c in ours for p in peers)
    print(head)
    print("-" * len(head))
    for size, by_client in results["runs"].items():
        for wl in WORKLOADS:
            vals = {c: by_client.get(c, {}).get(wl) for c in clients}
            line = f"{wl:8} {size:>5} " + " ".join(f"{_fmt(vals[c]):>10}" for c in clients)
            if peers:
                line += "  " + " ".join(
                    f"{_ratio(vals[c], vals.get(p)):>11}" for c in ours for p in peers
                )
            print(line)
    print()


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``pynats bench``."""
    p = argparse.ArgumentParser(
        prog="pynats bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--server", default=None, help="use this server instead of an embedded one")
    p.add_argument("--n", type=int, default=200_000, help="messages per pub/pubsub run")
    p.add_argument("--r", type=int, default=5_000, help="requests per reqrep run")
    p.add_argument("--sizes", default="16,128,4096")
    p.add_argument("--clients", default="sync,asyncio,trio,nats-py,nats.go")
    p.add_argument(
        "--peers",
        default=None,
        help="a folder with bench_natspy.py and gobench/ (nats.go)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run every client K times, interleaved, and keep each figure's best",
    )
    p.add_argument("--parser", action="store_true", help="also benchmark the parsers")
    p.add_argument("--parser-count", type=int, default=200_000)
    p.add_argument(
        "--memory",
        type=int,
        default=0,
        metavar="N",
        help="also measure peak memory receiving N messages",
    )
    p.add_argument(
        "--pure-python",
        action="store_true",
        help="switch the C module (parser fast path, publish frame) off in every pynats client",
    )
    p.add_argument("--json", default=None, help="write the results to this file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``pynats bench`` (and the worker modes the runner starts)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("PYNATS_PURE_PYTHON"):
        _pure_python()
    if argv[:1] == ["--worker"]:
        w = argparse.ArgumentParser()
        w.add_argument("--worker")
        w.add_argument("--url")
        w.add_argument("--n", type=int)
        w.add_argument("--size", type=int)
        w.add_argument("--r", type=int)
        a = w.parse_args(argv)
        WORKERS[a.worker](a.url, a.n, a.size, a.r)
        return 0
    if argv[:1] == ["--memory-worker"]:
        worker_memory(argv[2], argv[1], int(argv[3]), int(argv[4]))
        return 0
    if argv[:1] == ["--publish-only"]:
        publish_only(argv[1], int(argv[2]), int(argv[3]))
        return 0
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
