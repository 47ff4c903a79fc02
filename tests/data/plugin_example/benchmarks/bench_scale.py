"""The scale kernel timed on the GPU by gpubench's pytest fixture (device time in pytest-benchmark)."""

import pytest
import torch
from scale_kernels.triton_scale import scale


def reference(x, alpha):
    return x.double() * alpha


@pytest.mark.parametrize("n", [1 << 20, 1 << 24])
def test_scale(gpu_benchmark, n):
    x = torch.randn(n, device="cuda")
    result = gpu_benchmark(scale, x, 1.5, flops=n, bytes=2 * 4 * n, reference=reference, shape={"n": n})
    assert result.record.correctness.passed
