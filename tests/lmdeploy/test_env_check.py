"""LMDeploy's environment check would run in a child process without our registrations and exit
the service (issue 10): the engine turns it off before lmdeploy reads the switch.

Each case runs in a fresh interpreter, as a pod starts: lmdeploy reads the switch once, when it
is first imported, and the check's child process starts from LMDeploy's own entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vl2ingest.engines.lmdeploy_engine.env_check import SWITCH

ROOT = Path(__file__).parents[2]


def fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter with this one's paths, the switch at LMDeploy's default."""
    env = {k: v for k, v in os.environ.items() if k != SWITCH}
    env["PYTHONPATH"] = os.pathsep.join([*sys.path[1:], str(ROOT)])
    return subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_lmdeploys_model_check_fails_where_our_config_class_is_missing(tiny_model: Path) -> None:
    """What the check's child process does: LMDeploy's own ModelChecker, in a process where
    vl2_support never ran, reads language_config as a dict and exits 1."""
    result = fresh_python(
        "from lmdeploy.pytorch.check_env.model import ModelChecker\n"
        f"ModelChecker(model_path={str(tiny_model)!r}, trust_remote_code=True,"
        " dtype='float16', device_type='cuda').handle()\n"
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "'dict' object has no attribute 'use_mla'" in result.stdout + result.stderr


def test_the_engine_build_turns_the_check_off_before_lmdeploy_reads_it(tiny_model: Path) -> None:
    """LmdeployEngine's build, in a fresh process, leaves LMDeploy's check switched off whatever
    else fails on a machine without CUDA, and never exits the process."""
    result = fresh_python(
        "import sys\n"
        "from vl2ingest.engines.lmdeploy_engine import LmdeployEngine\n"
        "from vl2ingest.settings import EngineSettings\n"
        "assert 'lmdeploy' not in sys.modules\n"
        "engine = LmdeployEngine(EngineSettings(name='lmdeploy',"
        f" model_path={str(tiny_model)!r}, backend='pytorch'))\n"
        "try:\n"
        "    engine._build()\n"
        "except SystemExit:\n"
        "    raise\n"
        "except Exception as exc:\n"
        "    print('build failed as expected on CPU:', type(exc).__name__)\n"
        "from lmdeploy.pytorch import envs\n"
        "print('check_env', envs.enable_check_env)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "check_env False" in result.stdout


def test_lmdeploys_real_checker_returns_at_once_when_switched_off(tiny_model: Path) -> None:
    """LMDeploy's EngineChecker for a CUDA engine, after disable_env_check(): handle() returns
    without spawning its child (which, here, would exit 1: no CUDA, no registrations)."""
    result = fresh_python(
        "from vl2ingest.engines.lmdeploy_engine.env_check import disable_env_check\n"
        "disable_env_check()\n"
        "from lmdeploy import PytorchEngineConfig\n"
        "from lmdeploy.pytorch.engine.engine_checker import EngineChecker\n"
        f"EngineChecker(model_path={str(tiny_model)!r},"
        " engine_config=PytorchEngineConfig(device_type='cuda')).handle()\n"
        "print('returned')\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "returned" in result.stdout


def test_a_check_already_on_is_refused_by_name() -> None:
    """If lmdeploy was imported with the check on, the engine refuses to build, naming the
    variable, instead of letting the check exit the service."""
    result = fresh_python(
        "import lmdeploy.pytorch.envs\n"
        "from vl2ingest.engines.lmdeploy_engine.env_check import disable_env_check\n"
        "from vl2ingest.errors import ConfigError\n"
        "try:\n"
        "    disable_env_check()\n"
        "except ConfigError as exc:\n"
        "    print('refused:', exc)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused: lmdeploy was imported before" in result.stdout
    assert f"{SWITCH}=0" in result.stdout
