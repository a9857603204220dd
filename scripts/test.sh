#!/usr/bin/env bash
# Install everything the tests need (Python packages, Java for Spark) and run the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not spark".
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v java >/dev/null 2>&1; then
    echo "installing Java for the Spark tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
scripts/install.sh test,spark
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "no tests ran" >&2
    exit 1
fi
exit "$status"
