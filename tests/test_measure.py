"""The measurement loop (bench.measure.sampling) and one worker item (bench.run.worker.run_item) on the CPU,
driven by a stand-in timer: stop reasons, the retry of batches with launch gaps, the CUDA-graph fallback, and
the record an item becomes (correct, wrong, skipped, failed). The kernels are real torch code on the CPU."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from types import SimpleNamespace

import pytest
import torch

from gpubench.bench.measure.correctness import ReferenceCache
from gpubench.bench.measure.sampling import measure
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.measure.timing import BatchInfo
from gpubench.bench.run import worker as worker_mod
from gpubench.bench.run.plan import PlanItem
from gpubench.kernels import REGISTRY, Variant
from gpubench.results import Telemetry

RULE = StoppingRule(min_samples=10, max_samples=200, min_time_s=0.0, rel_noise=0.01, timeout_s=5.0)


class FakeTimer:
    """bench.measure.timing.DeviceTimer's interface over scripted samples. `gaps` batches report launch gaps;
    `graph` is "ok", "fail" or None (never asked)."""

    graph_below_s = 10e-6

    def __init__(self, samples, mode="cold", gaps=0, graph=None, sleep_s=0.0):
        self.mode, self.gaps, self.graph, self.sleep_s = mode, gaps, graph, sleep_s
        self._samples = itertools.cycle(samples)
        self.calls = {"sync": 0, "batches": 0, "captures": 0}
        self.flush_bytes = 100 << 20

    def synchronize(self):
        self.calls["sync"] += 1

    def events_batch(self, fn, count):
        self.calls["batches"] += 1
        time.sleep(self.sleep_s)
        gapped = self.calls["batches"] > 1 and self.gaps > 0  # the probe batch is never gapped
        if gapped:
            self.gaps -= 1
        return [next(self._samples) for _ in range(count)], BatchInfo("events+spin", launch_gaps=gapped)

    def capture_graph(self, fn, reps):
        self.calls["captures"] += 1
        if self.graph == "fail":
            raise RuntimeError("operation not permitted when stream is capturing")
        return SimpleNamespace(replay=lambda: None)

    def graph_batch(self, graph, reps, count):
        samples, info = self.events_batch(graph.replay, count)
        info.method = f"cuda-graph({reps})+" + info.method
        return samples, info


STEADY = [1.00e-4, 1.01e-4, 0.99e-4, 1.00e-4]
NOISY = [1e-4, 3e-4, 0.5e-4, 2e-4, 1.5e-4]


def test_converges_on_steady_samples():
    m = measure(lambda: None, FakeTimer(STEADY), RULE)
    assert m.stop_reason == "converged" and RULE.min_samples <= len(m.samples) < RULE.max_samples
    assert m.method == "events+spin" and m.flags == [] and m.warmup_calls >= 2


def test_noisy_samples_run_to_max_samples():
    m = measure(lambda: None, FakeTimer(NOISY), dataclasses.replace(RULE, rel_noise=1e-6))
    assert m.stop_reason == "max_samples" and len(m.samples) == RULE.max_samples


def test_a_slow_timer_stops_at_the_timeout():
    rule = dataclasses.replace(RULE, rel_noise=1e-6, max_samples=10**6, timeout_s=0.3)
    m = measure(lambda: None, FakeTimer(NOISY, sleep_s=0.05), rule)
    assert m.stop_reason == "timeout" and m.wall_s >= 0.3


def test_a_kernel_slower_than_the_timeout_still_gets_its_minimum():
    """However busy the machine, a measurement ends with at least min_samples, and says the timeout came
    first: every batch here takes longer than the whole timeout."""
    rule = dataclasses.replace(RULE, min_samples=3, timeout_s=0.01)
    m = measure(lambda: None, FakeTimer(NOISY, sleep_s=0.02), rule)
    assert len(m.samples) >= 3 and m.stop_reason == "min_samples"


def test_batches_with_launch_gaps_are_retried_then_flagged():
    few = measure(lambda: None, FakeTimer(STEADY, gaps=2), RULE)
    assert few.flags == [] and any("2 batch(es) had launch gaps and were discarded" in n for n in few.notes)
    many = measure(lambda: None, FakeTimer(STEADY, gaps=10), RULE)
    assert many.flags == ["launch_gaps"] and many.samples  # kept, but flagged


def test_short_warm_kernels_are_timed_by_graph_replay():
    timer = FakeTimer([2e-6, 2.01e-6], mode="warm", graph="ok")
    m = measure(lambda: None, timer, RULE)
    assert timer.calls["captures"] == 1 and m.method.startswith("cuda-graph(")


def test_a_launcher_that_cannot_be_captured_falls_back_to_events():
    timer = FakeTimer([2e-6, 2.01e-6], mode="warm", graph="fail")
    m = measure(lambda: None, timer, RULE)
    assert m.method == "events+spin" and any("graph capture failed" in n for n in m.notes)
    assert m.stop_reason == "converged"


def test_cold_kernels_are_never_graph_replayed():
    timer = FakeTimer([2e-6, 2.01e-6], mode="cold", graph="ok")
    measure(lambda: None, timer, RULE)
    assert timer.calls["captures"] == 0


# ----------------------------------------------------------------------------------------- one item


class Journal:
    def __init__(self):
        self.events = []

    def write(self, event, **payload):
        self.events.append({"event": event, **json.loads(json.dumps(payload, default=str))})


class FakeTelemetry:
    def start(self):
        pass

    def stop(self):
        return Telemetry.unavailable("no NVML on this machine")


def _ctx(samples=STEADY):
    return worker_mod.WorkerContext(
        Journal(), RULE, torch.device("cpu"), timer_factory=lambda device, mode: FakeTimer(samples, mode),
        telemetry=FakeTelemetry(), gpu_uuid="GPU-cpu-test",
    )  # fmt: skip


@pytest.fixture
def vector_add(monkeypatch):
    """vector_add with two extra CPU-runnable variants: one wrong, one that raises."""
    w = REGISTRY["vector_add"]
    extra = {
        "wrong": Variant("wrong", "torch", lambda x, y: x - y),
        "raises": Variant(
            "raises", "torch", lambda x, y: (_ for _ in ()).throw(RuntimeError("kernel blew up"))
        ),
    }
    w = dataclasses.replace(w, variants={**w.variants, **extra})
    monkeypatch.setattr(worker_mod, "kernels", SimpleNamespace(get=lambda name: w))
    return w


def _item(variant, n=4099):
    return PlanItem("vector_add", variant, "torch", {"n": n}, "fp32", "cold")


def test_a_correct_item_becomes_an_ok_record(vector_add):
    ctx = _ctx()
    rec = worker_mod.run_item(_item("torch"), ctx)
    assert rec.ok and rec.correctness.passed and rec.correctness.max_abs_err == 0.0
    assert set(rec.timing.samples) <= set(STEADY) and rec.timing.stop_reason == "converged"
    assert rec.timing.flush_bytes == 100 << 20 and rec.gpu_uuid == "GPU-cpu-test"
    assert rec.flops == 4099 and rec.bytes == 3 * 4 * 4099 and not rec.telemetry.available
    events = [e["event"] for e in ctx.journal.events]
    assert events == ["start", "record"] and ctx.journal.events[1]["record"]["status"] == "ok"


def test_a_wrong_kernel_is_a_failed_record_never_a_fast_one(vector_add):
    rec = worker_mod.run_item(_item("wrong"), _ctx())
    assert rec.status == "failed" and rec.reason.startswith("incorrect:") and rec.timing is None
    assert rec.correctness.checked and rec.correctness.passed is False


def test_a_kernel_that_raises_is_a_failed_record_with_its_traceback(vector_add):
    rec = worker_mod.run_item(_item("raises"), _ctx())
    assert rec.status == "failed" and "RuntimeError: kernel blew up" in rec.reason
    assert "kernel blew up" in rec.traceback


def test_a_variant_that_cannot_run_here_is_a_skipped_record(vector_add):
    rec = worker_mod.run_item(_item("cuda_vec"), _ctx())
    assert rec.status == "skipped" and "CUDA device" in rec.reason


def test_correctness_is_checked_once_for_both_modes(vector_add, monkeypatch):
    calls = []
    real = worker_mod.check_variant
    monkeypatch.setattr(worker_mod, "check_variant", lambda *a, **k: calls.append(a) or real(*a, **k))
    ctx = _ctx()
    worker_mod.run_item(_item("torch"), ctx)
    worker_mod.run_item(dataclasses.replace(_item("torch"), mode="warm"), ctx)
    assert len(calls) == 1


def test_the_reference_is_computed_once_per_shape_and_dtype(vector_add, monkeypatch):
    calls = []
    counted = dataclasses.replace(vector_add, reference=lambda x, y: calls.append(1) or x + y)
    monkeypatch.setattr(worker_mod, "kernels", SimpleNamespace(get=lambda name: counted))
    ctx = _ctx()
    recs = [worker_mod.run_item(_item(v), ctx) for v in ("torch", "triton", "wrong")]
    assert len(calls) == 1 and ctx.references.computed == 1  # three variants, one shape and dtype
    assert [r.status for r in recs] == ["ok", "ok", "failed"]  # the shared reference still catches "wrong"
    worker_mod.run_item(_item("torch", n=4100), ctx)
    worker_mod.run_item(dataclasses.replace(_item("triton", n=4100), dtype="fp16"), ctx)
    assert len(calls) == 3  # a new shape, then a new dtype: each its own reference


def test_the_attention_gpu_tests_share_one_reference_per_shape_and_dtype():
    """The GPU tests check the variants of one shape and dtype in a row with the session's cache, so the
    float64 reference (the costliest step at their large shapes) is computed once for all of them."""
    from tests.gpu import test_attention_gpu as gpu

    for w, cases in ((gpu.ATT, gpu.FORWARD_CASES), (gpu.BWD, gpu.BACKWARD_CASES)):
        refs = ReferenceCache()
        stand_in = SimpleNamespace(name=w.name, reference=lambda: None)
        for case in cases:
            _, shape, dtype = case.values
            refs.get(stand_in, shape, dtype, 12345, ())
        kinds = {(tuple(sorted(c.values[1].items())), c.values[2]) for c in cases}
        assert len(cases) > 2 * len(kinds) and refs.computed == len(kinds), w.name


# ----------------------------------------------------------------------------------------- sustained


def test_load_runs_back_to_back_for_the_time_asked():
    from gpubench.bench.measure.sampling import load

    now = [0.0]
    calls, syncs = [], []

    def fn():  # each call takes 1 ms of (fake) time
        calls.append(1)
        now[0] += 1e-3

    got = load(fn, lambda: syncs.append(len(calls)), 0.5, clock=lambda: now[0])
    assert got.calls == len(calls) and 0.5 <= got.wall_s < 0.6 and got.calls >= 500
    assert syncs[0] == 1 and all(b > a for a, b in zip(syncs, syncs[1:]))  # chunks grow to ~20 ms
    assert max(b - a for a, b in zip(syncs, syncs[1:])) <= 2 * 20 + 1
    assert load(fn, lambda: None, 0.0, clock=lambda: now[0]).calls == 0


def test_sustained_records_carry_a_second_measurement(vector_add):
    ctx = worker_mod.WorkerContext(
        Journal(), RULE, torch.device("cpu"), timer_factory=lambda device, mode: FakeTimer(STEADY, mode),
        telemetry=FakeTelemetry(), sustained_s=0.01, slowdown=None,
    )  # fmt: skip
    rec = worker_mod.run_item(_item("torch"), ctx)
    assert rec.ok and rec.sustained is not None
    assert rec.sustained.load_s >= 0.01 and rec.sustained.load_calls > 0
    assert rec.sustained.timing.samples and rec.sustained.timing.stop_reason == "converged"
    back = type(rec).from_json(json.loads(json.dumps(rec.to_json())))
    assert back.sustained == rec.sustained
    plain = worker_mod.run_item(_item("torch", n=4101), _ctx())
    assert plain.sustained is None


def test_the_injected_slowdown_is_a_spin_of_that_fraction_of_the_kernel():
    assert worker_mod.spin_cycles(0.05, 200e-6, 1.98e9) == int(0.05 * 200e-6 * 1.98e9)  # 19,800 cycles
    assert worker_mod.spin_cycles(0.10, 1e-9, 1e9) == 1  # never a zero-length spin
