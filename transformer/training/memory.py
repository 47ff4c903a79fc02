"""Memory per GPU of a training step: weights, gradients, optimizer states, activations and buffers.

Model states (Rajbhandari et al., ZeRO, arXiv:1910.02054, section 3.1, K = 12): 16-bit weights (2 bytes a
parameter), gradients in the job's gradient dtype (4 bytes fp32, 2 bf16), the optimizer's fp32 master
weights, m and v (12 bytes). ZeRO-1 shards the optimizer states, ZeRO-2 the gradients as well, ZeRO-3
(FSDP) the weights too, over the ranks that hold the same weights: DP x CP (context-parallel ranks hold
the same weights, so Megatron-Core reduces gradients over its dp-cp group).

Activations per layer and micro-batch: Korthikanti et al. 2022 (arXiv:2205.05198) section 4, term by term,
in bytes (s sequence, b micro-batch, h hidden, a heads, t TP; 16-bit values, 1-byte dropout masks):

    attention  norm input 2sbh, QKV input 2sbh, Q and K 4sbh, V 2sbh, softmax output 2as^2b,
               dropout mask as^2b and output 2as^2b, output projection input 2sbh, dropout mask sbh
    MLP        norm input 2sbh, fc1 input 2sbh, GeLU input 8sbh, fc2 input 8sbh, dropout mask sbh
    total      sbh (34 + 5as/h)                                   (their equation 1)

adapted here, each term from the config: Q 2sb q_dim, K and V 2sb kv_dim each (grouped-query attention);
SwiGLU's gate and up 4sb ffn and the down projection's input 2sb ffn (GeLU: 2sb ffn twice); flash attention
keeps no s^2 term but its fp32 row log-sum-exps (4asb); no dropout, no masks. TP divides the heads' and the
FFN's terms; the norm inputs, the QKV and fc1 inputs and the hidden masks stay whole on each rank
(sbh (10 + 24/t + 5as/(ht)), their equation 2) unless SP shards them too (sbh/t (34 + 5as/h), equation 4).
Selective recompute drops the attention core's s^2 terms (34 sbh/t); full recompute keeps each layer's
input, 2sbh (2sbh/t under SP), and rebuilds one layer's activations during its backward.

The first pipeline stage holds the most micro-batches in flight: min(PP, m) (1F1B), or for V interleaved
chunks min(mV, 2(PP-1) + (V-1)PP + 1) chunks of its layers / V (Megatron's warm-up count plus one). The
last stage holds one micro-batch, and the logits in fp32 (4sbv/t) with the final norm's and the output
layer's inputs (their section 4.3). Buffers: under SP the gathered input of a GEMM (2sbh); under CP the
gathered K and V and their gradients; under ZeRO-3 the gathered weights of two layers (the one running
and the one prefetched). Not modelled: the CUDA context, the allocator's fragmentation and NCCL's buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.transformer.training.layout import Job, Layout
from gpubench.transformer.training.shard import shard_config

__all__ = ["MASTER_BYTES", "Memory", "activation_terms", "in_flight_layers", "stage_memory", "stage_params"]

MASTER_BYTES = 12  # fp32 master weight, Adam's m and v


def activation_terms(job: Job, lay: Layout) -> dict[str, int]:
    """Bytes one layer stores for one micro-batch under the layout's TP, SP, CP and recompute policy."""
    cfg, e = job.cfg, job.itemsize
    t, sp = lay.tp, lay.sp and lay.tp > 1
    s, b = job.seq // lay.cp, lay.micro_batch
    T, h, s_k = b * s, cfg.hidden, job.seq  # tokens here; keys each query may see
    whole = t if sp else 1  # the terms TP alone leaves whole on each rank
    shard = shard_config(cfg, t)
    q, kv, a, ffn = shard.q_dim, shard.kv_dim, shard.heads, shard.ffn
    mask = 1 if job.dropout else 0
    if lay.recompute == "full":
        return {"layer input": e * T * h // whole}
    terms = {
        "attention norm input": e * T * h // whole,
        "QKV input": e * T * h // whole,
        "Q, K": e * T * (q + kv),
        "V": e * T * kv,
        "output projection input": e * T * q,
        "attention dropout mask": mask * T * h // whole,
        "MLP norm input": e * T * h // whole,
        "fc1 input": e * T * h // whole,
    }
    if cfg.activation == "swiglu":
        terms |= {"gate and up": 2 * e * T * ffn, "down projection input": e * T * ffn}
    else:
        terms |= {"GeLU input": e * T * ffn, "fc2 input": e * T * ffn}
    terms["MLP dropout mask"] = mask * T * h // whole
    if job.attention == "flash":
        terms["attention log-sum-exp (fp32)"] = 4 * a * T
    elif lay.recompute != "selective":
        scores = b * a * s * s_k
        terms |= {"softmax output": e * scores, "attention-probs dropout mask": mask * scores,
                  "attention-probs dropout output": mask * e * scores}  # fmt: skip
    return {k: v for k, v in terms.items() if v}


def in_flight_layers(job: Job, lay: Layout, rank: int = 0) -> float:
    """Layers' worth of micro-batch activations pipeline rank `rank` holds at its peak (1F1B)."""
    m, p, v = lay.micro_batches(job), lay.pp, lay.interleave
    layers = lay.stage_layers(job.cfg.layers)[0 if rank == 0 else 2 if rank == p - 1 else 1]
    if p == 1:
        return layers
    if v == 1:
        return min(p - rank, m) * layers
    chunks = min(m * v, 2 * (p - 1 - rank) + (v - 1) * p + 1)
    return chunks * layers / v


def stage_params(job: Job, lay: Layout) -> dict[str, int]:
    """Parameters one GPU of the first and of the last pipeline stage holds, and one layer's."""
    cfg, t = job.cfg, lay.tp
    shard = shard_config(cfg, t)
    norm = cfg.hidden * (2 if cfg.norm == "layernorm" else 1)
    layer = shard.layer_matmul_params() + 2 * norm
    if cfg.bias:  # column-parallel biases split, the row-parallel ones (O, fc2) whole
        layer += shard.q_dim + 2 * shard.kv_dim + (2 if cfg.activation == "swiglu" else 1) * shard.ffn
        layer += 2 * cfg.hidden
    embed = shard.vocab * cfg.hidden + (cfg.max_context * cfg.hidden if cfg.position == "learned" else 0)
    head = shard.vocab * cfg.hidden if (lay.pp > 1 or not cfg.tied_embeddings) else 0
    first_l, _, last_l = lay.stage_layers(cfg.layers)
    first = first_l * layer + embed + (norm + head if lay.pp == 1 else 0)
    last = last_l * layer + norm + head
    return {"layer": layer, "first": first, "last": last if lay.pp > 1 else first}


@dataclass(frozen=True)
class Memory:
    """One GPU's bytes by term (the pipeline stage that needs the most), against its capacity."""

    stage: str
    terms: dict[str, int]
    activation_terms: dict[str, int]  # one layer, one micro-batch
    capacity: int | None

    @property
    def total(self) -> int:
        return sum(self.terms.values())

    @property
    def fits(self) -> bool | None:
        return None if not self.capacity else self.total <= self.capacity

    @property
    def headroom(self) -> int | None:
        """Capacity left (negative: short by that much)."""
        return None if not self.capacity else self.capacity - self.total

    def to_json(self) -> dict:
        return {"stage": self.stage, "terms_bytes": self.terms, "total_bytes": self.total,
                "capacity_bytes": self.capacity, "fits": self.fits, "headroom_bytes": self.headroom,
                "activations_per_layer_bytes": self.activation_terms}  # fmt: skip


def _states(job: Job, lay: Layout, params: int) -> dict[str, int]:
    shards = lay.dp * lay.cp
    return {
        "weights": 2 * params // (shards if lay.zero >= 3 else 1),
        "gradients": job.grad_size * params // (shards if lay.zero >= 2 else 1),
        "optimizer states": MASTER_BYTES * params // (shards if lay.zero >= 1 else 1),
    }


def _buffers(job: Job, lay: Layout, layer_params: int) -> dict[str, int]:
    cfg, e, b = job.cfg, job.itemsize, lay.micro_batch
    out = {}
    if lay.sp and lay.tp > 1:
        out["SP gathered input"] = e * b * (job.seq // lay.cp) * cfg.hidden
    if lay.cp > 1:
        out["CP gathered K, V and gradients"] = 2 * 2 * e * b * job.seq * shard_config(cfg, lay.tp).kv_dim
    if lay.zero >= 3:
        out["ZeRO-3 gathered weights (2 layers)"] = 2 * 2 * layer_params
    if lay.recompute == "full":  # one layer rebuilt during its backward
        out["recompute working set"] = sum(activation_terms(job, replace(lay, recompute="none")).values())
    return out


def stage_memory(job: Job, lay: Layout, capacity: int | None) -> Memory:
    """The first stage's and the last stage's memory; the larger one."""
    per_layer = activation_terms(job, lay)
    layer_bytes = sum(per_layer.values())
    params = stage_params(job, lay)
    buffers = _buffers(job, lay, params["layer"])
    cfg, T = job.cfg, lay.micro_batch * job.seq // lay.cp
    whole = lay.tp if lay.sp and lay.tp > 1 else 1
    # the embedding's dropout mask, once per micro-batch in flight (Korthikanti's sbhp/t)
    emb_mask = T * cfg.hidden // whole * min(lay.pp, lay.micro_batches(job)) if job.dropout else 0
    first = {
        **_states(job, lay, params["first"]),
        "activations": int(in_flight_layers(job, lay, 0) * layer_bytes) + emb_mask,
        **buffers,
    }
    logits = 4 * T * shard_config(cfg, lay.tp).vocab + 2 * 2 * T * cfg.hidden // whole
    last_acts = in_flight_layers(job, lay, lay.pp - 1) * layer_bytes + logits
    last = {**_states(job, lay, params["last"]), "activations": int(last_acts), **buffers}
    if lay.pp == 1:
        first["activations"] += logits
        return Memory("only", first, per_layer, capacity)
    worst, name = (first, "first") if sum(first.values()) >= sum(last.values()) else (last, "last")
    return Memory(name, worst, per_layer, capacity)
