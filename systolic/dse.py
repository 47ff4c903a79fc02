"""Design-space exploration: sweep array shape, SRAM sizes and dataflow, rank by a user's objective, keep the
top k distinct configurations and find the Pareto front of cycles against area.

Area is a linear model, PE area x PEs + SRAM area per KiB x KiB; the defaults are rough 28 nm figures (an
8-bit MAC PE with its registers about 0.001 mm^2, SRAM about 0.004 mm^2 per KiB with its periphery): set
your own for anything but relative comparisons.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .analysis import TopologyResult, evaluate
from .config import DATAFLOWS, ArrayConfig, check_dataflow
from .errors import SystolicInputError
from .expr import Objective
from .topology import Topology


@dataclass(frozen=True)
class AreaModel:
    pe_mm2: float = 0.001
    sram_mm2_per_kb: float = 0.004

    def __post_init__(self):
        for name in ("pe_mm2", "sram_mm2_per_kb"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise SystolicInputError(f"area model: {name} must be a number >= 0, got {value!r}")

    def area(self, c: ArrayConfig) -> float:
        return self.pe_mm2 * c.rows * c.cols + self.sram_mm2_per_kb * c.sram_kb


@dataclass(frozen=True)
class Space:
    """The configurations to try: every shape x SRAM triple x dataflow."""

    shapes: tuple[tuple[int, int], ...]
    srams: tuple[tuple[float, float, float], ...]  # (ifmap, filter, ofmap) KiB
    dataflows: tuple[str, ...] = DATAFLOWS

    def __post_init__(self):
        for rows, cols in self.shapes:
            if rows <= 0 or cols <= 0:
                raise SystolicInputError(f"array shape {rows}x{cols}: rows and columns must be positive")
        for sram in self.srams:
            if min(sram) <= 0:
                raise SystolicInputError(f"SRAM sizes {sram}: every size must be > 0 KB")
        for df in self.dataflows:
            check_dataflow(df, "--dataflows")

    @property
    def size(self) -> int:
        return len(set(self.shapes)) * len(set(self.srams)) * len(set(self.dataflows))

    def configs(self, base: ArrayConfig) -> Iterator[ArrayConfig]:
        """Distinct configurations, in sweep order (duplicates given twice are tried once)."""
        seen = set()
        for (rows, cols), (i, f, o), df in itertools.product(self.shapes, self.srams, self.dataflows):
            key = (rows, cols, i, f, o, df)
            if key not in seen:
                seen.add(key)
                yield base.replace(rows=rows, cols=cols, ifmap_kb=i, filter_kb=f, ofmap_kb=o, dataflow=df)


@dataclass(frozen=True)
class Point:
    config: ArrayConfig
    values: dict  # the objective's variables for this configuration
    objective: float

    def key(self) -> tuple:
        c = self.config
        return (c.rows, c.cols, c.ifmap_kb, c.filter_kb, c.ofmap_kb, c.dataflow)

    def to_dict(self) -> dict:
        c = self.config
        return {
            "rows": c.rows,
            "cols": c.cols,
            "dataflow": c.dataflow,
            "ifmap_kb": c.ifmap_kb,
            "filter_kb": c.filter_kb,
            "ofmap_kb": c.ofmap_kb,
            "label": c.label(),
            "objective": self.objective,
            **self.values,
        }


def figures(result: TopologyResult, area: AreaModel) -> dict:
    c = result.config
    return {
        "cycles": result.total_cycles,
        "compute_cycles": result.compute_cycles,
        "stall_cycles": result.stall_cycles,
        "mapping_efficiency": result.mapping_efficiency,
        "compute_utilization": result.compute_utilization,
        "overall_utilization": result.overall_utilization,
        "macs": sum(r.layer.macs for r in result.layers),
        "rows": c.rows,
        "cols": c.cols,
        "pes": c.rows * c.cols,
        "ifmap_kb": c.ifmap_kb,
        "filter_kb": c.filter_kb,
        "ofmap_kb": c.ofmap_kb,
        "sram_kb": c.sram_kb,
        "area": area.area(c),
        "dram_bytes": result.dram_words * c.word_bytes,
        "time_us": result.total_cycles / c.clock_mhz,
    }


def _score(objective: Objective, values: dict, config: ArrayConfig) -> float:
    try:
        score = objective.evaluate(values)
    except ZeroDivisionError:
        raise SystolicInputError(
            f"objective {objective.text!r}: division by zero for {config.label()}"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise SystolicInputError(f"objective {objective.text!r}: {exc} for {config.label()}") from None
    if math.isnan(score):
        raise SystolicInputError(f"objective {objective.text!r}: not a number for {config.label()}")
    return score


def sweep(
    topology: Topology,
    base: ArrayConfig,
    space: Space,
    objective: Objective,
    area: AreaModel = AreaModel(),
    cycle_model: str = "scalesim",
) -> tuple[list[Point], list[dict]]:
    """Every configuration of `space` on `topology`: (points, skipped). A configuration whose SRAM cannot hold
    one fold of some layer is skipped, with the reason."""
    points, skipped = [], []
    for config in space.configs(base):
        try:
            result = evaluate(topology, config, cycle_model)
        except SystolicInputError as exc:
            skipped.append({"label": config.label(), "reason": str(exc)})
            continue
        values = figures(result, area)
        points.append(Point(config, values, _score(objective, values, config)))
    return points, skipped


def _tie_break(p: Point) -> tuple:
    return (p.values["area"], p.values["pes"], p.values["sram_kb"], p.key())


def top_k(points: Iterable[Point], k: int, maximize: bool = True) -> list[Point]:
    """The k best distinct configurations; equal objectives go to the smaller design first."""
    best: dict[tuple, Point] = {}
    for p in points:
        best.setdefault(p.key(), p)
    sign = -1.0 if maximize else 1.0
    return sorted(best.values(), key=lambda p: (sign * p.objective, *_tie_break(p)))[: max(k, 0)]


def pareto(points: Iterable[Point]) -> list[Point]:
    """Configurations no other beats on both cycles and area (both lower is better), by increasing area."""
    front, best_cycles = [], math.inf
    for p in sorted(points, key=lambda p: (p.values["area"], p.values["cycles"], _tie_break(p))):
        if p.values["cycles"] < best_cycles:
            front.append(p)
            best_cycles = p.values["cycles"]
    return front


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """'8,16,32' or '8..128' (the powers of two from 8 to 128), or a mix: '8..32,48'."""
    return tuple(int(v) for v in _parse_values(text, what, integer=True))


def parse_sizes(text: str, what: str) -> tuple[float, ...]:
    return tuple(_parse_values(text, what, integer=False))


def _parse_values(text: str, what: str, integer: bool) -> list[float]:
    out = []
    for item in (s.strip() for s in str(text).split(",")):
        try:
            if ".." in item:
                low, high = (int(x) for x in item.split(".."))
                if low <= 0 or high < low:
                    raise ValueError
                out += [2**e for e in range(math.ceil(math.log2(low)), math.floor(math.log2(high)) + 1)]
            else:
                value = int(item) if integer else float(item)
                if value <= 0 or not math.isfinite(value):
                    raise ValueError
                out.append(value)
        except ValueError:
            raise SystolicInputError(
                f"{what}: expected positive numbers or LOW..HIGH ranges, got {item!r}"
            ) from None
    if not out:
        raise SystolicInputError(f"{what}: no values in {text!r}")
    return out


def parse_shapes(text: str) -> tuple[tuple[int, int], ...]:
    shapes = []
    for item in (s.strip() for s in text.split(",")):
        parts = item.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise SystolicInputError(f"--shapes: expected ROWSxCOLS items such as 32x32, got {item!r}")
        shapes.append((int(parts[0]), int(parts[1])))
    return tuple(shapes)
