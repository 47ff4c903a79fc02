"""Every layout of N GPUs for a job, the ones that fit memory ranked by predicted step time, and why the
others lose; the largest model of a family that trains on a cluster.

The layouts enumerated: TP a divisor of the heads within one node (TP across nodes puts its collectives,
on every layer's critical path, on the NICs), SP on whenever TP > 1 (the same traffic as TP alone and
less memory, Korthikanti et al. 2022), CP a power of two splitting the sequence into 2 x CP chunks, PP
dividing the layers (or the layers + 2), DP the rest; for each the micro-batches 1, 2, 4, 8 that divide
the batch, every V dividing a stage's layers, the three recompute policies and ZeRO 0-3. Memory is
checked first (a closed form); only the layouts that fit are timed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.roofline.comm import Topology
from gpubench.roofline.specs import GPUSpec
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.training.efficiency import Roofs
from gpubench.transformer.training.layout import RECOMPUTE, ZERO_STAGES, Job, Layout, LayoutError, check
from gpubench.transformer.training.memory import stage_memory
from gpubench.transformer.training.step import TERMS, StepPrediction, predict_step

__all__ = ["MICRO_BATCHES", "Ranked", "SearchResult", "largest_model", "layouts", "search", "why_slower"]

MICRO_BATCHES = (1, 2, 4, 8)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _degrees(job: Job, gpus: int, gpus_per_node: int):
    cfg = job.cfg
    for tp in _divisors(min(gpus, gpus_per_node)):
        if gpus % tp or cfg.heads % tp or cfg.ffn % tp or (cfg.kv_heads % tp and tp % cfg.kv_heads):
            continue
        cp = 1
        while gpus % (tp * cp) == 0 and job.seq % (2 * cp if cp > 1 else 1) == 0:
            if cp == 1 or job.attention == "flash":
                for pp in _divisors(gpus // (tp * cp)):
                    if pp <= cfg.layers and (cfg.layers % pp == 0 or (pp > 2 and (cfg.layers + 2) % pp == 0)):
                        yield tp, cp, pp, gpus // (tp * cp * pp)
            cp *= 2


def layouts(job: Job, gpus: int, gpus_per_node: int, p2p_overlap: bool = False):
    """Every valid layout of `gpus` GPUs for `job` (see the module docstring)."""
    for tp, cp, pp, dp in _degrees(job, gpus, gpus_per_node):
        if job.global_batch % dp:
            continue
        base = Layout(tp=tp, cp=cp, pp=pp, dp=dp, sp=tp > 1, p2p_overlap=p2p_overlap)
        middle = base.stage_layers(job.cfg.layers)[1]
        for mb in MICRO_BATCHES:
            if (job.global_batch // dp) % mb:
                continue
            for v in _divisors(middle) if pp > 1 else [1]:
                for rc in RECOMPUTE:
                    if rc == "selective" and job.attention == "flash":
                        continue  # the same as none: flash attention recomputes its scores anyway
                    for zero in ZERO_STAGES:
                        lay = replace(base, micro_batch=mb, interleave=v, recompute=rc, zero=zero)
                        try:
                            check(job, lay)
                        except LayoutError:
                            continue
                        yield lay


@dataclass(frozen=True)
class Ranked:
    prediction: StepPrediction
    why: str  # against the best: what makes it slower

    @property
    def layout(self) -> Layout:
        return self.prediction.layout


@dataclass(frozen=True)
class SearchResult:
    ranked: list[Ranked]  # fitting layouts, fastest first
    considered: int
    too_big: int  # layouts that do not fit memory
    closest: tuple[Layout, int] | None  # the layout that misses by the least, and by how many bytes

    @property
    def best(self) -> StepPrediction | None:
        return self.ranked[0].prediction if self.ranked else None


def why_slower(p: StepPrediction, best: StepPrediction) -> str:
    """The term that costs `p` the most against `best`, with the difference in step time."""
    diffs = {t: p.term(t) - best.term(t) for t in TERMS}
    worst = max(diffs, key=diffs.get)
    extra = p.step_time_s - best.step_time_s
    if extra <= 0:
        return "best"
    return f"+{extra:.3g} s: {worst} +{diffs[worst]:.3g} s"


def search(job: Job, gpus: int, spec: GPUSpec, roofs: Roofs, topo: Topology | None, top: int = 10,
           p2p_overlap: bool = False, fixed: dict | None = None) -> SearchResult:  # fmt: skip
    """Rank the fitting layouts (those matching `fixed`'s fields, when given) by predicted step time."""
    fits, considered, too_big, closest = [], 0, 0, None
    per_node = topo.gpus_per_node if topo is not None else 1  # None: one GPU
    for lay in layouts(job, gpus, per_node, p2p_overlap):
        if fixed and any(getattr(lay, k) != v for k, v in fixed.items()):
            continue
        considered += 1
        mem = stage_memory(job, lay, spec.mem_bytes)
        if mem.fits is False:
            too_big += 1
            if closest is None or -mem.headroom < closest[1]:
                closest = (lay, -mem.headroom)
            continue
        fits.append(predict_step(job, lay, spec, roofs, topo, mem))
    fits.sort(key=lambda p: p.step_time_s)
    ranked = [Ranked(p, why_slower(p, fits[0])) for p in fits[:top]]
    return SearchResult(ranked, considered, too_big, closest)


def _scaled(cfg: ModelConfig, groups: int) -> ModelConfig:
    """`cfg` widened to `groups` key/value heads (the query heads per kv head kept), its layers and FFN
    scaled with the width (the depth-to-width ratio kept)."""
    k = groups / cfg.kv_heads
    ffn = max(256, round(cfg.ffn * k / 256) * 256)
    return replace(
        cfg, key=f"{cfg.key}-x{k:.3g}", name=f"{cfg.name} x{k:.3g}", heads=cfg.heads // cfg.kv_heads * groups,
        kv_heads=groups, hidden=cfg.head_dim * cfg.heads // cfg.kv_heads * groups,
        layers=max(1, round(cfg.layers * k)), ffn=ffn, notes=(f"{cfg.name} scaled x{k:.3g}: width, depth",),
    )  # fmt: skip


def _fits_somewhere(job: Job, gpus: int, spec: GPUSpec, gpus_per_node: int) -> bool:
    return any(stage_memory(job, lay, spec.mem_bytes).fits for lay in layouts(job, gpus, gpus_per_node))


def largest_model(job: Job, gpus: int, spec: GPUSpec, gpus_per_node: int) -> ModelConfig | None:
    """The widest (and deepest) member of `job.cfg`'s family that fits memory in some layout."""

    def fits(groups: int) -> bool:
        return _fits_somewhere(replace(job, cfg=_scaled(job.cfg, groups)), gpus, spec, gpus_per_node)

    if not fits(1):
        return None
    lo, hi = 1, 2
    while fits(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return _scaled(job.cfg, lo)
