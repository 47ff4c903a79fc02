"""Plateaus of a working-set sweep: where the bandwidth stays flat, a cache level is what limits it.

A cache ceiling is read off a plateau, never off a single point: the first points past L1 still hit in
L1 (per-SM L1s hold a fraction of a working set of a few MiB), and points near the L2 size spill to DRAM.
`find_plateau` takes the points of a working-set range (say 1 MiB to L2/2), and looks for the longest run
of consecutive points whose bandwidths lie within `tolerance` of each other (max / min - 1). Found with
at least `min_points` points, that run is the plateau; otherwise the flattest run of `min_points` points
is reported with `flat = False`, and a ceiling read off it says it has no plateau. Pure: no torch.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpubench.fmt import fmt_bytes

TOLERANCE = 0.10  # a plateau's points lie within 10 % of each other
MIN_POINTS = 3
DRAM_L2_MULTIPLE = 4  # a DRAM point's working set is at least 4 x L2: no useful part of it stays in L2

__all__ = ["DRAM_L2_MULTIPLE", "MIN_POINTS", "TOLERANCE", "Plateau", "dram_points", "find_plateau"]


@dataclass(frozen=True)
class Plateau:
    lo_bytes: int  # the working-set range searched
    hi_bytes: int
    points: tuple[tuple[int, float], ...]  # (working set, GB/s) of the plateau, or of the flattest run
    flat: bool  # the run is within `tolerance` and has at least MIN_POINTS points
    flatness: float  # max / min - 1 over the run's bandwidths
    spread: float  # max / min - 1 over every point of the range
    tolerance: float

    @property
    def best_gbs(self) -> float:
        """The ceiling the plateau allows: its best point (each point is a sustained, median rate)."""
        return max(g for _, g in self.points)

    @property
    def median_gbs(self) -> float:
        return statistics.median(g for _, g in self.points)

    def describe(self) -> str:
        lo, hi = fmt_bytes(self.points[0][0]), fmt_bytes(self.points[-1][0])
        what = "plateau" if self.flat else f"no plateau within {self.tolerance:.0%}; flattest run"
        return (
            f"{what} {lo} to {hi} ({len(self.points)} points): within {self.flatness:.1%}; the whole range "
            f"{fmt_bytes(self.lo_bytes)} to {fmt_bytes(self.hi_bytes)} spreads {self.spread:.1%}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "lo_bytes": self.lo_bytes,
            "hi_bytes": self.hi_bytes,
            "ws_bytes": [w for w, _ in self.points],
            "gbs": [g for _, g in self.points],
            "flat": self.flat,
            "flatness": self.flatness,
            "spread": self.spread,
            "tolerance": self.tolerance,
            "best_gbs": self.best_gbs,
            "median_gbs": self.median_gbs,
            "summary": self.describe(),
        }


def _flatness(gbs: Sequence[float]) -> float:
    return max(gbs) / min(gbs) - 1.0


def find_plateau(
    points: Sequence[dict], lo_bytes: int, hi_bytes: int, tolerance: float = TOLERANCE,
    min_points: int = MIN_POINTS,
) -> Plateau | None:  # fmt: skip
    """The plateau among sweep points ({"ws_bytes", "gbs", ...}) with lo_bytes <= ws <= hi_bytes; None
    when the range holds fewer than `min_points` points with a positive bandwidth."""
    if min_points < 2 or tolerance < 0:
        raise ValueError("need min_points >= 2 and tolerance >= 0")
    ranged = sorted(
        (int(p["ws_bytes"]), float(p["gbs"]))
        for p in points
        if lo_bytes <= p["ws_bytes"] <= hi_bytes and p.get("gbs") and p["gbs"] > 0
    )
    if len(ranged) < min_points:
        return None
    runs = [ranged[i:j] for i in range(len(ranged)) for j in range(i + min_points, len(ranged) + 1)]
    flat = [r for r in runs if _flatness([g for _, g in r]) <= tolerance]
    if flat:  # the longest flat run; of equal length, the faster one
        best = max(flat, key=lambda r: (len(r), statistics.median(g for _, g in r)))
    else:  # the flattest run of the shortest length
        short = [r for r in runs if len(r) == min_points]
        best = min(short, key=lambda r: (_flatness([g for _, g in r]), -statistics.median(g for _, g in r)))
    return Plateau(
        lo_bytes=int(lo_bytes), hi_bytes=int(hi_bytes), points=tuple(best), flat=bool(flat),
        flatness=_flatness([g for _, g in best]), spread=_flatness([g for _, g in ranged]),
        tolerance=tolerance,
    )  # fmt: skip


def dram_points(points: Sequence[dict], l2_bytes: int) -> list[dict]:
    """The sweep points that measure DRAM: working sets of at least DRAM_L2_MULTIPLE x L2."""
    return [p for p in points if p["ws_bytes"] >= DRAM_L2_MULTIPLE * l2_bytes]
