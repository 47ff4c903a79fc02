"""The results files the suite measured on real GPUs and committed, for the CPU tests of the readers
(report, gate, compare, placement). Tests that need a broken input copy a real run and break it."""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path

from gpubench import results

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "reports" / "reference"
CALIBRATION = REPO / "reports" / "calibration" / "NVIDIA-H100-80GB-HBM3"
H100 = "NVIDIA H100 80GB HBM3"
H200 = "NVIDIA H200"
H100_RESULTS = REFERENCE / "NVIDIA-H100-80GB-HBM3" / "results-quick.json"
H200_RESULTS = REFERENCE / "NVIDIA-H200" / "results-quick.json"
H100_CEILINGS = REFERENCE / "NVIDIA-H100-80GB-HBM3" / "ceilings.json"
H200_CEILINGS = REFERENCE / "NVIDIA-H200" / "ceilings.json"
V1_SUBSET = REPO / "tests" / "data" / "results-v1-h100-subset.json"


@cache
def _read(path: Path) -> results.Run:
    return results.read(path)


def run(path: Path) -> results.Run:
    """A private copy of a committed run (tests may change it)."""
    return copy.deepcopy(_read(path))


def h100() -> results.Run:
    return run(H100_RESULTS)


def h200() -> results.Run:
    return run(H200_RESULTS)


def calibration(name: str) -> results.Run:
    return run(CALIBRATION / f"{name}.json")


def record(r: results.Run, workload: str, variant: str, dtype: str | None = None, **shape) -> results.Record:
    """The first ok record of `workload/variant` (of `dtype`, at `shape`, when given)."""
    for rec in r.records:
        if (
            rec.workload == workload
            and rec.variant == variant
            and rec.ok
            and dtype in (None, rec.dtype)
            and all(rec.shape.get(k) == v for k, v in shape.items())
        ):
            return rec
    raise LookupError(f"no ok record {workload}/{variant} {shape} in {r.path}")


def scaled(rec: results.Record, factor: float) -> None:
    """Multiply a record's samples by `factor` in place (a slowdown injected into real samples)."""
    rec.timing = dataclasses.replace(rec.timing, samples=tuple(x * factor for x in rec.timing.samples))
