#!/usr/bin/env bash
# Rebuild docs/img/report.png: the demo store, the coach's report of it, and a headless Chromium
# screenshot (needs Debian's chromium; run after ./scripts/test.sh has made .venv).
#
#   ./scripts/report_screenshot.sh [WIDTHxHEIGHT]     (default 1200x1250)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1200x1250}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m adherence.cli demo --store "$tmp/demo.sqlite" --no-progress >/dev/null
.venv/bin/python -m adherence.cli report --store "$tmp/demo.sqlite" \
    --plans sample_data/care_plans.json --out "$tmp/report.html" >/dev/null
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$tmp/profile" --window-size="${size/x/,}" \
    --screenshot="$PWD/docs/img/report.png" "file://$tmp/report.html" 2>/dev/null
echo "wrote docs/img/report.png ($size)"
