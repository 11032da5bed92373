"""DeepSeek-VL2 model directories made on the spot: nothing is downloaded.

Two uses:

- **CPU contract tests** (``make contract``): a *miniature* model directory, config.json and a
  tokenizer with tiny language dimensions and no weights (:func:`write_tiny_model`).
- **GPU checks without downloadable weights** (``make gpu-check ARGS="--random-weights tiny"``):
  a checkpoint with the *real* architecture and dimensions of deepseek-vl2-tiny or -small, random
  weights and a tokenizer with the real vocabulary size and special tokens
  (:func:`write_random_checkpoint`). Its outputs are meaningless; it exercises the real engine,
  its memory use and its speed.

The config has the structure of the published ``config.json`` files, which leave many fields to
DeepSeek's defaults: ``"tiny"`` uses multi-head attention (``use_mla: false``), ``"small"`` has no
``use_mla`` key, so DeepSeek's default, multi-head latent attention, applies. The real dimensions
are those of the published configs; :func:`parameter_count` of each matches the totals DeepSeek
reports (3.37B and 16.1B parameters), which ``tests/lmdeploy`` checks.

Tensor names are the checkpoint's: ``language.`` + DeepSeek-V2's Hugging Face names,
``vision.`` + timm's SigLIP-SO400M names (the vision tower lmdeploy builds with timm),
``projector.layers.N``, ``image_newline`` and ``view_seperator`` (sic, as in the checkpoint).

The tokenizer is byte-level BPE without merges (every byte one token), built with the
``tokenizers`` library, plus DeepSeek-VL2's special tokens as single tokens; for the real
vocabulary size it is padded with filler tokens.
"""

from __future__ import annotations

import itertools
import json
import math
import string
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
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
"""The miniature vocabulary: room for the 3 + 256 + 8 tokens of the tokenizer."""

CANDIDATE_RESOLUTIONS: Final = [
    [384 * a, 384 * b]
    for a, b in [
        (1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 4), (4, 1), (2, 2), (1, 5), (5, 1), (1, 6),
        (6, 1), (2, 3), (3, 2), (1, 7), (7, 1), (1, 8), (8, 1), (2, 4), (4, 2), (1, 9), (9, 1),
        (3, 3),
    ]
]  # fmt: skip

TIMM_VISION: Final = "vit_so400m_patch14_siglip_384"
"""The vision tower lmdeploy builds (SigLIP-SO400M, 27 blocks, width 1152, patch 14)."""
VISION_WIDTH: Final = 1152
INIT_STD: Final = 0.02
"""Random weights are N(0, 0.02), norms 1 and biases 0: activations stay finite in bf16."""
PUBLISHED_TOTAL_PARAMETERS: Final[dict[Variant, float]] = {"tiny": 3.37e9, "small": 16.1e9}
"""Total parameters DeepSeek reports for each variant (DeepSeek-VL2 paper and model cards)."""


@dataclass(frozen=True, slots=True)
class LanguageDims:
    """The language model's dimensions: the fields that differ between variants."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    moe_intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    n_routed_experts: int
    n_shared_experts: int
    num_experts_per_tok: int
    mla: bool
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0


REAL: Final[dict[Variant, LanguageDims]] = {
    "tiny": LanguageDims(
        vocab_size=129280,
        hidden_size=1280,
        intermediate_size=6848,
        moe_intermediate_size=896,
        num_hidden_layers=12,
        num_attention_heads=10,
        n_routed_experts=64,
        n_shared_experts=2,
        num_experts_per_tok=6,
        mla=False,
    ),
    "small": LanguageDims(
        vocab_size=102400,
        hidden_size=2048,
        intermediate_size=10944,
        moe_intermediate_size=1408,
        num_hidden_layers=27,
        num_attention_heads=16,
        n_routed_experts=64,
        n_shared_experts=2,
        num_experts_per_tok=6,
        mla=True,
        kv_lora_rank=512,
        qk_nope_head_dim=128,
        qk_rope_head_dim=64,
        v_head_dim=128,
    ),
}
_MINIATURE_TINY: Final = LanguageDims(
    vocab_size=VOCAB_SIZE,
    hidden_size=64,
    intermediate_size=128,
    moe_intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    n_routed_experts=4,
    n_shared_experts=1,
    num_experts_per_tok=2,
    mla=False,
)
MINIATURE: Final[dict[Variant, LanguageDims]] = {
    "tiny": _MINIATURE_TINY,
    "small": replace(
        _MINIATURE_TINY,
        mla=True,
        kv_lora_rank=32,
        qk_nope_head_dim=16,
        qk_rope_head_dim=8,
        v_head_dim=16,
    ),
}


def write_tiny_model(path: Path, variant: Variant = "tiny") -> Path:
    """Write the miniature model directory (config and tokenizer, no weights) at ``path``."""
    return write_model_dir(path, model_config(MINIATURE[variant]))


def write_model_dir(path: Path, config: dict[str, Any]) -> Path:
    """Write config.json and a tokenizer for ``config`` at ``path`` (created if needed)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    _tokenizer(config["language_config"]["vocab_size"]).save(str(path / "tokenizer.json"))
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


def model_config(dims: LanguageDims) -> dict[str, Any]:
    """config.json for a model with these language dimensions, shaped like the published ones."""
    language: dict[str, Any] = {
        "architectures": ["DeepseekV2ForCausalLM"],
        "model_type": "deepseek_v2",
        "bos_token_id": 0,
        "eos_token_id": 1,
        "vocab_size": dims.vocab_size,
        "hidden_size": dims.hidden_size,
        "intermediate_size": dims.intermediate_size,
        "moe_intermediate_size": dims.moe_intermediate_size,
        "num_hidden_layers": dims.num_hidden_layers,
        "num_attention_heads": dims.num_attention_heads,
        "num_key_value_heads": dims.num_attention_heads,
        "first_k_dense_replace": 1,
        "n_routed_experts": dims.n_routed_experts,
        "n_shared_experts": dims.n_shared_experts,
        "num_experts_per_tok": dims.num_experts_per_tok,
        "n_group": 1,
        "topk_group": 1,
        "topk_method": "greedy",
        "max_position_embeddings": 4096,
        "torch_dtype": "bfloat16",
        "q_lora_rank": None,
        "kv_lora_rank": dims.kv_lora_rank if dims.mla else None,
        "qk_nope_head_dim": dims.qk_nope_head_dim,
        "qk_rope_head_dim": dims.qk_rope_head_dim,
        "v_head_dim": dims.v_head_dim,
    }
    if not dims.mla:
        language["use_mla"] = False  # the small variants leave it out: DeepSeek's default, MLA
    return {
        "architectures": ["DeepseekVLV2ForCausalLM"],
        "model_type": "deepseek_vl_v2",
        "candidate_resolutions": CANDIDATE_RESOLUTIONS,
        "global_view_pos": "head",
        "tile_tag": "2D",
        "torch_dtype": "bfloat16",
        "language_config": language,
        "projector_config": {"model_type": "mlp_projector", "n_embed": dims.hidden_size},
        "vision_config": {
            "model_type": "vision",
            "model_name": "siglip_so400m_patch14_384",
            "layers": 27,
            "width": VISION_WIDTH,
            "patch_size": 14,
            "mlp_ratio": 3.7362,
        },
    }


def language_tensor_shapes(config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
    """The language model's tensors, by DeepSeek-V2's Hugging Face names (``language.`` prefix)."""
    lc = config["language_config"]
    hidden, heads, vocab = lc["hidden_size"], lc["num_attention_heads"], lc["vocab_size"]
    yield "language.model.embed_tokens.weight", (vocab, hidden)
    for i in range(lc["num_hidden_layers"]):
        layer = f"language.model.layers.{i}"
        yield f"{layer}.input_layernorm.weight", (hidden,)
        yield f"{layer}.post_attention_layernorm.weight", (hidden,)
        attn = f"{layer}.self_attn"
        if lc.get("use_mla", True):
            nope, rope, v = lc["qk_nope_head_dim"], lc["qk_rope_head_dim"], lc["v_head_dim"]
            rank = lc["kv_lora_rank"]
            yield f"{attn}.q_proj.weight", (heads * (nope + rope), hidden)
            yield f"{attn}.kv_a_proj_with_mqa.weight", (rank + rope, hidden)
            yield f"{attn}.kv_a_layernorm.weight", (rank,)
            yield f"{attn}.kv_b_proj.weight", (heads * (nope + v), rank)
            yield f"{attn}.o_proj.weight", (hidden, heads * v)
        else:
            head_dim = hidden // heads
            kv = lc["num_key_value_heads"] * head_dim
            yield f"{attn}.q_proj.weight", (heads * head_dim, hidden)
            yield f"{attn}.k_proj.weight", (kv, hidden)
            yield f"{attn}.v_proj.weight", (kv, hidden)
            yield f"{attn}.o_proj.weight", (hidden, heads * head_dim)
        mlp = f"{layer}.mlp"
        if i < lc["first_k_dense_replace"]:
            yield from _mlp(mlp, hidden, lc["intermediate_size"])
            continue
        moe = lc["moe_intermediate_size"]
        yield f"{mlp}.gate.weight", (lc["n_routed_experts"], hidden)
        for e in range(lc["n_routed_experts"]):
            yield from _mlp(f"{mlp}.experts.{e}", hidden, moe)
        yield from _mlp(f"{mlp}.shared_experts", hidden, moe * lc["n_shared_experts"])
    yield "language.model.norm.weight", (hidden,)
    yield "language.lm_head.weight", (vocab, hidden)


def _mlp(prefix: str, hidden: int, inner: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield f"{prefix}.gate_proj.weight", (inner, hidden)
    yield f"{prefix}.up_proj.weight", (inner, hidden)
    yield f"{prefix}.down_proj.weight", (hidden, inner)


def projector_tensor_shapes(config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
    """The projector (downsample_mlp_gelu, depth 2, ratio 2) and the two layout embeddings."""
    n_embed = config["projector_config"]["n_embed"]
    yield "projector.layers.0.weight", (n_embed, VISION_WIDTH * 2 * 2)
    yield "projector.layers.0.bias", (n_embed,)
    yield "projector.layers.2.weight", (n_embed, n_embed)
    yield "projector.layers.2.bias", (n_embed,)
    yield "image_newline", (n_embed,)
    yield "view_seperator", (n_embed,)


def vision_tensor_shapes() -> Iterator[tuple[str, tuple[int, ...]]]:
    """SigLIP-SO400M's tensors as timm declares them (built on the meta device: no memory)."""
    import timm
    import torch

    with torch.device("meta"):
        tower = timm.create_model(TIMM_VISION, pretrained=False, num_classes=0)
    for name, param in tower.named_parameters():
        yield f"vision.{name}", tuple(param.shape)


def tensor_shapes(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor of the checkpoint for ``config``, by name, in a stable order."""
    return [
        *vision_tensor_shapes(),
        *projector_tensor_shapes(config),
        *language_tensor_shapes(config),
    ]


def parameter_count(config: dict[str, Any]) -> int:
    return sum(math.prod(shape) for _, shape in tensor_shapes(config))


def write_random_weights(
    path: Path,
    config: dict[str, Any],
    *,
    device: str = "cpu",
    seed: int = 0,
    shard_bytes: int = 2**30,
) -> int:
    """Write bf16 random weights for ``config`` as sharded safetensors with an index.

    Returns the number of bytes written. Tensors are drawn on ``device`` (a GPU draws the 32 GB
    of the small variant in seconds) and written shard by shard: peak memory is a few shards.
    """
    import torch
    from safetensors.torch import save_file

    shapes = tensor_shapes(config)
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in shapes:
        nbytes = math.prod(shape) * 2
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += nbytes
    generator = torch.Generator(device=device).manual_seed(seed)
    weight_map: dict[str, str] = {}
    total = 0
    for index, shard in enumerate(shards, start=1):
        file = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        tensors = {name: _random(name, shape, device, generator) for name, shape in shard}
        save_file(tensors, str(path / file), metadata={"format": "pt"})
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        weight_map.update(dict.fromkeys(tensors, file))
    index_file = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (path / "model.safetensors.index.json").write_text(json.dumps(index_file, indent=2))
    return total


def _random(name: str, shape: tuple[int, ...], device: str, generator: Any) -> Any:
    import torch

    if name.endswith("norm.weight") or "norm1.weight" in name or "norm2.weight" in name:
        return torch.ones(shape, dtype=torch.bfloat16)
    if name.endswith(".bias"):
        return torch.zeros(shape, dtype=torch.bfloat16)
    drawn = torch.empty(shape, dtype=torch.float32, device=device)
    drawn.normal_(0.0, INIT_STD, generator=generator)
    return drawn.to(torch.bfloat16).cpu()


COMPLETE: Final = "random-weights.json"
"""Written last into a random checkpoint: a directory without it is incomplete and redone."""


def write_random_checkpoint(
    path: Path, variant: Variant, *, device: str = "cpu", seed: int = 0
) -> Path:
    """A checkpoint of ``variant``'s real architecture with random weights at ``path``.

    Reused when ``path`` already holds a complete one for the same variant and seed.
    """
    stamp = {"variant": variant, "seed": seed, "dims": asdict(REAL[variant])}
    marker = path / COMPLETE
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return path
    marker.unlink(missing_ok=True)
    for stale in path.glob("*.safetensors"):
        stale.unlink()
    config = model_config(REAL[variant])
    write_model_dir(path, config)
    write_random_weights(path, config, device=device, seed=seed)
    marker.write_text(json.dumps(stamp))
    return path


def _tokenizer(vocab_size: int) -> Tokenizer:
    vocab = {BOS: 0, EOS: 1, PAD: 2}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    fillers = vocab_size - len(vocab) - len(SPECIAL_TOKENS)
    if fillers < 0:
        raise ValueError(f"vocab_size {vocab_size} has no room for the tokenizer's tokens")
    for filler in itertools.islice(_filler_tokens(), fillers):
        vocab[filler] = len(vocab)
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


def _filler_tokens() -> Iterator[str]:
    """Multi-character tokens of letters and digits: they decode to text, like real BPE tokens
    (no merges produce them, so they appear only when a model generates them)."""
    alphabet = string.ascii_letters + string.digits
    for length in itertools.count(2):
        for chars in itertools.product(alphabet, repeat=length):
            yield "".join(chars)
