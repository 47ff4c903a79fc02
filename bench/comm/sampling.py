"""Timing a collective on every rank with the suite's method, the slowest rank's time per sample kept.

Clocks (each sample's method is written with the record):
- device (NCCL): bench.measure.timing.DeviceTimer's CUDA events on the rank's stream, the batch's launches
  queued behind a spin kernel so host overhead stays out. The batch's first call absorbs the ranks'
  different spin ends (it waits for the last rank to arrive) and is dropped.
- host (gloo, whose collectives block the calling thread): a barrier, then the host clock around each
  call of the batch.
- host, one call per sample (--host-overhead): a barrier before every call, the host clock around the
  call and its synchronisation; what an application that synchronises each step sees.
After each batch the ranks' sample vectors are reduced with MAX (the collective's time is its slowest
rank's), together with each rank's elapsed time, so the stopping rule sees the same numbers on every rank
and every rank takes the same decisions: the same batch sizes and the same stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.distributed as dist

from gpubench.bench.measure.sampling import Measurement
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.results.stats import quantile

_BATCH_BUDGET_S = 0.5  # a batch takes at most about this long, so stragglers show within a second
WARMUP_CALLS = 3


class HostBatches:
    """Host-clock samples: per call in a barrier-aligned batch, or (per_call) each call aligned alone."""

    def __init__(self, synchronize: Callable[[], None], per_call: bool, backend: str):
        self.synchronize, self.per_call = synchronize, per_call
        self.method = (
            "host clock, one call per sample after a barrier (host overhead and stragglers included)"
            if per_call
            else f"host clock per call, barrier-aligned batch ({backend})"
        )

    def __call__(self, fn: Callable[[], object], count: int) -> list[float]:
        out = []
        dist.barrier()
        for _ in range(count):
            if self.per_call:
                dist.barrier()
            t0 = time.perf_counter()
            fn()
            self.synchronize()
            out.append(time.perf_counter() - t0)
        return out


class DeviceBatches:
    """CUDA-event samples behind a spin (bench.measure.timing.DeviceTimer), the aligning first one dropped."""

    def __init__(self, timer):
        self.timer = timer
        self.method = "events+spin on each rank's stream"
        self.launch_gaps = False

    def __call__(self, fn: Callable[[], object], count: int) -> list[float]:
        samples, info = self.timer.events_batch(fn, count + 1)
        self.launch_gaps |= info.launch_gaps
        self.method = f"{info.method} on each rank's stream"
        return samples[1:]


def max_over_ranks(local: list[float], elapsed_s: float, device) -> tuple[list[float], float]:
    """Each sample's maximum over the ranks, and the largest elapsed time (one all_reduce)."""
    t = torch.tensor([*local, elapsed_s], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    values = t.tolist()
    return values[:-1], values[-1]


def measure(fn: Callable[[], object], batches, rule: StoppingRule, device, synchronize) -> Measurement:
    """Sample `fn` until `rule` stops, in batches of `batches(fn, count)`: the same on every rank."""
    for _ in range(WARMUP_CALLS):
        fn()
    synchronize()
    t0 = time.perf_counter()
    samples: list[float] = []
    elapsed, late = 0.0, False
    while True:
        stop = rule.reason_to_stop(samples, elapsed)
        if stop:
            break
        late = late or elapsed >= rule.timeout_s
        want = rule.next_batch(samples, elapsed)
        est = quantile(sorted(samples), 0.5) if samples else None
        count = want if est is None else max(1, min(want, int(_BATCH_BUDGET_S / max(est, 1e-7))))
        local = batches(fn, count)
        maxed, elapsed = max_over_ranks(local, time.perf_counter() - t0, device)
        samples.extend(maxed)
    if stop == "timeout" and late:
        stop = "min_samples"
    flags = ["launch_gaps"] if getattr(batches, "launch_gaps", False) else []
    notes = ["each sample is the slowest rank's (MAX over ranks)"]
    wall = time.perf_counter() - t0
    return Measurement(samples, batches.method, stop, wall, WARMUP_CALLS, flags=flags, notes=notes)
