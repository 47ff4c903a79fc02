"""gpubench.benchmark and gpubench.check (gpubench.api): every bad argument is a TypeError / ValueError
naming it, raised before anything runs; without a GPU a clear NoGPUError. With a stand-in timer (as in
tests/test_measure.py) the result's record, run file, placement and do_bench-style summaries are checked;
the reference check runs real torch CPU kernels and the example Triton kernel in the interpreter."""

import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import triton.testing

import gpubench
from gpubench import api, cli, results
from gpubench.bench.measure.stopping import StoppingRule
from tests.support import realdata
from tests.test_measure import NOISY, STEADY, FakeTelemetry, FakeTimer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "data" / "plugin_example"
RULE = StoppingRule(min_samples=10, max_samples=60, min_time_s=0.0, rel_noise=1e-9, timeout_s=5.0)
N = 4096


def stand_in(samples=STEADY):
    return dict(
        timer_factory=lambda device, mode: FakeTimer(samples, mode), telemetry=FakeTelemetry(), rule=RULE
    )


def add(x, y):
    """x + y with torch"""
    return x + y


def counting(fn):
    def wrapped(*a):
        wrapped.calls += 1
        return fn(*a)

    wrapped.calls = 0
    return wrapped


@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    return torch.randn(N, generator=g), torch.randn(N, generator=g)


# ----------------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"fn": 42}, TypeError, "fn must be callable (the function to time), got int 42"),
        ({"reference": "x + y"}, TypeError, "reference must be callable (or None), got str"),
        ({"flops": -1}, ValueError, "flops must be a finite number >= 0, got -1"),
        ({"bytes": math.inf}, ValueError, "bytes must be a finite number >= 0, got inf"),
        ({"flops": float("nan")}, ValueError, "flops must be a finite number >= 0, got nan"),
        ({"flops": "4096"}, TypeError, "flops must be a number >= 0, got str '4096'"),
        ({"bytes": True}, TypeError, "bytes must be a number >= 0, got bool True"),
        ({"mode": "hot"}, ValueError, "mode must be one of 'cold', 'warm', got 'hot'"),
        (
            {"rule": "fast"},
            ValueError,
            "rule must be a StoppingRule or a profile name (quick, full), got 'fast'",
        ),
        ({"shape": {"n": 4.5}}, TypeError, "shape must map axis names to whole numbers"),
        ({"atol": -1e-3}, ValueError, "atol must be a finite number >= 0"),
        ({"name": ""}, TypeError, "name must be a non-empty string"),
        ({"timer_factory": 3}, TypeError, "timer_factory must be callable"),
        ({"device": "tpu:0"}, ValueError, "device: 'tpu:0' is not a torch device"),
        ({"ceilings": 7}, TypeError, "ceilings must be the path of a ceilings file"),
    ],
)
def test_a_bad_argument_is_named_before_anything_runs(xy, kwargs, error, message):
    fn = counting(add)
    options = {**stand_in(), "fn": fn, **kwargs}
    with pytest.raises(error) as caught:
        api.benchmark(options.pop("fn"), *xy, **options)
    assert message in str(caught.value)
    assert fn.calls == 0


def test_arguments_on_another_device_than_the_timing_are_named(xy):
    with pytest.raises(ValueError, match=r"args\[1\] is a tensor on cpu, but the timing runs on cuda"):
        api.benchmark(add, 1.0, xy[0], device="cuda", **stand_in())
    with pytest.raises(ValueError, match=r"args\[0\]\[1\] is a tensor on cpu"):
        api.benchmark(lambda pair: pair, [1, xy[0]], device="cuda:0", **stand_in())


def test_a_missing_ceilings_file_is_named(xy, tmp_path):
    with pytest.raises(results.ResultsError, match="nope.json"):
        api.benchmark(add, *xy, ceilings=tmp_path / "nope.json", **stand_in())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_without_a_gpu_benchmark_says_so_and_how_to_check_correctness(xy):
    fn = counting(add)
    with pytest.raises(api.NoGPUError) as caught:
        gpubench.benchmark(fn, *xy)
    text = str(caught.value)
    assert "needs a CUDA GPU" in text and "gpubench.check(fn, *args, reference=...)" in text
    assert fn.calls == 0


# ------------------------------------------------------------------------------------ the measurement


def test_the_result_holds_the_devices_samples_and_a_record(xy):
    r = gpubench.benchmark(add, *xy, flops=N, bytes=12 * N, reference=torch.add, shape={"n": N}, **stand_in())
    assert set(r.samples) <= set(STEADY) and r.timing.stop_reason == "converged" and len(r.samples) == 10
    rec = r.record
    assert (
        rec.label == "add/add[n=4096|fp32|cold]"
        and rec.backend == "custom"
        and rec.description == "x + y with torch"
    )
    assert rec.correctness.passed and rec.correctness.max_abs_err == 0.0 and rec.correctness.seed is None
    assert rec.flops == N and rec.bytes == 12 * N and r.achieved_gbs == pytest.approx(12 * N / r.median / 1e9)
    lo, hi = r.interval
    assert lo <= r.median <= hi and hi - lo == pytest.approx(2 * r.timing.rel_ci * r.median)
    assert not r.telemetry.available and r.flags == [] and r.placement is None  # no known GPU: no roofline
    assert r.run.status == "complete" and r.run.records == [rec] and r.run.run.rule["max_samples"] == 60


def test_without_a_reference_nothing_is_checked_and_the_dtype_is_the_arguments(xy):
    r = gpubench.benchmark(add, xy[0].half(), xy[1].half(), **stand_in())
    assert r.record.correctness.checked is False and r.record.dtype == "fp16" and r.record.flops is None


# do_bench's own summary of its samples (ms), applied here to ours.
DO_BENCH_SUMMARY = getattr(triton.testing, "_summarize_statistics", None)


@pytest.mark.skipif(DO_BENCH_SUMMARY is None, reason="no do_bench summary in this Triton")
@pytest.mark.parametrize("return_mode", ["min", "max", "mean", "median", "all"])
def test_ms_summarises_as_triton_do_bench_does(xy, return_mode):
    r = gpubench.benchmark(add, *xy, **stand_in(NOISY))
    times = [s * 1e3 for s in r.samples]
    assert r.ms(return_mode=return_mode) == pytest.approx(DO_BENCH_SUMMARY(times, None, return_mode))
    for qs in ([0.5, 0.2, 0.8], [0.5], [0.0, 1.0]):
        assert r.ms(quantiles=qs) == pytest.approx(DO_BENCH_SUMMARY(times, qs, "mean"))
    assert r.ms() == pytest.approx(statistics.mean(times))  # do_bench's default return_mode
    with pytest.raises(ValueError, match="return_mode must be one of"):
        r.ms(return_mode="p99")
    with pytest.raises(ValueError, match=r"quantiles must be numbers in \[0, 1\]"):
        r.ms(quantiles=[1.5])


def test_a_wrong_function_is_never_timed(xy):
    timer = FakeTimer(STEADY)
    with pytest.raises(api.IncorrectOutput) as caught:
        gpubench.benchmark(torch.sub, *xy, reference=torch.add, timer_factory=lambda d, m: timer,
                           telemetry=FakeTelemetry())  # fmt: skip
    assert timer.calls["batches"] == 0 and "output differs from the reference" in str(caught.value)
    rec = caught.value.record
    assert rec.status == "failed" and rec.reason.startswith("incorrect:") and rec.timing is None
    assert caught.value.run.records == [rec]
    with pytest.raises(api.IncorrectOutput, match="fn returned None"):
        gpubench.benchmark(lambda x, y: None, *xy, reference=torch.add, **stand_in())


def test_tolerances_follow_the_dtype_unless_given(xy):
    nudged = lambda x, y: x + y + 1e-4  # noqa: E731
    with pytest.raises(api.IncorrectOutput):
        gpubench.benchmark(nudged, *xy, reference=torch.add, **stand_in())
    r = gpubench.benchmark(nudged, *xy, reference=torch.add, atol=1e-3, **stand_in())
    assert r.record.correctness.atol == 1e-3 and r.record.correctness.rtol == 1.3e-6


def test_a_known_gpu_places_the_record_on_its_roofline(xy, monkeypatch):
    h200 = realdata.h200()
    monkeypatch.setattr(api, "_sections", lambda device: (h200.device, h200.software))
    r = gpubench.benchmark(add, *xy, flops=N, bytes=12 * N, ceilings=realdata.H200_CEILINGS, **stand_in())
    assert r.placement.datasheet.bound == "memory" and r.placement.measured is not None
    assert 0 < r.placement.datasheet.fraction_of_bound < 1 and "of the measured memory roof" in str(r)
    inflated = gpubench.benchmark(add, *xy, flops=N, bytes=10**12, **stand_in())  # 1 TB in 100 µs
    assert "above_ceiling" in inflated.flags


def test_the_saved_run_is_read_reported_and_gated(xy, tmp_path, capsys):
    r = gpubench.benchmark(add, *xy, flops=N, bytes=12 * N, shape={"n": N}, **stand_in())
    slower = gpubench.benchmark(
        add, *xy, flops=N, bytes=12 * N, shape={"n": N}, **stand_in([2 * s for s in STEADY])
    )
    base, cand = r.save(tmp_path / "base.json"), slower.save(tmp_path / "cand.json")
    assert results.read(base).records[0].timing.samples == r.samples
    assert cli.main(["gate", str(base), str(base)]) == 0
    assert (
        cli.main(["gate", str(base), str(cand)]) == 1
        and "SLOWER   add/add[n=4096|fp32|cold]" in capsys.readouterr().out
    )
    assert cli.main(["report", str(base), "--out", str(tmp_path / "report")]) == 0


# -------------------------------------------------------------------------- correctness without a GPU


@pytest.fixture
def example_kernels(monkeypatch):
    """The example's kernel module, imported from tests/data and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield __import__("scale_kernels.triton_scale").triton_scale
    for name in [n for n in sys.modules if n.split(".")[0] == "scale_kernels"]:
        del sys.modules[name]


def test_check_runs_the_example_triton_kernel_in_the_interpreter(example_kernels):
    scale, scale_shifted = example_kernels.scale, example_kernels.scale_shifted

    x = torch.randn(1000)
    ok = gpubench.check(scale, x, 1.5, reference=lambda x, a: x.double() * a)
    assert ok.passed and ok.max_abs_err < 1e-6
    with pytest.raises(api.IncorrectOutput, match="scale_shifted"):
        gpubench.check(scale_shifted, x, 1.5, reference=lambda x, a: x.double() * a)
    with pytest.raises(TypeError, match="reference must be callable"):
        gpubench.check(scale, x, 1.5, reference=None)


def test_importing_gpubench_stays_cheap():
    code = "import sys, gpubench; gpubench.benchmark; print(sorted({'torch', 'triton'} & set(sys.modules)))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stderr
    with pytest.raises(AttributeError, match="no attribute 'benchmrk'"):
        gpubench.benchmrk  # noqa: B018


# ------------------------------------------------------------------------------- on a GPU (nox -s gpu)

needs_gpu = pytest.mark.skipif(
    not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") != "0",
    reason="needs a CUDA GPU and compiled Triton (TRITON_INTERPRET=0)",
)


@pytest.mark.gpu
@needs_gpu
def test_the_api_agrees_with_the_runner_on_a_triton_kernel(tmp_path):
    from gpubench import kernels

    out = tmp_path / "runner.json"
    args = ["run", "--workload", "vector_add", "--variant", "triton", "--dtype", "fp32", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-m", "gpubench.cli", *args], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    (rec,) = results.read(out).ok_records()[:1]
    w = kernels.REGISTRY["vector_add"]
    inputs = w.make_inputs(rec.shape, "fp32", torch.device("cuda"), 2024)
    mine = gpubench.benchmark(
        w.variants["triton"].fn, *inputs, flops=rec.flops, bytes=rec.bytes, rule="quick"
    )
    spread = 3 * (mine.timing.rel_ci + rec.timing.rel_ci) + 0.03  # intervals, plus run-to-run drift
    assert mine.median == pytest.approx(rec.median, rel=spread), (mine.median, rec.median, spread)


@pytest.mark.gpu
@needs_gpu
def test_the_documented_api_example_runs_as_written(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPO)])}
    p = subprocess.run([sys.executable, str(EXAMPLE / "time_scale.py")], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "scale/scale[n=16777216|fp32|cold]" in p.stdout and (tmp_path / "scale-results.json").is_file()
