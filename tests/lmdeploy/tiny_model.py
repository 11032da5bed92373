"""A tiny DeepSeek-VL2 model directory for CPU tests: config.json and a tokenizer, no weights.

The config has the structure of the published ``config.json`` files (which leave many fields to
DeepSeek's defaults) with tiny language dimensions. Variants: ``"tiny"`` is shaped like
deepseek-vl2-tiny (multi-head attention, ``use_mla: false``); ``"small"`` like deepseek-vl2-small
(no ``use_mla`` key, so DeepSeek's default, multi-head latent attention, applies).

The tokenizer is byte-level BPE without merges (every byte one token), built with the
``tokenizers`` library, plus DeepSeek-VL2's special tokens as single tokens. Nothing is
downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, Literal

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

Variant = Literal["tiny", "small"]

BOS: Final = "<｜begin▁of▁sentence｜>"
EOS: Final = "<｜end▁of▁sentence｜>"
PAD: Final = "<｜▁pad▁｜>"
SPECIAL_TOKENS: Final = (
    "<|User|>",
    "<|Assistant|>",
    "<image>",
    "<|ref|>",
    "<|/ref|>",
    "<|det|>",
    "<|/det|>",
    "<|grounding|>",
)
VOCAB_SIZE: Final = 512
"""language_config.vocab_size: room for the 3 + 256 + 8 tokens of the tokenizer."""

CANDIDATE_RESOLUTIONS: Final = [
    [384 * a, 384 * b]
    for a, b in [
        (1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 4), (4, 1), (2, 2), (1, 5), (5, 1), (1, 6),
        (6, 1), (2, 3), (3, 2), (1, 7), (7, 1), (1, 8), (8, 1), (2, 4), (4, 2), (1, 9), (9, 1),
        (3, 3),
    ]
]  # fmt: skip


def write_tiny_model(path: Path, variant: Variant = "tiny") -> Path:
    """Write the model directory at ``path`` (created if needed) and return it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(_config(variant), indent=2, ensure_ascii=False))
    _tokenizer().save(str(path / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "model_max_length": 4096,
        "clean_up_tokenization_spaces": False,
    }
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, ensure_ascii=False))
    return path


def _config(variant: Variant) -> dict[str, Any]:
    language: dict[str, Any] = {
        "architectures": ["DeepseekV2ForCausalLM"],
        "model_type": "deepseek_v2",
        "bos_token_id": 0,
        "eos_token_id": 1,
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "moe_intermediate_size": 32,
        "num_hidden_layers": 2,
        "first_k_dense_replace": 1,
        "n_routed_experts": 4,
        "n_shared_experts": 1,
        "num_experts_per_tok": 2,
        "n_group": 1,
        "topk_group": 1,
        "topk_method": "greedy",
        "max_position_embeddings": 4096,
        "torch_dtype": "bfloat16",
    }
    if variant == "tiny":
        language.update(
            num_attention_heads=4,
            num_key_value_heads=4,
            use_mla=False,
            kv_lora_rank=None,
            q_lora_rank=None,
            qk_nope_head_dim=0,
            qk_rope_head_dim=0,
            v_head_dim=0,
        )
    else:
        language.update(
            num_attention_heads=4,
            kv_lora_rank=32,
            q_lora_rank=None,
            qk_nope_head_dim=16,
            qk_rope_head_dim=8,
            v_head_dim=16,
        )
    return {
        "architectures": ["DeepseekVLV2ForCausalLM"],
        "model_type": "deepseek_vl_v2",
        "candidate_resolutions": CANDIDATE_RESOLUTIONS,
        "global_view_pos": "head",
        "tile_tag": "2D",
        "torch_dtype": "bfloat16",
        "language_config": language,
        "projector_config": {"model_type": "mlp_projector", "n_embed": language["hidden_size"]},
        "vision_config": {
            "model_type": "vision",
            "model_name": "siglip_so400m_patch14_384",
            "layers": 27,
            "width": 1152,
            "patch_size": 14,
            "mlp_ratio": 3.7362,
        },
    }


def _tokenizer() -> Tokenizer:
    vocab = {BOS: 0, EOS: 1, PAD: 2}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, 0)]
    )
    tokenizer.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token in (BOS, EOS, PAD)]
    )
    tokenizer.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS]
    )
    return tokenizer
