"""Which compute rate bounds a kernel on a GPU, and what happens where the GPU, or its figures, lack it: the
one rule behind every prediction (predict, compare, model, layer, profile-module, systolic, tiling and the
training planner call `compute_rate`).

Which peak (`peak_key`): a kernel that runs its inner products on tensor cores (matmul, attention) is bounded
by the tensor peak of its dtype (tf32, fp16, bf16, fp8, int8; fp64 -> fp64_tc); fp32 data on tensor cores
means TF32, so pass dtype "tf32" for that. Every other kernel (elementwise, reductions, softmax, norms) is
bounded by the non-tensor fp32 peak whatever its storage dtype, because it loads 16-bit values and computes
in fp32 registers; only fp64 kernels use the fp64 peak.

Where the ceilings have no figure for that peak:
- the GPU lacks the tensor-core mode (its compute capability predates it) and the work has somewhere else
  to run: a stated fallback. bf16 and tf32 tensor work as fp32 on the CUDA cores, fp16 as packed half
  math (fp16_simt) where that is known else fp32, fp64 tensor work on the fp64 units;
- otherwise (fp8, int8, int4, fp4 without their tensor-core mode; any rate the figures simply do not give,
  such as one not measured): refused, with the reason. A refused prediction has no time: it is never made
  on memory alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpubench import dtypes

__all__ = ["TENSOR_MODE_SINCE", "Rate", "compute_rate", "peak_key"]

_TENSOR_KEYS = {"fp64": "fp64_tc", "fp32": "fp32", "tf32": "tf32", "fp16": "fp16", "bf16": "bf16",
                "fp8": "fp8", "int8": "int8", "int4": "int4", "fp4": "fp4"}  # fmt: skip
# The compute capability each tensor-core mode arrived with (CUDA C++ Programming Guide, warp matrix
# functions and the PTX ISA's mma shapes): fp16 with Volta, int8 with 7.2, tf32, bf16 and fp64 with
# Ampere, fp8 with 8.9, fp4 with Blackwell. A GPU older than the mode lacks it.
TENSOR_MODE_SINCE = {"fp16": (7, 0), "int8": (7, 2), "int4": (7, 5), "tf32": (8, 0), "bf16": (8, 0),
                     "fp64_tc": (8, 0), "fp8": (8, 9), "fp4": (10, 0)}  # fmt: skip
# Tensor-core mode -> the units the same work runs on without it, tried in order.
_FALLBACKS = {"bf16": ("fp32",), "tf32": ("fp32",), "fp16": ("fp16_simt", "fp32"), "fp64_tc": ("fp64",)}


def peak_key(dtype: Any, uses_tensor_cores: bool) -> str:
    """The peak that bounds a kernel on `dtype` (see the module docstring for the rule)."""
    d = dtypes.normalise(dtype)
    if uses_tensor_cores:
        return _TENSOR_KEYS.get(d, d)
    return "fp64" if d == "fp64" else "fp32"


@dataclass(frozen=True)
class Rate:
    """The compute rate a prediction uses: `used` and `tflops` (None where refused), whether it is a
    tensor-core rate (the estimate's "tensor" term, else "SIMT"), and the fallback or refusal, said."""

    key: str  # the peak the kernel asks for
    used: str | None
    tflops: float | None
    tensor: bool
    fallback: str | None = None
    refused: str | None = None

    @property
    def note(self) -> str | None:
        return self.refused or self.fallback


def _cc(gpu: Any) -> tuple[int, int] | None:
    text = str(getattr(gpu, "compute_capability", "") or "")
    major, _, minor = text.partition(".")
    return (int(major), int(minor or 0)) if major.isdigit() and (minor or "0").isdigit() else None


def _lacks(gpu: Any, key: str) -> bool:
    cc, since = _cc(gpu), TENSOR_MODE_SINCE.get(key)
    return cc is not None and since is not None and cc < since


def compute_rate(
    peaks: Mapping[str, float], dtype: Any, uses_tensor_cores: bool, gpu: Any = None, label: str = "datasheet"
) -> Rate:
    """The rate a kernel on `dtype` gets from `peaks` (TFLOP/s by peak key) on `gpu` (a GPUSpec, or anything
    with `name` and `compute_capability`; None when unknown), by the rule of the module docstring."""
    key = peak_key(dtype, uses_tensor_cores)
    tensor = uses_tensor_cores and key not in ("fp32", "fp64")
    if peaks.get(key):
        return Rate(key, key, float(peaks[key]), tensor)
    name = getattr(gpu, "name", None) or "this GPU"
    if tensor and _lacks(gpu, key):
        why = f"{name} has no {key} tensor cores (compute capability {gpu.compute_capability})"
        for other in _FALLBACKS.get(key, ()):
            if peaks.get(other):
                unit = "packed half math" if other == "fp16_simt" else f"{other} on the CUDA cores"
                return Rate(key, other, float(peaks[other]), False, fallback=f"{why}: predicted as {unit}")
        return Rate(key, None, None, tensor, refused=f"{why}: nothing else runs {key} work, no prediction")
    return Rate(key, None, None, tensor, refused=f"no {label} {key} rate for {name}: no prediction")
