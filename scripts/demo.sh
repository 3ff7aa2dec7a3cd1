#!/usr/bin/env bash
# Scans the bundled demo organization: starts the emulator with the demo scenario, runs the
# release binary against it through AWS_ENDPOINT_URL, prints where the run is, stops the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
binary=target/release/macie-audit
[ -x "$python" ] || { echo "missing $python: run 'make venv'" >&2; exit 3; }
[ -x "$binary" ] || { echo "missing $binary: run 'cargo build --release'" >&2; exit 3; }

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ready=$(mktemp)
"$python" tests/emulator/emulator.py --port "$port" --quiet \
    --scenario tests/emulator/scenarios/demo.toml >"$ready" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null; rm -f "$ready"' EXIT

for _ in $(seq 1 600); do
    grep -q '^READY ' "$ready" && break
    kill -0 "$emulator" 2>/dev/null || { echo "the emulator failed to start" >&2; exit 2; }
    sleep 0.1
done
grep -q '^READY ' "$ready" || { echo "the emulator did not become ready" >&2; exit 2; }
echo "emulator ready on http://127.0.0.1:$port with the demo organization"

# Static test keys of the emulated management account; nothing from the user's own AWS setup.
status=0
env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    "$binary" scan --config tests/emulator/scenarios/demo-config.toml "$@" || status=$?

case "$status" in
    0|1|2) echo "demo finished: exit code $status (0 compliant, 1 failures found, 2 incomplete); see the reports directory above" ;;
    *) echo "demo failed with exit code $status" >&2; exit "$status" ;;
esac
