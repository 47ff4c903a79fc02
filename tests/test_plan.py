"""Bench profiles: the quick profile's product and its extras (fp16 GEMM, warm L2-resident records),
and how a selection filters the extras like every other item."""

import dataclasses

import pytest

from gpubench import kernels
from gpubench.bench.run.plan import PROFILES, Extra, PlanError, build_plan

QUICK = PROFILES["quick"]


def _ids(plan):
    return [i.id for i in plan]


def test_quick_has_fp16_gemm_at_the_target_squares_and_warm_l2_resident_records():
    plan = build_plan(QUICK)
    kept = lambda name: set(kernels.get(name).variants) - set(QUICK.leave_out)  # noqa: E731
    fp16 = {(i.shape["M"], i.variant) for i in plan if i.workload == "gemm" and i.dtype == "fp16"}
    assert fp16 == {(m, v) for m in (4096, 8192) for v in kept("gemm")}
    warm = [i for i in plan if i.mode == "warm"]
    assert {(i.workload, i.dtype) for i in warm} == {("vector_add", "fp32"), ("window_sum", "fp32")}
    assert {i.variant for i in warm if i.workload == "window_sum"} == kept("window_sum")
    for i in warm:  # working sets that fit the L2 of the GPUs the suite is measured on (50 MiB and up)
        w = kernels.get(i.workload)
        assert w.bytes(i.shape, i.dtype) <= 16 << 20
    assert len(_ids(plan)) == len(set(_ids(plan)))
    radii = {i.shape["radius"] for i in plan if i.workload == "window_sum" and i.mode == "cold"}
    assert radii == {1, 8, 16, 64}


def test_quick_leaves_the_compiled_baselines_out_unless_asked_for_them():
    assert QUICK.leave_out == ("torch_compile",)
    plan = build_plan(QUICK, ["softmax"])
    assert "torch_compile" not in {i.variant for i in plan} and any("leaves out torch_compile" in n
                                                                     for n in plan.notes)  # fmt: skip
    asked = build_plan(QUICK, ["softmax"], ["torch_compile"])
    assert {i.variant for i in asked} == {"torch_compile"} and not asked.notes
    assert "torch_compile" in {i.variant for i in build_plan(PROFILES["full"], ["softmax"])}


def test_every_extra_shape_is_one_of_the_workloads_own():
    for profile in PROFILES.values():
        for extra in profile.extras:
            w = kernels.get(extra.workload)
            known = [dict(s) for shapes in w.shapes.values() for s in shapes]
            assert all(dict(s) in known for s in extra.shapes), extra
            assert set(extra.dtypes) <= set(w.dtypes)


def test_a_selection_filters_the_extras():
    assert not [i for i in build_plan(QUICK, modes=["cold"]) if i.mode == "warm"]
    assert not [i for i in build_plan(QUICK, dtypes=["fp32", "bf16"]) if i.dtype == "fp16"]
    only = build_plan(QUICK, ["window_sum"], ["cuda_shared"], ["fp32"], ["warm"])
    assert [i.shape for i in only] == [{"n": 1 << 26, "radius": r} for r in (1, 8, 16, 64)] + [
        {"n": 1 << 20, "radius": 16}
    ]
    gemm16 = build_plan(QUICK, ["gemm"], ["torch"], ["fp16"])  # the extras coincide with quick shapes
    assert len(gemm16) == len(kernels.get("gemm").shapes["quick"])


def test_an_extra_at_an_unknown_shape_is_an_error():
    bad = Extra("vector_add", ({"n": 12345},), ("fp32",), ("warm",))
    profile = dataclasses.replace(QUICK, extras=(bad,))
    with pytest.raises(PlanError, match="none of vector_add's shapes"):
        build_plan(profile, ["vector_add"])
