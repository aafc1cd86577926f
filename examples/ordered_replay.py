"""Replay a stream in order with an ordered consumer (blocking client).

An ordered consumer needs nothing managed: no durable, no acks. It reads the
stream from the start (or from a sequence or a time), in order, and recreates
itself from the last sequence + 1 after a gap, a missed heartbeat or a
reconnect. Here it rebuilds account balances from a ledger of transfers.

    python examples/ordered_replay.py [nats://127.0.0.1:4222]

The server URL comes from argv[1] or the NATS_URL environment variable; without
either, an embedded nats-server with JetStream (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from contextlib import ExitStack

import nats_sync

TRANSFERS = [
    ("alice", "bob", 30),
    ("bob", "carol", 10),
    ("carol", "alice", 5),
    ("alice", "carol", 7),
]


def main(url: str) -> None:
    with nats_sync.connect(url, name="ledger") as nc:
        js = nc.jetstream()
        js.create_stream(name="LEDGER", subjects=["ledger.>"])
        for src, dst, amount in TRANSFERS:
            body = json.dumps({"from": src, "to": dst, "amount": amount}).encode()
            js.publish(f"ledger.transfer.{src}", body)

        balances: Counter[str] = Counter({"alice": 100, "bob": 100, "carol": 100})
        oc = js.ordered_consumer("LEDGER")
        for msg in oc.fetch(len(TRANSFERS), max_wait=2):
            t = json.loads(msg.data)
            balances[t["from"]] -= t["amount"]
            balances[t["to"]] += t["amount"]
            print(f"#{msg.metadata.sequence.stream}: {t['from']} -> {t['to']} {t['amount']}")
        print("balances:", dict(sorted(balances.items())))
        js.delete_stream("LEDGER")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer(jetstream=True)).url
            print(f"started an embedded nats-server at {url}")
        main(url)
    return 0


if __name__ == "__main__":
    sys.exit(run())
