#!/usr/bin/env bash
# Install what is missing, then run every check: ruff (lint + format), mypy, pytest.
#
#   ./scripts/test.sh [extra pytest arguments]
#
# Debian packages (mosquitto, influxdb 1.6.7, victoria-metrics, dbus, chromium) are installed with
# apt-get when run as root; otherwise a missing one is reported and the run fails. Python packages
# go into .venv (created if needed; refreshed when pyproject.toml changes). Every check must pass:
# the script stops at the first failure, and a pytest run that collects no test fails too.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(mosquitto influxdb victoria-metrics dbus chromium)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        echo "== installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    echo "== creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
    echo "== installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[dev]'
    rm -f .venv/.installed-* && touch "$stamp"
fi

echo "== ruff check"
.venv/bin/ruff check .
echo "== ruff format --check"
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import contracts (import-linter)"
.venv/bin/lint-imports
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [[ $rc == 5 ]]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit $rc
