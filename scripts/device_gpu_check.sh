#!/usr/bin/env bash
# The GPU check on one of this project's GPU machines (no network), as one prepared command.
#
# Here first:  make gpu-kit            (wheels the machine's image lacks -> .cache/gpu-kit)
#              make gpu-twin           (the same install over a twin of the image, tested here)
# There:       bash scripts/device_gpu_check.sh [tiny|small]   with .cache/gpu-kit carried
#
# Steps, each under its own time limit so that the whole fits one device command (540 s)
# and whatever ran is reported: install the kit into /tmp/site (scripts/gpu_site.sh, as
# make gpu-twin does), record the machine (GPU, Python, torch, transformers, lmdeploy), then
# bench/gpu_check.py with random weights of the given variant: write the checkpoint, then ONE
# pytest session with the GPU tests and the benchmark on one engine. Everything goes to $OUT when
# set (the device tool returns that folder), else to bench/results: gpu-env.txt, gpu-check.log,
# gpu-tests.xml, gpu-*.json and gpu-*.md, and steps.txt (each step's exit code and seconds), even
# when a step fails. Exits with the first failing step's code.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/gpu_site.sh
. scripts/gpu_site.sh

variant="${1:-tiny}"
out="${OUT:-bench/results}"
mkdir -p "$out"
: >"$out/steps.txt"
status=0

# step NAME SECONDS COMMAND: run COMMAND (a bash command line; the functions above are exported)
# under `timeout`, append its output to the log, and record its exit code and duration.
step() {
    local name=$1 limit=$2 command=$3 started rc
    started=$SECONDS
    timeout --kill-after=10 "$limit" bash -c "$command" 2>&1 | tee -a "$out/gpu-check.log"
    rc=${PIPESTATUS[0]}
    printf '%s: exit %s after %s s (limit %s s)\n' "$name" "$rc" $((SECONDS - started)) "$limit" \
        | tee -a "$out/steps.txt"
    if ((rc != 0 && status == 0)); then status=$rc; fi
    return "$rc"
}

record_environment() {
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
        python3 -c 'import sys, torch, transformers, lmdeploy; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(), "transformers", transformers.__version__, "lmdeploy", lmdeploy.__version__)'
    } 2>&1 | tee "$out/gpu-env.txt"
}

export out
export -f install_gpu_kit record_environment
gpu_environment /tmp/site
# Limits: 60 + 30 + 420 s (each + 10 s to die) stay inside a 540 s device command. The check
# itself interrupts pytest at 400 s, so its JUnit XML and the benchmark rows done so far are
# written before the outer limit could kill it.
step "install kit" 60 "install_gpu_kit python3 /tmp/site" || exit "$status"
step "environment" 30 "record_environment"
step "gpu check ($variant, random weights)" 420 \
    "python3 -m bench.gpu_check --random-weights $variant --results-dir $out --time-limit 400"
exit "$status"
