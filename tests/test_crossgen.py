"""Carrying a measurement from one GPU to another (roofline.crossgen): the split rule on hand cases, its
exponent re-derived from the H100's own intensity sweep, and the committed H100 and H200 quick runs, with
each workload held out (the numbers docs/model.md reports)."""

import json
import math

import pytest

from gpubench.roofline import crossgen
from gpubench.roofline.crossgen import OVERLAP_P, carried_time, rule_of, sibling, split_time
from gpubench.roofline.placement import place_run
from tests.support import realdata

GRID = (1.5, 2, 2.5, 3, 3.5, 4, 4.2, 4.5, 5, 6, 8)


def test_split_time_on_hand_cases():
    assert split_time(2.0, 1.0, 2.0) == pytest.approx((2.0, 0.0))  # halving the bytes halves the time
    assert split_time(1.0, 1.0, 2.0) == pytest.approx((0.0, 1.0))  # bytes do not matter at all
    # M = 3, C = 4 with p = 2: t = 5, and the sibling with half the bytes takes sqrt(1.5^2 + 4^2).
    assert split_time(5.0, math.hypot(1.5, 4.0), 2.0, p=2) == pytest.approx((3.0, 4.0))
    assert split_time(math.hypot(1.5, 4.0), 5.0, 0.5, p=2) == pytest.approx((1.5, 4.0))  # seen from the other
    assert split_time(1.0, 1.2, 2.0) == (0.0, 1.0)  # noise: more bytes but faster; clamped, not negative


def _sweep_fit(path) -> float:
    """The p-norm exponent of (DRAM time, FMA time) that best gives the sweep's measured times near its
    knee (points whose two times are within 4x of each other), least squares in log time."""
    doc = json.loads(path.read_text())
    peaks, points = doc["ceilings"]["peaks"], []
    for dtype, peak in (("fp32", "fp32"), ("fp16", "fp16_simt")):
        sweep = [s for s in doc["sweep"] if s["dtype"] == dtype]
        memory = min(s["time_s"] for s in sweep if s["k"] == 0)  # the sweep kernel's own streaming time
        points += [(memory, s["flops"] / (peaks[peak] * 1e12), s["time_s"]) for s in sweep]
    knee = [(m, c, t) for m, c, t in points if 0.25 <= c / m <= 4]
    err = lambda p: sum(math.log((m**p + c**p) ** (1 / p) / t) ** 2 for m, c, t in knee)  # noqa: E731
    return min((i / 100 for i in range(100, 1001)), key=err)


def test_the_overlap_exponent_is_the_h100_sweeps():
    assert _sweep_fit(realdata.H100_CEILINGS) == pytest.approx(OVERLAP_P, abs=0.05)


@pytest.fixture(scope="module")
def placed():
    return place_run(realdata.h100()), place_run(realdata.h200())


def _hits(a, b, p: float | None = None, run=True) -> dict[str, list[int]]:
    """Per workload: [records carried from a to b within 10 % of the measured ratio, records]."""
    old = crossgen.OVERLAP_P
    crossgen.OVERLAP_P = old if p is None else p
    try:
        idx, out = b.run.index(), {}
        for rec in a.run.ok_records():
            other = idx.get(rec.key)
            if other is None or not other.ok:
                continue
            t = carried_time(rec, a.ceilings, other, b.ceilings, a.run if run else None)
            ok = t is not None and abs(other.median / t - 1) <= 0.10
            cell = out.setdefault(rec.workload, [0, 0])
            cell[0], cell[1] = cell[0] + ok, cell[1] + 1
        return out
    finally:
        crossgen.OVERLAP_P = old


# docs/model.md, "From one GPU to another": H100 -> H200, per workload.
BY_WORKLOAD = {"gemm": [35, 36], "vector_add": [15, 16], "window_sum": [26, 30], "softmax": [23, 24],
               "layernorm": [22, 24], "rmsnorm": [22, 24], "layernorm_bwd": [9, 12]}  # fmt: skip
RESIDUE = {"gemm": 35, "vector_add": 15, "window_sum": 22, "softmax": 15, "layernorm": 18, "rmsnorm": 16,
           "layernorm_bwd": 4}  # fmt: skip


def test_the_committed_runs_carried_within_10_percent(placed):
    h100, h200 = placed
    assert _hits(h100, h200) == BY_WORKLOAD  # 152 of 166: 91.6 %
    assert sum(v[0] for v in BY_WORKLOAD.values()) == 152 and sum(v[1] for v in BY_WORKLOAD.values()) == 166
    assert {w: v[0] for w, v in _hits(h100, h200, run=False).items()} == RESIDUE  # the residue rule: 125
    assert sum(v[0] for v in _hits(h200, h100).values()) == 154  # the other way round, the same rule


def test_each_workload_held_out(placed):
    """The rule has no parameter from any kernel's timings. Were p chosen to fit the other six workloads'
    H200 ratios instead, it would be 3.5 for every held-out workload, and the held-out counts barely move:
    the split, not a tuned exponent, does the work."""
    h100, h200 = placed
    by_p = {p: _hits(h100, h200, p) for p in GRID}
    for held in BY_WORKLOAD:
        fitted = max(GRID, key=lambda p: sum(v[0] for w, v in by_p[p].items() if w != held))
        assert fitted == 3.5
        assert abs(by_p[fitted][held][0] - BY_WORKLOAD[held][0]) <= 2, held
    assert all(sum(v[0] for v in by_p[p].values()) >= 150 for p in (2.5, 3, 3.5, 4, 4.2, 4.5))


def test_a_deliberately_wrong_split_is_caught(placed, monkeypatch):
    """Scaling the byte part with the SM rate and the element part with the bandwidth misses most records."""
    h100, h200 = placed
    right = crossgen._scales  # noqa: SLF001 - the seam this negative test swaps
    monkeypatch.setattr(crossgen, "_scales", lambda a, b, side: tuple(reversed(right(a, b, side))))
    assert sum(v[0] for v in _hits(h100, h200).values()) < 100  # 57 at this writing; the rule: 152


def test_which_records_are_split(placed):
    h100 = placed[0].run
    norm = realdata.record(h100, "rmsnorm", "triton", "bf16", rows=4096, cols=4096)
    gemm = realdata.record(h100, "gemm", "torch", "bf16", M=4096, N=4096, K=4096)
    assert sibling(h100, norm).dtype == "fp32" and rule_of(norm, h100) == "split"
    assert rule_of(gemm, h100) == "residue" and rule_of(norm, None) == "residue"


def _best(placed_run) -> dict:
    best = {}
    for rec in placed_run.run.ok_records():
        k = (rec.workload, rec.key.shape, rec.dtype, rec.mode)
        if k not in best or rec.median < best[k].median:
            best[k] = rec
    return best


@pytest.mark.parametrize("here, there, first_principles, carried", [(0, 1, 16, 38), (1, 0, 14, 35)])
def test_the_best_variant_of_each_case(placed, here, there, first_principles, carried):
    """Per (workload, shape, dtype): the fastest variant's time on one GPU, from first principles (its
    measured ceilings alone) and carried from the other GPU's measurement of the same variant."""
    a, b = placed[here], placed[there]
    best, idx = _best(a), b.run.index()
    assert len(best) == 42
    fp = sum(abs(a.of(r).measured.time_s / r.median - 1) <= 0.10 for r in best.values())
    hits = 0
    for rec in best.values():
        t = carried_time(idx[rec.key], b.ceilings, rec, a.ceilings, b.run)
        hits += t is not None and abs(t / rec.median - 1) <= 0.10
    assert (fp, hits) == (first_principles, carried)
