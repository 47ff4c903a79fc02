"""Records of a results file profiled under Nsight Compute: which records, the ncu command, and the
profile each record gets from ncu's CSV (bench.ncu.csvfile).

The profiled process is bench.ncu.target: for every chosen record it builds the inputs, runs the variant
(compilation and autotuning happen there, unprofiled), then profiles `calls` calls, each between
cudaProfilerStart and cudaProfilerStop (ncu runs with --profile-from-start off) inside an NVTX range
"gpubench:<record>:<call>"; ncu renames each kernel after that range (--print-nvtx-rename kernel), so the
rows of one process are told apart by record and call. In cold mode the suite flushes L2 before every
call, as its timer does; ncu's own cache control is off (--cache-control none) and so is its clock
control (--clock-control none): the GPU runs at the clocks it chooses, as it does for the event timing.
Where the renaming is missing (an older ncu), each record is profiled in a process of its own and its
rows are split into calls in order.
"""

from __future__ import annotations

import re
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path

from gpubench.bench.ncu.csvfile import KernelRow
from gpubench.results import NcuProfile, Record, Run

__all__ = [
    "CORE_METRICS",
    "TENSOR_METRICS",
    "choose",
    "command",
    "counters_problem",
    "find_ncu",
    "missing_metrics",
    "profile_of",
    "split_by_range",
    "split_in_order",
]

TIME = "gpu__time_duration.sum"
DRAM_READ = "dram__bytes_read.sum"
DRAM_WRITE = "dram__bytes_write.sum"
L2_BYTES = "lts__t_bytes.sum"
SM_PCT = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
SM_HZ = "sm__cycles_elapsed.avg.per_second"
CORE_METRICS = (TIME, DRAM_READ, DRAM_WRITE, L2_BYTES, SM_PCT, SM_HZ)
# Tensor-pipe activity: mma.sync (hmma, every sm_70+ GPU) and, on Hopper, wgmma (gmma). Asked for only
# where `ncu --query-metrics` lists them, since ncu stops at a metric the GPU does not have.
TENSOR_METRICS = (
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active",
)
RANGE = re.compile(r"gpubench:(\d+):(\d+)")
COUNTERS_DENIED = "ERR_NVGPUCTRPERM"


def find_ncu(given: str | None = None) -> str | None:
    """The ncu executable: `given`, else on PATH, else under the usual CUDA install folders."""
    if given:
        return given if Path(given).is_file() or shutil.which(given) else None
    for candidate in (
        "ncu",
        "/usr/local/cuda/bin/ncu",
        *sorted(map(str, Path("/opt/nvidia").glob("nsight-compute/*/ncu"))),
    ):
        if shutil.which(candidate) or Path(candidate).is_file():
            return shutil.which(candidate) or candidate
    return None


def choose(
    run: Run, workloads: Sequence[str] | None = None, variants: Sequence[str] | None = None,
    largest: bool = False, min_median_s: float = 0.0, limit: int | None = None,
) -> list[Record]:  # fmt: skip
    """The ok records to profile, in file order: those of the workloads and variants named, with a median
    of at least `min_median_s`; with `largest`, per (workload, variant, dtype, mode) only the record with
    the longest median (the largest shape); at most `limit` of them."""
    recs = [r for r in run.ok_records() if r.median >= min_median_s]
    recs = [
        r
        for r in recs
        if (not workloads or r.workload in workloads) and (not variants or r.variant in variants)
    ]
    if largest:
        best: dict[tuple, Record] = {}
        for r in recs:
            group = (r.workload, r.variant, r.dtype, r.mode)
            if group not in best or r.median > best[group].median:
                best[group] = r
        keep = {id(r) for r in best.values()}
        recs = [r for r in recs if id(r) in keep]
    return recs[:limit] if limit else recs


def command(ncu: str, metrics: Sequence[str], log: Path, target: Sequence[str], extra: Sequence[str] = (),
            rename: bool = True) -> list[str]:  # fmt: skip
    """The ncu command line around the target process (`extra`: the user's --ncu-args, last, so a full
    section set or other options reach ncu as given)."""
    cmd = [
        ncu, "--csv", "--page", "raw", "--print-units", "base", "--clock-control", "none",
        "--cache-control", "none", "--profile-from-start", "off", "--target-processes", "all",
        "--metrics", ",".join(metrics), "--log-file", str(log),
    ]  # fmt: skip
    if rename:
        cmd += ["--nvtx", "--print-nvtx-rename", "kernel"]
    return [*cmd, *extra, *target]


def counters_problem(text: str) -> str | None:
    """Why ncu could not read the counters, from its output, or None."""
    if COUNTERS_DENIED in text:
        return (
            "ncu could not read the GPU's performance counters (ERR_NVGPUCTRPERM): run as root, or let "
            "every user profile (the nvidia module option NVreg_RestrictProfilingToAdminUsers=0)"
        )
    return None


def split_by_range(rows: list[KernelRow]) -> dict[int, dict[int, list[KernelRow]]] | None:
    """record index -> call index -> its kernels, from the NVTX-renamed kernel names; None when the
    names do not carry the ranges."""
    out: dict[int, dict[int, list[KernelRow]]] = {}
    for row in rows:
        m = RANGE.search(row.kernel)
        if m is None:
            return None
        out.setdefault(int(m.group(1)), {}).setdefault(int(m.group(2)), []).append(row)
    return out


def split_in_order(rows: list[KernelRow], calls: int) -> tuple[dict[int, list[KernelRow]], str | None]:
    """One record's rows split into `calls` calls of equal kernel counts, in ID order; when the count does
    not divide, all rows as one call spread over `calls` (a note says so)."""
    if rows and len(rows) % calls == 0:
        k = len(rows) // calls
        return {c: rows[c * k : (c + 1) * k] for c in range(calls)}, None
    return {0: rows}, f"{len(rows)} kernels in {calls} calls: not the same count per call; totals / {calls}"


def _is_rate(name: str) -> bool:
    return ".pct_" in name or name.endswith(".per_second")


def _call_totals(kernels: list[KernelRow]) -> dict[str, float]:
    """One call's figures: sums of times and bytes; percentages and clocks weighted by each kernel's time."""
    times = [k.metrics.get(TIME) for k in kernels]
    time = sum(times) if times and all(t is not None for t in times) else None
    out = {}
    for name in {n for k in kernels for n in k.metrics}:
        values = [k.metrics.get(name) for k in kernels]
        if any(v is None for v in values):
            continue
        if not _is_rate(name):
            out[name] = sum(values)
        elif time:
            out[name] = sum(t * v for t, v in zip(times, values)) / time
        else:
            out[name] = statistics.fmean(values)
    return out


def profile_of(calls: dict[int, list[KernelRow]], n_calls: int, note: str | None = None, **kw) -> NcuProfile:
    """The NcuProfile of one record from its calls' kernels: per call the totals, then the median over
    the calls (rows that could not be split into calls: their totals over `n_calls`, with `note`)."""
    if not calls:
        return NcuProfile.unavailable("ncu profiled no kernel of this record", **kw)
    per_call = [_call_totals(kernels) for _, kernels in sorted(calls.items())]
    scale = n_calls if note else 1
    names = set.intersection(*(set(c) for c in per_call))
    med = {
        n: statistics.median(c[n] for c in per_call) / (1 if _is_rate(n) else scale) for n in sorted(names)
    }
    if TIME not in med:
        return NcuProfile.unavailable("no gpu__time_duration in ncu's output", metrics=med, **kw)
    tensor = [med[m] for m in TENSOR_METRICS if m in med]
    first = calls[min(calls)]
    return NcuProfile(
        available=True, time_s=med[TIME], dram_read_bytes=med.get(DRAM_READ),
        dram_write_bytes=med.get(DRAM_WRITE), l2_bytes=med.get(L2_BYTES), sm_throughput_pct=med.get(SM_PCT),
        tensor_pct=max(tensor) if tensor else None, sm_clock_mhz=med[SM_HZ] / 1e6 if SM_HZ in med else None,
        calls=n_calls, kernels_per_call=None if note else len(first),
        kernels=[] if note else [k.kernel for k in first if not RANGE.search(k.kernel)],
        metrics=med, extra={"note": note} if note else {}, **kw,
    )  # fmt: skip


def missing_metrics(profiles: Sequence[NcuProfile], wanted: Sequence[str] = CORE_METRICS) -> str | None:
    """One line naming the metrics of `wanted` that ncu gave no number for (absent, "n/a" or text) in
    some profiled records, or None when every profiled record has them all."""
    done = [p for p in profiles if p.available]
    gaps = {m: sum(m not in p.metrics for p in done) for m in wanted}
    gaps = {m: n for m, n in gaps.items() if n}
    if not gaps:
        return None
    listed = "; ".join(f"{m} in {n} of {len(done)}" for m, n in gaps.items())
    return f"ncu gave no number for {listed} profiled records (absent, n/a or text): those figures stay empty"
