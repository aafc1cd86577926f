"""``pynats bench load``: load a NATS server with N publishers and N subscribers.

Each publisher and each subscriber is a thread with its own :mod:`nats_sync`
connection. Publishers share the ``--msgs`` messages between them and put a
timestamp (monotonic nanoseconds) in the first 8 bytes of each payload;
subscribers measure the end-to-end latency of every message from it.

* core NATS: every subscriber receives every message (fan-out);
* ``--js``: publishers publish with acks to a stream on the subject (created,
  and deleted afterwards unless ``--keep``); subscribers share one pull
  consumer (explicit acks), so together they receive the ``--msgs`` messages;
  a fetch returns whole batches, so its latency includes up to 50 ms of batching.

The run stops once every message arrived or after ``--timeout`` seconds,
whichever comes first; what arrived by then is reported.
"""

from __future__ import annotations

import dataclasses
import struct
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import nats_sync

__all__ = ["ClientStats", "LoadConfig", "LoadResult", "percentile", "run_load"]

_STAMP = struct.Struct(">q")
STAMP_SIZE = _STAMP.size


@dataclasses.dataclass(frozen=True)
class LoadConfig:
    """What to run."""

    subject: str
    pubs: int
    subs: int
    msgs: int
    size: int
    timeout: float
    jetstream: bool = False
    stream: str = "BENCH"
    keep: bool = False


@dataclasses.dataclass
class ClientStats:
    """One publisher's or subscriber's figures."""

    role: str
    index: int
    msgs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    latencies_ns: list[int] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def msgs_per_sec(self) -> float:
        """Messages per second (0 when nothing was timed)."""
        return self.msgs / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_sec(self) -> float:
        """Payload megabytes (10^6 bytes) per second."""
        return self.bytes / self.seconds / 1e6 if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures as a JSON-friendly dict (latencies in milliseconds)."""
        return _summary(
            self.role, self.index, self.msgs, self.bytes, self.seconds, self.latencies_ns
        ) | {"error": self.error}


def percentile(sorted_values: list[int], p: float) -> int:
    """The ``p``-th percentile (nearest rank) of ascending values (0 if none)."""
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def _summary(
    role: str, index: int | None, msgs: int, nbytes: int, seconds: float, lat_ns: list[int]
) -> dict[str, Any]:
    lat = sorted(lat_ns)
    ms = 1e-6
    return {
        "role": role,
        "client": index,
        "msgs": msgs,
        "bytes": nbytes,
        "seconds": round(seconds, 6),
        "msgs_per_sec": round(msgs / seconds, 1) if seconds > 0 else 0.0,
        "mb_per_sec": round(nbytes / seconds / 1e6, 3) if seconds > 0 else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 50) * ms, 3),
            "p90": round(percentile(lat, 90) * ms, 3),
            "p99": round(percentile(lat, 99) * ms, 3),
            "max": round((lat[-1] if lat else 0) * ms, 3),
        }
        if lat
        else None,
    }


@dataclasses.dataclass
class LoadResult:
    """Everything a run measured."""

    config: LoadConfig
    publishers: list[ClientStats]
    subscribers: list[ClientStats]
    seconds: float
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-friendly data: config, per-client rows, aggregates."""
        pubs, subs = self.publishers, self.subscribers
        agg: dict[str, Any] = {}
        if pubs:
            agg["pub"] = _summary(
                "pub",
                None,
                sum(p.msgs for p in pubs),
                sum(p.bytes for p in pubs),
                max(p.seconds for p in pubs),
                [],
            )
        if subs:
            agg["sub"] = _summary(
                "sub",
                None,
                sum(s.msgs for s in subs),
                sum(s.bytes for s in subs),
                max(s.seconds for s in subs),
                [x for s in subs for x in s.latencies_ns],
            )
        cfg = dataclasses.asdict(self.config)
        if not self.config.jetstream:
            del cfg["stream"], cfg["keep"]
        return {
            "config": cfg,
            "seconds": round(self.seconds, 6),
            "complete": self.complete,
            "publishers": [p.summary() for p in pubs],
            "subscribers": [s.summary() for s in subs],
            "aggregate": agg,
        }


Connect = Callable[[str], nats_sync.Client]


def _payload(size: int) -> bytearray:
    return bytearray(b"x" * size)


def _publisher(
    cfg: LoadConfig,
    connect: Connect,
    stats: ClientStats,
    count: int,
    ready: threading.Barrier,
    deadline: list[float],
) -> None:
    buf = _payload(cfg.size)
    nc: nats_sync.Client | None = None
    try:
        nc = connect(f"pynats bench load pub {stats.index}")
        js = nc.jetstream() if cfg.jetstream else None
        ready.wait()
        pack, now, end = _STAMP.pack_into, time.perf_counter_ns, deadline[0]
        t0 = time.perf_counter()
        for _ in range(count):
            pack(buf, 0, now())
            data = bytes(buf)
            if js is not None:
                js.publish(cfg.subject, data)
            else:
                nc.publish(cfg.subject, data)
            stats.msgs += 1
            if stats.msgs & 0x3F == 0 and time.monotonic() > end:
                break
        if js is None:
            nc.flush(max(1.0, end - time.monotonic()))
        stats.seconds = time.perf_counter() - t0
        stats.bytes = stats.msgs * cfg.size
    except threading.BrokenBarrierError:
        stats.error = stats.error or "aborted"
    except Exception as e:  # reported in the table, the other clients go on
        stats.error = f"{type(e).__name__}: {e}"
        ready.abort()
    finally:
        if nc is not None:
            nc.close()


def _record(stats: ClientStats, data: bytes, t0: int) -> None:
    received = time.perf_counter_ns()
    stats.msgs += 1
    stats.bytes += len(data)
    stats.seconds = (received - t0) / 1e9
    if len(data) >= STAMP_SIZE:
        stats.latencies_ns.append(received - _STAMP.unpack_from(data, 0)[0])


def _core_subscriber(
    cfg: LoadConfig,
    connect: Connect,
    stats: ClientStats,
    ready: threading.Barrier,
    start_ns: list[int],
    deadline: list[float],
) -> None:
    nc: nats_sync.Client | None = None
    try:
        nc = connect(f"pynats bench load sub {stats.index}")
        sub = nc.subscribe(cfg.subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
        nc.flush()
        ready.wait()
        while stats.msgs < cfg.msgs:
            left = deadline[0] - time.monotonic()
            if left <= 0:
                break
            try:
                msg = sub.next_msg(timeout=min(left, 0.5))
            except nats_sync.NatsTimeoutError:
                continue
            _record(stats, msg.data, start_ns[0])
    except threading.BrokenBarrierError:
        stats.error = stats.error or "aborted"
    except Exception as e:
        stats.error = f"{type(e).__name__}: {e}"
        ready.abort()
    finally:
        if nc is not None:
            nc.close()


class _Shared:
    """The JetStream subscribers' common count (they share one consumer)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.got = 0
        self.lock = threading.Lock()

    def left(self) -> int:
        with self.lock:
            return self.total - self.got

    def add(self, n: int) -> None:
        with self.lock:
            self.got += n


def _js_subscriber(
    cfg: LoadConfig,
    connect: Connect,
    stats: ClientStats,
    consumer_name: str,
    shared: _Shared,
    ready: threading.Barrier,
    start_ns: list[int],
    deadline: list[float],
) -> None:
    nc: nats_sync.Client | None = None
    try:
        nc = connect(f"pynats bench load sub {stats.index}")
        consumer = nc.jetstream().consumer(cfg.stream, consumer_name)
        ready.wait()
        while True:
            left, wait = shared.left(), deadline[0] - time.monotonic()
            if left <= 0 or wait <= 0:
                break
            # a short wait: a fetch returns whole, so its wait adds to the latency
            batch = consumer.fetch(min(100, left), max_wait=min(wait, 0.05))
            n = 0
            for msg in batch:
                _record(stats, msg.data, start_ns[0])
                msg.ack()
                n += 1
            shared.add(n)
        nc.flush(1.0)
    except threading.BrokenBarrierError:
        stats.error = stats.error or "aborted"
    except Exception as e:
        stats.error = f"{type(e).__name__}: {e}"
        ready.abort()
    finally:
        if nc is not None:
            nc.close()


def _shares(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def run_load(cfg: LoadConfig, connect: Connect, js: Any = None) -> LoadResult:
    """Run the load; ``connect(name)`` opens one connection per client, ``js``
    (a JetStream context, needed with ``cfg.jetstream``) sets the stream up."""
    consumer_name = ""
    if cfg.jetstream:
        if js is None:
            raise ValueError("a JetStream run needs a JetStream context")
        js.create_stream(name=cfg.stream, subjects=[cfg.subject])
        consumer_name = f"pynats-bench-{uuid.uuid4().hex[:10]}"
        if cfg.subs:
            js.create_consumer(
                cfg.stream,
                durable_name=consumer_name,
                ack_policy="explicit",
                deliver_policy="new",
                filter_subject=cfg.subject,
                inactive_threshold=max(60.0, cfg.timeout * 2),
            )
    pubs = [ClientStats("pub", i + 1) for i in range(cfg.pubs)]
    subs = [ClientStats("sub", i + 1) for i in range(cfg.subs)]
    # the subscribers' expected count: core fan-out, JetStream shared
    shared = _Shared(cfg.msgs)
    start_ns = [0]
    deadline = [time.monotonic() + cfg.timeout]

    def started() -> None:  # runs once when every client is connected and ready
        deadline[0] = time.monotonic() + cfg.timeout
        start_ns[0] = time.perf_counter_ns()

    ready = threading.Barrier(cfg.pubs + cfg.subs, action=started)
    threads = [
        threading.Thread(
            target=_publisher,
            args=(cfg, connect, st, share, ready, deadline),
            name=f"bench-pub-{st.index}",
            daemon=True,
        )
        for st, share in zip(pubs, _shares(cfg.msgs, max(1, cfg.pubs)), strict=False)
    ]
    for st in subs:
        if cfg.jetstream:
            args: tuple[Any, ...] = (cfg, connect, st, consumer_name, shared, ready, start_ns)
            target: Callable[..., None] = _js_subscriber
        else:
            args, target = (cfg, connect, st, ready, start_ns), _core_subscriber
        threads.append(
            threading.Thread(
                target=target,
                args=(*args, deadline),
                name=f"bench-sub-{st.index}",
                daemon=True,
            )
        )
    t0 = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            # the connect/setup phase gets its own grace on top of --timeout
            t.join(cfg.timeout + 30.0)
    finally:
        if cfg.jetstream and js is not None:
            try:
                if cfg.keep:
                    if consumer_name and cfg.subs:
                        js.delete_consumer(cfg.stream, consumer_name)
                else:
                    js.delete_stream(cfg.stream)
            except nats_sync.NatsError:
                pass
    seconds = time.perf_counter() - t0
    sent = sum(p.msgs for p in pubs)
    if cfg.jetstream:
        complete = sent == cfg.msgs and (not subs or shared.got >= cfg.msgs)
    else:
        complete = sent == cfg.msgs and all(s.msgs >= cfg.msgs for s in subs)
    complete = complete and not any(x.error for x in (*pubs, *subs))
    return LoadResult(cfg, pubs, subs, seconds, complete)
