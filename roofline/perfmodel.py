"""A multi-term performance model: what a kernel should take on a GPU, and which term limits it.

Each term is a time, from the record's counts and the GPU's figures only (its datasheet, or the
ceilings measured on it); nothing is fitted to a workload's own timings:

    DRAM     bytes / DRAM bandwidth, for traffic that comes from DRAM: every cold record, and a warm
             one whose working set (the record's compulsory bytes) exceeds the L2
    L2       bytes / L2 bandwidth, for a warm record whose working set fits the L2 (where an L2
             bandwidth is known; measured ceilings have one, datasheets not)
    tensor   flops / the tensor-core peak of the dtype (records that use tensor cores)
    SIMT     flops / the fp32 (or fp64) CUDA-core peak (every other record, and tensor-core work on a GPU
             that lacks the mode: roofline.rates' stated fallback)
    waves    tensor-core GEMMs: the output cut into tiles (a nominal 128-wide N tile, an M tile of
             min(128, next power of two >= M, at least 16)), run in waves of one tile per SM, each tile
             at the SM's share of the peak: ceil(tiles / SMs) x tile time. It exceeds the tensor term
             when the last wave is partly empty (wave quantisation, the tail)
    latency  two DRAM round trips (a load must return before a result can be written back): the floor
             of any kernel that touches DRAM, where the latency was measured
    launch   the launch overhead per kernel, where it was measured

The estimate is the largest term (the terms overlap: a kernel streams while it computes), and the
term that gives it is the record's limit. A record whose compute rate the machine lacks, with no
fallback (roofline.rates), gets no estimate: its time is None and `note` says why; it is never
estimated on memory alone. What the model leaves out (the time a kernel takes beyond
its largest term: instruction issue, too few bytes in flight to cover the DRAM latency, traffic the
accounting does not see) is what `carry` takes from a measurement on one GPU to another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gpubench.roofline.rates import compute_rate
from gpubench.roofline.roof import Ceilings

__all__ = ["MEMORY_LIMITS", "TERMS", "Estimate", "Machine", "carry", "estimate"]

TERMS = ("DRAM", "L2", "tensor", "SIMT", "waves", "latency", "launch")
MEMORY_LIMITS = frozenset({"DRAM", "L2", "latency"})
_NOMINAL_TILE_N = 128
_MAX_TILE_M = 128


@dataclass(frozen=True)
class Machine:
    """The GPU figures the terms need; None where a figure is not known."""

    ceilings: Ceilings
    sm_count: int | None = None
    l2_bytes: int | None = None
    dram_latency_s: float | None = None
    spec: Any = None  # the GPUSpec, for roofline.rates' rule (which tensor-core modes the GPU has)

    @property
    def label(self) -> str:
        return self.ceilings.label


@dataclass(frozen=True)
class Estimate:
    time_s: float | None
    limit: str | None
    terms: dict[str, float] = field(default_factory=dict)  # each term's time, seconds
    l2_resident: bool = False
    note: str | None = None  # the compute rate's stated fallback, or why no estimate is given

    @property
    def refused(self) -> bool:
        return self.time_s is None and self.note is not None


def _tile_m(m: int) -> int:
    return min(_MAX_TILE_M, max(16, 1 << max(0, math.ceil(math.log2(max(m, 1))))))


def _waves_s(shape: dict, peak_tflops: float, sm_count: int) -> float | None:
    m, n, k = shape.get("M"), shape.get("N"), shape.get("K")
    if not (m and n and k and sm_count):
        return None
    tm = _tile_m(m)
    tiles = math.ceil(m / tm) * math.ceil(n / _NOMINAL_TILE_N)
    tile_s = 2 * tm * _NOMINAL_TILE_N * k / (peak_tflops * 1e12 / sm_count)
    return math.ceil(tiles / sm_count) * tile_s


def _memory_terms(nbytes: int, mode: str, machine: Machine) -> tuple[dict[str, float], bool]:
    c = machine.ceilings
    resident = bool(mode == "warm" and machine.l2_bytes and nbytes <= machine.l2_bytes)
    l2 = c.bandwidth_gbs("l2")
    if resident and l2:
        return {"L2": nbytes / (l2 * 1e9)}, True
    if resident:  # fits L2, but no L2 roof known: no memory term is certain
        return {}, True
    out = {"DRAM": nbytes / (c.mem_bandwidth_gbs * 1e9)} if c.mem_bandwidth_gbs else {}
    if machine.dram_latency_s and nbytes:
        out["latency"] = 2 * machine.dram_latency_s
    return out, False


def estimate(
    flops: int, nbytes: int, dtype: str, mode: str, uses_tensor_cores: bool, shape: dict, machine: Machine
) -> Estimate:
    """The terms of one kernel on one machine, the largest of them, and its name."""
    c = machine.ceilings
    terms, resident = _memory_terms(nbytes, mode, machine)
    rate = compute_rate(c.peaks, dtype, uses_tensor_cores, machine.spec, c.label)
    if rate.refused and flops:
        return Estimate(None, None, terms, resident, rate.refused)
    if rate.tflops:
        terms["tensor" if rate.tensor else "SIMT"] = flops / (rate.tflops * 1e12)
        tiled = uses_tensor_cores and not rate.fallback  # a GEMM of tiles, as the model's waves assume
        if tiled and (waves := _waves_s(shape, rate.tflops, machine.sm_count or 0)) is not None:
            terms["waves"] = waves
    if c.launch_overhead_s:
        terms["launch"] = c.launch_overhead_s
    if not terms:
        return Estimate(None, None, {}, resident, rate.note)
    limit = max(terms, key=lambda t: (terms[t], -TERMS.index(t)))  # ties: the earlier term
    return Estimate(terms[limit], limit, terms, resident, rate.fallback)


def carry(measured_a: float, est_a: Estimate, est_b: Estimate, latency_ratio: float = 1.0) -> float | None:
    """Machine B's time of a kernel measured on machine A: B's estimate plus what A's measurement took
    beyond A's estimate, scaled the way the limiting term's residue scales: by the DRAM latency ratio
    (B / A) for memory limits (too few bytes in flight to cover the latency, the usual cause), by the
    limiting term's own ratio for compute, waves and launch limits."""
    if est_a.time_s is None or est_b.time_s is None or not measured_a > 0:
        return None
    residue = max(0.0, measured_a - est_a.time_s)
    if est_a.limit in MEMORY_LIMITS:
        scale = latency_ratio
    else:
        a, b = est_a.terms.get(est_a.limit), est_b.terms.get(est_a.limit)
        scale = b / a if a and b else 1.0
    return est_b.time_s + residue * scale
