"""LMDeploy's start-up environment check, turned off: it would run where our code does not.

``Engine.__init__`` of LMDeploy's PyTorch engine runs ``EngineChecker.handle()``, which on CUDA
spawns a child process for the check (torch, CUDA, triton, transformers, and the model's
config). That child starts from LMDeploy's own entry point, so our config class for
``deepseek_vl_v2`` (``vl2_support``) is not registered there: it reads ``config.json`` with a
plain dict ``language_config``, its model check fails (``'dict' object has no attribute
'use_mla'``), it exits 1, and LMDeploy then exits OUR process with ``exit(1)``, before the first
token. The check is switched by ``LMDEPLOY_ENABLE_CHECK_ENV``, which LMDeploy reads once, when
``lmdeploy.pytorch.envs`` is first imported: hence "before lmdeploy is imported". What it would
have checked still fails loudly when the engine builds, with the real exception.
"""

from __future__ import annotations

import os
from typing import Final

from vl2ingest.errors import ConfigError

SWITCH: Final = "LMDEPLOY_ENABLE_CHECK_ENV"


def disable_env_check() -> None:
    """Turn LMDeploy's environment check off; call it before lmdeploy is first imported.

    Raises :class:`ConfigError` when lmdeploy was imported earlier with the check on (the
    switch can no longer take effect), naming the variable to set instead.
    """
    os.environ[SWITCH] = "0"
    from lmdeploy.pytorch import envs  # lazy: only GPU pods load lmdeploy

    if envs.enable_check_env:
        raise ConfigError(
            f"lmdeploy was imported before its environment check could be turned off; it would "
            f"run in a child process without our DeepSeek-VL2 config and exit the service: set "
            f"{SWITCH}=0 in the environment"
        )
