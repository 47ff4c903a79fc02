"""Where a file's numbers come from, beyond its device and software sections: the suite's commit and
whether the tree had uncommitted changes, the environment knobs that change kernels or timing, the
spec figures the device contradicted, and the warnings a reader must see (ceilings measured on another
physical GPU, a test-only knob that was set).

This module owns the list of environment knobs: the harness records them through `knobs_in` and the
readers warn through `run_warnings`, so both agree on what in the environment changes a measurement.
Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gpubench.results.codec import Struct

__all__ = [
    "KNOBS",
    "SLOWDOWN_ENV",
    "SUSTAINED_ENV",
    "KNOB_PREFIXES",
    "TEST_ONLY_KNOBS",
    "Provenance",
    "SpecMismatch",
    "ceilings_file_warnings",
    "ceilings_warning",
    "knobs_in",
    "positive_float",
    "run_warnings",
    "split_commit",
]

# `gpubench run --sustained S` reaches the worker processes through this variable.
SUSTAINED_ENV = "GPUBENCH_SUSTAINED_S"
# The gate's calibration: a real slowdown of this fraction injected on the GPU (bench.run.worker).
SLOWDOWN_ENV = "GPUBENCH_TEST_SLOWDOWN"
# Variables that change which kernels run or how they are timed, with why.
KNOBS = {
    "GPUBENCH_TEST_SLOW_CONFIG": "vector_add runs its deliberately slow launch configuration "
    "(gate calibration)",
    "GPUBENCH_TEST_SLOWDOWN": "the harness adds a spin of this fraction of each kernel's time inside every "
    "timed sample (gate calibration)",
    "GPUBENCH_SUSTAINED_S": "each record is measured a second time after this many seconds of load",
    "GPUBENCH_SELFTEST": "the harness's self-test workload is registered",
    "GPUBENCH_WORKLOAD_MODULES": "plug-in workloads loaded by path",
    "GPUBENCH_NVRTC": "the NVRTC library the CUDA sources are compiled with",
    "CUDA_VISIBLE_DEVICES": "which GPUs the run could see, in which order",
    "CUDA_LAUNCH_BLOCKING": "every launch waits for the kernel before it: host time enters the samples",
    "CUDA_DEVICE_MAX_CONNECTIONS": "the number of hardware work queues",
    "CUDA_MODULE_LOADING": "lazy or eager loading of kernels",
    "CUBLAS_WORKSPACE_CONFIG": "cuBLAS's workspace, and with it the algorithms it may choose",
    "CUBLASLT_WORKSPACE_SIZE": "cuBLASLt's workspace, and with it the algorithms it may choose",
    "NVIDIA_TF32_OVERRIDE": "TF32 forced on or off inside cuBLAS and cuDNN",
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "TF32 in torch's fp32 matmuls",
    "TORCH_BLAS_PREFER_CUBLASLT": "torch's choice between cuBLAS and cuBLASLt",
    "PYTORCH_CUDA_ALLOC_CONF": "torch's caching allocator",
    "CUPY_ACCELERATORS": "CuPy's CUB and cuTENSOR routines",
}
# Families whose every member is recorded (Triton's compiler switches, the suite's own).
KNOB_PREFIXES = ("GPUBENCH_", "TRITON_", "CUBLAS", "CUDNN_")
# Members of those families that only say where caches and logs live, or name the commit.
NOT_KNOBS = ("TRITON_CACHE_DIR", "TRITON_HOME", "TRITON_DUMP_DIR", "GPUBENCH_COMMIT")
# Knobs that make a run something other than the suite's numbers: a reader is warned.
TEST_ONLY_KNOBS = ("GPUBENCH_TEST_SLOW_CONFIG", "GPUBENCH_TEST_SLOWDOWN")


def knobs_in(environ: Mapping[str, str]) -> dict[str, str]:
    """The knobs set in `environ`, sorted by name."""
    return {
        k: str(v)
        for k, v in sorted(environ.items())
        if (k in KNOBS or k.startswith(KNOB_PREFIXES)) and k not in NOT_KNOBS
    }


def positive_float(environ: Mapping[str, str], name: str) -> float | None:
    """The variable `name` as a positive number, or None when unset, empty, not a number or <= 0."""
    try:
        value = float(environ.get(name, "") or "nan")
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def split_commit(text: str | None) -> tuple[str | None, bool | None]:
    """(commit, dirty) from the software section's suite_commit ("<sha>" or "<sha>-dirty")."""
    if not text:
        return None, None
    if text.endswith("-dirty"):
        return text.removesuffix("-dirty") or None, True
    return text, False


@dataclass(frozen=True)
class SpecMismatch(Struct):
    """A spec-database figure the device contradicts (roofline.specs.device_mismatches finds them)."""

    field: str
    spec: Any = None
    device: Any = None
    spec_name: str | None = None
    sources: list[str] = field(default_factory=list)  # the documents the spec figure cites
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        cited = f" (cited: {'; '.join(self.sources)})" if self.sources else ""
        note = f"; {self.note}" if self.note else ""
        return (
            f"spec database {self.spec_name or '?'} gives {self.field} = {self.spec}, the device reports "
            f"{self.device}{cited}{note}"
        )


@dataclass(frozen=True)
class Provenance(Struct):
    """Recorded by the harness when it writes a results or ceilings file."""

    commit: str | None = None
    dirty: bool | None = None  # the tree had uncommitted changes to tracked files
    env: dict[str, str] = field(default_factory=dict)  # knobs_in(os.environ) of the run
    spec_mismatches: list[SpecMismatch] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def ceilings_warning(embedded, measured_on: set[str]) -> str | None:
    """A warning when measured ceilings (an EmbeddedCeilings) come from another physical GPU than
    every GPU in `measured_on` (UUIDs), or when which GPU measured them is not recorded."""
    if embedded is None:
        return None
    uuid = embedded.device_uuid
    if not uuid:
        return "the embedded measured ceilings do not record which physical GPU measured them"
    if measured_on and uuid not in measured_on:
        when = f", {embedded.created}" if embedded.created else ""
        return (
            f"the measured ceilings come from another physical GPU ({embedded.device_name or '?'} {uuid}"
            f"{when}) than the results ({', '.join(sorted(measured_on))}): a record above or below them "
            "may differ by card"
        )
    return None


def _test_only(env: Mapping[str, str]) -> list[str]:
    return [
        f"{k}={env[k]} was set: {KNOBS[k]}; these are not the suite's own numbers"
        for k in TEST_ONLY_KNOBS
        if env.get(k) not in (None, "", "0")
    ]


def _tree_and_knobs(prov: Provenance | None, suite_commit: str | None) -> list[str]:
    out = []
    if prov is None:
        out.append(
            "no provenance section (a file from before gpubench wrote one): which environment knobs were "
            "set is unknown; the tree's state is read from the commit's -dirty suffix"
        )
        commit, dirty = split_commit(suite_commit)
    else:
        commit, dirty = prov.commit, prov.dirty
    if commit is None:
        out.append("the suite's commit is not recorded")
    if dirty:
        out.append(
            "the tree had uncommitted changes (dirty): the commit alone does not reproduce these numbers"
        )
    return out + (_test_only(prov.env) if prov is not None else [])


def _stored(prov: Provenance | None) -> list[str]:
    return [m.describe() for m in prov.spec_mismatches] + list(prov.warnings) if prov is not None else []


def run_warnings(run) -> list[str]:
    """Everything a reader of `run` (a gpubench.results.Run) should be warned of, one line each:
    derived from what the file holds, plus what the harness stored, each line once."""
    out = _tree_and_knobs(run.provenance, run.software.suite_commit)
    uuids = {
        u for u in [run.device.uuid, *(g.uuid for g in run.gpus), *(r.gpu_uuid for r in run.records)] if u
    }
    if line := ceilings_warning(run.ceilings, uuids):
        out.append(line)
    return list(dict.fromkeys(out + _stored(run.provenance)))


def ceilings_file_warnings(cf) -> list[str]:
    """The same for a ceilings file (a gpubench.results.CeilingsFile)."""
    return list(
        dict.fromkeys(_tree_and_knobs(cf.provenance, cf.software.suite_commit) + _stored(cf.provenance))
    )
