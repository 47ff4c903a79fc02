"""One benchmark item inside a worker process: skip check, correctness, measurement, telemetry, record.

Each finished record is appended to a journal (JSON lines, flushed and fsynced) at once, so the
orchestrator keeps it whatever happens to the worker afterwards.
"""

from __future__ import annotations

import json
import os
import traceback

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, ReferenceCache, check_variant
from gpubench.bench.measure.sampling import Measurement, Timers, load, measure_observed
from gpubench.bench.run.plan import PlanItem
from gpubench.fmt import shape_label
from gpubench.results import Correctness, Record, Sustained, Telemetry, Timing
from gpubench.results.provenance import SLOWDOWN_ENV, SUSTAINED_ENV, positive_float

BENCH_SEED = 2024  # the timed inputs; correctness uses another seed so it sees fresh data


class Journal:
    def __init__(self, path: str):
        self._f = open(path, "a", buffering=1)

    def write(self, event: str, **payload) -> None:
        self._f.write(json.dumps({"event": event, **payload}, default=str) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())


class DeviceClock:
    """A clock for pytest-benchmark that advances by each measured device time, so its statistics,
    storage and comparisons are about GPU time, not host wall time."""

    def __init__(self, samples):
        self._samples = list(samples)
        self._next = 0
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self) -> None:
        self.now += self._samples[self._next]
        self._next += 1


class WorkerContext:
    """What the items of one worker share: the device, its timers (one per L2 mode), the telemetry
    sampler and the correctness verdicts. `timer_factory(device, mode)` and `telemetry` stand in for
    bench.measure.timing.DeviceTimer and bench.measure.telemetry.TelemetrySampler where no GPU is (the CPU
    tests)."""

    def __init__(
        self, journal: Journal, rule, device=None, *, timer_factory=None, timers: Timers | None = None,
        telemetry=None, gpu_uuid=None, sustained_s=None, slowdown=None,
    ):  # fmt: skip
        import torch

        self.journal = journal
        self.rule = rule
        # `gpubench run --sustained S` and the gate's injected slowdown reach a worker by its environment.
        env = os.environ
        self.sustained_s = sustained_s if sustained_s is not None else positive_float(env, SUSTAINED_ENV)
        self.slowdown = slowdown if slowdown is not None else positive_float(env, SLOWDOWN_ENV)
        self.device = device or torch.device("cuda", torch.cuda.current_device())
        self.gpu_uuid = gpu_uuid
        self.timers = timers if timers is not None else Timers(self.device, timer_factory)
        if telemetry is None:
            from gpubench.bench.measure.telemetry import TelemetrySampler

            telemetry = TelemetrySampler(self.device)
        self.telemetry = telemetry
        self._checked: dict[tuple, Correctness | Exception] = {}
        self.references = ReferenceCache()

    def timer(self, mode: str):
        return self.timers(mode)

    def correctness(self, w, v, shape, dtype) -> Correctness:
        """Checked once per (variant, shape, dtype), shared by the cold and warm items; the reference once
        per (shape, dtype), shared by the variants."""
        key = (w.name, v.name, tuple(sorted(shape.items())), dtype)
        if key not in self._checked:
            try:
                refs = self.references
                self._checked[key] = check_variant(w, v, shape, dtype, self.device, references=refs)
            except Exception as exc:
                self._checked[key] = exc
        got = self._checked[key]
        if isinstance(got, Exception):
            raise got
        return got

    def measure(self, fn, mode: str) -> tuple[Measurement, Telemetry, list[str]]:
        """(the measurement, its telemetry, the flags of both)."""
        return measure_observed(fn, self.timer(mode), self.rule, self.telemetry)

    def measure_sustained(self, fn, mode: str) -> Sustained:
        """The same measurement after `sustained_s` of back-to-back calls (bench.measure.sampling.load)."""
        loaded = load(fn, self.timer(mode).synchronize, self.sustained_s)
        m, telemetry, flags = self.measure(fn, mode)
        timing = _timing(m, getattr(self.timer(mode), "flush_bytes", 0) if mode == "cold" else 0)
        return Sustained(loaded.wall_s, timing, loaded.calls, telemetry, flags)


def context_is_healthy(device) -> str | None:
    """None if CUDA still works in this process, else the error (a fault poisons the context)."""
    import torch

    try:
        torch.cuda.synchronize(device)
        x = torch.ones(16, device=device)
        float((x + x).sum())
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def record_identity(item: PlanItem, w, v, ctx: WorkerContext) -> dict:
    return dict(
        workload=w.name, variant=v.name, backend=v.backend, shape=dict(item.shape), dtype=item.dtype,
        mode=item.mode, role=v.role, flops=int(w.flops(item.shape)),
        bytes=v.bytes_of(w, item.shape, item.dtype), uses_tensor_cores=w.uses_tensor_cores,
        compute_dtype=v.compute_dtype, description=v.description, gpu_uuid=ctx.gpu_uuid,
    )  # fmt: skip


def _timing(m: Measurement, flush: int, notes=()) -> Timing:
    if not m.samples:
        raise RuntimeError(f"no samples were taken before the stop rule fired ({m.stop_reason})")
    return Timing(
        samples=tuple(m.samples), method=m.method, stop_reason=m.stop_reason, wall_s=m.wall_s,
        warmup_calls=m.warmup_calls, flush_bytes=flush, notes=[*notes, *m.notes],
    )  # fmt: skip


def spin_cycles(fraction: float, median_s: float, clock_hz: float) -> int:
    """SM cycles of a spin that adds `fraction` of a kernel's median time, at the timer's SM clock."""
    return max(1, int(fraction * median_s * clock_hz))


def slowed(fn, fraction: float, timer):
    """(fn followed by a spin kernel of `fraction` of its time, a note): the gate's calibration injects a
    real slowdown on the GPU inside every timed sample, the kernel untouched (GPUBENCH_TEST_SLOWDOWN)."""
    import torch

    from gpubench.results.stats import quantile

    probe, _ = timer.events_batch(fn, 5)
    clock = getattr(timer, "clock_hz", 2e9)
    cycles = spin_cycles(fraction, quantile(sorted(probe), 0.5), clock)
    note = f"injected slowdown: a {cycles}-cycle spin after every call ({fraction:.1%} of the probed time)"
    return (lambda: (fn(), torch.cuda._sleep(cycles))), note


def measure_record(item: PlanItem, w, v, ctx: WorkerContext, base: dict) -> Record:
    correctness = ctx.correctness(w, v, item.shape, item.dtype)
    inputs = w.make_inputs(item.shape, item.dtype, ctx.device, BENCH_SEED)
    fn, notes = (lambda: v.fn(*inputs)), []
    if ctx.slowdown:
        fn, note = slowed(fn, ctx.slowdown, ctx.timer(item.mode))
        notes.append(note)
    m, telemetry, flags = ctx.measure(fn, item.mode)
    flush = getattr(ctx.timer(item.mode), "flush_bytes", 0) if item.mode == "cold" else 0
    timing = _timing(m, flush, notes)
    sustained = ctx.measure_sustained(fn, item.mode) if ctx.sustained_s else None
    return Record(
        **base, correctness=correctness, timing=timing, telemetry=telemetry, flags=flags,
        details={**w.record_details(item.shape, item.dtype), **v.run_details()}, sustained=sustained,
    )  # fmt: skip


def run_item(item: PlanItem, ctx: WorkerContext, benchmark=None) -> Record:
    """Measure one item and return its record (also journalled). Skips and failures become records."""
    w = kernels.get(item.workload)
    v = w.variant(item.variant)
    base = record_identity(item, w, v, ctx)
    ctx.journal.write("start", id=item.id)
    reason = v.skip_reason(ctx.device, item.shape, item.dtype)
    if reason:
        rec = Record(**base, status="skipped", reason=reason)
    else:
        try:
            rec = measure_record(item, w, v, ctx, base)
            if benchmark is not None:
                feed_pytest_benchmark(benchmark, item, rec)
        except CorrectnessError as exc:
            rec = Record(**base, status="failed", reason=f"incorrect: {exc}",
                         correctness=Correctness(checked=True, passed=False))  # fmt: skip
        except Exception as exc:
            rec = Record(**base, status="failed", reason=f"{type(exc).__name__}: {exc}",
                         traceback=traceback.format_exc(limit=8))  # fmt: skip
    ctx.journal.write("record", id=item.id, record=rec.to_json())
    return rec


def feed_pytest_benchmark(benchmark, item: PlanItem, rec: Record) -> None:
    """Hand the device-time samples to pytest-benchmark through a clock that advances by each one."""
    clock = DeviceClock(rec.timing.samples)
    if not hasattr(benchmark, "_timer"):
        raise RuntimeError("this pytest-benchmark has no settable timer; cannot report device time")
    benchmark._timer = clock
    benchmark.group = f"{item.workload} {shape_label(item.shape)} {item.dtype} {item.mode}"
    benchmark.extra_info.update(
        {
            "clock": "device (CUDA events)",
            "method": rec.timing.method,
            "stop_reason": rec.timing.stop_reason,
            "gbs": rec.achieved_gbs,
            "tflops": rec.achieved_tflops,
            "flags": rec.flags,
        }
    )
    benchmark.pedantic(clock.advance, rounds=len(rec.timing.samples), iterations=1, warmup_rounds=0)
