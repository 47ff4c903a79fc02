"""Burst and sustained rates, measured the same way for every tensor-core figure (cuBLAS and mma.sync,
every dtype), so that figures of one hardware rate (fp16 and bf16) can be set side by side.

    burst      after `ctx.idle_s` of rest, a short window (burst_rule: at most 30 samples or 0.25 s), what
               a record of the quick profile sees of a GEMM (a few tens of milliseconds of load)
    sustained  after `ctx.load_s` of back-to-back calls (bench.measure.sampling.load), the regular measurement

A power-capped GPU lowers its clock under load, so the two differ: the ceiling is the sustained rate (a
roof a kernel can hold), and each window records the SM clock and the power it ran at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gpubench.bench.micro.common import TERA, Timed

__all__ = ["burst_rule", "measure_rates", "phase"]


def burst_rule():
    from gpubench.bench.measure.stopping import StoppingRule

    return StoppingRule(min_samples=10, max_samples=30, min_time_s=0.0, rel_noise=0.01, timeout_s=0.25)


def phase(timed: Timed, work: float, scale: float = TERA) -> dict[str, Any]:
    """One window of a rate: the rate at the median time, and the clocks and power it ran at."""
    tel = timed.telemetry
    up = tel is not None and tel.available
    sm = tel.sm_clock_mhz if up else None
    return {
        "rate": work / timed.median_s / scale,
        "median_s": timed.median_s,
        "n": timed.stats["n"],
        "sm_clock_mhz": sm.mean if sm else None,
        "sm_clock_min_mhz": sm.min if sm else None,
        "power_w": tel.power_from_energy_w if up else None,
        "window_s": tel.window_s if up else None,
        "flags": list(timed.flags),
    }


def burst_and_sustained(ctx, fn: Callable[[], object], mode: str = "warm"):
    """(burst, sustained, load) of `fn` on the micro-benchmark context `ctx`."""
    import torch

    from gpubench.bench.measure.sampling import load

    sync = lambda: torch.cuda.synchronize(ctx.device)  # noqa: E731
    sync()
    time.sleep(ctx.idle_s)
    burst = ctx.time(fn, mode, rule=burst_rule())
    loaded = load(fn, sync, ctx.load_s)
    return burst, ctx.time(fn, mode), loaded


def measure_rates(ctx, name: str, work: float, unit: str, fn: Callable[[], object], *, method: str, params):
    """Measure `fn` burst and sustained and add the entry: its value is the sustained rate, with both
    windows (rate, clocks, power) in its params. `work`: FLOPs (or integer operations) per call."""
    burst, sustained, loaded = burst_and_sustained(ctx, fn)
    windows = {
        "burst": phase(burst, work),
        "sustained": {**phase(sustained, work), "load_s": loaded.wall_s, "load_calls": loaded.calls},
    }
    b, w = windows["burst"], windows["sustained"]
    ctx.echo(f"  {name}: burst {b['rate']:.4g} at {b['sm_clock_mhz'] or '?'} MHz, sustained {w['rate']:.4g} "
             f"at {w['sm_clock_mhz'] or '?'} MHz after {loaded.wall_s:.1f} s of load")  # fmt: skip
    how = f"{method}; the figure is the sustained rate, after {ctx.load_s:g} s of load (the burst: params)"
    return ctx.add_timed(name, work / sustained.median_s / TERA, unit, sustained, method=how,
                         params={**params, **windows})  # fmt: skip
