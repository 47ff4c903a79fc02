"""One benchmark item inside a worker process: skip check, correctness, measurement, telemetry, record.

Each finished record is appended to a journal (JSON lines, flushed and fsynced) at once, so the
orchestrator keeps it whatever happens to the worker afterwards.
"""

from __future__ import annotations

import json
import os
import traceback
from typing import Any

import torch

from gpubench import kernels
from gpubench.bench import results
from gpubench.bench.correctness import CorrectnessError, check_variant
from gpubench.bench.measure import measure
from gpubench.bench.stats import summarize
from gpubench.bench.telemetry import TelemetrySampler, flags_from
from gpubench.bench.timing import DeviceTimer

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
    def __init__(self, journal: Journal, rule, device=None):
        self.journal = journal
        self.rule = rule
        self.device = device or torch.device("cuda", torch.cuda.current_device())
        self._timers: dict[str, DeviceTimer] = {}
        self._checked: dict[tuple, dict | Exception] = {}
        self.telemetry = TelemetrySampler(self.device)

    def timer(self, mode: str) -> DeviceTimer:
        if mode not in self._timers:
            self._timers[mode] = DeviceTimer(self.device, mode)
        return self._timers[mode]

    def correctness(self, w, v, shape, dtype) -> dict:
        """Checked once per (variant, shape, dtype), shared by the cold and warm items."""
        key = (w.name, v.name, tuple(sorted(shape.items())), dtype)
        if key not in self._checked:
            try:
                self._checked[key] = check_variant(w, v, shape, dtype, self.device)
            except Exception as exc:
                self._checked[key] = exc
        got = self._checked[key]
        if isinstance(got, Exception):
            raise got
        return got


def context_is_healthy(device) -> str | None:
    """None if CUDA still works in this process, else the error (a fault poisons the context)."""
    try:
        torch.cuda.synchronize(device)
        x = torch.ones(16, device=device)
        float((x + x).sum())
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def run_item(item: dict[str, Any], ctx: WorkerContext, benchmark=None) -> dict[str, Any]:
    """Measure one item and return its record (also journalled). Skips and failures become records."""
    w = kernels.get(item["workload"])
    v = w.variant(item["variant"])
    shape, dtype, mode = item["shape"], item["dtype"], item["mode"]
    rec = results.new_record(
        w.name,
        v.name,
        v.backend,
        shape,
        dtype,
        mode,
        flops=int(w.flops(shape)),
        bytes=int(w.bytes(shape, dtype)),
    )
    rec["uses_tensor_cores"] = w.uses_tensor_cores
    rec["description"] = v.description
    ctx.journal.write("start", id=item["id"])
    reason = v.skip_reason(ctx.device, shape, dtype)
    if reason:
        rec["status"], rec["reason"] = "skipped", reason
        ctx.journal.write("record", id=item["id"], record=rec)
        return rec
    try:
        rec["correctness"] = ctx.correctness(w, v, shape, dtype)
        inputs = w.make_inputs(shape, dtype, ctx.device, BENCH_SEED)
        fn = lambda: v.fn(*inputs)  # noqa: E731
        timer = ctx.timer(mode)
        ctx.telemetry.start()
        try:
            m = measure(fn, timer, ctx.rule)
        finally:
            telemetry = ctx.telemetry.stop()
        if not m.samples:
            raise RuntimeError(f"no samples were taken before the stop rule fired ({m.stop_reason})")
        rec["timing"] = {
            **summarize(m.samples),
            "samples": m.samples,
            "method": m.method,
            "stop_reason": m.stop_reason,
            "wall_s": m.wall_s,
            "warmup_calls": m.warmup_calls,
            "flush_bytes": timer.flush_bytes if mode == "cold" else 0,
            "notes": m.notes,
        }
        med = rec["timing"]["median"]
        rec["achieved"] = {"tflops": rec["flops"] / med / 1e12, "gbs": rec["bytes"] / med / 1e9}
        rec["telemetry"] = telemetry
        rec["flags"] = sorted(set(m.flags) | set(flags_from(telemetry)))
        extra = w.extra.get("record_extra")
        if callable(extra):
            rec["extra"] = extra(shape, dtype)
        if benchmark is not None:
            _feed_pytest_benchmark(benchmark, item, rec)
    except CorrectnessError as exc:
        rec["status"], rec["reason"] = "failed", f"incorrect: {exc}"
        rec["correctness"] = {"checked": True, "passed": False}
    except Exception as exc:
        rec["status"], rec["reason"] = "failed", f"{type(exc).__name__}: {exc}"
        rec["traceback"] = traceback.format_exc(limit=8)
    ctx.journal.write("record", id=item["id"], record=rec)
    return rec


def _feed_pytest_benchmark(benchmark, item, rec) -> None:
    """Hand the device-time samples to pytest-benchmark through a clock that advances by each one."""
    clock = DeviceClock(rec["timing"]["samples"])
    if not hasattr(benchmark, "_timer"):
        raise RuntimeError("this pytest-benchmark has no settable timer; cannot report device time")
    benchmark._timer = clock
    benchmark.group = (
        f"{item['workload']} {','.join(f'{k}={v}' for k, v in item['shape'].items())} "
        f"{item['dtype']} {item['mode']}"
    )
    benchmark.extra_info.update(
        {
            "clock": "device (CUDA events)",
            "method": rec["timing"]["method"],
            "stop_reason": rec["timing"]["stop_reason"],
            "gbs": rec["achieved"]["gbs"],
            "tflops": rec["achieved"]["tflops"],
            "flags": rec["flags"],
        }
    )
    benchmark.pedantic(clock.advance, rounds=len(rec["timing"]["samples"]), iterations=1, warmup_rounds=0)
