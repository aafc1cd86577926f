#!/usr/bin/env python3
"""Soak: the blocking client against a 3-node JetStream cluster whose nodes are
SIGKILLed and restarted, one at a time, every few seconds.

On loopback, with nats-servers it starts itself (and kills only those, by
pid), for ``--seconds`` (default 120) it runs at once:

- core pub/sub: one client publishes numbered messages (the reconnect buffer
  keeps them while it is disconnected), another subscribes;
- JetStream publishes with acks and message ids (retried with the same id
  until acked) to an R3 stream;
- a durable R3 pull consumer with explicit acks, read with ``messages()``;
- a chaos thread: every ``--kill-every`` seconds (randomised) it SIGKILLs one
  random node and restarts it (same ports, same store) a second later.

Killing stops ``min(10, seconds/3)`` seconds before the end, then the
consumer gets a bounded time to catch up and the whole stream is read back.
It prints core messages published / received / lost, the loss broken down by
the publishing (and the subscribing) client's status at publish time; acked
JetStream messages missing from the stream (must be 0); duplicates stored
(must be 0 with message ids); the consumer's longest stall (no delivery at
all; the publisher may have been stalled too) and how long acked messages
waited for it (from the publish ack to the delivery); threads and file
descriptors before and after. Exit status 1 when an acked message is missing,
a duplicate was stored, or threads or fds leaked.

    python benchmarks/soak.py                  # 120 s
    python benchmarks/soak.py --seconds 15     # what CI runs (about 30 s in all)
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

from pull_recovery import retry, sigkill, start_cluster, stop_cluster, wait_jetstream

import nats_sync
from nats_core.errors import NatsError, NatsTimeoutError, SubscriptionClosedError
from pynats.server import NatsServer, NatsServerError

STREAM = "SOAK"
CONSUMER = "soak"


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def gap_max(times: list[float], start: float, end: float) -> float:
    """The longest time without an event between ``start`` and ``end``."""
    points = [start, *sorted(t for t in times if start < t < end), end]
    return max(b - a for a, b in itertools.pairwise(points))


class Chaos(threading.Thread):
    """SIGKILLs one random node and restarts it, again and again, until ``until``."""

    def __init__(
        self, servers: list[NatsServer], rng: random.Random, every: float, until: float
    ) -> None:
        super().__init__(name="soak-chaos", daemon=True)
        self.servers = servers
        self.rng = rng
        self.every = every
        self.until = until
        self.stop = threading.Event()
        self.kills: list[tuple[float, int]] = []
        self.restart_failures = 0

    def run(self) -> None:
        wait = self.rng.uniform(1.0, min(3.0, self.every))
        while not self.stop.wait(wait) and time.monotonic() < self.until:
            wait = self.rng.uniform(0.6, 1.4) * self.every
            if not all(self.restart(s) for s in self.servers if not s.running):
                continue  # never two nodes down: the R3 stream keeps its quorum
            i = self.rng.randrange(len(self.servers))
            self.kills.append((time.monotonic(), i))
            sigkill(self.servers[i])
            self.stop.wait(self.rng.uniform(0.5, 1.5))
            self.restart(self.servers[i])
        deadline = time.monotonic() + 20
        while not all(self.restart(s) for s in self.servers if not s.running):  # all up
            if time.monotonic() > deadline:
                raise RuntimeError("could not restart every node")

    def restart(self, server: NatsServer) -> bool:
        """Start ``server`` again (same ports, same store); False if it would not."""
        for _ in range(3):
            try:
                server.restart()
                return True
            except NatsServerError:  # its port taken meanwhile: try again shortly
                self.restart_failures += 1
                time.sleep(0.5)
        return False


def run(args: argparse.Namespace) -> dict[str, Any]:
    threads_before, fds_before = threading.active_count(), fd_count()
    rng = random.Random(args.seed)
    servers = start_cluster(name=f"SOAK{os.getpid()}")
    urls = [s.url for s in servers]
    clients: list[nats_sync.Client] = []
    names: list[str] = []
    conn_errors: Counter[str] = Counter()

    def connect(name: str) -> nats_sync.Client:
        shuffled = urls[:]
        rng.shuffle(shuffled)
        nc = nats_sync.connect(
            shuffled,
            name=name,
            no_randomize=True,
            max_reconnect_attempts=-1,
            error_cb=lambda e: conn_errors.update([f"{name}: {type(e).__name__}"]),
        )
        clients.append(nc)
        names.append(name)
        return nc

    report: dict[str, Any] = {"seed": args.seed, "seconds": args.seconds}
    try:
        admin = connect("admin")
        wait_jetstream(admin)
        js = admin.jetstream(timeout=5)
        retry(
            lambda: js.create_stream(
                name=STREAM,
                subjects=["soak.js.>"],
                num_replicas=3,
                duplicate_window=max(120.0, args.seconds + 60.0),
            )
        )
        retry(
            lambda: js.create_consumer(
                STREAM, durable_name=CONSUMER, ack_policy="explicit", ack_wait=5
            )
        )
        pub, sub, jsnc, cnc = (connect(n) for n in ("core-pub", "core-sub", "js-pub", "js-sub"))

        # ---------------------------------------------------------- core
        received: list[int] = []
        sub.subscribe("soak.core", cb=lambda m: received.append(int(m.data)))
        sub.flush(timeout=5)
        pub_status: list[str] = []  # per sequence: the publisher's status, "" if refused
        sub_status: list[str] = []
        refused: Counter[str] = Counter()
        stop_pub = threading.Event()

        def core_publisher() -> None:
            per_tick = max(1, args.core_rate // 100)
            tick = time.monotonic()
            while not stop_pub.is_set():
                for _ in range(per_tick):
                    seq = len(pub_status)
                    st, sst = pub.status, sub.status
                    try:
                        pub.publish("soak.core", b"%d" % seq)
                    except NatsError as exc:
                        refused[f"{st}: {type(exc).__name__}"] += 1
                        st = ""
                    pub_status.append(st)
                    sub_status.append(sst)
                tick += 0.01
                time.sleep(max(0.0, tick - time.monotonic()))

        # ----------------------------------------------------- jetstream
        acked: dict[int, int] = {}  # message number -> stream sequence
        acked_at: dict[int, float] = {}  # message number -> when its ack came
        dup_acks = 0
        gave_up: list[int] = []
        pub_errors: Counter[str] = Counter()
        jsp = jsnc.jetstream(timeout=2)

        def js_publisher() -> None:
            nonlocal dup_acks
            i = 0
            while not stop_pub.is_set():
                i += 1
                give_up = time.monotonic() + 30
                while True:
                    try:
                        ack = jsp.publish(f"soak.js.{i % 8}", b"%d" % i, msg_id=f"m{i}")
                    except (NatsError, TimeoutError) as exc:
                        pub_errors[type(exc).__name__] += 1
                        if time.monotonic() > give_up or stop_js.is_set():
                            gave_up.append(i)
                            break
                        time.sleep(0.1)
                        continue
                    acked[i] = ack.seq
                    acked_at[i] = time.monotonic()
                    dup_acks += bool(ack.duplicate)
                    break
                time.sleep(1.0 / args.js_rate)

        got: Counter[int] = Counter()
        got_at: dict[int, float] = {}  # message number -> first delivery
        deliveries: list[float] = []
        cons_errors: Counter[str] = Counter()
        redelivered = 0
        stop_cons = threading.Event()

        def js_consumer() -> None:
            nonlocal redelivered
            consumer = retry(lambda: cnc.jetstream(timeout=5).consumer(STREAM, CONSUMER))
            while not stop_cons.is_set():
                it = consumer.messages(
                    max_messages=100,
                    expires=args.expires,
                    error_cb=lambda e: cons_errors.update([type(e).__name__]),
                )
                with it:
                    while not stop_cons.is_set():
                        try:
                            msg = it.next(timeout=0.5)
                        except NatsTimeoutError:
                            continue
                        except SubscriptionClosedError:
                            cons_errors["iterator ended (restarted)"] += 1
                            break
                        except NatsError as exc:  # missed heartbeats: it pulled again
                            cons_errors[type(exc).__name__] += 1
                            continue
                        now = time.monotonic()
                        deliveries.append(now)
                        got_at.setdefault(int(msg.data), now)
                        got[int(msg.data)] += 1
                        redelivered += msg.metadata.num_delivered > 1
                        try:
                            msg.ack()
                        except NatsError as exc:
                            cons_errors[f"ack: {type(exc).__name__}"] += 1

        stop_js = threading.Event()
        t_start = time.monotonic()
        chaos_until = t_start + args.seconds - min(10.0, args.seconds / 3)
        chaos = Chaos(servers, rng, args.kill_every, chaos_until)
        workers = [
            threading.Thread(target=core_publisher, name="soak-core-pub", daemon=True),
            threading.Thread(target=js_publisher, name="soak-js-pub", daemon=True),
            threading.Thread(target=js_consumer, name="soak-js-sub", daemon=True),
        ]
        for w in [*workers, chaos]:
            w.start()
        time.sleep(max(0.0, t_start + args.seconds - time.monotonic()))
        chaos.stop.set()
        chaos.join(30)
        stop_pub.set()
        t_end = time.monotonic()
        workers[0].join(10)
        stop_js.set()  # the message in hand: retried until acked, but not for long
        workers[1].join(15)

        # drain: core messages still under way, the consumer catching up
        try:
            pub.flush(timeout=5)
        except (NatsError, TimeoutError):
            pass
        drain_until = time.monotonic() + min(30.0, 5.0 + args.seconds / 8)
        last = -1
        while time.monotonic() < drain_until:
            done = all(got[i] for i in acked)
            if done and len(received) == last:
                break
            last = len(received)
            time.sleep(0.5)
        stop_cons.set()
        workers[2].join(10)

        # read the whole stream back
        stored: Counter[int] = Counter()
        info = retry(lambda: js.stream_info(STREAM))
        total = info.state.messages
        oc = js.ordered_consumer(STREAM)
        read_until = time.monotonic() + 30
        while sum(stored.values()) < total and time.monotonic() < read_until:
            try:
                for m in oc.fetch(1000, max_wait=2):
                    stored[int(m.data)] += 1
            except (NatsError, TimeoutError):
                continue

        # ------------------------------------------------------- figures
        got_core = set(received)
        sent = [(s, st, sub_status[s]) for s, st in enumerate(pub_status) if st]
        lost_pub: Counter[str] = Counter(st for s, st, _ in sent if s not in got_core)
        lost_sub: Counter[str] = Counter(sst for s, _, sst in sent if s not in got_core)
        published_by: Counter[str] = Counter(st for _, st, _ in sent)
        missing = sorted(i for i in acked if not stored[i])
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        # how long an acked message waited for the consumer (from its ack to its delivery)
        waits = sorted(max(0.0, got_at[i] - t) for i, t in acked_at.items() if i in got_at)
        report.update(
            kills=len(chaos.kills),
            kill_times=[round(t - t_start, 2) for t, _ in chaos.kills],
            restart_retries=chaos.restart_failures,
            core_published=len(sent),
            core_published_by_status=dict(published_by),
            core_refused=dict(refused),
            core_received=len(got_core),
            core_received_twice=len(received) - len(got_core),
            core_lost=sum(lost_pub.values()),
            core_lost_by_publisher_status=dict(lost_pub),
            core_lost_by_subscriber_status=dict(lost_sub),
            js_acked=len(acked),
            js_duplicate_acks=dup_acks,
            js_gave_up=len(gave_up),
            js_publish_errors=dict(pub_errors),
            js_longest_publish_stall=round(gap_max(list(acked_at.values()), t_start, t_end), 2),
            stream_messages=total,
            stream_read_back=sum(stored.values()),
            acked_missing=len(missing),
            acked_missing_first=missing[:10],
            duplicates_stored=duplicates,
            consumer_received=len(got),
            consumer_redelivered=redelivered,
            consumer_missing_acked=sum(1 for i in acked if not got[i]),
            consumer_longest_stall=round(gap_max(deliveries, t_start, t_end), 2),
            consumer_latency_max=round(max(waits, default=0.0), 2),
            consumer_latency_p99=round(waits[int(len(waits) * 0.99)] if waits else 0.0, 3),
            consumer_latency_median=round(waits[len(waits) // 2] if waits else 0.0, 3),
            consumer_errors=dict(cons_errors),
            connection_errors=dict(conn_errors),
            reconnects={name: c.stats.reconnects for name, c in zip(names, clients, strict=True)},
        )
    finally:
        for c in clients:
            try:
                c.close()
            except Exception:
                pass
        stop_cluster(servers)
    gc.collect()
    settle = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < settle:
        time.sleep(0.1)
    report.update(
        threads_before=threads_before,
        threads_after=threading.active_count(),
        threads_left=sorted(t.name for t in threading.enumerate())[:20],
        fds_before=fds_before,
        fds_after=fd_count(),
    )
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="length of the run (120)")
    p.add_argument("--kill-every", type=float, default=5.0, help="seconds between kills (5)")
    p.add_argument("--core-rate", type=int, default=500, help="core msgs/s (500)")
    p.add_argument("--js-rate", type=float, default=200.0, help="JetStream publishes/s at most")
    p.add_argument("--expires", type=float, default=10.0, help="consumer pull expiry, s (10)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.seed is None:
        args.seed = int(time.time())
    if args.seconds < 5:
        p.error("--seconds must be at least 5")
    started = time.monotonic()
    r = run(args)
    r["wall_seconds"] = round(time.monotonic() - started, 1)
    for key, value in r.items():
        print(f"{key:32} {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    problems = []
    if r.get("acked_missing", 1):
        problems.append(f"{r.get('acked_missing')} acked message(s) missing from the stream")
    if r.get("duplicates_stored", 1):
        problems.append(f"{r.get('duplicates_stored')} duplicate(s) stored")
    if r["threads_after"] > r["threads_before"]:
        problems.append(f"threads leaked: {r['threads_before']} -> {r['threads_after']}")
    if r["fds_after"] > r["fds_before"]:
        problems.append(f"fds leaked: {r['fds_before']} -> {r['fds_after']}")
    for line in problems:
        print(f"FAIL: {line}", file=sys.stderr)
    if not problems:
        print("OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
