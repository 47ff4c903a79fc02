"""A training step's time on N GPUs by term, tokens per second, TFLOP/s per GPU, MFU and HFU.

Compute: each operator of one GPU's micro-batch (shard.py) timed by the suite's performance model
(transformer.predict.op_time: the largest of the DRAM, tensor, waves and launch terms) on the roofs of
efficiency.py; a flash-attention kernel at its published share of the tensor roof (flash.py). A pipeline
stage's micro-batch takes its layers' forward, backward and recompute plus the exposed TP and CP
collectives (comm.py), and its extra operators (the embedding on the first stage; the final norm, output
layer and loss on the last). The slowest stage sets the pace:

    step = m u + (p - 1)/v u + exposed p2p + exposed DP + optimizer step

with u the slowest stage's micro-batch, m micro-batches, p stages and v chunks per rank (the bubble,
Narayanan et al. 2021's (p - 1)/(m v) of the ideal m u). MFU = model FLOPs per second / (GPUs x the
datasheet's dense peak), model FLOPs by PaLM's 6N + 12LHQT per token (formulas.py); HFU counts the FLOPs
the operators run, the recompute's included, over the same peak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from gpubench.roofline.comm import Topology
from gpubench.roofline.specs import GPUSpec
from gpubench.transformer.backward import gradient_passes_operator, optimizer_operator
from gpubench.transformer.operators import Operator
from gpubench.transformer.predict import op_time
from gpubench.transformer.training import comm, flash
from gpubench.transformer.training.efficiency import Roofs
from gpubench.transformer.training.formulas import palm_flops_per_token
from gpubench.transformer.training.layout import Job, Layout, check
from gpubench.transformer.training.memory import Memory, stage_memory, stage_params
from gpubench.transformer.training.shard import operator_key, stage_operators

__all__ = ["TERMS", "OpSums", "StageTime", "StepPrediction", "Term", "op_sums", "predict_step", "seconds"]

TERMS = ("forward", "backward", "recompute", "TP communication", "CP communication", "pipeline bubble",
         "PP communication", "DP communication", "optimizer step")  # fmt: skip


@dataclass(frozen=True)
class OpSums:
    """Seconds and FLOPs of each list of a StageOps on one machine."""

    seconds: dict[str, float]
    flops: dict[str, int]
    min_dgrad_s: float  # the shorter input-gradient GEMM of QKV and fc1 (SP re-gathers hide behind it)
    min_wgrad_s: float  # the shorter weight-gradient GEMM of QKV and fc1 (their input gradients' reductions)


def seconds(op: Operator, roofs: Roofs, backward: bool = False) -> float:
    """`op`'s time on `roofs` (a flash operator at its published share of the tensor roof, flash.py)."""
    found = flash.share(op, backward)
    machine = roofs.machine if found is None else flash.machine_for(roofs.machine, found.share)
    return op_time(op, machine).time_s or 0.0


@cache
def op_sums(job: Job, key: Layout, roofs: Roofs) -> OpSums:
    """Time (the performance model on `roofs`) and FLOPs of the operators of `operator_key` layout `key`."""
    ops = stage_operators(job, key)
    secs: dict[str, float] = {}
    flops: dict[str, int] = {}
    for name in ("layer_fwd", "layer_bwd", "layer_recompute", "first_fwd", "first_bwd", "last_fwd",
                 "last_bwd"):  # fmt: skip
        group = getattr(ops, name)
        secs[name] = sum(seconds(op, roofs, name.endswith("_bwd")) for op in group)
        flops[name] = sum(op.flops for op in group)
    first = ("qkv_proj", "gate_up_proj", "fc1")  # the column-parallel GEMMs whose inputs TP gathers
    dgrads = [seconds(op, roofs) for op in ops.layer_bwd if op.name in {f"{n}.dgrad" for n in first}]
    wgrads = [seconds(op, roofs) for op in ops.layer_bwd if op.name in {f"{n}.wgrad" for n in first}]
    return OpSums(secs, flops, min(dgrads, default=0.0), min(wgrads, default=0.0))


@dataclass(frozen=True)
class Term:
    name: str
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class StageTime:
    """One micro-batch on one GPU of a pipeline stage, by term (seconds), and the FLOPs it runs."""

    name: str
    layers: int
    forward: float
    backward: float
    recompute: float
    tp: float  # exposed
    cp: float  # exposed
    flops: int

    @property
    def total(self) -> float:
        return self.forward + self.backward + self.recompute + self.tp + self.cp


@dataclass(frozen=True)
class StepPrediction:
    job: Job
    layout: Layout
    spec: GPUSpec
    roofs: Roofs
    topology: Topology | None  # None: one GPU, nothing to communicate
    memory: Memory
    stages: dict[str, StageTime]
    slowest: str
    terms: list[Term]
    comm: list[comm.CommTerm] = field(default_factory=list)
    hardware_flops: float = 0.0  # all GPUs, one step

    @property
    def step_time_s(self) -> float:
        return sum(t.seconds for t in self.terms)

    @property
    def tokens_per_s(self) -> float:
        return self.job.tokens / self.step_time_s

    @property
    def model_flops(self) -> float:
        return palm_flops_per_token(self.job.cfg, self.job.seq) * self.job.tokens

    @property
    def peak_tflops(self) -> float:
        return self.spec.peaks[self.job.dtype]

    @property
    def tflops_per_gpu(self) -> float:
        return self.model_flops / self.step_time_s / self.layout.gpus / 1e12

    @property
    def mfu(self) -> float:
        return self.tflops_per_gpu / self.peak_tflops

    @property
    def hfu(self) -> float:
        return self.hardware_flops / self.step_time_s / self.layout.gpus / 1e12 / self.peak_tflops

    def term(self, name: str) -> float:
        return sum(t.seconds for t in self.terms if t.name == name)


def _stage(name: str, layers: int, sums: OpSums, tp: float, cp: float, ends: tuple[str, ...] = (),
           extra_comm: float = 0.0) -> StageTime:  # fmt: skip
    s, fl = sums.seconds, sums.flops
    f = layers * s["layer_fwd"] + sum(s[f"{e}_fwd"] for e in ends)
    b = layers * s["layer_bwd"] + sum(s[f"{e}_bwd"] for e in ends)
    flops = layers * (fl["layer_fwd"] + fl["layer_bwd"] + fl["layer_recompute"])
    flops += sum(fl[f"{e}_fwd"] + fl[f"{e}_bwd"] for e in ends)
    return StageTime(
        name, layers, f, b, layers * s["layer_recompute"], layers * tp + extra_comm, layers * cp, flops
    )


def _stages(job: Job, lay: Layout, roofs: Roofs, topo: Topology) -> tuple[dict[str, StageTime], list]:
    sums = op_sums(job, operator_key(lay), roofs)
    key = operator_key(lay)  # the TP and CP collectives depend on no other knob
    sms = roofs.machine.sm_count
    layer_comm = comm.layer_terms(job, key, topo, sums.min_dgrad_s, sums.min_wgrad_s, sms)
    tp = sum(t.total_exposed_s for t in layer_comm if t.group == "TP")
    cp = sum(t.total_exposed_s for t in layer_comm if t.group == "CP")
    first_c, last_c = comm.stage_end_terms(job, key, topo)
    fc, lc = (sum(t.total_exposed_s for t in c) for c in (first_c, last_c))
    n_first, n_mid, n_last = lay.stage_layers(job.cfg.layers)
    if lay.pp == 1:
        only = _stage("only", n_first, sums, tp, cp, ("first", "last"), fc + lc)
        return {"only": only}, layer_comm + first_c + last_c
    stages = {
        "first": _stage("first", n_first, sums, tp, cp, ("first",), fc),
        "middle": _stage("middle", n_mid, sums, tp, cp),
        "last": _stage("last", n_last, sums, tp, cp, ("last",), lc),
    }
    if lay.pp == 2:
        del stages["middle"]
    return stages, layer_comm + first_c + last_c


def _hardware_flops(job: Job, lay: Layout, stages: dict[str, StageTime], opt: list[Operator]) -> float:
    m, ranks = lay.micro_batches(job), lay.tp * lay.cp * lay.dp
    count = {"only": 1, "first": 1, "last": 1, "middle": lay.pp - 2}
    per_step = sum(st.flops * count[name] for name, st in stages.items()) * m * ranks
    return per_step + sum(op.flops for op in opt) * lay.gpus


def _optimizer(job: Job, lay: Layout, held: int, roofs: Roofs) -> tuple[list[Operator], Term]:
    """The optimizer step of a GPU holding `held` parameters: AdamW over its shard and the passes over its
    gradients (backward.gradient_passes_operator), their operators and their term."""
    n_opt = held // (lay.dp * lay.cp if lay.zero >= 1 else 1)
    grads = held // (lay.dp * lay.cp if lay.zero >= 2 else 1)  # the gradient buffer it holds
    scaled = job.dtype == "fp16"  # a loss scaler's unscale and check
    ops = [optimizer_operator(n_opt, job.grad_dtype, job.itemsize),
           gradient_passes_operator(grads, n_opt, job.grad_dtype, loss_scaled=scaled)]  # fmt: skip
    secs = sum(op_time(op, roofs.machine).time_s or 0.0 for op in ops)
    return ops, Term("optimizer step", secs, f"AdamW over {n_opt:,} parameters; {ops[1].note}")


def predict_step(job: Job, lay: Layout, spec: GPUSpec, roofs: Roofs, topo: Topology | None,
                 memory: Memory | None = None) -> StepPrediction:  # fmt: skip
    """The step of `job` laid out as `lay` on GPUs `spec` joined by `topo` (None for one GPU; `memory`: its
    stage_memory, when the caller has it)."""
    if topo is None and lay.gpus > 1:
        raise ValueError(f"{lay.gpus} GPUs need a topology")
    if memory is None:
        check(job, lay)
        memory = stage_memory(job, lay, spec.mem_bytes)
    stages, comms = _stages(job, lay, roofs, topo)
    slowest = max(stages.values(), key=lambda st: st.total)
    u, m, p, v = slowest.total, lay.micro_batches(job), lay.pp, lay.interleave
    # (p-1)/(m v) of m u; interleaving shortens it only with at least p micro-batches to fill the
    # pipeline (Narayanan et al. 2021 require m a multiple of p): with fewer, one pass takes p u
    bubble = (p - 1) / (v if m >= p else 1)
    sms = roofs.machine.sm_count
    p2p = comm.p2p_term(job, lay, topo, slowest.forward / v, sms)  # a chunk's forward hides a send
    params = stage_params(job, lay)
    held = max(params["first"], params["last"], params["layer"] * lay.stage_layers(job.cfg.layers)[1])
    dp = comm.dp_terms(job, lay, topo, held, slowest.backward, slowest.forward, u, sms)
    opt, opt_term = _optimizer(job, lay, held, roofs)
    terms = [
        Term("forward", m * slowest.forward, f"{slowest.name} stage, {m} micro-batches"),
        Term("backward", m * slowest.backward),
        Term("recompute", m * slowest.recompute, lay.recompute),
        Term("TP communication", m * slowest.tp, "exposed part"),
        Term("CP communication", m * slowest.cp, "exposed part"),
        Term("pipeline bubble", bubble * u, f"{bubble / m:.3f} of m u"),
        Term("PP communication", (p2p.total_exposed_s if p2p else 0.0)
             + sum(t.total_exposed_s for t in dp if t.group == "PP"), "exposed part"),
        Term("DP communication", sum(t.total_exposed_s for t in dp if t.group == "DP"), "exposed part"),
        opt_term,
    ]  # fmt: skip
    comms = comms + ([p2p] if p2p else []) + dp
    return StepPrediction(job, lay, spec, roofs, topo, memory, stages, slowest.name, terms, comms,
                          _hardware_flops(job, lay, stages, opt))  # fmt: skip
