#!/usr/bin/env bash
# Sets everything up (test tools included), then runs the whole test suite: core and plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# pyproject.toml's testpaths name the core's tests and every plugin's: a bare `pytest` runs both
exec .venv/bin/python -m pytest "$@"
