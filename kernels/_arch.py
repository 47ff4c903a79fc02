"""Per-architecture tuning tables: one lookup for every workload's config module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

C = TypeVar("C")


def pick(device, by_major: Mapping[int, C], default: C, cpu: C | None = None) -> C:
    """The config for `device`: by compute-capability major on CUDA, else `cpu` (the Triton interpreter's
    config; `default` when None)."""
    if getattr(device, "type", "cpu") != "cuda":
        return default if cpu is None else cpu
    import torch

    major, _ = torch.cuda.get_device_capability(device)
    return by_major.get(major, default)
