"""DeepSeek-VL2 support for LMDeploy without DeepSeek's package: install it, then build messages.

:func:`install_vl2_support` registers our transformers config class for ``deepseek_vl_v2``
(:mod:`.vl2_config`) and puts our vision wrapper (:mod:`.vl2_wrapper`) in the slot of LMDeploy's
stock ``DeepSeek2VisionModel``. The two go together: once our config class is registered, the
stock wrapper's ``match()`` (which expects dict sub-configs) raises on DeepSeek-VL2 configs, and
LMDeploy's wrapper lookup aborts on the first ``match()`` that raises.

Call it before building an engine, in EVERY process that builds one: registrations live in the
process's memory. Beware ``PytorchEngineConfig(enable_mp_engine=True)``: LMDeploy then builds the
engine in a child it spawns with its own entry point (``ZMQMPEngine._mp_proc``), where none of our
code runs, so the child would read DeepSeek-VL2's config without our class. Keep it off (the
default) unless a way to run this function in that child is added and tested.

Importing this module imports lmdeploy, torch and transformers: the engine imports it lazily.
"""

from __future__ import annotations

import lmdeploy.vl.model.builder  # noqa: F401  # registers the built-in wrappers first
from lmdeploy.vl.model.base import VISION_MODELS

from vl2ingest.engines.lmdeploy_engine.vl2_config import DeepseekVLV2Config, register_config
from vl2ingest.engines.lmdeploy_engine.vl2_wrapper import (
    PLAN_KEY,
    VIEWS_KEY,
    VL2VisionModel,
    build_messages,
    check_vocabulary,
)

__all__ = [
    "PLAN_KEY",
    "STOCK_WRAPPER_NAME",
    "VIEWS_KEY",
    "DeepseekVLV2Config",
    "VL2VisionModel",
    "build_messages",
    "check_vocabulary",
    "install_vl2_support",
]

STOCK_WRAPPER_NAME = "DeepSeek2VisionModel"
"""LMDeploy's registry key for DeepSeek-VL2's wrapper; ours takes it over."""


def install_vl2_support() -> None:
    """Register our config class and our wrapper with transformers and LMDeploy (idempotent).

    Re-registering under the stock key keeps the slot's place in the registry's order, which
    ``load_vl_model`` walks taking the first match: appended at the end, the stock wrapper would
    win, and removing it lets a later wrapper's ``match()`` crash on DeepSeek-VL2 configs.
    """
    register_config()
    VISION_MODELS.register_module(name=STOCK_WRAPPER_NAME, force=True, module=VL2VisionModel)
