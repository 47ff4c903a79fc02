"""A training step's communication, each collective timed by the suite's collectives model
(gpubench.roofline.comm.predict, NCCL's cost model over the topology), and whether it is exposed.

    TP   without SP: two all-reduces of the layer's activations (b s h, 16-bit) forward, two backward
         (Shoeybi et al. 2019, arXiv:1909.08053, figure 3). With SP: each all-reduce becomes an all-gather
         and a reduce-scatter (Korthikanti et al. 2022, section 4.2.2), and the backward all-gathers the
         sharded inputs of the QKV and fc1 GEMMs again for their weight gradients. Full recompute runs the
         forward's collectives once more. On the critical path (each sits between two dependent GEMMs),
         except where Megatron-LM's column-parallel backward launches them asynchronously
         (LinearWithGradAccumulationAndAsyncCommunication): the re-gather overlaps the input-gradient GEMM
         of the same layer, and the reduction of that input gradient (the reduce-scatter with SP, the
         all-reduce without) overlaps its weight-gradient GEMM; only what exceeds the GEMM is exposed
    CP   all-gather of K and V before attention, reduce-scatter of their gradients after its backward
         (Llama 3's all-gather CP, arXiv:2407.21783 section 3.3.2, which says the gather is exposed)
    PP   one send of the stage's output (b s h / TP: each TP rank sends its slice, Narayanan et al. 2021's
         scatter-gather) per chunk and micro-batch forward, one of its gradient backward; exposed, or with
         asynchronous p2p overlapped with the next chunk's compute (only the excess exposed)
    DP   over the DP x CP ranks that hold the same weights. ZeRO-0: all-reduce of the gradients; ZeRO-1/2:
         reduce-scatter of the gradients and, after the optimizer, all-gather of the weights (the same
         volume as the all-reduce); ZeRO-3 (FSDP): all-gather of the weights before each micro-batch's
         forward and again before its backward, reduce-scatter of its gradients (1.5x the volume,
         Rajbhandari et al. 2019 section 7). The gradients' reduction overlaps the last micro-batch's
         backward (the only compute left once they are complete), the weights' gather the next step's
         first forward; ZeRO-3's traffic overlaps each micro-batch's compute (prefetched layer by layer)
    tied embeddings  with PP > 1 the first and last stages each hold the table; their gradients are
         all-reduced between the two once per step (exposed)

A collective that overlaps a kernel is not free: each of NCCL's channels is a thread block holding an SM
while it runs (roofline.comm's channel count), so the kernel loses channels/SMs of the GPU for the
collective's time t. Overlapping a kernel of time g, the collective adds max(t - g, t x channels / SMs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gpubench.roofline.comm import CommPrediction, Topology
from gpubench.roofline.comm import predict as _uncached
from gpubench.transformer.training.layout import Job, Layout, group_ranks_per_node
from gpubench.transformer.training.shard import shard_config

__all__ = ["CommTerm", "dp_terms", "exposed_s", "layer_terms", "p2p_term", "stage_end_terms"]


@dataclass(frozen=True)
class CommTerm:
    group: str  # "TP", "CP", "PP", "DP"
    what: str
    collective: str
    nbytes: int  # nccl-tests' size convention (the whole array for gathers and scatters)
    ranks: int
    ranks_per_node: int
    count: int  # how many, per the unit the caller sums over (a layer's micro-batch, a step)
    each_s: float
    algorithm: str
    limit: str
    exposed_s: float  # of one, on the critical path
    why: str

    @property
    def total_s(self) -> float:
        return self.each_s * self.count

    @property
    def total_exposed_s(self) -> float:
        return self.exposed_s * self.count

    def to_json(self) -> dict:
        return {"group": self.group, "what": self.what, "collective": self.collective, "nbytes": self.nbytes,
                "ranks": self.ranks, "ranks_per_node": self.ranks_per_node, "count": self.count,
                "each_s": self.each_s, "exposed_each_s": self.exposed_s, "algorithm": self.algorithm,
                "limit": self.limit, "why": self.why}  # fmt: skip


@lru_cache(maxsize=65536)
def predict(collective: str, nbytes: int, ranks: int, topo: Topology, rpn: int) -> CommPrediction:
    """roofline.comm.predict, remembered: a layout search asks the same collectives many times."""
    return _uncached(collective, nbytes, ranks, topo, rpn)


def exposed_s(p: CommPrediction, overlap_s: float | None, sms: int | None) -> float:
    """What collective `p` adds to the critical path: all of it when nothing hides it (`overlap_s` None);
    overlapping a kernel of `overlap_s`, what it runs beyond the kernel, and at least what its channels' SMs
    take from the kernel while it runs (`sms`: the GPU's; None or no channel count: nothing taken)."""
    if overlap_s is None:
        return p.time_s
    taken = p.time_s * p.channels / sms if p.channels and sms else 0.0
    return max(p.time_s - overlap_s, taken, 0.0)


def _term(group, what, coll, nbytes, ranks, rpn, count, topo, why, overlap_s=None, sms=None) -> CommTerm:
    p = predict(coll, nbytes, ranks, topo, rpn)
    exposed = exposed_s(p, overlap_s, sms)
    return CommTerm(group, what, coll, nbytes, ranks, rpn, count, p.time_s, p.label, p.limit, exposed, why)


def _rpn(lay: Layout, dims: tuple[str, ...], topo: Topology) -> int:
    return group_ranks_per_node(lay, dims, topo.gpus_per_node)


@lru_cache(maxsize=4096)
def layer_terms(job: Job, lay: Layout, topo: Topology, dgrad_s: float = 0.0, wgrad_s: float = 0.0,
                sms: int | None = None) -> list[CommTerm]:  # fmt: skip
    """TP and CP collectives of one layer and one micro-batch (`dgrad_s`, `wgrad_s`: the shorter input- and
    weight-gradient GEMM of QKV and fc1, which the backward's asynchronous collectives hide behind; `sms`:
    the GPU's, whose share the overlapped ones take)."""
    out: list[CommTerm] = []  # (cached: callers must not change it)
    T, e, h = lay.micro_batch * job.seq // lay.cp, job.itemsize, job.cfg.hidden
    again = 1 if lay.recompute == "full" else 0
    if lay.tp > 1:
        rpn, act = _rpn(lay, ("tp",), topo), e * T * h
        on_path = "between dependent GEMMs: on the critical path"
        hidden = "asynchronous (Megatron-LM): overlaps the {} GEMM; the excess and its SMs' share exposed"
        fwd = 2 * (1 + again)  # the forward's, and the recomputed forward's
        terms = [
            ("all-gather into QKV and fc1", "all_gather", fwd, on_path, None),
            ("reduce-scatter out of O and fc2", "reduce_scatter", fwd, on_path, None),
            ("backward of the all-gathers", "reduce_scatter", 2, hidden.format("weight-gradient"), wgrad_s),
            ("backward of the reduce-scatters", "all_gather", 2, on_path, None),
            ("backward: re-gather of the QKV and fc1 inputs for dW", "all_gather", 2,
             hidden.format("input-gradient"), dgrad_s),
        ]  # fmt: skip
        if not lay.sp:
            terms = [("all-reduce after O and fc2", "all_reduce", fwd, on_path, None),
                     ("backward: all-reduce of the QKV and fc1 input gradients", "all_reduce", 2,
                      hidden.format("weight-gradient"), wgrad_s)]  # fmt: skip
        for what, coll, count, why, overlap in terms:
            out.append(_term("TP", what, coll, act, lay.tp, rpn, count, topo, why, overlap, sms))
    if lay.cp > 1:
        kv = 2 * e * lay.micro_batch * job.seq * shard_config(job.cfg, lay.tp).kv_dim
        rpn = _rpn(lay, ("cp",), topo)
        why = "the gathered K and V are needed before attention: exposed (Llama 3)"
        out += [
            _term("CP", "all-gather of K and V", "all_gather", kv, lay.cp, rpn, 1 + again, topo, why),
            _term("CP", "reduce-scatter of dK and dV", "reduce_scatter", kv, lay.cp, rpn, 1, topo, why),
        ]
    return out


@lru_cache(maxsize=4096)
def stage_end_terms(job: Job, lay: Layout, topo: Topology) -> tuple[list[CommTerm], list[CommTerm]]:
    """(first stage's, last stage's) TP collectives of one micro-batch outside the layers: the
    vocabulary-parallel embedding's reduction, the output layer's input gather, the loss's statistics."""
    if lay.tp == 1:
        return [], []
    T, e, h = lay.micro_batch * job.seq // lay.cp, job.itemsize, job.cfg.hidden
    rpn, sp = _rpn(lay, ("tp",), topo), lay.sp
    why = "on the critical path"
    emb = _term("TP", "embedding: sum of the vocabulary shards", "reduce_scatter" if sp else "all_reduce",
                e * T * h, lay.tp, rpn, 1, topo, why)  # fmt: skip
    head = [_term("TP", "output layer: its input gathered, the gradient reduced", "all_gather" if sp else
                  "all_reduce", e * T * h, lay.tp, rpn, 2 if sp else 1, topo, why),
            _term("TP", "loss: max, sum of exponentials and target logit (fp32)", "all_reduce", 4 * T, lay.tp,
                  rpn, 3, topo, why)]  # fmt: skip
    return [emb], head


def p2p_term(job: Job, lay: Layout, topo: Topology, chunk_compute_s: float, sms: int | None = None
             ) -> CommTerm | None:  # fmt: skip
    """One send between pipeline stages (count: per step)."""
    if lay.pp == 1:
        return None
    nbytes = job.itemsize * lay.micro_batch * (job.seq // lay.cp) * job.cfg.hidden // lay.tp
    m, v, p = lay.micro_batches(job), lay.interleave, lay.pp
    rpn = min(2, _rpn(lay, ("pp",), topo))
    overlap = chunk_compute_s if lay.p2p_overlap else None
    why = ("asynchronous: overlaps the next chunk's compute, the excess exposed" if lay.p2p_overlap
           else "blocking sends between chunks: on the critical path")  # fmt: skip
    return _term("PP", "activation forward, gradient backward", "send_recv", nbytes, 2, rpn,
                 2 * (m * v + p - 1), topo, why, overlap, sms)  # fmt: skip


def dp_terms(
    job: Job, lay: Layout, topo: Topology, params: int, last_bwd_s: float, first_fwd_s: float,
    microbatch_s: float, sms: int | None = None,
) -> list[CommTerm]:  # fmt: skip
    """The data-parallel traffic of one step for a GPU holding `params` parameters."""
    out: list[CommTerm] = []
    ranks = lay.dp * lay.cp
    if ranks > 1:
        rpn, g, w, m = (
            _rpn(lay, ("cp", "dp"), topo),
            job.grad_size * params,
            2 * params,
            lay.micro_batches(job),
        )
        if lay.zero == 0:
            out.append(_term("DP", "all-reduce of the gradients", "all_reduce", g, ranks, rpn, 1, topo,
                             "overlaps the last micro-batch's backward", last_bwd_s, sms))  # fmt: skip
        elif lay.zero in (1, 2):
            out += [_term("DP", "reduce-scatter of the gradients", "reduce_scatter", g, ranks, rpn, 1, topo,
                          "overlaps the last micro-batch's backward", last_bwd_s, sms),
                    _term("DP", "all-gather of the updated weights", "all_gather", w, ranks, rpn, 1, topo,
                          "overlaps the next step's first forward", first_fwd_s, sms)]  # fmt: skip
        else:
            gather = predict("all_gather", w, ranks, topo, rpn).time_s
            scatter = predict("reduce_scatter", g, ranks, topo, rpn).time_s
            excess = max(0.0, 2 * gather + scatter - microbatch_s) / 3  # shared by the three
            for what, coll, nb in (
                ("all-gather of the weights, forward", "all_gather", w),
                ("all-gather of the weights, backward", "all_gather", w),
                ("reduce-scatter of the gradients", "reduce_scatter", g),
            ):
                p = predict(coll, nb, ranks, topo, rpn)
                shown = max(excess, exposed_s(p, p.time_s, sms))  # its SMs' share while hidden
                out.append(CommTerm("DP", what, coll, nb, ranks, rpn, m, p.time_s, p.label, p.limit, shown,
                                    "prefetched layer by layer: overlaps the micro-batch's compute, the "
                                    "excess and its SMs' share exposed"))  # fmt: skip
    cfg = job.cfg
    if cfg.tied_embeddings and lay.pp > 1:
        table = job.grad_size * shard_config(cfg, lay.tp).vocab * cfg.hidden
        out.append(_term("PP", "tied embedding: gradients of the two copies summed", "all_reduce", table, 2,
                         1, 1, topo, "after the last backward, before the optimizer: exposed"))  # fmt: skip
    return out
