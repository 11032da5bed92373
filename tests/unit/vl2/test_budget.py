"""Token budget: the context check and the tokenizer-free prompt estimate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vl2ingest.vl2 import (
    CONTEXT_TOKENS,
    TokenBudget,
    build_prompt,
    check_budget,
    estimate_prompt_tokens,
    plan_images,
)


def test_context_is_4096() -> None:
    """DeepSeek-VL2's context is 4096 tokens."""
    assert CONTEXT_TOKENS == 4096


def test_total_is_prompt_plus_images_plus_new_tokens() -> None:
    """The total adds the prompt, every image's tokens and max_new_tokens."""
    plans = plan_images([(3000, 3000), (800, 600)])  # 2017 + 1415
    budget = check_budget(200, plans, 500)
    assert budget == TokenBudget(
        prompt_tokens=200,
        image_tokens=2017 + 1415,
        max_new_tokens=500,
        context_tokens=4096,
        total=200 + 2017 + 1415 + 500,
        fits=False,
    )
    assert budget.overflow == budget.total - 4096
    assert budget.error_code == "context_overflow"


def test_exactly_full_context_fits() -> None:
    """A request that uses the context exactly fits."""
    budget = check_budget(4096 - 421 - 100, plan_images([(10, 10)]), 100)
    assert (budget.total, budget.fits, budget.overflow, budget.error_code) == (4096, True, 0, None)


def test_one_token_over_overflows() -> None:
    """A request one token over the context does not fit, by one."""
    budget = check_budget(4096 - 421 - 100 + 1, plan_images([(10, 10)]), 100)
    assert (budget.fits, budget.overflow, budget.error_code) == (False, 1, "context_overflow")


def test_custom_context() -> None:
    """context_tokens overrides the 4096 default."""
    assert check_budget(10, plan_images([(10, 10)]), 10, context_tokens=441).fits
    assert not check_budget(10, plan_images([(10, 10)]), 10, context_tokens=440).fits


def test_nine_padded_images_leave_little_room() -> None:
    """Nine padded images (3789 tokens) plus an OCR prompt and 512 new tokens overflow."""
    plans = plan_images([(1000, 1000)] * 9)
    prompt = build_prompt("ocr", 9)
    budget = check_budget(estimate_prompt_tokens(prompt), plans, 512)
    assert budget.image_tokens == 9 * 421
    assert not budget.fits


def test_one_large_image_fits_with_room_to_answer() -> None:
    """One 3x3-tiled image with an OCR prompt leaves room for 1024 new tokens."""
    prompt = build_prompt("ocr", 1)
    budget = check_budget(estimate_prompt_tokens(prompt), plan_images([(3000, 3000)]), 1024)
    assert budget.fits
    assert budget.total == estimate_prompt_tokens(prompt) + 2017 + 1024


def test_describe_reads_well() -> None:
    """describe() gives the sum and the verdict in one line."""
    budget = check_budget(10, plan_images([(10, 10)]), 4000)
    assert budget.describe() == (
        "prompt 10 + images 421 + max_new_tokens 4000 = 4431 of 4096 (over by 335)"
    )


@pytest.mark.parametrize(
    ("prompt_tokens", "max_new_tokens", "context_tokens"),
    [(-1, 10, 4096), (10, -1, 4096), (10, 10, -1), (True, 10, 4096)],
)
def test_negative_counts_are_refused(
    prompt_tokens: int, max_new_tokens: int, context_tokens: int
) -> None:
    """Negative (or bool) token counts are refused."""
    with pytest.raises(ValueError, match="non-negative int"):
        check_budget(prompt_tokens, [], max_new_tokens, context_tokens)


def test_estimate_counts_utf8_bytes_plus_bos_eos() -> None:
    """The estimate is the UTF-8 byte count plus 2 for BOS/EOS."""
    assert estimate_prompt_tokens("") == 2
    assert estimate_prompt_tokens("abc") == 5
    assert estimate_prompt_tokens("é") == 4  # 2 bytes
    assert estimate_prompt_tokens("漢字") == 8  # 3 bytes each


def test_estimate_skips_image_placeholders() -> None:
    """Image placeholders are not counted: the plans count each image's tokens."""
    assert estimate_prompt_tokens("<image>\n<image>\nabc") == estimate_prompt_tokens("\n\nabc")
    assert estimate_prompt_tokens("<IMAGE_TOKEN>\nx", placeholder="<IMAGE_TOKEN>") == 4


def test_estimate_of_a_real_prompt() -> None:
    """The OCR prompt's estimate is its byte count without the placeholder, plus 2."""
    prompt = build_prompt("ocr", 1)
    text = "<|User|>: \nRead all the text in the image.\n\n<|Assistant|>:"
    assert estimate_prompt_tokens(prompt) == len(text.encode()) + 2


def test_estimate_survives_lone_surrogates() -> None:
    """A lone surrogate counts as three bytes instead of raising."""
    assert estimate_prompt_tokens("\ud800") == 5


def test_empty_placeholder_is_refused() -> None:
    """An empty placeholder is refused."""
    with pytest.raises(ValueError, match="placeholder"):
        estimate_prompt_tokens("x", placeholder="")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_estimate_bounds_characters(text: str) -> None:
    """The estimate is never below the character count (a token holds at least one byte)."""
    assert estimate_prompt_tokens(text) >= len(text.replace("<image>", ""))
