#!/usr/bin/env python3
"""How long a pull consumer stalls when its consumer leader is SIGKILLed.

Starts a 3-node JetStream cluster on loopback (its own nats-servers, ended by
pid), an R3 stream with a backlog and an R3 durable pull consumer, and reads it
with ``Consumer.messages()`` (blocking client) at a steady pace. Then it
SIGKILLs the node that leads the consumer and records, on one clock:

- when the consuming client lost and got back its connection (when it was on
  the killed node),
- when the new consumer leader was elected (the LEADER_ELECTED advisory, or
  the first consumer info naming another leader),
- every error the consume reported (missed heartbeats, 503, 409...),
- the first message after the stall.

Two placements: the consuming client connected to the killed leader (it must
reconnect) and to a follower (it keeps its connection). Bounded: each run
gives up after ``--max-wait`` seconds. Loopback only.

    python benchmarks/pull_recovery.py                 # 3 runs of each placement
    python benchmarks/pull_recovery.py --runs 1 --expires 5 --placement leader
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import nats_sync
from nats_core.errors import NatsError
from nats_core.jetstream import JetStreamError
from pynats.server import NatsServer, NatsServerError, free_port

PACE = 0.005  # seconds the reader spends on each message (200 msgs/s)
BACKLOG = 20_000  # messages stored before the kill, so the stall is the consumer's alone
WARMUP = 2.0  # seconds of consuming before the kill


# ------------------------------------------------------------------ cluster


def start_cluster(n: int = 3, name: str = "bench", jetstream: bool = True) -> list[NatsServer]:
    """``n`` nats-servers on loopback, each routed to the others (JetStream on).

    Route ports are chosen before any server starts; when one was taken
    meanwhile the whole cluster starts again on new ports.
    """
    for attempt in range(3):
        ports = [free_port() for _ in range(n)]
        servers: list[NatsServer] = []
        try:
            for i in range(n):
                routes = [f"nats://127.0.0.1:{p}" for j, p in enumerate(ports) if j != i]
                server = NatsServer(
                    jetstream=jetstream,
                    server_name=f"{name}-n{i}",
                    cluster_name=name,
                    cluster_port=ports[i],
                    routes=routes,
                )
                servers.append(server.start())
        except NatsServerError as exc:
            stop_cluster(servers)
            if "address already in use" not in str(exc) or attempt == 2:
                raise
            continue
        return servers
    raise AssertionError("unreachable")


def stop_cluster(servers: Sequence[NatsServer]) -> None:
    """Stop every server (each by its own process handle)."""
    for s in servers:
        s.stop()


def sigkill(server: NatsServer) -> None:
    """SIGKILL one server we started (by its pid); its store stays for a restart."""
    pid = server.pid
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def node_index(name: str) -> int:
    """The index of a server from its name (``<cluster>-n<index>``)."""
    return int(name.rpartition("-n")[2])


def wait_jetstream(nc: nats_sync.Client, timeout: float = 30.0) -> None:
    """Wait until the cluster has a JetStream meta leader."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            nc.jetstream(timeout=1).account_info()
            return
        except (NatsError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def retry(fn, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """``fn()``, tried again while it raises a NATS error or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (NatsError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --------------------------------------------------------------------- run


@dataclass
class Run:
    placement: str
    expires: float
    heartbeat: float
    kill_to_disconnect: float | None = None
    kill_to_reconnect: float | None = None
    kill_to_elected: float | None = None
    kill_to_first: float | None = None
    elected_to_first: float | None = None
    errors: list[tuple[float, str]] = field(default_factory=list)


def one_run(placement: str, expires: float, max_wait: float, verbose: bool) -> Run:
    servers = start_cluster(name=f"PR{os.getpid() % 1000}x{int(time.time() * 10) % 10000}")
    clients: list[nats_sync.Client] = []
    stop = threading.Event()
    try:
        admin = nats_sync.connect([s.url for s in servers], reconnect_time_wait=0.1)
        clients.append(admin)
        wait_jetstream(admin)
        js = admin.jetstream(timeout=5)
        retry(lambda: js.create_stream(name="S", subjects=["s.>"], num_replicas=3))
        retry(
            lambda: js.create_consumer("S", durable_name="C", ack_policy="explicit", num_replicas=3)
        )
        for i in range(BACKLOG):
            admin.publish("s.m", b"%d" % i)
        admin.flush(timeout=10)
        retry(lambda: _require(js.stream_info("S").state.messages == BACKLOG))
        info = retry(lambda: js.consumer_info("S", "C"))
        assert info.cluster is not None and info.cluster.leader
        old_leader = info.cluster.leader
        victim = servers[node_index(old_leader)]
        others = [s for s in servers if s is not victim]

        t0 = time.monotonic()
        marks: dict[str, float] = {}

        def mark(what: str) -> None:
            marks.setdefault(what, time.monotonic())

        # the observer stays on a surviving node: it needs no reconnect
        watcher = nats_sync.connect(others[0].url, ignore_discovered_servers=True)
        clients.append(watcher)
        watcher.subscribe(
            "$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.S.C",
            cb=lambda m: "kill" in marks and mark("elected"),
        )
        watcher.flush(timeout=5)

        urls = [victim.url, *(s.url for s in others)]
        if placement == "follower":
            urls = [others[1].url]
        run = Run(placement, expires, expires / 2)
        nc = nats_sync.connect(
            urls,
            no_randomize=True,
            ignore_discovered_servers=placement == "follower",
            disconnected_cb=lambda: "kill" in marks and mark("disconnected"),
            reconnected_cb=lambda: "kill" in marks and mark("reconnected"),
            error_cb=lambda e: run.errors.append((time.monotonic(), _describe(e))),
        )
        clients.append(nc)
        consumer = nc.jetstream(timeout=5).consumer("S", "C")
        received: list[float] = []

        def read() -> None:
            with consumer.messages(
                max_messages=10,
                expires=expires,
                error_cb=lambda e: run.errors.append((time.monotonic(), _describe(e))),
            ) as it:
                while not stop.is_set():
                    try:
                        msg = it.next(timeout=0.5)
                    except JetStreamError as exc:  # missed heartbeats: it pulls again
                        run.errors.append((time.monotonic(), _describe(exc)))
                        continue
                    except (NatsError, TimeoutError):
                        continue
                    received.append(time.monotonic())
                    msg.ack()
                    time.sleep(PACE)

        run.errors = []
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(WARMUP)
        if not received:
            raise RuntimeError("the consumer delivered nothing before the kill")

        def poll_leader() -> None:
            wjs = watcher.jetstream(timeout=0.5)
            while not stop.is_set() and "elected" not in marks:
                try:
                    ci = wjs.consumer_info("S", "C")
                except (NatsError, TimeoutError):
                    time.sleep(0.05)
                    continue
                if ci.cluster is not None and ci.cluster.leader not in (None, old_leader):
                    mark("elected")
                time.sleep(0.05)

        mark("kill")
        sigkill(victim)
        threading.Thread(target=poll_leader, daemon=True).start()
        t_kill = marks["kill"]
        deadline = t_kill + max_wait
        first: float | None = None
        while time.monotonic() < deadline:
            time.sleep(0.05)
            after = [t for t in received if t > t_kill]
            # the first message after the stall: after the longest gap since the kill
            if after and "elected" in marks and after[-1] > marks["elected"]:
                times = [t_kill, *after]
                gaps = [(b - a, b) for a, b in itertools.pairwise(times)]
                first = max(gaps)[1]
                if time.monotonic() - first > 1.0:
                    break
        stop.set()
        reader.join(5)

        def since_kill(what: str) -> float | None:
            return round(marks[what] - t_kill, 3) if what in marks else None

        run.kill_to_disconnect = since_kill("disconnected")
        run.kill_to_reconnect = since_kill("reconnected")
        run.kill_to_elected = since_kill("elected")
        if first is not None:
            run.kill_to_first = round(first - t_kill, 3)
            if "elected" in marks:
                run.elected_to_first = round(first - marks["elected"], 3)
        run.errors = [(round(e[0] - t_kill, 3), e[1]) for e in run.errors if e[0] >= t_kill - 0.001]
        if verbose:
            print(f"  (set up in {t_kill - t0:.1f}s)", file=sys.stderr)
        return run
    finally:
        stop.set()
        for c in clients:
            try:
                c.close()
            except Exception:
                pass
        stop_cluster(servers)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:90]


def _require(ok: bool) -> bool:
    if not ok:
        raise TimeoutError("not yet")
    return True


def _fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="runs of each placement (default 3)")
    p.add_argument("--expires", type=float, default=5.0, help="pull expiry, s (default 5)")
    p.add_argument("--placement", choices=["leader", "follower", "both"], default="both")
    p.add_argument("--max-wait", type=float, default=45.0, help="give up a run after this, s")
    p.add_argument("--json", help="write every run to this file")
    p.add_argument("-v", "--verbose", action="store_true", help="print each run's errors")
    args = p.parse_args(argv)
    placements = ["leader", "follower"] if args.placement == "both" else [args.placement]
    runs: list[Run] = []
    print(
        f"expires={args.expires:g}s heartbeat={args.expires / 2:g}s; "
        "seconds after the SIGKILL of the consumer leader"
    )
    print("client on  disconn reconn elected  first  elected->first")
    for _ in range(args.runs):
        for placement in placements:
            run = one_run(placement, args.expires, args.max_wait, args.verbose)
            runs.append(run)
            print(
                f"{placement:9} {_fmt(run.kill_to_disconnect)} {_fmt(run.kill_to_reconnect)} "
                f"{_fmt(run.kill_to_elected)} {_fmt(run.kill_to_first)}  "
                f"{_fmt(run.elected_to_first)}",
                flush=True,
            )
            if args.verbose:
                for t, what in run.errors:
                    print(f"    {t:7.3f} {what}")
    for placement in placements:
        mine = [r for r in runs if r.placement == placement]
        firsts = [r.kill_to_first for r in mine if r.kill_to_first is not None]
        after = [r.elected_to_first for r in mine if r.elected_to_first is not None]
        if firsts and after:
            print(
                f"{placement}: kill->first mean {statistics.mean(firsts):.2f}s "
                f"(max {max(firsts):.2f}); elected->first mean {statistics.mean(after):.2f}s "
                f"(max {max(after):.2f}); {len(mine) - len(firsts)} run(s) did not resume"
            )
        else:
            print(f"{placement}: no run resumed within {args.max_wait:g}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in runs], f, indent=1)
    failed = any(r.kill_to_first is None for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
