#!/usr/bin/env bash
# Install Vitals and run the main job end to end on built-in sample data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/vitals demo "$@"
