"""One result: a (workload, variant, shape, dtype, mode) with its timing, telemetry and correctness.

Every figure that can be derived is derived: a timing's median, quartiles and interval come from its
samples (gpubench.results.stats), a record's achieved TFLOP/s and GB/s from its counts and that median.
The JSON written carries those derived figures too, for readers outside the suite; on reading they are
checked against the samples, never trusted in their place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from gpubench import dtypes
from gpubench.fmt import shape_label
from gpubench.opcount import bus_factor
from gpubench.results.codec import FieldError, Struct
from gpubench.results.collective import Collective
from gpubench.results.ncu import NcuProfile
from gpubench.results.stats import summarize
from gpubench.roles import ROLES

__all__ = [
    "COLLECTIVE_MODES",
    "MODES",
    "RECORD_DTYPES",
    "STATUSES",
    "STOP_REASONS",
    "Correctness",
    "Record",
    "RecordKey",
    "Spread",
    "Sustained",
    "Telemetry",
    "Timing",
]

STATUSES = ("ok", "failed", "skipped")
MODES = ("cold", "warm")  # a kernel's L2 state
# A collective's buffers: nccl-tests' in-place and out-of-place columns (results.collective).
COLLECTIVE_MODES = ("in_place", "out_of_place")
RECORD_MODES = MODES + COLLECTIVE_MODES
# The names a record's dtype (and compute_dtype) may take: the suite's dtype vocabulary (gpubench.dtypes),
# and "unknown" (what gpubench.benchmark names a function without tensors). The one check of a dtype read
# from or written to a results file.
RECORD_DTYPES = (*dtypes.DTYPES, dtypes.UNKNOWN)
# Why sampling stopped (bench.measure.stopping.StoppingRule), and "synthetic" for generated test documents.
# min_samples: the timeout passed before the rule's minimum number of samples, which were taken anyway.
STOP_REASONS = ("converged", "max_samples", "timeout", "min_samples", "synthetic")
# The summary statistics a timing writes beside its samples (gpubench.results.stats.summarize's keys).
SUMMARY_KEYS = ("n", "median", "q1", "q3", "iqr", "min", "max", "mean", "stdev", "cv", "rel_ci")
# A stored median may differ from the samples' by float rounding only.
_MEDIAN_RTOL = 1e-9


class RecordKey(NamedTuple):
    """A record's identity across runs: what the gate, the comparison and a merge match on."""

    workload: str
    variant: str
    shape: tuple[tuple[str, int], ...]  # sorted (axis, size) pairs
    dtype: str
    mode: str

    @classmethod
    def of(cls, workload: str, variant: str, shape: dict[str, int], dtype: str, mode: str) -> RecordKey:
        return cls(workload, variant, tuple(sorted(shape.items())), dtype, mode)

    @property
    def label(self) -> str:
        """Display only, never parsed: 'gemm/triton[K=64,M=64,N=64|bf16|cold]'."""
        return f"{self.workload}/{self.variant}[{shape_label(self.shape)}|{self.dtype}|{self.mode}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "variant": self.variant,
            "shape": dict(self.shape),
            "dtype": self.dtype,
            "mode": self.mode,
        }


@dataclass(frozen=True)
class Spread(Struct):
    """min / mean / max of a quantity over a benchmark's telemetry readings."""

    min: float
    mean: float
    max: float


@dataclass(frozen=True)
class Telemetry(Struct):
    """NVML readings over one benchmark (bench.measure.telemetry). `available` false: `reason` says why."""

    available: bool
    reason: str | None = None
    n_readings: int = 0
    idle_readings: int = 0
    interval_s: float | None = None
    sm_clock_mhz: Spread | None = None
    sm_clock_max_mhz: float | None = None  # the GPU's maximum SM clock, for the power-cap rule
    mem_clock_mhz: Spread | None = None
    power_w: Spread | None = None
    temperature_c: Spread | None = None
    energy_j: float | None = None  # over the whole measurement window, idle gaps included
    window_s: float | None = None
    throttle_mask: int = 0
    throttle_reasons: list[str] = field(default_factory=list)
    # "instant" (NVML's instantaneous power field) or "average" (nvmlDeviceGetPowerUsage: a 1 s average on
    # Ampere and newer, which lags a benchmark of tens of milliseconds); None in older files.
    power_source: str | None = None
    power_from_energy_w: float | None = None  # the energy counter's rise over the time it rose in the window
    energy_note: str | None = None  # why power_from_energy_w is missing
    # The SM clock per sample batch: [{"n": samples so far, "t_s", "sm_clock_mhz", "readings"}].
    batches: list[dict[str, Any]] = field(default_factory=list)
    driver_samples: int = 0  # readings taken from NVML's own sample buffers, beside the polling thread's
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unavailable(cls, reason: str) -> Telemetry:
        return cls(available=False, reason=reason)


@dataclass(frozen=True)
class Correctness(Struct):
    """The check against the reference that preceded the timing."""

    checked: bool
    passed: bool | None = None  # None in files written before the field existed: ok records passed
    seed: int | None = None
    atol: float | None = None
    rtol: float | None = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing(Struct):
    """Device-time samples (seconds) and how they were taken; the statistics are derived from them."""

    DERIVED_KEYS = frozenset(SUMMARY_KEYS)

    samples: tuple[float, ...]
    method: str
    stop_reason: str
    wall_s: float | None = None
    warmup_calls: int | None = None
    flush_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "samples", tuple(self.samples))
        if not self.samples:
            raise FieldError("samples", "no samples")
        for i, x in enumerate(self.samples):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise FieldError(f"samples[{i}]", f"{x!r} is not a number")
            if not (math.isfinite(x) and x > 0):
                raise FieldError(f"samples[{i}]", f"{x!r} is not a positive finite time")
        if self.stop_reason not in STOP_REASONS:
            raise FieldError("stop_reason", f"{self.stop_reason!r} is not one of {', '.join(STOP_REASONS)}")

    @cached_property
    def summary(self) -> dict[str, float]:
        return summarize(self.samples)

    n = property(lambda self: len(self.samples))
    median = property(lambda self: self.summary["median"])
    q1 = property(lambda self: self.summary["q1"])
    q3 = property(lambda self: self.summary["q3"])
    iqr = property(lambda self: self.summary["iqr"])
    min = property(lambda self: self.summary["min"])
    max = property(lambda self: self.summary["max"])
    mean = property(lambda self: self.summary["mean"])
    stdev = property(lambda self: self.summary["stdev"])
    cv = property(lambda self: self.summary["cv"])
    rel_ci = property(lambda self: self.summary["rel_ci"])

    @classmethod
    def from_json(cls, data: Any, path: str = "") -> Timing:
        timing = super().from_json(data, path)
        stored = data.get("median")
        if isinstance(stored, (int, float)) and not isinstance(stored, bool):
            if not math.isclose(stored, timing.median, rel_tol=_MEDIAN_RTOL):
                raise FieldError(
                    f"{path}.median".strip("."),
                    f"the stored median {stored!r} disagrees with its samples' median {timing.median!r}",
                )
        return timing

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        samples = out.pop("samples")
        return {**self.summary, "samples": samples, **out}


@dataclass(frozen=True)
class Sustained(Struct):
    """A record measured a second time, after `load_s` of back-to-back calls (`gpubench run --sustained`):
    the rate a kernel holds once the GPU has settled under load, beside the record's burst timing."""

    load_s: float
    timing: Timing
    load_calls: int | None = None
    telemetry: Telemetry | None = None
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record(Struct):
    """One (workload, variant, shape, dtype, mode) of a run."""

    DERIVED_KEYS = frozenset({"achieved"})

    workload: str
    variant: str
    backend: str
    shape: dict[str, int]
    dtype: str
    mode: str
    # What the variant is in its workload's comparisons (gpubench.roles): the reports' baselines and unfused
    # forms. None where nobody said (a placeholder for an item whose worker died).
    role: str | None = None
    status: str = "ok"
    reason: str | None = None
    flops: int | None = None
    bytes: int | None = None
    uses_tensor_cores: bool = False
    # The dtype the math runs in where it is not the record's (fp8 dots on fp16 inputs): the roof it is
    # placed under.
    compute_dtype: str | None = None
    description: str = ""
    correctness: Correctness | None = None
    timing: Timing | None = None
    telemetry: Telemetry | None = None
    flags: list[str] = field(default_factory=list)  # how it was measured: "throttled", "launch_gaps", ...
    gpu_uuid: str | None = None  # the GPU that measured it (a run may span several)
    traceback: str | None = None
    # Extras a workload records (e.g. "fusion": the byte analysis of fused vs unfused).
    details: dict[str, Any] = field(default_factory=dict, metadata={"key": "extra"})
    # The roofline placement written for readers outside the suite; the suite recomputes it on reading.
    stored_roofline: dict[str, Any] | None = field(default=None, metadata={"key": "roofline"})
    sustained: Sustained | None = None  # `gpubench run --sustained`: the same record after a load
    ncu: NcuProfile | None = None  # `gpubench ncu`: the record profiled under Nsight Compute
    collective: Collective | None = None  # a collective's record (gpubench comm): see results.collective
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    def __post_init__(self):
        if self.status not in STATUSES:
            raise FieldError("status", f"{self.status!r} is not one of {', '.join(STATUSES)}")
        if self.mode not in RECORD_MODES:
            raise FieldError("mode", f"{self.mode!r} is not one of {', '.join(RECORD_MODES)}")
        if self.role is not None and self.role not in ROLES:
            raise FieldError("role", f"{self.role!r} is not one of {', '.join(ROLES)}")
        for name in ("dtype", "compute_dtype"):
            value = getattr(self, name)
            if value is not None and value not in RECORD_DTYPES:
                raise FieldError(name, f"{value!r} is not one of {', '.join(RECORD_DTYPES)}")
        for axis, size in self.shape.items():
            if isinstance(size, bool) or not isinstance(size, int):
                raise FieldError(f"shape.{axis}", f"{size!r} is not a whole number")
        for name in ("flops", "bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise FieldError(name, f"{value!r} is not a count >= 0")
        if self.status == "ok" and self.timing is None:
            raise FieldError("timing", "an ok record needs its samples")

    @property
    def key(self) -> RecordKey:
        return RecordKey.of(self.workload, self.variant, self.shape, self.dtype, self.mode)

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def math_dtype(self) -> str:
        """The dtype whose compute peak bounds this record."""
        return self.compute_dtype or self.dtype

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.timing is not None

    @property
    def median(self) -> float | None:
        return self.timing.median if self.timing is not None else None

    @property
    def achieved_tflops(self) -> float | None:
        med = self.median
        return self.flops / med / 1e12 if med and self.flops is not None else None

    @property
    def achieved_gbs(self) -> float | None:
        med = self.median
        return self.bytes / med / 1e9 if med and self.bytes is not None else None

    @property
    def algbw_gbps(self) -> float | None:
        """A collective's algorithm bandwidth, nccl-tests' S / t (GB = 1e9 B), t the median."""
        med, c = self.median, self.collective
        return c.nbytes / med / 1e9 if med and c is not None else None

    @property
    def busbw_gbps(self) -> float | None:
        """A collective's bus bandwidth: algbw x nccl-tests' factor for its collective and ranks."""
        alg, c = self.algbw_gbps, self.collective
        return alg * bus_factor(c.name, c.ranks) if alg is not None else None

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        achieved = None
        if self.ok:
            achieved = {"tflops": self.achieved_tflops, "gbs": self.achieved_gbs}
            if self.collective is not None:
                achieved |= {"algbw_GBps": self.algbw_gbps, "busbw_GBps": self.busbw_gbps}
        # "achieved" sits after the timing, as readers of earlier files found it.
        items = list(out.items())
        at = [k for k, _ in items].index("timing") + 1
        return dict(items[:at] + [("achieved", achieved)] + items[at:])
