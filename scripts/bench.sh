#!/usr/bin/env bash
# Sets everything up, then runs the benchmark on the embedded samples (extra args go to bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/srarena bench "$@"
