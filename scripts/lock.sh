#!/usr/bin/env bash
# Refresh the lock files that `scripts/install.sh --locked` installs: requirements/test.txt (base
# dependencies + extras test,spark,postgres, as CI installs them) and requirements/base.txt (base
# dependencies only, held to the same versions). Exact pins for Python 3.11 on Linux: the newest
# versions pyproject.toml allows, resolved by pip itself (pip-tools), as CI's unlocked install does.
# Run it after changing dependencies in pyproject.toml, or to take newer versions once CI has passed
# on them; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "lock with Python 3.11"'
if [ ! -x .venv/bin/pip-compile ]; then
    .venv/bin/python -m pip install --quiet pip-tools
fi
compile=(.venv/bin/pip-compile pyproject.toml --quiet --upgrade --strip-extras
    --annotation-style line --no-emit-index-url --no-emit-find-links)
export CUSTOM_COMPILE_COMMAND=scripts/lock.sh
"${compile[@]}" --extra test --extra spark --extra postgres -o requirements/test.txt
"${compile[@]}" --constraint requirements/test.txt -o requirements/base.txt
