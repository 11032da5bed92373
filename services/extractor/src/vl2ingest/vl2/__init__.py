"""DeepSeek-VL2's rules, in pure Python: tiling plans, views, prompts, token budget, parsing.

Nothing here talks to an engine or a GPU; the engines and the pipeline build on it.
"""

from vl2ingest.vl2.budget import (
    CONTEXT_OVERFLOW,
    CONTEXT_TOKENS,
    TokenBudget,
    check_budget,
    estimate_prompt_tokens,
)
from vl2ingest.vl2.candidates import CANDIDATE_RESOLUTIONS, MAX_TILES, TILE_SIZE
from vl2ingest.vl2.parser import ParsedOutput, Region, parse_output
from vl2ingest.vl2.planner import (
    MAX_TILED_IMAGES,
    ImagePlan,
    Layout,
    image_token_count,
    plan_image,
    plan_images,
    select_resolution,
)
from vl2ingest.vl2.prompts import (
    IMAGE_PLACEHOLDER,
    LMDEPLOY_IMAGE_PLACEHOLDER,
    PROMPT_VERSION,
    TASKS,
    Task,
    build_prompt,
    build_user_message,
    task_text,
)
from vl2ingest.vl2.views import PAD_COLOR, RESAMPLE, ImageViews, prepare_image

__all__ = [
    "CANDIDATE_RESOLUTIONS",
    "CONTEXT_OVERFLOW",
    "CONTEXT_TOKENS",
    "IMAGE_PLACEHOLDER",
    "LMDEPLOY_IMAGE_PLACEHOLDER",
    "MAX_TILED_IMAGES",
    "MAX_TILES",
    "PAD_COLOR",
    "PROMPT_VERSION",
    "RESAMPLE",
    "TASKS",
    "TILE_SIZE",
    "ImagePlan",
    "ImageViews",
    "Layout",
    "ParsedOutput",
    "Region",
    "Task",
    "TokenBudget",
    "build_prompt",
    "build_user_message",
    "check_budget",
    "estimate_prompt_tokens",
    "image_token_count",
    "parse_output",
    "plan_image",
    "plan_images",
    "prepare_image",
    "select_resolution",
    "task_text",
]
