"""Pointer-chase load latency of L1, L2 and DRAM (kernels in latency.cu), in SM cycles and nanoseconds.

One thread follows p = *p around a random cycle through all the slots of a working set, slots
CHASE_STRIDE bytes apart (a whole 128-byte line each, so no two slots share a line and the order defeats
any prefetcher). Working sets: 16 KiB (L1, plain loads cached in L1), L2/4 (L2, ld.global.cg so L1 is
bypassed), 8 x L2 (DRAM, ld.global.cg, L2 flushed first, fewer steps than slots so no line is visited
twice). Cycles come from %clock64 and nanoseconds from %globaltimer, both read inside the kernel around
the timed steps; latency = difference / steps. The chain's final address is checked against the cycle.
"""

from __future__ import annotations

import statistics

from gpubench.bench.micro.common import round_up

CHASE_STRIDE = 128  # bytes between slots: one L2 line (4 sectors) per slot
L1_WORKING_SET = 16 << 10
STEP_MULTIPLE = 8  # latency.cu unrolls the walk 8 times


def chase_cycle(n_slots: int, seed: int = 0):
    """A random order of all slots (torch int64, CPU): the chase visits them in this order, cyclically."""
    import torch

    if n_slots < 2:
        raise ValueError("a chase needs at least 2 slots")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_slots, generator=gen)


def next_slots(cycle):
    """nxt[s] = the slot visited after slot s: a permutation made of one cycle through every slot."""
    import torch

    nxt = torch.empty_like(cycle)
    nxt[cycle] = torch.roll(cycle, -1)
    return nxt


def slot_after(cycle, steps: int) -> int:
    """The slot reached from cycle[0] after `steps` steps."""
    return int(cycle[steps % len(cycle)])


def levels(l2_bytes: int) -> dict[str, int]:
    """Working set in bytes per level (multiples of CHASE_STRIDE)."""
    return {
        "l1": L1_WORKING_SET,
        "l2": round_up(l2_bytes // 4, CHASE_STRIDE),
        "dram": round_up(8 * l2_bytes, CHASE_STRIDE),
    }


def chase_steps(level: str, n_slots: int, quick: bool) -> tuple[int, int]:
    """(untimed warm-up steps, timed steps), multiples of STEP_MULTIPLE.

    L1 and L2: one full cycle first, so every line is cached before timing; L2 then times at most one
    more cycle (every access a hit, none repeated). DRAM: a short warm-up, then fewer timed steps than
    slots, so every timed access is to a line not visited before.
    """
    if level == "l1":
        return round_up(n_slots, STEP_MULTIPLE), (1 << 16) if quick else (1 << 17)
    if level == "l2":
        steps = min(n_slots // STEP_MULTIPLE * STEP_MULTIPLE, (1 << 16) if quick else (1 << 17))
        return round_up(n_slots, STEP_MULTIPLE), steps
    if level == "dram":
        warm = 64
        steps = min((n_slots - warm) // STEP_MULTIPLE * STEP_MULTIPLE, (1 << 14) if quick else (1 << 15))
        return warm, steps
    raise ValueError(f"unknown level {level!r}")


def _method(level: str, ws: int, reps: int) -> str:
    load = "plain ld.global, cached in L1" if level == "l1" else "ld.global.cg, L1 bypassed"
    text = (
        f"pointer chase p = *p by one thread, random cyclic order over {ws} bytes in {CHASE_STRIDE}-byte "
        f"slots ({load}{', L2 flushed first' if level == 'dram' else ''}); %globaltimer ns and %clock64 "
        f"cycles over the timed steps / steps, median of {reps} runs"
    )
    return text + ("; includes TLB misses over this working set" if level == "dram" else "")


def run_latency(ctx) -> None:
    ctx.timer("cold")  # its L2 flush buffer (DRAM chases flush before each run), made before any table
    for level, ws in levels(ctx.l2_bytes).items():
        _chase(ctx, level, ws, 3 if ctx.quick else 5)


def _chase(ctx, level: str, ws: int, reps: int) -> None:
    """One pointer chase over a working set of `ws` bytes (DRAM: L2 flushed before each run), checked on
    where it ends; the latency per step is the median over `reps` runs."""
    import numpy as np
    import torch

    from gpubench.bench.measure.telemetry import flags_from
    from gpubench.kernels.cuda_loader import launch

    kernel = ctx.kernel("latency.cu", "chase_l1" if level == "l1" else "chase_l2")
    n_slots = ws // CHASE_STRIDE
    cycle = chase_cycle(n_slots, seed=len(level))
    table = torch.zeros(ws // 8, device=ctx.device, dtype=torch.int64)
    base = table.data_ptr()
    slot_index = torch.arange(n_slots, device=ctx.device, dtype=torch.int64) * (CHASE_STRIDE // 8)
    table[slot_index] = base + next_slots(cycle).to(ctx.device) * CHASE_STRIDE
    start = np.uint64(base + int(cycle[0]) * CHASE_STRIDE)
    warm, steps = chase_steps(level, n_slots, ctx.quick)
    out = torch.zeros(3, device=ctx.device, dtype=torch.int64)
    want_end = base + slot_after(cycle, warm + steps) * CHASE_STRIDE
    cycles, nanos = [], []
    torch.cuda.synchronize(ctx.device)
    ctx.sampler.start()
    try:
        for _ in range(reps):
            if level == "dram":
                ctx.timer("cold").flush()
            launch(kernel, (1,), (1,), (start, np.int64(warm), np.int64(steps), out))
            c, ns, end = out.tolist()  # synchronizes
            if end != want_end:
                raise RuntimeError(f"latency_{level}: the chase ended at {end:#x}, expected {want_end:#x}")
            cycles.append(c / steps)
            nanos.append(ns / steps)
    finally:
        telemetry = ctx.sampler.stop()
    cyc, ns = statistics.median(cycles), statistics.median(nanos)
    sm = telemetry.sm_clock_mhz if telemetry.available else None
    params = {
        "working_set_bytes": ws, "stride_bytes": CHASE_STRIDE, "slots": n_slots, "warm_steps": warm,
        "steps": steps, "cycles": cyc, "runs_cycles": cycles, "runs_ns": nanos,
        "implied_sm_clock_mhz": cyc / ns * 1e3 if ns > 0 else None,
        "ns_from_nvml_clock": cyc / sm.mean * 1e3 if sm and sm.mean else None,
    }  # fmt: skip
    ctx.add(f"latency_{level}", ns, "ns", method=_method(level, ws, reps), params=params,
            telemetry=telemetry, flags=flags_from(telemetry))  # fmt: skip
    del table, slot_index
