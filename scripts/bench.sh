#!/usr/bin/env bash
# The benchmark (a measurement, not a test): `scripts/bench.sh [quick|full] [bench.py options]`.
# Builds the release binary, generates the emulated organization, runs the scan with a per-request
# latency, prints the measurements and appends a row to BENCHMARKS.md. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-quick}
[ $# -gt 0 ] && shift
case "$size" in
    quick|full) ;;
    *) echo "usage: scripts/bench.sh [quick|full] [--latency-ms MS] [--emulator replay|moto] [--fresh] [--no-append]" >&2; exit 3 ;;
esac
python=.venv/bin/python
[ -x "$python" ] || { echo "missing $python: run 'make venv'" >&2; exit 3; }
command -v /usr/bin/time >/dev/null || { echo "missing /usr/bin/time (GNU time, package 'time')" >&2; exit 3; }
cargo build --release --quiet
exec "$python" bench/bench.py --size "$size" "$@"
