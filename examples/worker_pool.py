"""A pool of workers on a queue group (blocking client): each job goes to one worker.

Four workers subscribe to "jobs.resize" in the queue group "resizers", each with a
callback (callbacks run on worker threads, never on the reader). A producer sends
twenty jobs as requests; every job is answered exactly once, by one worker, and the
program prints how the jobs were spread.

    python examples/worker_pool.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from contextlib import ExitStack

import nats_sync

JOBS = 20


def main(url: str) -> None:
    done: Counter[str] = Counter()
    lock = threading.Lock()
    with (
        nats_sync.connect(url, name="workers") as workers,
        nats_sync.connect(url, name="producer") as producer,
    ):
        for n in range(4):
            name = f"worker-{n}"

            def handle(msg: nats_sync.Msg, name: str = name) -> None:
                with lock:
                    done[name] += 1
                msg.respond(b"resized " + msg.data, headers={"Worker": name})

            workers.subscribe("jobs.resize", queue="resizers", cb=handle)
        workers.flush(timeout=2)  # the server knows every member before the first job

        answered_by = Counter()
        for i in range(JOBS):
            reply = producer.request("jobs.resize", b"image-%d.png" % i, timeout=2)
            answered_by[reply.headers["Worker"] if reply.headers else "?"] += 1
        print(f"{sum(answered_by.values())} jobs answered by {len(answered_by)} workers")
        for name, count in sorted(answered_by.items()):
            print(f"  {name}: {count}")
        workers.drain()  # finish what is in flight, then close
    assert sum(done.values()) == JOBS, done  # each job handled exactly once
    print("each job was handled once")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer()).url
            print(f"started an embedded nats-server at {url}")
        main(url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
