"""What every micro-benchmark shares: the run context, timing with telemetry, the entry record, and the
datasheet figure each measurement is compared with.

The pure parts (entries, percentages, the datasheet lookup, rounding helpers) import neither torch nor
CuPy and are tested on the CPU; `Context` and the timing helpers need a CUDA GPU.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gpubench.bench.measure.sampling import Timers, measure_observed
from gpubench.bench.micro import HERE

GB = 1e9  # bandwidths are in GB/s (10^9 bytes per second)
TERA = 1e12  # rates are in TFLOP/s (TOP/s for int8)
THREADS = 256  # threads per block of every bandwidth and FMA kernel

# Shared-memory bandwidth per SM: 32 banks, each delivering 4 bytes per clock (CUDA C++ Programming
# Guide, "Shared Memory" in the compute-capability sections for 5.x onwards). Used with the spec's SM
# count and boost clock to give the shared-memory figure the datasheets do not print.
SMEM_BYTES_PER_CLOCK_PER_SM = 32 * 4

# A value no reduction in these kernels will produce in practice: the kernels write their result only
# when it equals the sentinel, a run-time value the compiler cannot know, so nothing is eliminated.
SENTINEL_U32 = 0x9E3779B9
SENTINEL_F32 = -1.2345678e-30


def round_up(x: int, multiple: int) -> int:
    if multiple <= 0:
        raise ValueError("multiple must be positive")
    return -(-int(x) // multiple) * multiple


def percent_of(value: float | None, datasheet: float | None) -> float | None:
    """100 * value / datasheet, or None when either is missing or the datasheet figure is not positive."""
    if value is None or datasheet is None:
        return None
    if not (isinstance(datasheet, (int, float)) and math.isfinite(datasheet) and datasheet > 0):
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        return None
    return 100.0 * value / datasheet


def make_entry(
    name: str,
    value: float | None,
    unit: str,
    *,
    method: str,
    datasheet: float | None = None,
    params: dict[str, Any] | None = None,
    telemetry=None,
    flags: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """One element of the ceilings file's "micro" list (gpubench.results.MicroEntry's fields)."""
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "datasheet": datasheet,
        "percent_of_datasheet": percent_of(value, datasheet),
        "method": method,
        "params": dict(params or {}),
        "telemetry": telemetry.to_json() if telemetry is not None else None,
        "flags": sorted(set(flags)),
    }


# Entry name -> the roofline.specs peak (dense TFLOP/s or TOP/s) it is compared with. "fp32", "fp64" and
# "fp16_simt" are the non-tensor rates there; "fp16", "bf16", "tf32", "fp8", "int8" the tensor-core ones.
PEAK_KEY = {
    "fma_fp32": "fp32",
    "fma_fp64": "fp64",
    "fma_f16x2": "fp16_simt",
    "cublas_bf16": "bf16",
    "cublas_fp16": "fp16",
    "cublas_tf32": "tf32",
    "cublas_fp8": "fp8",
    "cublas_int8": "int8",
    "mma_sync_fp16": "fp16",
    "mma_sync_bf16": "bf16",
    "mma_sync_int8": "int8",
}
DRAM_ENTRIES = ("dram_read", "dram_write", "dram_copy", "dram_triad", "dram_copy_torch")


def spec_is_datasheet(spec) -> bool:
    """A spec row matched to this GPU, not figures derived from device properties for an unknown one."""
    if spec is None:
        return False
    for attr in ("derived", "estimated", "is_derived"):
        if getattr(spec, attr, False) is True:
            return False
    return getattr(spec, "matched", True) is not False


def _number(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) and x > 0 else None


def datasheet_for(spec, name: str) -> tuple[float | None, str | None]:
    """(datasheet figure in the entry's unit, where it comes from) for entry `name`, or (None, None)."""
    if not spec_is_datasheet(spec):
        return None, None
    label = getattr(spec, "name", "spec")
    if name in DRAM_ENTRIES:
        value = _number(getattr(spec, "mem_bandwidth_gbs", None))
        return value, (f"roofline.specs[{label}].mem_bandwidth_gbs" if value else None)
    if name in PEAK_KEY:
        peaks = getattr(spec, "peaks", None) or {}
        value = _number(peaks.get(PEAK_KEY[name]))
        return value, (f"roofline.specs[{label}].peaks[{PEAK_KEY[name]!r}]" if value else None)
    if name == "smem_bandwidth":
        sms = _number(getattr(spec, "sm_count", None))
        mhz = _number(getattr(spec, "boost_clock_mhz", None))
        if sms and mhz:
            value = sms * mhz * 1e6 * SMEM_BYTES_PER_CLOCK_PER_SM / GB
            return value, (
                f"derived: {int(sms)} SMs x {mhz:g} MHz boost (roofline.specs[{label}]) x 128 B/clock/SM "
                "(32 banks x 4 B, CUDA C++ Programming Guide)"
            )
    return None, None


def lookup_spec(device_info: dict[str, Any]) -> tuple[Any, str]:
    """(spec or None, a note saying which datasheet row is used or why there is none)."""
    try:
        from gpubench.roofline.specs import resolve_spec
    except ImportError as exc:
        return None, f"no datasheet: roofline.specs unavailable ({exc})"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spec = resolve_spec(device_info)
    except Exception as exc:  # an unknown GPU must never stop the measurement
        return None, f"no datasheet: resolve_spec failed ({type(exc).__name__}: {exc})"
    if spec is None:
        return None, f"no datasheet: no roofline.specs row for {device_info.get('name')!r}"
    if not spec_is_datasheet(spec):
        why = "; ".join(str(w.message) for w in caught) or "figures derived from device properties"
        return spec, f"no datasheet: {device_info.get('name')!r} has no roofline.specs row ({why})"
    return spec, f"datasheet: roofline.specs row {getattr(spec, 'name', '?')!r}"


def occupancy_estimate(
    threads: int,
    regs_per_thread: int,
    smem_per_block: int,
    max_threads_per_sm: int,
    regs_per_sm: int,
    smem_per_sm: int,
) -> int:
    """Blocks per SM limited by threads, registers (allocated per warp in units of 256) and shared memory
    (plus the 1 KiB per block the driver reserves on sm_80+). A fallback for the CUDA occupancy API."""
    blocks = max_threads_per_sm // threads
    if regs_per_thread > 0 and regs_per_sm > 0:
        per_warp = round_up(regs_per_thread * 32, 256)
        blocks = min(blocks, regs_per_sm // (per_warp * -(-threads // 32)))
    if smem_per_block > 0 and smem_per_sm > 0:
        blocks = min(blocks, smem_per_sm // (smem_per_block + 1024))
    return max(1, blocks)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1e6:.3f} us"
    return f"{value:.4g} {unit}"


def progress_line(entry: dict[str, Any]) -> str:
    pct = entry["percent_of_datasheet"]
    ref = (
        f"{pct:5.1f}% of datasheet {entry['datasheet']:.4g} {entry['unit']}"
        if pct is not None
        else "no datasheet figure"
    )
    timing = (entry.get("params") or {}).get("timing") or {}
    how = (
        f"  ({timing['method']}, {timing['mode']}, n={timing['n']}, {timing['stop_reason']})"
        if timing
        else ""
    )
    flags = f"  [{', '.join(entry['flags'])}]" if entry["flags"] else ""
    return f"{entry['name']:<22} {format_value(entry['value'], entry['unit']):>16}   {ref}{how}{flags}"


# ---- GPU side -------------------------------------------------------------------------------------


@dataclass
class Timed:
    """One adaptively sampled measurement (bench.measure.sampling) with the telemetry taken during it."""

    median_s: float
    stats: dict[str, float]
    method: str
    stop_reason: str
    mode: str
    telemetry: dict[str, Any]
    flags: list[str]
    notes: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        s = self.stats
        return {
            "median_s": s["median"],
            "q1_s": s["q1"],
            "q3_s": s["q3"],
            "min_s": s["min"],
            "cv": s["cv"],
            "n": s["n"],
            "method": self.method,
            "mode": self.mode,
            "stop_reason": self.stop_reason,
            "notes": self.notes,
        }


def rule_for(quick: bool):
    from gpubench.bench.measure.stopping import StoppingRule

    if quick:
        return StoppingRule(min_samples=10, max_samples=200, min_time_s=0.02, rel_noise=0.01, timeout_s=1.0)
    return StoppingRule(min_samples=20, max_samples=1000, min_time_s=0.05, rel_noise=0.005, timeout_s=2.5)


class Context:
    """The GPU under test and what every family needs: timers, telemetry, kernels, the results so far."""

    def __init__(self, device, quick: bool, device_info: dict[str, Any], echo: Callable[[str], None] = print):
        import torch

        from gpubench.bench.measure.telemetry import TelemetrySampler

        self.device = device
        self.index = device.index if device.index is not None else torch.cuda.current_device()
        self.quick = quick
        self.device_info = device_info
        self.echo = echo
        props = torch.cuda.get_device_properties(device)
        self.name = props.name
        self.sm_count = int(props.multi_processor_count)
        self.l2_bytes = int(getattr(props, "L2_cache_size", 0) or 0)
        if self.l2_bytes <= 0:
            raise RuntimeError("the device reports no L2 size; the working sets are sized from it")
        self.max_threads_per_sm = int(getattr(props, "max_threads_per_multi_processor", 0) or 2048)
        self.regs_per_sm = int(getattr(props, "regs_per_multiprocessor", 0) or 65536)
        self.smem_per_sm = int(getattr(props, "shared_memory_per_multiprocessor", 0) or 0)
        self.cc = (int(props.major), int(props.minor))
        self.rule = rule_for(quick)
        self.sampler = TelemetrySampler(device)
        self.spec, self.spec_note = lookup_spec(device_info)
        self.timers = Timers(device)
        self.entries: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []
        self.sweep: list[dict[str, Any]] = []
        self.cache_sweep: list[dict[str, Any]] = []

    # -- kernels
    def kernel(self, filename: str, name: str):
        from gpubench.kernels import cuda_loader as _cuda

        return _cuda.get_function(HERE / filename, name, device_id=self.index)

    def blocks_per_sm(self, kernel, threads: int = THREADS, dynamic_smem: int = 0) -> int:
        """Resident blocks per SM for `kernel` (a CuPy RawKernel), so a grid fills the GPU in one wave.

        The CUDA occupancy API first; if this CuPy lacks it, an estimate from the kernel's registers and
        static shared memory and the device's limits."""
        import cupy

        with cupy.cuda.Device(self.index):
            func = getattr(kernel, "kernel", kernel)  # RawKernel -> the compiled Function on this device
            try:
                n = cupy.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(
                    func.ptr, threads, dynamic_smem
                )
                if n >= 1:
                    return int(n)
            except Exception:
                pass
            regs = int(getattr(kernel, "num_regs", 0) or 0)
            smem = int(getattr(kernel, "shared_size_bytes", 0) or 0) + dynamic_smem
        return occupancy_estimate(
            threads, regs, smem, self.max_threads_per_sm, self.regs_per_sm, self.smem_per_sm
        )

    def grid(self, kernel, threads: int = THREADS, dynamic_smem: int = 0) -> int:
        return self.sm_count * self.blocks_per_sm(kernel, threads, dynamic_smem)

    # -- timing
    def timer(self, mode: str):
        return self.timers(mode)

    def time(self, fn: Callable[[], object], mode: str = "warm", rule=None, graph: bool = True) -> Timed:
        """Adaptive sampling (bench.measure.sampling) of `fn` with NVML telemetry around it; batches with
        launch gaps are dropped as everywhere. `graph=False` keeps short warm kernels on events."""
        from gpubench.results.stats import summarize

        m, telemetry, flags = measure_observed(fn, self.timer(mode), rule or self.rule, self.sampler, graph)
        stats = summarize(m.samples)
        return Timed(stats["median"], stats, m.method, m.stop_reason, mode, telemetry, flags, m.notes)

    @property
    def idle_s(self) -> float:
        """Rest before a burst measurement (bench.micro.rates)."""
        return 0.5 if self.quick else 1.0

    @property
    def load_s(self) -> float:
        """Back-to-back calls before a sustained measurement (bench.micro.rates)."""
        return 1.5 if self.quick else 3.0

    def event_time(self, fn: Callable[[], object]) -> float:
        """Seconds of one call of `fn` between two CUDA events (for calibration, not for reporting)."""
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3

    def calibrate(self, run: Callable[[int], object], iters: int, multiple: int, target_s: float) -> int:
        """Iteration count (a multiple of `multiple`) for which `run(iters)` takes about `target_s`."""
        iters = round_up(max(iters, multiple), multiple)
        run(iters)  # compile and warm up
        t = min(self.event_time(lambda n=iters: run(n)) for _ in range(2))
        while t < 2e-4 and iters < (1 << 40):  # too short to extrapolate from: grow first
            iters *= 8
            t = min(self.event_time(lambda n=iters: run(n)) for _ in range(2))
        return round_up(max(multiple, int(iters * target_s / max(t, 1e-9))), multiple)

    @property
    def target_s(self) -> float:
        """Duration of one launch of the compute-bound kernels."""
        return 1e-3 if self.quick else 2e-3

    # -- results
    def add(
        self, name: str, value: float | None, unit: str, *, method: str, params=None, telemetry=None, flags=()
    ):
        datasheet, source = datasheet_for(self.spec, name)
        params = dict(params or {})
        if source:
            params["datasheet_source"] = source
        entry = make_entry(
            name,
            value,
            unit,
            method=method,
            datasheet=datasheet,
            params=params,
            telemetry=telemetry,
            flags=flags,
        )
        self.entries.append(entry)
        self.echo(progress_line(entry))
        return entry

    def add_timed(self, name: str, value: float, unit: str, timed: Timed, *, method: str, params=None):
        return self.add(
            name,
            value,
            unit,
            method=method,
            params={**(params or {}), "timing": timed.params()},
            telemetry=timed.telemetry,
            flags=timed.flags,
        )

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append({"name": name, "reason": reason})
        self.echo(f"{name:<22} skipped: {reason}")
