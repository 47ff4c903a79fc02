"""Time your own function with the suite's device timer: `gpubench.benchmark(fn, *args, ...)`.

The same machinery as `gpubench run`: the reference check first (when a reference is given), then CUDA
events queued behind a spin kernel (CUDA-graph replay for short warm kernels), an L2 flush sized from the
device before every cold sample, the adaptive stopping rule, NVML telemetry and its flags, and the
record placed on the GPU's roofline when FLOP/byte counts are given. The result holds a
`gpubench.results.Record` inside a one-record `Run`, so `result.save(path)` writes a results file that
`gpubench report` and `gpubench gate` read.

From `triton.testing.do_bench(fn, quantiles=..., return_mode=...)` the switch is one line:
`gpubench.benchmark(fn).ms(quantiles=..., return_mode=...)` returns the same kind of value (milliseconds;
the quantiles interpolated the same way). docs/custom-kernels.md says what differs.
"""

from __future__ import annotations

import numbers
import statistics
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gpubench import results
from gpubench.bench.measure.correctness import CorrectnessError
from gpubench.bench.run.worker import WorkerContext
from gpubench.call import NoGPUError, check_callables, count, device_for, make_call, stopping_rule
from gpubench.fmt import fmt_pct, fmt_sig, fmt_time
from gpubench.results import Correctness, Record, Run, RunInfo
from gpubench.results.stats import quantile

__all__ = ["BenchResult", "IncorrectOutput", "NoGPUError", "benchmark", "check"]

RETURN_MODES = ("min", "max", "mean", "median", "all")
class IncorrectOutput(CorrectnessError):
    """fn's output differs from the reference: it was not timed. `record` is the failed record, `run` the
    one-record run that holds it (None from `check`)."""

    def __init__(self, message: str, record: Record, run: Run | None = None):
        super().__init__(message)
        self.record, self.run = record, run


@dataclass(frozen=True)
class BenchResult:
    """One measurement: the record, the one-record run that holds it, its roofline placement (None
    without FLOP/byte counts or a known GPU) and the FLOP cross-check (None without reference and flops)."""

    record: Record
    run: Run
    placement: Any = None  # gpubench.roofline.placement.RecordPlacement
    flop_check: Any = None  # gpubench.bench.measure.flopcheck.FlopCheck

    timing = property(lambda self: self.record.timing)
    samples = property(lambda self: self.record.timing.samples)  # seconds, in the order measured
    median = property(lambda self: self.record.median)  # seconds
    telemetry = property(lambda self: self.record.telemetry)
    achieved_tflops = property(lambda self: self.record.achieved_tflops)
    achieved_gbs = property(lambda self: self.record.achieved_gbs)

    @property
    def interval(self) -> tuple[float, float]:
        """The median's approximate 95 % interval (seconds), as the stopping rule judges it."""
        half = self.timing.rel_ci * self.median
        return self.median - half, self.median + half

    @property
    def flags(self) -> list[str]:
        """How it was measured ("throttled", "launch_gaps", ...), plus "above_ceiling" where the counts put
        it above a roof (then they are wrong) and "flops_mismatch" where FlopCounterMode disagrees."""
        extra = ["above_ceiling"] if self.placement is not None and self.placement.above_ceiling else []
        if self.flop_check is not None and not self.flop_check.agrees:
            extra.append("flops_mismatch")
        return list(self.record.flags) + extra

    def ms(self, quantiles=None, return_mode: str = "mean"):
        """The samples in milliseconds, summarised as triton.testing.do_bench returns them: the given
        quantiles (a list, or one number for one quantile), else per `return_mode` ("min", "max", "mean",
        "median", or "all": every sample)."""
        times = [s * 1e3 for s in self.samples]
        if quantiles is not None:
            qs = list(quantiles)
            if not qs or any(not isinstance(q, numbers.Real) or not 0 <= q <= 1 for q in qs):
                raise ValueError(f"quantiles must be numbers in [0, 1], got {quantiles!r}")
            xs = sorted(times)
            got = [quantile(xs, float(q)) for q in qs]
            return got[0] if len(got) == 1 else got
        if return_mode not in RETURN_MODES:
            raise ValueError(f"return_mode must be one of {', '.join(RETURN_MODES)}, got {return_mode!r}")
        pick = {"min": min, "max": max, "mean": statistics.mean, "median": statistics.median}
        return times if return_mode == "all" else pick[return_mode](times)

    def save(self, path) -> Path:
        """Write the run as a results file (atomically); `gpubench report`, `gate` and `export` read it."""
        results.write(self.run, path)
        return Path(path)

    def __str__(self) -> str:
        t, rec = self.timing, self.record
        parts = [
            f"{rec.label}: {fmt_time(t.median)} ± {fmt_pct(t.rel_ci)} (n={t.n}, {t.stop_reason}, {t.method})"
        ]
        if rec.achieved_gbs is not None:
            parts.append(f"{fmt_sig(rec.achieved_gbs)} GB/s")
        if rec.achieved_tflops is not None:
            parts.append(f"{fmt_sig(rec.achieved_tflops)} TFLOP/s")
        side = self.placement and (self.placement.measured or self.placement.datasheet)
        if side is not None and side.fraction_of_bound is not None:
            parts.append(f"{fmt_pct(side.fraction_of_bound)} of the {side.ceilings} {side.bound} roof")
        flags = f" [{', '.join(self.flags)}]" if self.flags else ""
        return ", ".join(parts) + flags


def _flop_check(flops: int | None, counted: dict):
    from gpubench.bench.measure.flopcheck import FlopCheck

    if flops is None or "flops" not in counted:
        return None
    check = FlopCheck(int(flops), counted["flops"])
    if not check.agrees:
        warnings.warn(check.message("gpubench.benchmark"), stacklevel=3)
    return check


class _Context(WorkerContext):
    """The worker's context for one call: without a reference there is nothing to check."""

    def correctness(self, w, v, shape, dtype) -> Correctness:
        if w.reference is None:
            return Correctness(checked=False)
        return replace(super().correctness(w, v, shape, dtype), seed=None)  # the caller's inputs, not seeded


# Timers (the cold one holds a flush buffer of twice the L2), NVML samplers and device sections are
# made once per device and process, not once per call.
_MADE: dict = {}


def _once(key, make):
    if key not in _MADE:
        _MADE[key] = make()
    return _MADE[key]


def _timers(device, factory):
    """A stand-in factory's timers for this call; else the device's timers, kept for the process."""
    from gpubench.bench.measure.sampling import Timers

    if factory is not None:
        return Timers(device, factory)
    return _once(("timers", str(device)), lambda: Timers(device))


def _sections(device) -> tuple[results.Device, results.Software]:
    from gpubench.bench.measure.device import device_info, software_versions

    def make():
        info = device_info(device) if device.type == "cuda" else {"name": f"{device} (stand-in timer)"}
        return results.Device.from_json(info), results.Software.from_json(software_versions())

    return _once(("sections", str(device)), make)


def _telemetry(device, given):
    from gpubench.bench.measure.telemetry import TelemetrySampler

    return given if given is not None else _once(("nvml", str(device)), lambda: TelemetrySampler(device))


def _embedded(ceilings):
    if ceilings is None or isinstance(ceilings, results.EmbeddedCeilings):
        return ceilings
    if isinstance(ceilings, (str, Path)):
        return results.read_embedded_ceilings(ceilings)
    raise TypeError(f"ceilings must be the path of a ceilings file (gpubench micro), got {ceilings!r}")


def _run_of(rec: Record, device, rule_name: str, rule, started: str, ceilings) -> Run:
    from gpubench.bench.run.runner import store_placement

    dev, software = _sections(device)
    info = RunInfo(
        profile=rule_name, modes=[rec.mode], argv=list(sys.argv), workloads=[rec.workload], items=1,
        started=started, finished=results.utc_now(), rule=vars(rule), notes=["gpubench.benchmark"],
    )  # fmt: skip
    run = Run(dev, software, info, status="complete", ceilings=ceilings)
    run.add(rec)
    store_placement(run)
    return run


def benchmark(
    fn: Callable, *args, flops=None, bytes=None, reference: Callable | None = None, mode: str = "cold",
    rule="quick", name: str | None = None, variant: str | None = None, shape: Mapping[str, int] | None = None,
    dtype: str | None = None, atol=None, rtol=None, uses_tensor_cores: bool = False, device=None,
    ceilings=None, timer_factory: Callable | None = None, telemetry=None,
) -> BenchResult:  # fmt: skip
    """Time `fn(*args)` on the GPU, with the suite's timer, stopping rule and telemetry.

    flops, bytes   what one call computes and moves (compulsory DRAM traffic): TFLOP/s, GB/s, roofline
    reference      a function of the same arguments whose output fn's must match (torch.testing's
                   tolerance for the dtype, or atol/rtol); a mismatch raises IncorrectOutput, untimed
    mode           "cold" (L2 flushed before every sample) or "warm"
    rule           a profile name ("quick", "full") or a gpubench.bench.measure.stopping.StoppingRule
    name, variant, shape, dtype   the record's identity (defaults: fn's name twice, no axes, the first
                   floating-point argument's dtype); the gate matches records across runs by it
    ceilings       a ceilings file measured by `gpubench micro`, for the measured roofline
    timer_factory, telemetry   stand-ins for bench.measure.timing.DeviceTimer(device, mode) and the NVML
                   sampler (tests on machines without a GPU)
    Raises NoGPUError without a CUDA GPU, TypeError / ValueError naming a bad argument.
    """
    from gpubench.bench.run.plan import PlanItem
    from gpubench.bench.run.worker import measure_record
    from gpubench.roofline.placement import place_run

    check_callables(fn=fn, reference=reference, timer_factory=timer_factory)
    if mode not in results.MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, results.MODES))}, got {mode!r}")
    flops, nbytes = count("flops", flops), count("bytes", bytes)
    rule_name, rule = stopping_rule(rule)
    embedded = _embedded(ceilings)
    dev = device_for(device, args, stand_in=timer_factory is not None)
    call = make_call(fn, args, reference, name=name, variant=variant, shape=shape, dtype=dtype, atol=atol,
                     rtol=rtol, flops=flops, nbytes=nbytes, tc=uses_tensor_cores)  # fmt: skip
    uuid = _sections(dev)[0].uuid
    ctx = _Context(None, rule, dev, timers=_timers(dev, timer_factory),
                   telemetry=_telemetry(dev, telemetry), gpu_uuid=uuid)  # fmt: skip
    fields = call.record_fields(mode, uuid)
    item = PlanItem(fields["workload"], fields["variant"], "custom", fields["shape"], fields["dtype"], mode)
    started = results.utc_now()
    try:
        rec = measure_record(item, call.workload, call.variant, ctx, fields)
    except CorrectnessError as exc:
        rec = call.failed(mode, uuid, exc)
        raise IncorrectOutput(str(exc), rec, _run_of(rec, dev, rule_name, rule, started, embedded)) from None
    check = _flop_check(flops, call.counted)
    if check is not None:
        rec.details["flop_check"] = check.to_json()
    run = _run_of(rec, dev, rule_name, rule, started, embedded)
    placement = place_run(run).of(rec)
    if placement is not None and placement.datasheet is None and placement.measured is None:
        placement = None  # a GPU without a datasheet entry, and no ceilings measured on it
    return BenchResult(rec, run, placement, check)


def check(fn: Callable, *args, reference: Callable, atol=None, rtol=None, dtype: str | None = None):
    """fn(*args) against reference(*args), timing nothing: runs anywhere (Triton kernels on a machine
    without a GPU: TRITON_INTERPRET=1 and CPU tensors). Returns the Correctness; raises IncorrectOutput."""
    from gpubench.bench.measure.correctness import check_variant

    check_callables(fn=fn, reference=reference)
    if reference is None:
        raise TypeError("reference must be callable: check compares fn's output with it")
    call = make_call(fn, args, reference, name=None, variant=None, shape=None, dtype=dtype, atol=atol,
                     rtol=rtol, flops=None, nbytes=None, tc=False)  # fmt: skip
    w = call.workload
    try:
        return replace(check_variant(w, call.variant, {}, w.dtypes[0], device=None), seed=None)
    except CorrectnessError as exc:
        raise IncorrectOutput(str(exc), call.failed("cold", None, exc)) from None
