"""DeepSeek-VL2's transformers config (``model_type: deepseek_vl_v2``), with DeepSeek's defaults.

LMDeploy reads the checkpoint's ``config.json`` through transformers' ``AutoConfig``. The class for
``deepseek_vl_v2`` normally comes from DeepSeek's own package, registered as a side effect of
importing its processor; we do not install that package (it needs transformers < 4.48), so these
classes stand in for it.

Every default is DeepSeek's own, from ``deepseek_vl2/models/modeling_deepseek_vl_v2.py``
(``VisionEncoderConfig``, ``MlpProjectorConfig``, ``DeepseekVLV2Config``) and
``deepseek_vl2/models/configuration_deepseek.py`` (``DeepseekV2Config``). The published
``config.json`` files leave many fields out (projector type, depth, MLP ratio and downsample ratio;
layer and head counts; ``kv_lora_rank``; ``use_mla`` for the small and base models), so the
defaults decide them. transformers' built-in ``DeepseekV2Config`` has different defaults and must
not be used for the language model.

Written for transformers 5 (dataclass-style configs): RoPE settings live in ``rope_parameters``,
which LMDeploy reads; a legacy ``rope_scaling``/``rope_theta`` in config.json is folded into it by
transformers. One deliberate difference: DeepSeek's ``DeepseekVLV2Config.__init__`` defaults
``tile_tag`` to the placeholder string ``"tile_tag"`` (which its own model rejects) while its class
attribute says ``"2D"``; every published config sets ``"2D"``, and so does the default here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import AutoConfig, PretrainedConfig

MODEL_TYPE = "deepseek_vl_v2"
"""``model_type`` of DeepSeek-VL2 checkpoints."""

LANGUAGE_ARCHITECTURE = "DeepseekV2ForCausalLM"
"""``language_config.architectures[0]`` of DeepSeek-VL2 checkpoints."""


class VL2VisionConfig(PretrainedConfig):
    """The SigLIP vision tower (DeepSeek's ``VisionEncoderConfig``)."""

    model_type: ClassVar[str] = "vision"

    model_name: str = "siglip_large_patch16_384"
    image_size: int = 384
    patch_size: int = 16
    width: int = 1024
    layers: int = 24
    heads: int = 16
    mlp_ratio: float = 4
    global_pool: str = "map"
    ignore_head: bool = True
    class_token: bool = False
    num_classes: int = 0
    use_checkpoint: bool = False
    weight_init: str = "skip"
    deterministic: bool = False
    num_recomputing_layers: int = 0


class VL2ProjectorConfig(PretrainedConfig):
    """The vision-language adaptor (DeepSeek's ``MlpProjectorConfig``)."""

    model_type: ClassVar[str] = "mlp_projector"

    projector_type: str = "downsample_mlp_gelu"
    input_dim: int = 1152
    n_embed: int = 2048
    depth: int = 2
    mlp_ratio: int = 1
    downsample_ratio: int = 2
    token_pooling: bool = False


class VL2LanguageConfig(PretrainedConfig):
    """The DeepSeek-MoE language model (DeepSeek's ``DeepseekV2Config``, not transformers')."""

    model_type: ClassVar[str] = "deepseek_v2"
    default_theta = 10000.0  # DeepSeek's rope_theta default (a class attribute, not a field)

    vocab_size: int = 102400
    hidden_size: int = 4096
    intermediate_size: int = 11008
    moe_intermediate_size: int = 1407
    num_hidden_layers: int = 30
    num_attention_heads: int = 32
    num_key_value_heads: int | None = 32
    n_shared_experts: int | None = None
    n_routed_experts: int | None = None
    ep_size: int = 1
    routed_scaling_factor: float = 1.0
    kv_lora_rank: int | None = 512
    q_lora_rank: int | None = 1536
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    qk_nope_head_dim: int = 128
    topk_method: str = "greedy"
    n_group: int | None = None
    topk_group: int | None = None
    num_experts_per_tok: int | None = None
    moe_layer_freq: int = 1
    first_k_dense_replace: int = 0
    norm_topk_prob: bool = False
    scoring_func: str = "softmax"
    aux_loss_alpha: float = 0.001
    seq_aux: bool = True
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = 100000
    eos_token_id: int | list[int] | None = 100001
    pretraining_tp: int = 1
    tie_word_embeddings: bool = False
    rope_parameters: dict[str, Any] | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    use_mla: bool = True

    def __post_init__(self, **kwargs: Any) -> None:
        if self.num_key_value_heads is None:  # DeepSeek: "for backward compatibility"
            self.num_key_value_heads = self.num_attention_heads
        self.rms_norm_eps = float(self.rms_norm_eps)
        super().__post_init__(**kwargs)


_SUB_CONFIGS: dict[str, type[PretrainedConfig]] = {
    "vision_config": VL2VisionConfig,
    "projector_config": VL2ProjectorConfig,
    "language_config": VL2LanguageConfig,
}


class DeepseekVLV2Config(PretrainedConfig):
    """A whole DeepSeek-VL2 checkpoint: vision tower, projector and language model.

    The sub-configs are converted here, not left to transformers: ``sub_configs_defaults`` (which
    does it in transformers >= 5.24) does not exist in older transformers 5 releases such as
    5.17, the version of the GPU machines' image, where they would stay plain dicts and LMDeploy
    would fail on ``language_config.use_mla``.
    """

    model_type: ClassVar[str] = MODEL_TYPE
    sub_configs_defaults: ClassVar[dict[str, Any]] = dict(_SUB_CONFIGS)
    if "sub_configs_defaults" not in vars(PretrainedConfig):  # transformers < 5.24
        sub_configs: ClassVar[dict[str, type[PretrainedConfig]]] = dict(_SUB_CONFIGS)

    vision_config: dict[str, Any] | VL2VisionConfig | None = None
    projector_config: dict[str, Any] | VL2ProjectorConfig | None = None
    language_config: dict[str, Any] | VL2LanguageConfig | None = None
    tile_tag: str = "2D"
    global_view_pos: str = "head"
    candidate_resolutions: list[list[int]] | tuple[tuple[int, int], ...] = ((384, 384),)

    def __post_init__(self, **kwargs: Any) -> None:
        for name, config_class in _SUB_CONFIGS.items():
            value = getattr(self, name)
            if value is None:
                setattr(self, name, config_class())
            elif isinstance(value, dict):
                setattr(self, name, config_class(**value))
        super().__post_init__(**kwargs)


def register_config() -> None:
    """Make ``AutoConfig`` build :class:`DeepseekVLV2Config` for ``deepseek_vl_v2`` (idempotent)."""
    AutoConfig.register(MODEL_TYPE, DeepseekVLV2Config, exist_ok=True)
