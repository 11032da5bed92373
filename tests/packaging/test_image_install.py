"""docker/Dockerfile's install steps, run here from the lock: no image can be built on these
machines, so a broken install line must fail a test instead.

The build stage's COPY and ``uv sync`` lines are read from the Dockerfile itself and replayed in a
scratch directory (cache mounts dropped, the image's /opt/venv replaced by a scratch venv), then
the installed ``vl2ingest`` answers ``--version`` and ``config`` as the image's would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import vl2ingest

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
UV = ROOT / ".cache" / "tools" / "bin" / "uv"

pytestmark = pytest.mark.timeout(600)


def build_stage() -> list[str]:
    """The build stage's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return lines[stages[0] + 1 : stages[1]]


def test_the_dockerfile_pins_the_uv_the_makefile_uses() -> None:
    """The image installs with the same uv version as `make` does (one resolver behaviour)."""
    makefile = (ROOT / "Makefile").read_text()
    (version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, flags=re.M)
    assert f"uv=={version}" in DOCKERFILE.read_text()


def test_the_dockerfiles_install_steps_give_a_working_cli(tmp_path: Path) -> None:
    """COPY + uv sync as the Dockerfile has them, into a scratch venv: `vl2ingest --version`
    prints the package version and `vl2ingest config` validates a minimal configuration."""
    src, venv = tmp_path / "src", tmp_path / "venv"
    src.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))},
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_PREFERENCE": "only-system",
        "UV_LINK_MODE": "copy",
    }
    syncs = 0
    for line in build_stage():
        instruction, _, rest = line.partition(" ")
        if instruction == "COPY":
            *sources, target = shlex.split(rest)
            for source in sources:
                where = src / source if target in {".", "./"} else src / target
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, where, dirs_exist_ok=True)
                else:
                    where.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / source, where)
        elif instruction == "RUN" and " uv sync " in f" {rest} ":
            command = re.sub(r"--mount=\S+", "", rest).split()
            assert command[0] == "uv", command
            result = subprocess.run(  # noqa: S603  # the Dockerfile's own command, our uv
                [str(UV), *command[1:]], cwd=src, env=env, capture_output=True, text=True,
                timeout=540, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-3000:]
            syncs += 1
    assert syncs == 2  # dependencies first, then our code (the layer split)
    cli = venv / "bin" / "vl2ingest"
    version = subprocess.run(  # noqa: S603
        [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert version.stdout.strip() == vl2ingest.__version__
    config = subprocess.run(  # noqa: S603
        [str(cli), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "VL2INGEST_S3__ALLOWED_BUCKETS": "scans"},
    )
    assert config.returncode == 0, config.stderr
    assert "allowed_buckets" in config.stdout
