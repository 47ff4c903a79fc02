"""Compute cycles of one GEMM on an R x C systolic array: folds, fill/drain/skew, mapping and utilisation.

A dataflow maps the GEMM (M x K input times K x N filter) to a spatial extent along the rows (Sr), one along
the columns (Sc) and a temporal one (T), as the SCALE-Sim paper does:

    output stationary  Sr = M, Sc = N, T = K   (each PE accumulates one output)
    weight stationary  Sr = K, Sc = N, T = M   (each PE holds one weight)
    input stationary   Sr = K, Sc = M, T = N   (each PE holds one input)

The work is cut into ceil(Sr/R) x ceil(Sc/C) folds run one after another, each on the whole array (a ragged
fold pads the unused PEs, so every fold takes as long). One fold takes

    load + T + (R - 1) + (C - 1) + drain

cycles: `load` = R to shift the stationary tile in (WS, IS), T to stream the moving operand, R - 1 and C - 1
for the skewed wavefront to cross the rows and columns, and `drain` = R to shift the accumulated outputs out
(OS). The paper counts the OS drain (2R + C + T - 2 for every dataflow); SCALE-Sim 3.0.0 does not (T + R + C
- 2 for OS) and reports the 0-based index of the last cycle, one less than the count. `cycle_model`
"scalesim" (the default) reproduces the simulator, "paper" the closed forms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .config import DATAFLOWS
from .errors import SystolicInputError

CYCLE_MODELS = ("scalesim", "paper")


@dataclass(frozen=True)
class FoldTiming:
    """Cycles of one fold, by term."""

    load: int  # shift the stationary tile into the array (WS, IS)
    stream: int  # T: the moving operand streams through
    skew: int  # (R - 1) + (C - 1): the wavefront crosses the rows and the columns
    drain: int  # shift the accumulated outputs out (OS, paper model)

    @property
    def total(self) -> int:
        return self.load + self.stream + self.skew + self.drain

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


@dataclass(frozen=True)
class Compute:
    """The compute side of one GEMM instance on the array."""

    dataflow: str
    rows: int
    cols: int
    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    fold: FoldTiming
    cycles: int  # one instance, no memory stalls
    mapping_efficiency: float  # mean over folds of the fraction of PEs mapped
    compute_utilization: float  # mean over folds of useful MACs / (PEs x fold cycles)

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds


def check_cycle_model(value: str) -> str:
    if value not in CYCLE_MODELS:
        raise SystolicInputError(f"--cycle-model: unknown cycle model {value!r}; choose scalesim or paper")
    return value


def spatio_temporal(dataflow: str, m: int, n: int, k: int) -> tuple[int, int, int]:
    """(Sr, Sc, T) of an M x N x K GEMM under a dataflow."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise SystolicInputError(f"unknown dataflow {dataflow!r}; choose {', '.join(DATAFLOWS)}")


def _load(dataflow: str, rows: int) -> int:
    return 0 if dataflow == "os" else rows


def _drain(dataflow: str, rows: int, cycle_model: str) -> int:
    # SCALE-Sim 3.0.0 starts the next OS fold as soon as the last operands have crossed the array.
    return rows if dataflow == "os" and cycle_model == "paper" else 0


def _last_cycle_offset(cycle_model: str) -> int:
    # SCALE-Sim reports the 0-based index of the last cycle of a layer: the count minus one.
    return 1 if cycle_model == "scalesim" else 0


def fold_timing(dataflow: str, rows: int, cols: int, t: int, cycle_model: str = "scalesim") -> FoldTiming:
    return FoldTiming(_load(dataflow, rows), t, (rows - 1) + (cols - 1), _drain(dataflow, rows, cycle_model))


def _utilization_window(dataflow: str, cols: int, fold: FoldTiming, cycle_model: str) -> int:
    # SCALE-Sim's per-fold compute utilisation divides WS/IS folds by their length plus C - 1 (it measures
    # the unskewed stationary-operand demand); the paper model uses the fold length.
    if cycle_model == "scalesim" and dataflow != "os":
        return fold.total + cols - 1
    return fold.total


def compute(
    m: int, n: int, k: int, rows: int, cols: int, dataflow: str, cycle_model: str = "scalesim"
) -> Compute:
    """Folds, cycles, mapping efficiency and compute utilisation of one M x N x K GEMM."""
    check_cycle_model(cycle_model)
    sr, sc, t = spatio_temporal(dataflow, m, n, k)
    row_folds, col_folds = math.ceil(sr / rows), math.ceil(sc / cols)
    fold = fold_timing(dataflow, rows, cols, t, cycle_model)
    cycles = row_folds * col_folds * fold.total - _last_cycle_offset(cycle_model)
    # Folds are averaged unweighted, as SCALE-Sim does: the mean fraction of rows used times that of columns.
    mapping = (sr / (rows * row_folds)) * (sc / (cols * col_folds))
    utilization = mapping * t / _utilization_window(dataflow, cols, fold, cycle_model)
    return Compute(dataflow, rows, cols, sr, sc, t, row_folds, col_folds, fold, cycles, mapping, utilization)
