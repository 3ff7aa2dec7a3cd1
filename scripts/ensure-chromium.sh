#!/usr/bin/env bash
# Installs Debian's `chromium` and `poppler-utils` packages when /usr/bin/chromium or
# /usr/bin/pdftotext is missing (the browser test, tests/browser.rs, drives Chromium headless and
# reads the PDF it prints with pdftotext). Idempotent: prints nothing and changes nothing when both
# are there. Needs root (apt-get); `make test` calls it before cargo test.
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/pdftotext ] || packages+=(poppler-utils)
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: ${packages[*]} missing and installing needs root (apt-get)" >&2
    exit 1
fi

echo "ensure-chromium: installing Debian's ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "ensure-chromium: apt-get failed" >&2
    exit 1
fi

for tool in /usr/bin/chromium /usr/bin/pdftotext; do
    if [ ! -x "$tool" ]; then
        echo "ensure-chromium: apt-get finished but $tool is still missing" >&2
        exit 1
    fi
done
echo "ensure-chromium: installed ${packages[*]}" >&2
