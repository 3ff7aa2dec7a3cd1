#!/usr/bin/env bash
# Installs Debian's `chromium` package when /usr/bin/chromium is missing (the browser test,
# tests/browser.rs, drives it headless). Idempotent: prints nothing and changes nothing when the
# browser is already there. Needs root (apt-get); `make test` calls it before cargo test.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: /usr/bin/chromium is missing and installing it needs root (apt-get)" >&2
    exit 1
fi

echo "ensure-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "ensure-chromium: apt-get failed" >&2
    exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-chromium: apt-get finished but /usr/bin/chromium is still missing" >&2
    exit 1
fi
echo "ensure-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed" >&2
