"""What is trained (a Job) and how it is laid out on the GPUs (a Layout), with every constraint checked.

A Job is the model, the sequence length, the global batch (sequences per step), the dtype, the gradients'
dtype, the attention form and dropout. A Layout is the parallelism: tensor (TP, with sequence parallelism
SP), context (CP), pipeline (PP, with V interleaved chunks per rank), data (DP, with ZeRO stage 0-3), the
recompute policy and the micro-batch. Ranks are placed in the order [TP, CP, PP, DP], innermost first
(Llama 3, arXiv:2407.21783 section 3.3.2): TP fills a node first, DP spans the most nodes.

`check` raises LayoutError naming the first constraint broken; the command turns it into exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gpubench import dtypes
from gpubench.transformer.backward import GRAD_DTYPES, grad_itemsize
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.scenario import ATTENTION_FORMS

__all__ = ["RECOMPUTE", "ZERO_STAGES", "Job", "Layout", "LayoutError", "check", "group_ranks_per_node"]

RECOMPUTE = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)


class LayoutError(ValueError):
    """A job or layout that cannot run; the message names the constraint."""


@dataclass(frozen=True)
class Job:
    cfg: ModelConfig
    seq: int
    global_batch: int  # sequences per step
    dtype: str = "bf16"
    grad_dtype: str = "fp32"  # gradients accumulated (and reduced) in fp32, as Megatron and Llama 3 do
    attention: str = "flash"
    dropout: bool = False  # GPT-3-style dropout on attention probabilities and both residual branches

    @property
    def tokens(self) -> int:
        return self.seq * self.global_batch

    @property
    def itemsize(self) -> int:
        return int(dtypes.itemsize(self.dtype))

    @property
    def grad_size(self) -> int:
        return grad_itemsize(self.grad_dtype)


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    cp: int = 1
    pp: int = 1
    dp: int = 1
    sp: bool = False
    zero: int = 0
    recompute: str = "none"
    micro_batch: int = 1
    interleave: int = 1  # V: model chunks per pipeline rank
    p2p_overlap: bool = False  # pipeline sends overlap the next chunk's compute (asynchronous p2p)

    @property
    def gpus(self) -> int:
        return self.tp * self.cp * self.pp * self.dp

    def micro_batches(self, job: Job) -> int:
        """m: micro-batches each pipeline runs per step."""
        return job.global_batch // (self.dp * self.micro_batch)

    def stage_layers(self, layers: int) -> tuple[int, int, int]:
        """(first, middle, last) stage's transformer layers. L/PP each; or, where PP divides L + 2 but not
        L, one layer fewer on the first and the last stage, which hold the embedding and the output layer
        (Llama 3's balanced split, arXiv:2407.21783 section 3.3.2)."""
        p = self.pp
        if layers % p == 0:
            return (layers // p,) * 3
        n = (layers + 2) // p
        return (n - 1, n, n - 1)

    def describe(self) -> str:
        sp = "+SP" if self.sp and self.tp > 1 else ""
        v = f" V{self.interleave}" if self.interleave > 1 else ""
        return (f"TP{self.tp}{sp} CP{self.cp} PP{self.pp}{v} DP{self.dp} ZeRO-{self.zero} "
                f"recompute {self.recompute} mb {self.micro_batch}")  # fmt: skip

    def to_json(self) -> dict:
        names = (
            "tp",
            "sp",
            "cp",
            "pp",
            "dp",
            "zero",
            "recompute",
            "micro_batch",
            "interleave",
            "p2p_overlap",
        )
        return {**{k: getattr(self, k) for k in names}, "gpus": self.gpus}


def _positive(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise LayoutError(f"{name} must be a positive integer, got {v!r}")


def _check_job(job: Job) -> None:
    _positive(seq=job.seq, global_batch=job.global_batch)
    if job.dtype not in ("bf16", "fp16"):
        raise LayoutError(f"dtype must be bf16 or fp16 (mixed-precision training), got {job.dtype!r}")
    if job.grad_dtype not in GRAD_DTYPES:
        raise LayoutError(f"gradient dtype must be one of {', '.join(GRAD_DTYPES)}, got {job.grad_dtype!r}")
    if job.attention not in ATTENTION_FORMS:
        raise LayoutError(f"attention must be one of {', '.join(ATTENTION_FORMS)}, got {job.attention!r}")
    if job.seq > job.cfg.max_context:
        raise LayoutError(f"sequence {job.seq} is longer than {job.cfg.name} allows ({job.cfg.max_context})")


def _check_model_split(job: Job, lay: Layout) -> None:
    cfg = job.cfg
    if cfg.heads % lay.tp:
        raise LayoutError(f"TP {lay.tp} does not divide the {cfg.heads} attention heads")
    if cfg.kv_heads % lay.tp and lay.tp % cfg.kv_heads:
        raise LayoutError(f"TP {lay.tp} and the {cfg.kv_heads} key/value heads: neither divides the other")
    if cfg.ffn % lay.tp:
        raise LayoutError(f"TP {lay.tp} does not divide the FFN size {cfg.ffn}")
    L, p = cfg.layers, lay.pp
    if L % p and (p < 3 or (L + 2) % p):
        raise LayoutError(
            f"PP {p} does not divide the {L} layers (nor {L + 2}, the layers plus the embedding and output "
            "stages of a balanced split)"
        )
    middle = lay.stage_layers(L)[1]
    v = lay.interleave
    if v > 1 and (p == 1 or middle % v):
        raise LayoutError(
            f"interleave V {v} needs PP > 1 and V dividing the {middle} layers of a pipeline stage"
        )


def _check_sequence_split(job: Job, lay: Layout) -> None:
    if lay.cp > 1:
        if job.seq % (2 * lay.cp):
            raise LayoutError(
                f"CP {lay.cp} splits the sequence into 2 x CP = {2 * lay.cp} equal chunks (two per rank, for "
                f"causal balance): {job.seq} tokens do not split so"
            )
        if job.attention != "flash":
            raise LayoutError(
                "CP needs flash attention (each rank attends its query chunks to gathered K, V)"
            )
    if lay.sp and lay.tp > 1 and (job.seq // lay.cp) % lay.tp:
        raise LayoutError(
            f"SP shards each rank's {job.seq // lay.cp} tokens over TP {lay.tp}: they must divide"
        )


def check(job: Job, lay: Layout, gpus: int | None = None) -> None:
    """LayoutError naming the first constraint `lay` breaks for `job` (on `gpus` GPUs, when given)."""
    _check_job(job)
    _positive(
        tp=lay.tp, cp=lay.cp, pp=lay.pp, dp=lay.dp, micro_batch=lay.micro_batch, interleave=lay.interleave
    )
    if gpus is not None and lay.gpus != gpus:
        raise LayoutError(
            f"TP x CP x PP x DP = {lay.tp} x {lay.cp} x {lay.pp} x {lay.dp} = {lay.gpus}, not the {gpus} GPUs"
        )
    if lay.zero not in ZERO_STAGES:
        raise LayoutError(f"ZeRO stage must be one of 0, 1, 2, 3, got {lay.zero!r}")
    if lay.recompute not in RECOMPUTE:
        raise LayoutError(f"recompute must be one of {', '.join(RECOMPUTE)}, got {lay.recompute!r}")
    _check_model_split(job, lay)
    _check_sequence_split(job, lay)
    if job.global_batch % lay.dp:
        raise LayoutError(f"DP {lay.dp} does not divide the global batch of {job.global_batch} sequences")
    per_rank = job.global_batch // lay.dp
    if per_rank % lay.micro_batch:
        raise LayoutError(
            f"micro-batch {lay.micro_batch} does not divide the {per_rank} sequences per DP rank "
            f"(global batch {job.global_batch} / DP {lay.dp})"
        )


@cache
def group_ranks_per_node(lay: Layout, dims: tuple[str, ...], gpus_per_node: int) -> int:
    """How many ranks of one group over `dims` (a subset of tp, cp, pp, dp) share a node, the ranks
    numbered in the order [TP, CP, PP, DP] and a node holding `gpus_per_node` consecutive ranks."""
    strides, stride = {}, 1
    for name in ("tp", "cp", "pp", "dp"):
        strides[name] = stride
        stride *= getattr(lay, name)
    members = [0]
    for name in dims:
        size, step = getattr(lay, name), strides[name]
        members = [m + i * step for m in members for i in range(size) if m + i * step < gpus_per_node]
    return max(1, len(members))
