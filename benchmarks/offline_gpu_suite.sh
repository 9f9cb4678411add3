#!/usr/bin/env bash
# Runs benchmarks/gpu_suite.py on a GPU machine without network access whose python3 already
# holds PyTorch (CUDA), timm, numba, typer, rich, pluggy, pandas and Pillow, as a cloud GPU
# image does. It installs srarena, the five technique plugins and the two wheels such
# images lack (pyiqa, platformdirs) into a scratch folder, with no download and no build
# isolation, then runs the suite at the study's sizes.
#
#   bash benchmarks/offline_gpu_suite.sh --prepare            # here, with network: fetch the
#                                                             # wheels into .whl/ (git-ignored)
#   bash benchmarks/offline_gpu_suite.sh OUT_DIR [ARGS...]    # there: OUT_DIR/gpu_suite.json,
#                                                             # OUT_DIR/gpu_suite.log
# ARGS go to gpu_suite.py (e.g. --only dan-v1 niqe). SUITE_TIMEOUT (seconds, default 540)
# stops the suite in time; the JSON keeps every case that finished.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--prepare" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    -d "$WHEELS" "pyiqa==0.1.16" "platformdirs>=3"
  grep -qx "/$WHEELS/" .git/info/exclude 2>/dev/null || echo "/$WHEELS/" >> .git/info/exclude
  ls -l "$WHEELS"
  exit 0
fi

out=${1:?usage: offline_gpu_suite.sh OUT_DIR [gpu_suite.py ARGS...] (or --prepare)}
shift
mkdir -p "$out"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
packages=(. plugins/srarena-{apa,blindsr,dan,fastgan,moesr})
"$PYTHON" -m pip install --quiet --no-index --no-deps --no-build-isolation --no-compile \
  --no-cache-dir --target "$site" "$WHEELS"/*.whl "${packages[@]}" || exit 1
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 SRARENA_OFFLINE=1 SRARENA_HOME="$site/home"
{
  "$PYTHON" -c "import srarena, torch; print('srarena from', srarena.__file__, '| torch', \
torch.__version__, '| cuda', torch.cuda.is_available())" &&
  timeout "${SUITE_TIMEOUT:-540}" "$PYTHON" benchmarks/gpu_suite.py \
    --out "$out/gpu_suite.json" "$@"
} 2>&1 | tee "$out/gpu_suite.log"
