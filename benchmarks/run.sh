#!/usr/bin/env bash
# Runs every benchmark in one run against one embedded nats-server:
# pynats (sync, asyncio, Trio) beside nats-py and nats.go (when Go is installed),
# plus the parser and memory benchmarks; every client runs 3 times, interleaved,
# and the table keeps each figure's best. Extra arguments go to `pynats bench`.
#   benchmarks/run.sh                      # full sizes
#   benchmarks/run.sh --n 2000 --r 100     # tiny (what CI runs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers="$here/../../shared/peers"
[ -d "$peers" ] || peers=""
exec python -m pynats.bench ${peers:+--peers "$peers"} --repeat 3 --parser --memory 1000000 "$@"
