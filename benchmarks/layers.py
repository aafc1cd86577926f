#!/usr/bin/env python3
"""The layers above the core: JetStream, Key-Value, Object Store, services (issue #17).

A thin wrapper: the benchmark is :mod:`pynats.bench_layers`, also run as
``pynats bench layers`` (same options, same table). See its docstring, or
``python benchmarks/layers.py --help``, for the workloads.

    python benchmarks/layers.py                     # 3 rounds, every client
    python benchmarks/layers.py --repeat 1 --only js_async_256,js_async_4096
    python benchmarks/layers.py --n 100000 --big 2  # the issue's 100k, 64 MiB objects
"""

from __future__ import annotations

import sys

from pynats.bench_layers import main

if __name__ == "__main__":
    sys.exit(main())
