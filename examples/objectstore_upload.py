"""Upload a file to an Object Store bucket with a progress bar, then download it (blocking).

The file goes up in chunks (128 KiB by default, 64 KiB here) as JetStream
publishes; ``progress(done, total)`` runs after each one. The download streams the
chunks into another file and checks the size and the SHA-256 digest at the end.

    python examples/objectstore_upload.py [nats://127.0.0.1:4222] [FILE]

Without FILE a 1 MiB file of random bytes is made. The server URL comes from
argv[1] or the NATS_URL environment variable; without either, an embedded
nats-server with JetStream (pynats.server.NatsServer) is started.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import nats_sync


def progress_bar(label: str) -> Callable[[int, int | None], None]:
    last = -1

    def show(done: int, total: int | None) -> None:
        nonlocal last
        if not total:
            print(f"{label}: {done} bytes", flush=True)
            return
        pct = done * 100 // total
        if pct // 10 != last // 10 or done == total:  # a line every 10%
            last = pct
            bar = "#" * (pct // 5)
            print(f"{label}: [{bar:<20}] {pct:3d}% {done}/{total} bytes", flush=True)

    return show


def main(url: str, source: Path, workdir: Path) -> None:
    with nats_sync.connect(url, name="uploader") as nc:
        js = nc.jetstream()
        obs = js.create_object_store(bucket="uploads", description="example uploads")

        info = obs.put_file(source, source.name, chunk_size=64 * 1024, progress=progress_bar("up"))
        print(f"stored {info.name}: {info.size} bytes in {info.chunks} chunks, {info.digest}")

        target = workdir / ("copy-" + source.name)
        obs.get_file(source.name, target, progress=progress_bar("down"))
        same = (
            hashlib.sha256(target.read_bytes()).digest()
            == hashlib.sha256(source.read_bytes()).digest()
        )
        print("downloaded copy is identical" if same else "downloaded copy DIFFERS")
        print("bucket holds:", [(o.name, o.size) for o in obs.list()])
        js.delete_object_store("uploads")


def run() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL")
    with ExitStack() as stack:
        if not url:
            from pynats.server import NatsServer

            url = stack.enter_context(NatsServer(jetstream=True)).url
            print(f"started an embedded nats-server at {url}")
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if len(sys.argv) > 2:
            source = Path(sys.argv[2])
        else:
            source = workdir / "random.bin"
            source.write_bytes(os.urandom(1024 * 1024))
        main(url, source, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(run())
