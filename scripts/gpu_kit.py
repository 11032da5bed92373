"""Build the wheels `make gpu-check` needs on this project's GPU machines: ``make gpu-kit``.

Those machines reach no network, and their image already holds Python 3.12 with PyTorch,
transformers, timm, safetensors, tokenizers, Pillow, pytest and pytest-timeout. What it lacks
travels with the working tree, which may carry at most 64 MiB: lmdeploy and the packages it and
the GPU checks import, at the versions of uv.lock, as CPython 3.12 manylinux wheels. lmdeploy's
wheel (107 MB) is mostly the TurboMind extension, which DeepSeek-VL2 never uses (it runs on the
PyTorch engine), so it is repacked without it; lmdeploy then reports TurboMind unavailable.

The list below is what ``make gpu-twin`` needs: a Python 3.12 environment with the image's
packages (scripts/gpu_twin/image-requirements.txt) plus this kit, installed as the device script
installs it, where the CPU contract tests pass and the whole GPU path imports. On the GPU
machine, with ``.cache/gpu-kit`` carried: ``bash scripts/device_gpu_check.sh tiny``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / ".cache" / "gpu-kit"
LIMIT_BYTES = 56 * 2**20
"""The working tree (about 2 MB) and the kit must stay under the 64 MiB a run may carry."""
PACKAGES = [
    "lmdeploy", "msgspec", "structlog", "pytest-asyncio", "pydantic", "pydantic-core",
    "typing-inspection", "annotated-types", "typing-extensions",
    "mmengine-lite", "yapf", "platformdirs", "addict", "termcolor", "pybase64",
    "googleapis-common-protos", "pyzmq", "xgrammar", "apache-tvm-ffi", "shortuuid",
    "psutil", "einops", "requests", "urllib3", "charset-normalizer", "idna", "certifi",
    "opentelemetry-api",
]  # fmt: skip
"""typing-extensions: the kit's pydantic needs a newer one than an image of torch's era may
hold. psutil, einops and requests (with urllib3, charset-normalizer, idna, certifi): lmdeploy
imports them, and an image whose huggingface_hub (1.x) no longer uses requests need not have
them. opentelemetry-api: the pipeline's processor, which a GPU test drives over the real engine.
Not carried: httpx2, httpcore2 and truststore, which only huggingface_hub >= 2 and openai
import; the image's hub 1.33 uses httpx, and lmdeploy's serving modules (openai, fastapi, ray,
aiohttp, tilelang for DeepSeek-V4) are never imported on the DeepSeek-VL2 path."""
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64"]
PLATFORMS += ["manylinux2014_x86_64", "manylinux1_x86_64"]
TURBOMIND_BINARIES = re.compile(r"^lmdeploy/turbomind/(_turbomind[^/]*\.so|lib64/.*)$")


def locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, str] = {}
    for package in lock["package"]:
        versions.setdefault(package["name"], package["version"])
    return versions


def download(requirements: list[str]) -> None:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp", *platforms,
         "--dest", str(KIT), *requirements],
        check=True,
    )  # fmt: skip


def strip_turbomind(wheel: Path) -> Path:
    """The same wheel without the TurboMind binaries (its RECORD rewritten to match)."""
    stripped = wheel.with_name(wheel.name + ".tmp")
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            if TURBOMIND_BINARIES.match(item.filename):
                continue
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = "\n".join(
                    line for line in lines if not TURBOMIND_BINARIES.match(line.split(",")[0])
                ).encode()
            target.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED)
    stripped.replace(wheel)
    return wheel


def main() -> int:
    versions = locked_versions()
    missing = [p for p in PACKAGES if p not in versions]
    if missing:
        print(f"gpu-kit: not in uv.lock: {', '.join(missing)}", file=sys.stderr)
        return 1
    KIT.mkdir(parents=True, exist_ok=True)
    for old in KIT.glob("*.whl"):
        old.unlink()
    download([f"{p}=={versions[p]}" for p in PACKAGES])
    (lmdeploy,) = KIT.glob("lmdeploy-*.whl")
    strip_turbomind(lmdeploy)
    wheels = sorted(KIT.glob("*.whl"))
    total = sum(w.stat().st_size for w in wheels)
    print(f"gpu-kit: {len(wheels)} wheels, {total / 2**20:.1f} MiB in {KIT.relative_to(ROOT)}")
    if total > LIMIT_BYTES:
        print(f"gpu-kit: over the {LIMIT_BYTES / 2**20:.0f} MiB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
