"""Statistics and the adaptive stopping rule."""

import math
import random

import pytest

from gpubench.bench.measure.stopping import StoppingRule
from gpubench.results.stats import median_ci_halfwidth, quantile, summarize


def test_quantile_matches_numpy_linear():
    np = pytest.importorskip("numpy")
    rng = random.Random(1)
    xs = sorted(rng.random() for _ in range(37))
    for q in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1):
        assert quantile(xs, q) == pytest.approx(float(np.quantile(xs, q)))


def test_summarize_by_hand():
    s = summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s["n"], s["median"], s["min"], s["max"], s["q1"], s["q3"], s["iqr"]) == (
        5,
        3.0,
        1.0,
        5.0,
        2.0,
        4.0,
        2.0,
    )
    assert s["mean"] == 3.0
    assert s["stdev"] == pytest.approx(math.sqrt(2.5))
    assert s["rel_ci"] == pytest.approx(1.57 * 2.0 / math.sqrt(5) / 3.0)


def test_summarize_rejects_empty():
    with pytest.raises(ValueError):
        summarize([])


def test_median_interval_shrinks_with_n():
    rng = random.Random(0)
    small = sorted(rng.gauss(1, 0.05) for _ in range(10))
    large = sorted(rng.gauss(1, 0.05) for _ in range(1000))
    assert median_ci_halfwidth(large) < median_ci_halfwidth(small) / 5


def test_stops_when_converged_only_after_minimums():
    rule = StoppingRule(min_samples=10, max_samples=1000, min_time_s=1.5e-3, rel_noise=0.01, timeout_s=10)
    steady = [1e-4] * 9
    assert rule.reason_to_stop(steady, 0.1) is None  # too few samples
    assert rule.reason_to_stop(steady + [1e-4], 0.1) is None  # 1.5 ms of device time not reached yet
    assert rule.reason_to_stop([1e-4] * 10 + [1e-4] * 10, 0.1) == "converged"


def test_noisy_samples_keep_sampling_until_timeout_or_max():
    rng = random.Random(3)
    noisy = [rng.uniform(0.5e-3, 1.5e-3) for _ in range(20)]
    rule = StoppingRule(min_samples=10, max_samples=25, min_time_s=0, rel_noise=0.001, timeout_s=5)
    assert rule.reason_to_stop(noisy, 1.0) is None
    assert rule.reason_to_stop(noisy, 6.0) == "timeout"
    assert rule.reason_to_stop(noisy[:9], 60.0) is None  # never fewer than min_samples, whatever the time
    assert rule.reason_to_stop(noisy + noisy[:5], 1.0) == "max_samples"


def test_next_batch_reaches_minimum_time():
    rule = StoppingRule(min_samples=10, max_samples=10_000, min_time_s=0.1, rel_noise=0.01, timeout_s=10)
    assert rule.next_batch([], 0) == 10
    # 10 samples of 1 ms: 90 ms more are needed
    assert rule.next_batch([1e-3] * 10, 0) == 90
    assert rule.next_batch([1.0] * 10, 0) == 10


def test_rule_validation():
    with pytest.raises(ValueError):
        StoppingRule(min_samples=1)
    with pytest.raises(ValueError):
        StoppingRule(rel_noise=0)
