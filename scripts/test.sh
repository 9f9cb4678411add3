#!/usr/bin/env bash
# Sets everything up (test tools included), then runs the whole test suite: core and plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
tests=(tests)
for dir in plugins/*/tests; do [ -d "$dir" ] && tests+=("$dir"); done
exec .venv/bin/python -m pytest "${tests[@]}" "$@"
