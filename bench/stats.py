"""Sample statistics and the adaptive stopping rule (pure Python: tested on CPU)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


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


@dataclass(frozen=True)
class StoppingRule:
    """When to stop sampling one benchmark.

    Stop as soon as, after at least `min_samples` samples and `min_time_s` of measured device time, the
    median's relative 95% interval half-width is below `rel_noise`; else at `max_samples`, or when the
    wall-clock `timeout_s` runs out. The reason is recorded with the result.
    """

    min_samples: int = 10
    max_samples: int = 1000
    min_time_s: float = 0.05
    rel_noise: float = 0.005
    timeout_s: float = 5.0

    def __post_init__(self):
        if self.min_samples < 2 or self.max_samples < self.min_samples:
            raise ValueError("need 2 <= min_samples <= max_samples")
        if self.rel_noise <= 0 or self.timeout_s <= 0 or self.min_time_s < 0:
            raise ValueError("rel_noise and timeout_s must be > 0, min_time_s >= 0")

    def reason_to_stop(self, samples: Sequence[float], elapsed_wall_s: float) -> str | None:
        n = len(samples)
        if n >= self.max_samples:
            return "max_samples"
        if elapsed_wall_s >= self.timeout_s:
            return "timeout"
        if n < self.min_samples or sum(samples) < self.min_time_s:
            return None
        xs = sorted(samples)
        med = quantile(xs, 0.5)
        if med > 0 and median_ci_halfwidth(xs) / med < self.rel_noise:
            return "converged"
        return None

    def next_batch(self, samples: Sequence[float], elapsed_wall_s: float) -> int:
        """How many samples to queue next: enough to reach the minimums, then growing geometrically."""
        n = len(samples)
        if n == 0:
            return self.min_samples
        per = max(statistics.fmean(samples), 1e-7)
        want_time = max(0, math.ceil((self.min_time_s - sum(samples)) / per))
        grow = max(self.min_samples, n // 2)
        return max(1, min(self.max_samples - n, max(want_time, grow), 2000))
