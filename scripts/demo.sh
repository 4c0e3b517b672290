#!/usr/bin/env bash
# Install the package into .venv if needed, then run `adherence demo` (arguments are passed on).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/adherence ]]; then
    echo "== installing into .venv (once)" >&2
    "${PYTHON:-python3}" -m venv .venv
    .venv/bin/python -m pip install -q -e . >&2
fi
exec .venv/bin/adherence demo "$@"
