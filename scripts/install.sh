#!/usr/bin/env bash
# Create .venv and install Vitals into it.
# Usage: scripts/install.sh [--locked] [extras, e.g. test,spark]
# --locked first installs the exact pins of requirements/ (test.txt, which covers every extra, when
# extras are given, else base.txt; see scripts/lock.sh), then Vitals itself without further deps.
set -euo pipefail
cd "$(dirname "$0")/.."
locked=false
extras=""
for arg in "$@"; do
    case "$arg" in
        --locked) locked=true ;;
        -*) echo "unknown option: $arg" >&2; exit 2 ;;
        *) extras="$arg" ;;
    esac
done
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
pip_install=(.venv/bin/python -m pip install --quiet)
"${pip_install[@]}" --upgrade pip
if "$locked"; then
    lock=requirements/base.txt
    if [ -n "$extras" ]; then
        lock=requirements/test.txt
    fi
    "${pip_install[@]}" -r "$lock"
    "${pip_install[@]}" --no-deps -e .
elif [ -n "$extras" ]; then
    "${pip_install[@]}" -e ".[${extras}]"
else
    "${pip_install[@]}" -e .
fi
