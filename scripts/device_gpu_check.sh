#!/usr/bin/env bash
# The GPU check on one of this project's GPU machines (no network), as one prepared command.
#
# Here first:  make gpu-kit            (wheels the machine's image lacks -> .cache/gpu-kit)
# There:       bash scripts/device_gpu_check.sh [tiny|small]   with .cache/gpu-kit carried
#
# Installs the kit into /tmp/site, records the machine (GPU, Python, torch, transformers), then
# runs bench/gpu_check.py with random weights of the given variant. Everything it produces goes
# to $OUT when set (the device tool returns that folder), else to bench/results: the environment,
# the whole log, the tests' JUnit XML and the benchmark's JSON and table.
set -euo pipefail

variant="${1:-tiny}"
out="${OUT:-bench/results}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1

python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .cache/gpu-kit/*.whl
export PYTHONPATH="/tmp/site:services/extractor/src:schemas/src:."

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    python3 -c 'import sys, torch, transformers, lmdeploy; print(sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "lmdeploy", lmdeploy.__version__, "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$out/gpu-env.txt"

python3 -m bench.gpu_check --random-weights "$variant" --results-dir "$out" 2>&1 | tee "$out/gpu-check.log"
