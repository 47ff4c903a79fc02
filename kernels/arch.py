"""Per-architecture tuning tables: one lookup for every workload's config module.

A table may also depend on the assembler: Triton 3.6 assembles sm_90 code with CUDA 12's ptxas, newer
releases with CUDA 13's, whose register allocation needs more registers for the same kernel (measured on
Triton 3.9's own cubins: a 16384-column softmax row at 512 threads 128 registers and 56 B of spill stack,
where CUDA 12's ptxas uses 120 and none). A workload names the tables that differ under CUDA 13's ptxas.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TypeVar

C = TypeVar("C")


@functools.cache
def ptxas_major(arch: int) -> int | None:
    """The CUDA major version of the ptxas Triton assembles sm_<arch> code with (None if unknown)."""
    try:
        from triton.backends.nvidia.compiler import get_ptxas

        return int(str(get_ptxas(arch).version).split(".")[0])
    except Exception:  # no Triton, no NVIDIA backend, a Triton without the per-arch choice
        return None


def for_major(major: int, by_major: Mapping[int, C], default: C, cuda13: Mapping[int, C] | None = None) -> C:
    """The table for compute capability `major`; `cuda13[major]` instead where Triton assembles that
    architecture with CUDA 13's ptxas (or newer)."""
    if cuda13 and major in cuda13 and (ptxas_major(major * 10) or 0) >= 13:
        return cuda13[major]
    return by_major.get(major, default)


def pick(
    device, by_major: Mapping[int, C], default: C, cpu: C | None = None, cuda13: Mapping[int, C] | None = None
) -> C:
    """The config for `device`: by compute-capability major on CUDA (see `for_major`), else `cpu` (the
    Triton interpreter's config; `default` when None)."""
    if getattr(device, "type", "cpu") != "cuda":
        return default if cpu is None else cpu
    import torch

    major, _ = torch.cuda.get_device_capability(device)
    return for_major(major, by_major, default, cuda13)
