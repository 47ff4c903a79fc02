"""Time the scale kernel with gpubench.benchmark, where one would use triton.testing.do_bench (on a GPU)."""

import torch
from scale_kernels.triton_scale import scale

import gpubench

n = 1 << 24
x = torch.randn(n, device="cuda")

# Before: ms = triton.testing.do_bench(lambda: scale(x, 1.5), quantiles=[0.5, 0.2, 0.8])
result = gpubench.benchmark(
    scale,
    x,
    1.5,
    flops=n,  # one multiply per element
    bytes=2 * 4 * n,  # read x, write y (fp32)
    reference=lambda x, alpha: x.double() * alpha,
    shape={"n": n},
)
median, p20, p80 = result.ms(quantiles=[0.5, 0.2, 0.8])
print(f"median {median:.4f} ms (20-80 %: {p20:.4f}-{p80:.4f} ms)")
print(result)  # median and its interval, GB/s, the place on the roofline, flags
result.save("scale-results.json")  # for gpubench report, gate and export
