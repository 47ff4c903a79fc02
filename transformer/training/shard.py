"""One GPU's share of a training step's operators, for one micro-batch: the same operators `gpubench model`
counts (transformer.operators) and their backward (transformer.backward), cut as the layout cuts them.

    TP   a layer of `shard_config(cfg, tp)`: heads, key/value heads (replicated when fewer than TP), FFN
         and vocabulary split TP ways (Megatron's column- and row-parallel GEMMs, vocab-parallel embedding
         and output layer); norms and residual adds run whole on every rank
    SP   the norms, residual adds and hidden dropouts run on the rank's 1/TP of the tokens
    CP   each rank holds 2 of the 2 x CP sequence chunks, i and 2CP-1-i (Llama 3), and attends each to the
         gathered keys before it: two flash calls of seq_q = chunk, seq_k = (i+1) chunks and (2CP-i)
         chunks, which give every rank the same (query, key) pairs; the rest runs on the rank's S/CP tokens
    dropout  (GPT-3 style) on the attention probabilities (its own kernel when the scores are
         materialised; inside the flash kernel otherwise) and on both residual branches

Recompute re-runs in the backward: everything of the layer (full), or the attention core when the scores
are materialised (selective; with flash attention the core is recomputed inside its backward already,
so selective recomputes nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from gpubench.transformer import counts
from gpubench.transformer.backward import backward_operators, loss_operators, training_scenario
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.operators import Operator, layer_operators, model_operators
from gpubench.transformer.training.layout import Job, Layout

__all__ = ["SP_REGION", "StageOps", "operator_key", "shard_config", "stage_operators"]

SP_REGION = ("attn_norm", "attn_residual", "mlp_norm", "mlp_residual", "final_norm")
ATTENTION_CORE = ("attn_scores", "softmax", "attn_dropout", "attn_context")


@cache
def shard_config(cfg: ModelConfig, tp: int) -> ModelConfig:
    """The model as one TP rank holds it: heads, key/value heads (at least one), FFN and vocabulary / TP."""
    if tp == 1:
        return cfg
    return replace(
        cfg, key=f"{cfg.key}/tp{tp}", heads=cfg.heads // tp, kv_heads=max(1, cfg.kv_heads // tp),
        ffn=cfg.ffn // tp, vocab=-(-cfg.vocab // tp),
    )  # fmt: skip


@dataclass(frozen=True)
class StageOps:
    """One micro-batch on one GPU: a layer's forward, backward and recompute, and the extra operators of
    the first stage (the embedding) and the last (final norm, output layer, loss)."""

    layer_fwd: tuple[Operator, ...]
    layer_bwd: tuple[Operator, ...]
    layer_recompute: tuple[Operator, ...]
    first_fwd: tuple[Operator, ...]
    first_bwd: tuple[Operator, ...]
    last_fwd: tuple[Operator, ...]
    last_bwd: tuple[Operator, ...]


def _dropout(name: str, elements: int, dtype: str, size: int) -> Operator:
    c = counts.dropout(elements, size)
    return Operator(name, "elementwise", "layer", c.flops, c.bytes, dtype, False, {"elements": elements},
                    form="dropout", note=c.note)  # fmt: skip


def _with_dropout(ops: list[Operator], job: Job, sp_tokens: int, size: int) -> list[Operator]:
    out = []
    for op in ops:
        if op.name in ("attn_residual", "mlp_residual"):
            out.append(
                _dropout(op.name.replace("residual", "dropout"), sp_tokens * job.cfg.hidden, op.dtype, size)
            )
        out.append(op)
        if op.name == "softmax":
            out.append(_dropout("attn_dropout", op.shape["rows"] * op.shape["cols"], op.dtype, size))
    return out


def _cp_attention(shard: ModelConfig, job: Job, lay: Layout) -> list[Operator]:
    """Rank 0's two chunks (every rank computes the same number of pairs)."""
    c, b = job.seq // (2 * lay.cp), lay.micro_batch
    out = []
    for i, keys in enumerate((c, 2 * lay.cp * c)):
        sc = training_scenario(b, c, job.dtype, job.attention)
        (att,) = [op for op in layer_operators(shard, replace(sc, context=keys)) if op.kind == "attention"]
        out.append(replace(att, name=f"attention.chunk{i}"))
    return out


def _layer(shard: ModelConfig, job: Job, lay: Layout) -> list[Operator]:
    b, s_local = lay.micro_batch, job.seq // lay.cp
    ops = layer_operators(shard, training_scenario(b, s_local, job.dtype, job.attention))
    sp = lay.sp and lay.tp > 1
    sp_seq = s_local // lay.tp if sp else s_local
    if sp:
        sp_ops = {
            op.name: op
            for op in layer_operators(shard, training_scenario(b, sp_seq, job.dtype, job.attention))
        }
        ops = [sp_ops[op.name] if op.name in SP_REGION else op for op in ops]
    if lay.cp > 1:
        i = next(k for k, op in enumerate(ops) if op.kind == "attention")
        ops[i : i + 1] = _cp_attention(shard, job, lay)
    if job.dropout:
        ops = _with_dropout(ops, job, b * sp_seq, job.itemsize)
    return ops


def _ends(shard: ModelConfig, job: Job, lay: Layout) -> tuple[list[Operator], list[Operator]]:
    """(first stage's forward extras, last stage's), from model_operators with logits for every token."""
    b, s_local = lay.micro_batch, job.seq // lay.cp
    sc = training_scenario(b, s_local, job.dtype, job.attention)
    ends = {op.name: op for op in model_operators(shard, sc)}
    if lay.sp and lay.tp > 1:
        sp_sc = training_scenario(b, s_local // lay.tp, job.dtype, job.attention)
        ends["final_norm"] = next(op for op in model_operators(shard, sp_sc) if op.name == "final_norm")
    first = [ends["embedding"]]
    if job.dropout:  # on the rank's share of the tokens under SP, as the hidden dropouts
        tokens = sc.tokens // lay.tp if lay.sp else sc.tokens
        first.append(_dropout("embedding_dropout", tokens * job.cfg.hidden, job.dtype, job.itemsize))
    last = [ends["final_norm"], ends["lm_head"], loss_operators(sc.tokens, shard.vocab)[0]]
    return first, last


def operator_key(lay: Layout) -> Layout:
    """The layout reduced to the knobs that change a GPU's operators (the search's many layouts share a
    few sets of them)."""
    return Layout(tp=lay.tp, cp=lay.cp, sp=lay.sp and lay.tp > 1, recompute=lay.recompute,
                  micro_batch=lay.micro_batch)  # fmt: skip


def stage_operators(job: Job, lay: Layout) -> StageOps:
    """The operators one GPU runs for one micro-batch under `lay`."""
    return _stage_operators(job, operator_key(lay))


@cache
def _stage_operators(job: Job, lay: Layout) -> StageOps:
    shard = shard_config(job.cfg, lay.tp)
    sc = training_scenario(lay.micro_batch, job.seq // lay.cp, job.dtype, job.attention)
    layer = _layer(shard, job, lay)
    first, last = _ends(shard, job, lay)
    last_bwd = [loss_operators(sc.tokens, shard.vocab)[1]] + backward_operators(last[:2], sc, job.grad_dtype)
    if lay.recompute == "full":
        again = layer
    elif lay.recompute == "selective":
        again = [op for op in layer if op.name in ATTENTION_CORE]
    else:
        again = []
    return StageOps(
        tuple(layer), tuple(backward_operators(layer, sc, job.grad_dtype)),
        tuple(replace(op, name=f"{op.name}.recompute") for op in again), tuple(first),
        tuple(backward_operators(first, sc, job.grad_dtype)), tuple(last), tuple(last_bwd),
    )  # fmt: skip
