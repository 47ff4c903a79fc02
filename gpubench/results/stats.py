"""Summary statistics of a record's samples (pure Python): every tool derives them from the samples
through these functions, so a median shown by the report is the median the gate compares."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["median_ci_halfwidth", "quantile", "summarize"]


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already-sorted data (numpy's default method)."""
    if not sorted_xs:
        raise ValueError("quantile of no samples")
    pos = (len(sorted_xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def median_ci_halfwidth(sorted_xs: Sequence[float]) -> float:
    """Half-width of an approximate 95% interval for the median: 1.57 IQR / sqrt(n) (McGill et al.)."""
    n = len(sorted_xs)
    if n < 2:
        return math.inf
    iqr = quantile(sorted_xs, 0.75) - quantile(sorted_xs, 0.25)
    return 1.57 * iqr / math.sqrt(n)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """The statistics every record carries (seconds)."""
    xs = sorted(samples)
    if not xs:
        raise ValueError("no samples to summarize")
    med = quantile(xs, 0.5)
    q1, q3 = quantile(xs, 0.25), quantile(xs, 0.75)
    mean = statistics.fmean(xs)
    stdev = statistics.stdev(xs) if len(xs) > 1 else 0.0
    half = median_ci_halfwidth(xs)
    return {
        "n": len(xs),
        "median": med,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "min": xs[0],
        "max": xs[-1],
        "mean": mean,
        "stdev": stdev,
        "cv": stdev / mean if mean > 0 else math.inf,
        "rel_ci": half / med if med > 0 else math.inf,  # relative half-width of the median's 95% interval
    }
