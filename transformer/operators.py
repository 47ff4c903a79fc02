"""The operators of a transformer layer and of the model around it, with FLOPs and compulsory bytes.

For a scenario (transformer.scenario): the phase, batch, sequence, context and dtype, and the
what-ifs: the weight format, fusion (flash attention and fused norms, or the materialised score matrix
and norms as separate torch ops), and GEMM bytes from the tiling model for a chosen tile instead of
compulsory bytes.

Attention and weight bytes are gpubench.opcount's; norms, softmax, rotary embedding and elementwise
operators are transformer.counts'; tiled GEMM traffic is roofline.tiling's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpubench.opcount import (
    WEIGHT_FORMATS,
    activation_bytes,
    attention_bytes,
    attention_flops,
    attention_pairs,
    weight_bytes,
)
from gpubench.roofline.tiling import tile_traffic
from gpubench.transformer import counts
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.scenario import DTYPES, PHASES, Scenario, ScenarioError, check

__all__ = [
    "DTYPES",
    "PHASES",
    "Operator",
    "Scenario",
    "ScenarioError",
    "check",
    "layer_operators",
    "model_operators",
]

# The peak a weight format's GEMM runs at: fp8 and int8 multiply quantised activations by quantised
# weights (W8A8) on that type's tensor cores; int4 is weight-only (dequantised on chip, multiplied in the
# activations' dtype); fp16/bf16 weights run at their own peak.
_FORMAT_COMPUTE = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "int8", "int4": None}
_ONE_BYTE = ("fp8", "int8")


@dataclass(frozen=True)
class Operator:
    """One operator: a kernel, or (`parts`) a sequence of kernels run one after another."""

    name: str
    kind: str  # "gemm", "attention", "norm", "softmax", "elementwise", "embedding"
    scope: str  # "layer" (runs once per layer) or "model" (once per forward)
    flops: int
    bytes: int
    dtype: str  # whose peak applies
    tensor_cores: bool
    shape: dict = field(default_factory=dict)
    weight_bytes: int = 0  # weights read
    kv_bytes: int = 0  # KV cache read
    resident_bytes: int = 0  # what it keeps in GPU memory (its weights)
    live_bytes: int | None = None  # its activations, each once (None: bytes less weights and KV cache)
    bias: bool = False  # a GEMM with a bias add in its epilogue
    form: str = ""  # which norm or elementwise operator: "rmsnorm", "layernorm", "silu_mul", "gelu", "add"
    note: str = ""
    parts: tuple[counts.Count, ...] = ()  # the kernels of an unfused operator

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.bytes else None

    @property
    def activation_bytes(self) -> int:
        """The activations one call touches, each once: whatever the traffic model re-reads."""
        return (
            self.live_bytes if self.live_bytes is not None else self.bytes - self.weight_bytes - self.kv_bytes
        )

    @property
    def kernels(self) -> int:
        return len(self.parts) or 1


def _gemm(
    name: str,
    M: int,
    N: int,
    K: int,
    sc: Scenario,
    *,
    bias: bool,
    quantised: bool = True,
    scope: str = "layer",
    resident: bool = True,
    note: str = "",
) -> Operator:
    """out[M, N] = x[M, K] @ W[K, N] (+ bias): 2 FLOPs a multiply-add."""
    s = sc.itemsize
    fmt = sc.weights if quantised else None
    compute = (_FORMAT_COMPUTE[fmt] or sc.dtype) if fmt else sc.dtype
    a_size = 1 if compute in _ONE_BYTE else s  # W8A8 reads quantised activations
    a_bytes = activation_bytes(M, K, compute) if compute in _ONE_BYTE else M * K * s  # with per-row scales
    w_bytes = weight_bytes(K, N, fmt, sc.group) if fmt else K * N * s
    flops = 2 * M * N * K + (M * N if bias else 0)  # the bias add in the epilogue
    bias_bytes = N * s if bias else 0
    if sc.tile is not None:
        tm, tn, tk = sc.tile
        t = tile_traffic(M, N, K, tm, tn, tk, a_size, sc.dataflow, out_bytes=s)
        nbytes = t.bytes + bias_bytes
        how = f"tiled {tm}x{tn}x{tk} {sc.dataflow}: x read {t.a_reads}x, W {t.b_reads}x"
        how += " (scales not counted)" if fmt and WEIGHT_FORMATS[fmt].scale_bytes else ""
        note = "; ".join(filter(None, [note, how]))
        w_read = t.b_bytes
    else:
        nbytes = a_bytes + w_bytes + M * N * s + bias_bytes  # x once, W once, out once
        w_read = w_bytes
    return Operator(
        name,
        "gemm",
        scope,
        flops,
        nbytes,
        compute,
        compute != "fp32",
        {"M": M, "N": N, "K": K},
        weight_bytes=w_read + bias_bytes,
        resident_bytes=(w_bytes + bias_bytes) if resident else 0,
        live_bytes=a_bytes + M * N * s,
        bias=bias,
        note="; ".join(filter(None, [note, f"{fmt} weights" if fmt else ""])),
    )


def _rowwise(
    name: str,
    kind: str,
    parts: list[counts.Count],
    sc: Scenario,
    shape: dict,
    resident: int = 0,
    scope: str = "layer",
    note: str = "",
    form: str = "",
) -> Operator:
    flops, nbytes = sum(p.flops for p in parts), sum(p.bytes for p in parts)
    many = tuple(parts) if len(parts) > 1 else ()
    return Operator(
        name,
        kind,
        scope,
        flops,
        nbytes,
        sc.dtype,
        False,
        shape,
        weight_bytes=resident,
        resident_bytes=resident,
        note=note or parts[0].note,
        parts=many,
        form=form,
    )


def _norm(name: str, rows: int, cfg: ModelConfig, sc: Scenario, scope: str = "layer") -> Operator:
    s = sc.itemsize
    weights = cfg.hidden * s * (2 if cfg.norm == "layernorm" else 1)
    parts = counts.norm(cfg.norm, rows, cfg.hidden, s, fused=sc.fusion)
    note = f"{cfg.norm} fused" if sc.fusion else f"{cfg.norm} as {len(parts)} torch ops"
    return _rowwise(
        name, "norm", parts, sc, {"rows": rows, "cols": cfg.hidden}, weights, scope, note, cfg.norm
    )


def _attention(cfg: ModelConfig, sc: Scenario) -> list[Operator]:
    b, h, kvh, d, sq, sk, s = sc.batch, cfg.heads, cfg.kv_heads, cfg.head_dim, sc.seq, sc.context, sc.itemsize
    shape = {"batch": b, "heads": h, "kv_heads": kvh, "seq_q": sq, "seq_k": sk, "head_dim": d, "causal": 1}
    kv = attention_bytes(b, h, kvh, d, 0, sk, s)  # K and V, once per kv head
    q_side = attention_bytes(b, h, kvh, d, sq, 0, s) // 2  # Q (or O)
    pairs = attention_pairs(sq, sk, True)
    if sc.attention_form == "flash":
        note = (
            f"flash: scores, softmax and context in one kernel; causal, {pairs:,} of {sq * sk:,} "
            f"(query, key) pairs computed (bottom-right aligned)"
        )
        return [
            Operator(
                "attention",
                "attention",
                "layer",
                attention_flops(b, h, d, sq, sk, True),
                attention_bytes(b, h, kvh, d, sq, sk, s),
                sc.dtype,
                True,
                shape,
                kv_bytes=kv,
                note=note,
            )
        ]
    return _materialised_attention(cfg, sc, q_side, kv)


def _materialised_attention(cfg: ModelConfig, sc: Scenario, q_side: int, kv: int) -> list[Operator]:
    """Scores, softmax and context as three kernels: S and P written to DRAM and read back."""
    b, h, kvh, d, sq, sk, s = sc.batch, cfg.heads, cfg.kv_heads, cfg.head_dim, sc.seq, sc.context, sc.itemsize
    scores = (attention_bytes(b, h, kvh, d, sq, sk, s, materialised=True) - q_side * 2 - kv) // 2  # S once
    half = attention_flops(b, h, d, sq, sk, False) // 2  # every pair computed, then masked
    every = f"all {sq * sk:,} pairs computed and the causal ones kept (materialised score matrix)"
    bmm = {"batch": b * h, "M": sq, "N": sk, "K": d}
    sm = counts.softmax(b * h * sq, sk, s, fused=sc.fusion)
    return [
        Operator(
            "attn_scores",
            "attention",
            "layer",
            half,
            q_side + kv // 2 + scores,
            sc.dtype,
            True,
            bmm,
            kv_bytes=kv // 2,
            note=f"S = Q K^T: {every}",
        ),
        _rowwise(
            "softmax",
            "softmax",
            sm,
            sc,
            {"rows": b * h * sq, "cols": sk},
            note="softmax of S fused" if sc.fusion else f"softmax of S as {len(sm)} torch ops",
        ),
        Operator(
            "attn_context",
            "attention",
            "layer",
            half,
            scores + kv // 2 + q_side,
            sc.dtype,
            True,
            {"batch": b * h, "M": sq, "N": d, "K": sk},
            kv_bytes=kv // 2,
            note="O = P V",
        ),
    ]


def _elementwise(name: str, kind: str, elements: int, sc: Scenario, note: str) -> Operator:
    c = counts.elementwise(kind, elements, sc.itemsize)
    shape = {"elements": elements}
    return Operator(
        name, "elementwise", "layer", c.flops, c.bytes, sc.dtype, False, shape, note=note, form=kind
    )


def layer_operators(cfg: ModelConfig, sc: Scenario) -> list[Operator]:
    """One layer, pre-norm: norm, QKV, rotary, attention, O, residual; norm, MLP, residual."""
    check(cfg, sc)
    T, H = sc.tokens, cfg.hidden
    ops = [
        _norm("attn_norm", T, cfg, sc),
        _gemm("qkv_proj", T, cfg.q_dim + 2 * cfg.kv_dim, H, sc, bias=cfg.bias),
    ]
    if cfg.position == "rope":
        c = counts.rope(T, sc.seq, cfg.heads, cfg.kv_heads, cfg.head_dim, sc.itemsize)
        ops.append(
            Operator(
                "rope",
                "elementwise",
                "layer",
                c.flops,
                c.bytes,
                sc.dtype,
                False,
                {"tokens": T, "heads": cfg.heads + cfg.kv_heads, "head_dim": cfg.head_dim},
                note=c.note,
            )
        )
    ops += _attention(cfg, sc)
    ops += [
        _gemm("o_proj", T, H, cfg.q_dim, sc, bias=cfg.bias),
        _elementwise("attn_residual", "add", T * H, sc, "x + attention output"),
        _norm("mlp_norm", T, cfg, sc),
    ]
    if cfg.activation == "swiglu":
        ops += [
            _gemm("gate_up_proj", T, 2 * cfg.ffn, H, sc, bias=cfg.bias, note="gate and up in one GEMM"),
            _elementwise("act", "silu_mul", T * cfg.ffn, sc, "silu(gate) * up"),
        ]
    else:
        ops += [
            _gemm("fc1", T, cfg.ffn, H, sc, bias=cfg.bias),
            _elementwise("act", "gelu", T * cfg.ffn, sc, "gelu (tanh form)"),
        ]
    ops += [
        _gemm("down_proj" if cfg.activation == "swiglu" else "fc2", T, H, cfg.ffn, sc, bias=cfg.bias),
        _elementwise("mlp_residual", "add", T * H, sc, "x + MLP output"),
    ]
    return ops


def model_operators(cfg: ModelConfig, sc: Scenario) -> list[Operator]:
    """Once per forward: the token (and position) embedding, the final norm and the LM head. The LM head
    stays in the dtype whatever the weight format (as quantised checkpoints usually keep it)."""
    check(cfg, sc)
    T, H, s = sc.tokens, cfg.hidden, sc.itemsize
    table = cfg.vocab * H * s
    flops, nbytes, note = 0, 2 * T * H * s, "gather: T rows of the table read, written"
    if cfg.position == "learned":
        table += cfg.max_context * H * s
        flops, nbytes = T * H, nbytes + sc.seq * H * s  # position rows read once, added to every sequence
        note += "; learned positions added"
    embed = Operator(
        "embedding",
        "embedding",
        "model",
        flops,
        nbytes,
        sc.dtype,
        False,
        {"tokens": T},
        weight_bytes=T * H * s,
        resident_bytes=table,
        note=note,
    )
    rows = sc.batch if sc.phase == "prefill" and sc.logits == "last" else T
    which = "each sequence's last token" if rows == sc.batch and sc.seq > 1 else "every new token"
    head = _gemm(
        "lm_head",
        rows,
        cfg.vocab,
        H,
        sc,
        bias=False,
        quantised=False,
        scope="model",
        resident=not cfg.tied_embeddings,
        note=f"logits of {which}" + ("; tied to the embedding" if cfg.tied_embeddings else ""),
    )
    return [embed, _norm("final_norm", rows, cfg, sc, scope="model"), head]
