"""The token budget of one request: prompt + image tokens + max_new_tokens <= context.

DeepSeek-VL2 has a 4096-token context. A request that cannot fit is refused as
``context_overflow`` before any GPU work.

Prompt tokens are estimated without a tokenizer (``estimate_prompt_tokens``): the UTF-8 byte
count of the prompt with its image placeholders removed, plus 2 for BOS/EOS. DeepSeek's
tokenizer is a byte-level BPE, whose every token covers at least one byte, and its special
tokens (``<|User|>``, ``<|ref|>``, ...) are one token for several bytes, so this is an upper
bound: it may refuse a request that would just fit, never admit one that does not. The image
placeholders are dropped because the processor replaces each by the image's tokens, which
``ImagePlan.image_tokens`` already counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from vl2ingest.vl2.planner import ImagePlan
from vl2ingest.vl2.prompts import IMAGE_PLACEHOLDER

CONTEXT_TOKENS: Final = 4096
"""DeepSeek-VL2's context length."""

SPECIAL_TOKEN_ALLOWANCE: Final = 2
"""BOS and EOS, which the processor may add around the prompt."""

CONTEXT_OVERFLOW: Final = "context_overflow"
"""The error code of a request that does not fit."""


@dataclass(frozen=True, slots=True)
class TokenBudget:
    """Where a request stands against the context; ``fits`` says whether it may run."""

    prompt_tokens: int
    image_tokens: int
    max_new_tokens: int
    context_tokens: int
    total: int
    fits: bool

    @property
    def overflow(self) -> int:
        """Tokens over the context (0 when it fits)."""
        return max(0, self.total - self.context_tokens)

    @property
    def error_code(self) -> str | None:
        """``"context_overflow"`` when the request does not fit, else None."""
        return None if self.fits else CONTEXT_OVERFLOW

    def describe(self) -> str:
        """One line for logs and error messages."""
        verdict = "fits" if self.fits else f"over by {self.overflow}"
        return (
            f"prompt {self.prompt_tokens} + images {self.image_tokens} + "
            f"max_new_tokens {self.max_new_tokens} = {self.total} of {self.context_tokens} "
            f"({verdict})"
        )


def estimate_prompt_tokens(text: str, *, placeholder: str = IMAGE_PLACEHOLDER) -> int:
    """An upper bound on the text tokens of ``text`` (image placeholders not counted)."""
    if not placeholder:
        raise ValueError("placeholder must be a non-empty string")
    stripped = text.replace(placeholder, "")
    # surrogatepass: a lone surrogate still counts (as 3 bytes) instead of raising.
    return len(stripped.encode("utf-8", "surrogatepass")) + SPECIAL_TOKEN_ALLOWANCE


def check_budget(
    prompt_tokens: int,
    plans: Sequence[ImagePlan],
    max_new_tokens: int,
    context_tokens: int = CONTEXT_TOKENS,
) -> TokenBudget:
    """The budget of a request; ``fits`` is False when it would overflow the context."""
    for name, value in (
        ("prompt_tokens", prompt_tokens),
        ("max_new_tokens", max_new_tokens),
        ("context_tokens", context_tokens),
    ):
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    image_tokens = sum(plan.image_tokens for plan in plans)
    total = prompt_tokens + image_tokens + max_new_tokens
    return TokenBudget(
        prompt_tokens=prompt_tokens,
        image_tokens=image_tokens,
        max_new_tokens=max_new_tokens,
        context_tokens=context_tokens,
        total=total,
        fits=total <= context_tokens,
    )
