"""Seeded random inputs shared by every workload (never zeros: zeros run faster on power-limited GPUs)."""

from __future__ import annotations

from gpubench.kernels.workload import torch_dtype


def generator(device, seed: int):
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def randn(shape, dtype: str, device, gen, scale: float = 1.0):
    """Standard-normal values drawn in fp32 on `device`, then cast to the storage dtype."""
    import torch

    t = torch.randn(tuple(shape), generator=gen, device=device, dtype=torch.float32)
    if scale != 1.0:
        t.mul_(scale)
    return t.to(torch_dtype(dtype))
