"""Splitting a plan across GPUs or cluster jobs so that they finish together.

Longest processing time first (LPT): the items are grouped (the cold and warm items of one variant,
shape and dtype stay together, so they share one correctness check and one compilation), the groups
sorted by expected time, longest first, and each given to the part with the least expected work so far.
LPT finishes within 4/3 of the best possible split, and each part then runs its longest items first.

The expected time of an item comes from a previous results file when one is given (that item's measured
wall time), else from the workload's FLOPs and bytes on the GPU's datasheet roofline and the profile's
stopping rule; both add a fixed per-item overhead (correctness check, inputs, warm-up). Pure: no GPU.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.run.plan import PlanItem
from gpubench.results import RecordKey, Run

__all__ = [
    "ITEM_OVERHEAD_S", "call_seconds", "datasheet", "expected_times", "item_key", "lpt", "measured_costs",
    "roofline_cost",
]  # fmt: skip

# Per item, whatever its kernel: the correctness check, fresh inputs, the warm-up calls. Measured on the
# committed H100 quick run (reports/reference/NVIDIA-H100-80GB-HBM3/results-quick.json): 154 s from start
# to finish for 186 items, less 29.4 s of sampling and about 20 s of starting, is 0.562 s an item,
# rounded up (the H200's run gives 0.45 s).
ITEM_OVERHEAD_S = 0.57

Cost = Callable[[PlanItem], float]


def item_key(item: PlanItem) -> RecordKey:
    return RecordKey.of(item.workload, item.variant, item.shape, item.dtype, item.mode)


def _group(item: PlanItem) -> tuple:
    return item.workload, item.variant, tuple(sorted(item.shape.items())), item.dtype


def lpt(items: Sequence[PlanItem], parts: int, cost: Cost) -> list[list[PlanItem]]:
    """`items` in `parts` lists of about equal expected time (some empty when there are fewer groups
    than parts); every item in exactly one list."""
    if parts < 1:
        raise ValueError(f"cannot split a plan into {parts} parts")
    groups: dict[tuple, list[PlanItem]] = {}
    for item in items:
        groups.setdefault(_group(item), []).append(item)
    weighted = [(sum(cost(i) for i in g), n, g) for n, g in enumerate(groups.values())]
    weighted.sort(key=lambda t: (-t[0], t[1]))  # longest first; plan order breaks ties
    loads = [(0.0, p) for p in range(parts)]
    out: list[list[PlanItem]] = [[] for _ in range(parts)]
    for seconds, _, group in weighted:
        load, p = heapq.heappop(loads)
        out[p].extend(group)
        heapq.heappush(loads, (load + seconds, p))
    return out


def measured_costs(run: Run) -> dict[RecordKey, float]:
    """Each record's time in a previous run: its sampling wall time (the samples' sum where that was
    not recorded) plus the per-item overhead; a failed or skipped record costs the overhead alone."""
    out = {}
    for rec in run.records:
        t = rec.timing
        sampled = (t.wall_s if t.wall_s is not None else sum(t.samples)) if rec.ok else 0.0
        out[rec.key] = ITEM_OVERHEAD_S + sampled
    return out


def roofline_cost(item: PlanItem, workload, ceilings, l2_bytes: int | None, rule: StoppingRule) -> float:
    """Expected seconds of one item: the stopping rule's sampling on the roofline's time per call (plus
    the L2 flush of each cold sample), capped by the rule's timeout. Without ceilings every item costs
    the same (the split then balances counts)."""
    if ceilings is None:
        return ITEM_OVERHEAD_S + rule.min_time_s
    sampled = max(rule.min_time_s, rule.min_samples * call_seconds(item, workload, ceilings, l2_bytes))
    return ITEM_OVERHEAD_S + min(rule.timeout_s, sampled)


def call_seconds(item: PlanItem, workload, ceilings, l2_bytes: int | None) -> float:
    """One sample of an item on the roofline: its time per call, plus the L2 flush before a cold one."""
    from gpubench.roofline.roof import predict

    flops, nbytes = int(workload.flops(item.shape)), int(workload.bytes(item.shape, item.dtype))
    per_call = predict(flops, nbytes, item.dtype, ceilings, workload.uses_tensor_cores).time_s or 0.0
    if item.mode == "cold" and l2_bytes and ceilings.mem_bandwidth_gbs:
        per_call += 2 * l2_bytes / (ceilings.mem_bandwidth_gbs * 1e9)  # the flush buffer is twice the L2
    return per_call


def datasheet(gpu_name: str | None):
    """(ceilings, L2 bytes) of `gpu_name`'s datasheet; (None, None) for a GPU the spec database lacks."""
    from gpubench.roofline.roof import Ceilings
    from gpubench.roofline.specs import match_gpu

    spec = match_gpu(gpu_name)
    ceilings = Ceilings.from_spec(spec) if spec is not None and spec.mem_bandwidth_gbs else None
    return ceilings, (spec.l2_bytes if spec is not None else None)


def expected_times(
    items: Sequence[PlanItem], rule: StoppingRule, gpu_name: str | None, previous: Run | None, registry
) -> dict[str, float]:
    """item id -> expected seconds: measured in `previous` where it holds the item, else the roofline
    estimate on the datasheet of `gpu_name` (uniform when the GPU is not in the spec database)."""
    ceilings, l2 = datasheet(gpu_name)
    measured = measured_costs(previous) if previous is not None else {}
    out = {}
    for item in items:
        known = measured.get(item_key(item))
        workload = registry.get(item.workload)  # None: a workload this process has not loaded
        out[item.id] = (
            known
            if known is not None
            else roofline_cost(item, workload, ceilings if workload is not None else None, l2, rule)
        )
    return out
