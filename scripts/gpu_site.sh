# Sourced by scripts/device_gpu_check.sh (on a GPU machine) and scripts/gpu_twin.sh (here): the
# kit installed, and the environment the GPU path runs under, by the same lines in both places.
#
#   install_gpu_kit PYTHON SITE   the wheels of .cache/gpu-kit (make gpu-kit) into SITE, no index
#   gpu_environment SITE          PYTHONPATH (SITE first, then our sources) and the switches

install_gpu_kit() {
    local python=$1 site=$2
    compgen -G ".cache/gpu-kit/*.whl" >/dev/null || { echo "no .cache/gpu-kit: run 'make gpu-kit' here first" >&2; return 1; }
    rm -rf "$site"
    "$python" -m pip install -q --no-index --no-deps --no-compile --target "$site" .cache/gpu-kit/*.whl
}

gpu_environment() {
    local site=$1
    export PYTHONPATH="$site:services/extractor/src:schemas/src:."
    export PYTHONUNBUFFERED=1
    # No network there: never try a hub, fail at once instead of waiting on a timeout.
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    # LMDeploy's environment check runs in a child without our registrations and exits the
    # process (engines/lmdeploy_engine/env_check.py); the engine turns it off too.
    export LMDEPLOY_ENABLE_CHECK_ENV=0
}
