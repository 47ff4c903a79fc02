"""The torch.compile baselines (kernels/compiled.py) on the CPU: inductor's CPU backend compiles each
workload's `torch_compile` variant on one small test shape in one dtype and the workload's check holds it
against the float64 reference; its record carries the compile time, measured once and outside the samples;
recompiles are counted, a wrong compiled function is caught, and one function is never wrapped twice.

Compiling is what costs: one shared inductor cache for the session (conftest's `inductor_cache`), one
shape per workload, and the `slow` mark."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest
import torch

from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.bench.measure.timing import BatchInfo
from gpubench.bench.run import worker as worker_mod
from gpubench.bench.run.plan import PlanItem
from gpubench.kernels import REGISTRY, compiled
from gpubench.reports.baseline_tables import baseline_tables, compile_times
from gpubench.roles import BASELINE
from gpubench.roofline.placement import place_run
from tests.support import realdata
from tests.test_measure import RULE, FakeTelemetry, Journal

CPU = torch.device("cpu")
# The workloads the suite promises a torch.compile baseline for: every built-in one.
WITH_COMPILE = tuple(REGISTRY)


def _case(w):
    """One small case: the first dtype of fp16/fp32 the workload has, the first non-empty test shape the
    variant takes in it."""
    v = w.variants[compiled.NAME]
    dtype = next(d for d in ("fp16", "fp32", *w.dtypes) if d in w.dtypes)
    for shape in w.shapes["test"]:
        if w.flops(shape) > 0 and v.skip_reason(CPU, shape, dtype) is None:
            return shape, dtype
    raise AssertionError(f"{w.name}: no test shape for torch_compile in {dtype}")


def test_every_workload_promised_has_a_torch_compile_baseline():
    for name in WITH_COMPILE:
        v = REGISTRY[name].variants[compiled.NAME]
        assert v.role == BASELINE and v.backend == "torch" and compiled.is_compiled(v), name
        assert v.description.startswith("torch.compile ("), name


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_COMPILE)
def test_the_compiled_baseline_is_correct_on_the_cpu(name, inductor_cache):
    w = REGISTRY[name]
    v = w.variants[compiled.NAME]
    shape, dtype = _case(w)
    check_variant(w, v, shape, dtype, CPU)
    info = v.run_details()["compile"]
    assert info["compile_s"] > 0 and info["autotune_s"] >= 0 and info["graphs"] == 1
    assert info["mode"] in compiled.MODES and info["recompiles_after"] == 0


@pytest.mark.slow
def test_the_backward_compile_is_counted_once(inductor_cache):
    """AOTAutograd compiles attention's backward on the first backward call, after the forward's compile:
    that time joins the compile figures, and a new input set of the same signature compiles nothing."""
    w = REGISTRY["attention_bwd"]
    v = w.variants[compiled.NAME]
    shape, dtype = _case(w)
    v.fn(*w.make_inputs(shape, dtype, CPU, seed=1))
    info = v.run_details()["compile"]
    assert 0 < info["backward_s"] < info["compile_s"]
    again = v.fn(*w.make_inputs(shape, dtype, CPU, seed=2))  # a new dO: a new graph, the same compile
    assert len(again) == 3 and v.run_details()["compile"] == info


def _add(x, y):  # its own function: one Compiled per function
    return x + y


def _subtract(x, y):
    return x - y


@pytest.mark.slow
def test_recompiles_are_counted_not_hidden(inductor_cache):
    core = compiled.Compiled(_add)
    x = torch.randn(33)
    core(x, x)
    first = core.details()["compile"]
    assert not first["recompile"] and first["signatures"] == 1
    core(torch.randn(34), torch.randn(34))  # a new shape: static shapes compile it again
    assert core.details()["compile"]["recompile"] and core.details()["compile"]["signatures"] == 2
    core(x, x)  # the first shape again: its own compile, no new one
    assert core.details()["compile"]["recompiles_after"] == 0
    with torch.no_grad():  # a guard on the grad mode fails: dynamo compiles again, and it is counted
        core(x, x)
    assert core.details()["compile"]["recompiles_after"] == 1


@pytest.mark.slow
def test_a_wrong_compiled_function_fails_its_check(inductor_cache):
    w = REGISTRY["vector_add"]
    wrong = compiled.variant(compiled.Compiled(_subtract), "x - y (wrong on purpose)")
    with pytest.raises(CorrectnessError):
        check_variant(w, wrong, {"n": 100}, "fp32", CPU)


def test_one_function_is_compiled_by_one_wrapper():
    with pytest.raises(ValueError, match="already compiled"):
        compiled.Compiled(REGISTRY["vector_add"].variants[compiled.NAME].details.__self__.fn)
    with pytest.raises(ValueError, match="mode must be"):
        compiled.Compiled(lambda x: x, "reduce-overhead")


class WallTimer:
    """A timer whose samples are the host time of each call: a compile inside them would show."""

    graph_below_s = 0.0
    flush_bytes = 0
    mode = "cold"

    def synchronize(self):
        pass

    def events_batch(self, fn, count):
        out = []
        for _ in range(count):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return out, BatchInfo("events+spin")


@pytest.mark.slow
def test_the_record_keeps_the_compile_time_outside_its_samples(inductor_cache, monkeypatch):
    w = REGISTRY["softmax"]
    v = dataclasses.replace(w.variants[compiled.NAME])
    monkeypatch.setattr(worker_mod, "kernels", SimpleNamespace(get=lambda name: w))
    ctx = worker_mod.WorkerContext(Journal(), RULE, CPU, timer_factory=lambda device, mode: WallTimer(),
                                   telemetry=FakeTelemetry())  # fmt: skip
    item = PlanItem("softmax", v.name, "torch", {"rows": 13, "cols": 301}, "fp32", "cold")
    rec = worker_mod.run_item(item, ctx)
    assert rec.ok, rec.reason
    info = rec.details["compile"]
    assert info["compile_s"] > 10 * max(rec.timing.samples)  # compiled once, in the check, before sampling
    assert rec.details["fusion"]["fused_bytes"] > 0  # the workload's own details are kept beside it
    # the report's baseline table shows it beside the kernels of the same case: records measured here (host
    # time on this CPU) in a copy of the committed H100 run, whose records they replace
    other = worker_mod.run_item(dataclasses.replace(item, variant="unfused"), ctx)
    run = realdata.h100()
    run.records = [rec, other]
    (table,) = baseline_tables(place_run(run), "t")
    assert [c.name for c in table.columns][-1] == "compile"
    cell = table.rows[0].cells[-1]
    assert cell.text == f"{info['compile_s']:.1f} s" and "default" in cell.title
    assert compile_times(run.records) == {("softmax", (("cols", 301), ("rows", 13)), "fp32", "cold"):
                                          (compiled.NAME, info)}  # fmt: skip
