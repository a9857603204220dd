#!/usr/bin/env bash
# Install everything the tests need (Python packages, Java for Spark, PostgreSQL for the store,
# Chromium for the console's browser tests) and run the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not spark" (or -n 0 for one process).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v java >/dev/null 2>&1; then
    echo "installing Java for the Spark tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if ! command -v pg_ctl >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    # the store tests start their own throwaway server on 127.0.0.1: no default cluster wanted
    echo "installing PostgreSQL for the health-store tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common >/dev/null
    as_root sed -i -E 's/^#?[[:space:]]*create_main_cluster.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "installing Chromium for the console's browser tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
scripts/install.sh test,spark,postgres
set +e
# two worker processes (pytest-xdist), each test module on one of them so that its fixtures are
# made once: about 1.5x faster than one process on a 2-core machine
.venv/bin/python -m pytest -n 2 --dist loadscope "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "no tests ran" >&2
    exit 1
fi
exit "$status"
