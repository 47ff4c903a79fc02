"""Splitting a plan across GPUs or jobs (bench.fleet.split): every item in exactly one part, parts balanced by
expected time (longest first), the cold and warm items of one variant/shape/dtype kept together, and
the expected times taken from a previous run where it has them, else from the datasheet roofline."""

from collections import Counter

import pytest

from gpubench.bench.fleet.split import ITEM_OVERHEAD_S, expected_times, item_key, lpt, measured_costs
from gpubench.bench.run.plan import PROFILES, PlanItem, build_plan
from tests.support import realdata


def _items(costs, modes=("cold",)):
    return [PlanItem("w", f"v{n}", "torch", {"n": n}, "fp32", m) for n in range(len(costs)) for m in modes]


def _load(part, cost):
    return sum(cost(i) for i in part)


@pytest.mark.parametrize("parts", [1, 2, 3, 5, 8])
def test_nothing_lost_or_doubled_and_balanced(parts):
    costs = [7, 1, 3, 9, 2, 2, 5, 8, 4, 6, 1, 3, 3]
    items = _items(costs)
    cost = lambda i: costs[i.shape["n"]]  # noqa: E731
    split = lpt(items, parts, cost)
    assert len(split) == parts
    assert Counter(i.id for p in split for i in p) == Counter(i.id for i in items)
    loads = [_load(p, cost) for p in split]
    # Graham's bound for LPT: within 4/3 - 1/(3m) of the best split, itself at least max(mean, largest)
    best_possible = max(sum(costs) / parts, max(costs))
    assert max(loads) <= (4 / 3 - 1 / (3 * parts)) * best_possible + 1e-9
    for p in split:  # each part runs its longest items first
        assert [cost(i) for i in p] == sorted((cost(i) for i in p), reverse=True)


def test_lpt_beats_round_robin_on_a_skewed_plan():
    costs = [10, 10, 1, 1, 1, 1, 1, 1]
    items = _items(costs)
    cost = lambda i: costs[i.shape["n"]]  # noqa: E731
    loads = sorted(_load(p, cost) for p in lpt(items, 2, cost))
    assert loads == [13, 13]


def test_cold_and_warm_of_one_case_stay_on_one_part():
    items = _items([3, 3, 3, 3], modes=("cold", "warm"))
    split = lpt(items, 4, lambda i: 1.0)
    for part in split:
        assert len(part) == 2 and {i.mode for i in part} == {"cold", "warm"}
        assert len({i.variant for i in part}) == 1


def test_more_parts_than_groups_leaves_parts_empty_and_bad_counts_are_refused():
    split = lpt(_items([1, 2]), 5, lambda i: 1.0)
    assert sorted(len(p) for p in split) == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="0 parts"):
        lpt(_items([1]), 0, lambda i: 1.0)


def test_the_split_is_deterministic():
    items = _items([1] * 9)
    a = lpt(items, 3, lambda i: 1.0)
    assert [[i.id for i in p] for p in a] == [[i.id for i in p] for p in lpt(items, 3, lambda i: 1.0)]


def test_measured_costs_come_from_a_real_run():
    run = realdata.h100()
    costs = measured_costs(run)
    rec = realdata.record(run, "gemm", "torch", "bf16", M=8192)
    assert costs[rec.key] == pytest.approx(ITEM_OVERHEAD_S + rec.timing.wall_s)
    failed = [r for r in run.records if not r.ok]
    assert failed and all(costs[r.key] == ITEM_OVERHEAD_S for r in failed)


@pytest.fixture(scope="module")
def quick_plan():
    return build_plan(PROFILES["quick"])


def test_roofline_estimate_ranks_big_kernels_above_small_ones(quick_plan):
    from gpubench import kernels

    times = expected_times(quick_plan.items, PROFILES["quick"].rule, realdata.H100, None, kernels.REGISTRY)
    assert set(times) == {i.id for i in quick_plan}
    by_id = {i.id: i for i in quick_plan}
    gemm = max(t for i, t in times.items() if by_id[i].workload == "gemm")
    vadd = min(t for i, t in times.items() if by_id[i].workload == "vector_add")
    assert gemm > vadd >= ITEM_OVERHEAD_S
    # no spec for the GPU: every item costs the same, and the split balances counts
    flat = expected_times(quick_plan.items, PROFILES["quick"].rule, "Unheard-of GPU", None, kernels.REGISTRY)
    assert len(set(flat.values())) == 1


def test_a_real_plan_split_by_a_real_runs_times_is_balanced(quick_plan):
    from gpubench import kernels

    previous = realdata.h100()
    times = expected_times(quick_plan.items, PROFILES["quick"].rule, previous.gpu, previous, kernels.REGISTRY)
    measured = measured_costs(previous)
    for item in quick_plan:
        if item_key(item) in measured:
            assert times[item.id] == measured[item_key(item)]
    parts = lpt(quick_plan.items, 4, lambda i: times[i.id])
    loads = [_load(p, lambda i: times[i.id]) for p in parts]
    assert sum(len(p) for p in parts) == len(quick_plan)
    assert max(loads) / min(loads) < 1.1, loads
