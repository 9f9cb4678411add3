#!/usr/bin/env bash
# Creates .venv and installs srarena, its extras and every plugin under plugins/ (editable).
# Idempotent: skips pip when nothing it installs from has changed since the last run.
# Usage: scripts/setup.sh [test]   ("test" adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
EXTRAS="plots,parquet,iqa,datasets"
NEEDED_MB=${SRARENA_SETUP_NEEDED_MB:-7600}
if [ "${1:-}" = "test" ]; then EXTRAS="$EXTRAS,test,ray"; fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

stamp="$VENV/.srarena-setup-$(cat pyproject.toml plugins/*/pyproject.toml scripts/setup.sh 2>/dev/null \
  | { echo "$EXTRAS"; cat; } | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  # torch 2.14.1 is a CUDA build (with its nvidia-* and triton wheels): the venv takes ~7.3 GB
  free_mb=$(df -Pm "$VENV" | awk 'NR == 2 {print $4}')
  if ! compgen -G "$VENV/lib/python*/site-packages/torch-2.14.1.dist-info" >/dev/null \
    && [ "$free_mb" -lt "$NEEDED_MB" ]; then
    echo "setup: $VENV needs about $NEEDED_MB MB free on its disk; only $free_mb MB are." >&2
    echo "setup: free some space (or remove a stale $VENV) and run this again." >&2
    exit 1
  fi
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip
  # torch first, pinned to the release the project is tested with (and torchvision beside it)
  "$VENV/bin/pip" install --quiet --no-cache-dir "torch==2.14.1" "torchvision==0.29.1"
  plugins=()
  for dir in plugins/*/; do [ -f "$dir/pyproject.toml" ] && plugins+=(-e "$dir"); done
  "$VENV/bin/pip" install --quiet --no-cache-dir -e ".[$EXTRAS]" "${plugins[@]}"
  rm -f "$VENV"/.srarena-setup-*
  touch "$stamp"
fi

# test mode: headless Chromium for the report's browser test (tests/test_report.py)
if [ "${1:-}" = "test" ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null \
  && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
fi
