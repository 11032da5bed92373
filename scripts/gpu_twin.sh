#!/usr/bin/env bash
# make gpu-twin: the GPU machines' environment, twinned here on CPU, and the checks it must pass.
#
# Those machines run our code under their own image's Python 3.12 and packages
# (scripts/gpu_twin/image-requirements.txt) plus the kit we carry (make gpu-kit), with no
# network. This builds that environment under .cache/gpu-twin (reused while the requirements
# file is unchanged), installs the kit exactly as the device script does (scripts/gpu_site.sh),
# and runs there the lmdeploy contract tests and an import of the whole GPU path. It is what
# catches an adapter that works with our pins but not with the image's versions (issue 10).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/gpu_site.sh
. scripts/gpu_site.sh

TWIN=.cache/gpu-twin
UV=${UV:-.cache/tools/bin/uv}
REQUIREMENTS=scripts/gpu_twin/image-requirements.txt

# Python 3.12, as the image has it: on PATH, or a pyenv version (whose shim a
# .python-version file here would otherwise shadow).
find_python312() {
    if command -v python3.12 >/dev/null && python3.12 -c '' 2>/dev/null; then
        python3.12 -c 'import sys; print(sys.executable)'
        return
    fi
    if command -v pyenv >/dev/null; then
        local version
        version=$(pyenv versions --bare | grep -E '^3\.12(\.|$)' | sort -V | tail -n 1)
        if [[ -n $version && -x $(pyenv root)/versions/$version/bin/python3.12 ]]; then
            echo "$(pyenv root)/versions/$version/bin/python3.12"
            return
        fi
    fi
    echo "gpu-twin: no Python 3.12 found (the GPU image's); install it, e.g. apt or pyenv" >&2
    return 1
}

want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x $TWIN/venv/bin/python || $(cat "$TWIN/.stamp" 2>/dev/null) != "$want" ]]; then
    python=$(find_python312)
    echo "gpu-twin: building $TWIN/venv with $("$python" --version) and the image's packages"
    rm -rf "$TWIN"
    UV_PYTHON_DOWNLOADS=never "$UV" venv -q --seed -p "$python" "$TWIN/venv"
    VIRTUAL_ENV=$TWIN/venv "$UV" pip install -q -r "$REQUIREMENTS"
    echo "$want" >"$TWIN/.stamp"
fi

install_gpu_kit "$TWIN/venv/bin/python" "$TWIN/site"
gpu_environment "$TWIN/site"
"$TWIN/venv/bin/python" -c 'import sys, torch, transformers, huggingface_hub, lmdeploy; print("gpu-twin: python", sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "huggingface_hub", huggingface_hub.__version__, "lmdeploy", lmdeploy.__version__)'
# Only tests/lmdeploy's own conftest: the root one needs the dev stack's clients (boto3).
"$TWIN/venv/bin/python" -m pytest tests/lmdeploy -p no:cacheprovider --confcutdir=tests/lmdeploy
# The GPU tests and benchmark as the device run collects them (no CUDA here: the inference
# tests skip, the fixture set-up tests run), under tests/gpu's own conftest as bench/gpu_check.py
# runs them.
"$TWIN/venv/bin/python" -m pytest tests/gpu -p no:cacheprovider --confcutdir=tests/gpu -rs
