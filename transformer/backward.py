"""Training's phases beside the forward: each forward operator's backward, the loss, and the optimizer step,
with FLOPs and compulsory bytes from the same counts as the forward (gpubench.opcount for attention,
transformer.counts for the row-wise and elementwise operators).

    GEMM  out[M, N] = x[M, K] W[K, N]: dgrad dx = dy W^T (2MNK, an [M, K] output over N) and wgrad
          dW = x^T dy (2MNK, a [K, N] output over M) accumulated into the gradient buffer (read and written
          in the gradients' dtype: fp32 where micro-batches accumulate in fp32, as Megatron and Llama 3 do)
    attention (flash)  opcount's backward: 2.5x the forward's FLOPs; Q, K, V, O, dO, LSE read, dQ, dK, dV
          written. Materialised: dS K and dS^T Q, dO V^T and P^T dO (each twice its forward), and the
          softmax's backward over the score matrix
    norms, softmax, elementwise, dropout, rotary  transformer.counts' backward forms
    loss  cross-entropy over the logits in fp32: a softmax forward, its gradient (P - onehot) backward
    optimizer  AdamW per parameter: fp32 master weight, m and v read and written, the gradient read, the
          16-bit weight written; 14 FLOPs (m: 3, v: 4, the update: sqrt, add, divide, decay and step: 7)
    gradient passes  what Megatron-LM's step runs over the gradients besides the optimizer, each a kernel
          of its own: the gradient buffer zeroed for the next step (written once), the global norm for
          clipping (read once: its default clip_grad is 1.0), and with fp16 the loss scaler's unscale and
          inf/NaN check (read and written once)

Standard library only. `training_operators` lists one GPU's step of a whole model (the single-GPU case of
gpubench.transformer.training, which shards the same operators across GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench import dtypes
from gpubench.opcount import attention_bytes, attention_flops
from gpubench.transformer import counts
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.operators import Operator, layer_operators, model_operators
from gpubench.transformer.scenario import Scenario

__all__ = [
    "ADAMW_FLOPS",
    "GRAD_DTYPES",
    "TrainingOps",
    "backward_operators",
    "grad_itemsize",
    "gradient_passes_operator",
    "loss_operators",
    "optimizer_operator",
    "training_operators",
    "training_scenario",
]

GRAD_DTYPES = ("fp32", "bf16")  # what gradients are accumulated and reduced in
ADAMW_FLOPS = 14
MASTER_STATE_BYTES = 12  # fp32 master weight, first and second moments


def grad_itemsize(grad_dtype: str) -> int:
    """Bytes per gradient element (ValueError for a dtype gradients are not kept in)."""
    if grad_dtype not in GRAD_DTYPES:
        raise ValueError(f"gradient dtype must be one of {', '.join(GRAD_DTYPES)}, got {grad_dtype!r}")
    return int(dtypes.itemsize(grad_dtype))


def _gemm_backward(op: Operator, sc: Scenario, grad_size: int) -> list[Operator]:
    if sc.weights is not None:
        raise ValueError(
            "a backward of quantised weights is not modelled: train with the weights in the dtype"
        )
    M, N, K, s = op.shape["M"], op.shape["N"], op.shape["K"], sc.itemsize
    bias = M * N if op.bias else 0  # db: the column sums of dy
    dgrad = Operator(
        f"{op.name}.dgrad", "gemm", op.scope, 2 * M * N * K, M * N * s + K * N * s + M * K * s, op.dtype,
        op.tensor_cores, {"M": M, "N": K, "K": N}, weight_bytes=K * N * s, note="dx = dy W^T",
    )  # fmt: skip
    wgrad = Operator(
        f"{op.name}.wgrad", "gemm", op.scope, 2 * M * N * K + bias,
        M * K * s + M * N * s + 2 * K * N * grad_size + (2 * N * grad_size if op.bias else 0), op.dtype,
        op.tensor_cores, {"M": K, "N": N, "K": M}, note="dW += x^T dy (accumulated)",
    )  # fmt: skip
    return [dgrad, wgrad]


def _attention_backward(op: Operator, sc: Scenario) -> Operator:
    sh = op.shape
    b, h, kvh, d, sq, sk = (sh[k] for k in ("batch", "heads", "kv_heads", "head_dim", "seq_q", "seq_k"))
    return replace(
        op,
        name=f"{op.name}.backward",
        flops=attention_flops(b, h, d, sq, sk, bool(sh["causal"]), backward=True),
        bytes=attention_bytes(b, h, kvh, d, sq, sk, sc.itemsize, backward=True),
        kv_bytes=0,
        note="flash backward: S recomputed, dV, dP, dQ, dK",
    )


def _materialised_backward(op: Operator, sc: Scenario) -> Operator:
    """attn_scores (S = Q K^T) and attn_context (O = P V): two products each, twice the forward's FLOPs."""
    sh = op.shape
    scores = sh["batch"] * sh["M"] * sh["K" if op.name == "attn_context" else "N"] * sc.itemsize
    if op.name == "attn_scores":  # read dS, Q, K; write dQ, dK
        q_side = op.bytes - op.kv_bytes - scores
        nbytes = scores + 2 * q_side + 2 * op.kv_bytes
    else:  # read dO, V, P; write dP, dV
        nbytes = 2 * op.bytes
    return replace(op, name=f"{op.name}.backward", flops=2 * op.flops, bytes=nbytes, kv_bytes=0, parts=())


def _rowwise_backward(op: Operator, sc: Scenario) -> Operator:
    s, sh = sc.itemsize, op.shape
    if op.kind == "norm":
        c = counts.norm_backward(op.form, sh["rows"], sh["cols"], s)
    elif op.kind == "softmax":
        c = counts.softmax_backward(sh["rows"], sh["cols"], s)
    elif op.form == "dropout":
        c = counts.dropout(sh["elements"], s, backward=True)
    elif op.form in counts.ELEMENTWISE_BACKWARD_FLOPS:
        c = counts.elementwise_backward(op.form, sh["elements"], s)
    elif op.name == "rope":  # a rotation by -theta: the forward's count
        c = counts.Count(op.flops, op.bytes, "rotary embedding backward")
    else:
        raise ValueError(f"no backward for operator {op.name!r} ({op.kind})")
    return replace(op, name=f"{op.name}.backward", flops=c.flops, bytes=c.bytes, parts=(), note=c.note,
                   weight_bytes=0, resident_bytes=0)  # fmt: skip


def _embedding_backward(op: Operator, sc: Scenario, grad_size: int) -> Operator:
    """Scatter-add of dy into the table's gradient: dy read, the touched rows read and written."""
    n = op.weight_bytes // sc.itemsize  # the T rows of H values the forward gathered
    return replace(
        op,
        name="embedding.backward",
        flops=n,
        bytes=n * sc.itemsize + 2 * n * grad_size,
        weight_bytes=0,
        resident_bytes=0,
        note="scatter-add into the table's gradient",
    )


def backward_operators(ops: list[Operator], sc: Scenario, grad_dtype: str = "fp32") -> list[Operator]:
    """The backward of each forward operator, in reverse order (the order autograd runs them)."""
    grad_size = grad_itemsize(grad_dtype)
    out: list[Operator] = []
    for op in reversed(ops):
        if op.kind == "gemm":
            out += _gemm_backward(op, sc, grad_size)
        elif op.kind == "attention" and op.name in ("attn_scores", "attn_context"):
            out.append(_materialised_backward(op, sc))
        elif op.kind == "attention":
            out.append(_attention_backward(op, sc))
        elif op.kind == "embedding":
            out.append(_embedding_backward(op, sc, grad_size))
        else:
            out.append(_rowwise_backward(op, sc))
    return out


def loss_operators(rows: int, vocab: int) -> tuple[Operator, Operator]:
    """Cross-entropy over `rows` x `vocab` logits in fp32: the softmax forward, then P - onehot backward."""
    fwd = counts.softmax(rows, vocab, 4)[0]
    shape = {"rows": rows, "cols": vocab}
    f = Operator("loss", "softmax", "model", fwd.flops, fwd.bytes, "fp32", False, shape,
                 note="cross-entropy: fp32 softmax of the logits")  # fmt: skip
    moved = 2 * rows * vocab * 4  # read P, write dlogits
    b = Operator("loss.backward", "softmax", "model", rows * vocab, moved, "fp32", False, shape,
                 note="dlogits = P - onehot: read P, write dlogits")  # fmt: skip
    return f, b


def optimizer_operator(params: int, grad_dtype: str = "fp32", itemsize: int = 2) -> Operator:
    """AdamW over `params` parameters (those this GPU updates: all, or its ZeRO shard)."""
    moved = params * (2 * MASTER_STATE_BYTES + grad_itemsize(grad_dtype) + itemsize)
    return Operator("adamw", "elementwise", "model", ADAMW_FLOPS * params, moved, "fp32", False,
                    {"elements": params}, note="AdamW: fp32 master, m, v read and written; grad read; "
                    "16-bit weight written")  # fmt: skip


def gradient_passes_operator(held: int, stepped: int, grad_dtype: str = "fp32", loss_scaled: bool = False
                             ) -> Operator:  # fmt: skip
    """The step's passes over the gradients of a GPU holding `held` of them and stepping `stepped` (its
    optimizer shard): zeroing the buffer, the norm for clipping, and (`loss_scaled`: fp16) the unscale."""
    g = grad_itemsize(grad_dtype)
    parts = [counts.Count(0, g * held, "zero the gradient buffer"),
             counts.Count(2 * stepped, g * stepped, "global norm: sum of squares")]  # fmt: skip
    if loss_scaled:
        parts.append(counts.Count(2 * stepped, 2 * g * stepped, "loss scale: unscale, inf/NaN check"))
    what = "gradient unscale and inf/NaN check, " if loss_scaled else "gradient "
    return Operator("gradient passes", "elementwise", "model", sum(c.flops for c in parts),
                    sum(c.bytes for c in parts), "fp32", False, {"elements": held},
                    note=f"{what}norm, buffer zeroed", parts=tuple(parts))  # fmt: skip


def training_scenario(batch: int, seq: int, dtype: str = "bf16", attention: str | None = None) -> Scenario:
    """A training micro-batch's forward: a prefill of `seq` tokens per sequence with logits for every one."""
    return Scenario("prefill", batch, seq, seq, dtype, logits="all", attention=attention)


@dataclass(frozen=True)
class TrainingOps:
    """One GPU's training step of a whole model, one micro-batch: the operators of each phase and how often
    each runs (layer operators once per layer)."""

    forward: list[tuple[Operator, int]]
    backward: list[tuple[Operator, int]]
    optimizer: Operator

    def flops(self) -> int:
        run = self.forward + self.backward
        return sum(op.flops * n for op, n in run) + self.optimizer.flops


def training_operators(cfg: ModelConfig, sc: Scenario, grad_dtype: str = "fp32") -> TrainingOps:
    """Forward, backward and optimizer step of `cfg` for the micro-batch `sc` on one GPU."""
    layer = layer_operators(cfg, sc)
    ends = model_operators(cfg, sc)
    loss_f, loss_b = loss_operators(sc.tokens if sc.logits == "all" else sc.batch, cfg.vocab)
    L = cfg.layers
    fwd = [(op, L) for op in layer] + [(op, 1) for op in ends] + [(loss_f, 1)]
    bwd = [(loss_b, 1)] + [(op, 1) for op in backward_operators(ends, sc, grad_dtype)]
    bwd += [(op, L) for op in backward_operators(layer, sc, grad_dtype)]
    return TrainingOps(fwd, bwd, optimizer_operator(cfg.params(), grad_dtype, sc.itemsize))
