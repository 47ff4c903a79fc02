"""The adaptive stopping rule (pure Python: tested on CPU). Summary statistics of samples are
gpubench.results.stats's."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from gpubench.results.stats import median_ci_halfwidth, quantile

__all__ = ["StoppingRule"]


@dataclass(frozen=True)
class StoppingRule:
    """When to stop sampling one benchmark.

    Stop as soon as, after at least `min_samples` samples and `min_time_s` of measured device time, the
    median's relative 95% interval half-width is below `rel_noise`; else at `max_samples`, or when the
    wall-clock `timeout_s` runs out. The timeout never ends sampling before `min_samples`: a measurement
    always has its minimum, however slow the kernel or busy the machine. The reason is recorded with the
    result.
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
        if n < self.min_samples:
            return None
        if elapsed_wall_s >= self.timeout_s:
            return "timeout"
        if sum(samples) < self.min_time_s:
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
