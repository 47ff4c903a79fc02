"""The published closed forms a training plan is checked against, each with its source. The planner itself
counts term by term (memory.py, shard.py, step.py); the tests hold its counts to these where the formulas'
assumptions hold (GeLU MLP, full multi-head attention, materialised scores, dropout).
"""

from __future__ import annotations

from gpubench.transformer.configs import ModelConfig

__all__ = [
    "bubble_fraction",
    "korthikanti_activation_bytes",
    "megatron_flops_per_iteration",
    "model_params",
    "palm_flops_per_token",
    "zero_state_bytes",
]


def model_params(cfg: ModelConfig) -> int:
    """N of the MFU formula: every parameter a token multiplies (the output layer counts, as a matrix
    product; the input embedding table and learned positions, looked up, do not)."""
    lookup = cfg.vocab * cfg.hidden + (cfg.max_context * cfg.hidden if cfg.position == "learned" else 0)
    head = cfg.vocab * cfg.hidden
    return cfg.params() - lookup + (head if cfg.tied_embeddings else 0)


def palm_flops_per_token(cfg: ModelConfig, seq: int) -> int:
    """Model FLOPs per token of a training step, 6N + 12 L H Q T (Chowdhery et al., PaLM, arXiv:2204.02311,
    appendix B: L layers, H heads, Q head size, T sequence length; every (query, key) pair counted)."""
    return 6 * model_params(cfg) + 12 * cfg.layers * cfg.heads * cfg.head_dim * seq


def megatron_flops_per_iteration(batch: int, seq: int, layers: int, hidden: int, vocab: int,
                                 full_recompute: bool = True) -> float:  # fmt: skip
    """Narayanan et al. 2021 (arXiv:2104.04473) section 5.1: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) with full
    recompute (a second forward of every layer); 72 B s l h^2 (1 + s/(6h) + V/(12 l h)) without."""
    B, s, L, h, V = batch, seq, layers, hidden, vocab
    if full_recompute:
        return 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))
    return 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h))


def korthikanti_activation_bytes(s: int, b: int, h: int, a: int, t: int = 1, sp: bool = False,
                                 recompute: str = "none") -> float:  # fmt: skip
    """Activation bytes of one layer, Korthikanti et al. 2022 (arXiv:2205.05198) table 2: no parallelism
    sbh(34 + 5as/h); TP sbh(10 + 24/t + 5as/(ht)); TP + SP sbh/t (34 + 5as/h); TP + SP + selective
    recompute 34 sbh/t; full recompute 2sbh, the layer's input (2sbh/t under SP, whose layer input is
    sharded already: the table's row predates SP's use with full recompute)."""
    if recompute == "full":
        return 2 * s * b * h / (t if sp else 1)
    if recompute == "selective":
        return 34 * s * b * h / t if sp else s * b * h * (10 + 24 / t)
    if sp:
        return s * b * h / t * (34 + 5 * a * s / h)
    return s * b * h * (10 + 24 / t + 5 * a * s / (h * t))


def bubble_fraction(pp: int, micro_batches: int, interleave: int = 1) -> float:
    """Pipeline bubble over ideal compute: (p - 1)/m, interleaved (p - 1)/(m v) (Narayanan et al. 2021,
    sections 2.2.1 and 2.2.2)."""
    return (pp - 1) / (micro_batches * interleave)


def zero_state_bytes(params: int, stage: int, shards: int, grad_bytes: int = 2) -> int:
    """Model states per GPU, ZeRO (Rajbhandari et al., arXiv:1910.02054) section 5, K = 12: (2 + 2 + K) psi;
    stage 1 shards the optimizer states, 2 the gradients too, 3 the weights too."""
    w = 2 * params // (shards if stage >= 3 else 1)
    g = grad_bytes * params // (shards if stage >= 2 else 1)
    o = 12 * params // (shards if stage >= 1 else 1)
    return w + g + o
