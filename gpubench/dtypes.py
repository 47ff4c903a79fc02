"""The suite's one dtype vocabulary: each name with its torch dtype, item size, CUDA C kernel suffix and
display name, and the spellings that mean it ("torch.float16", "half", "f16" -> "fp16").

Standard library only, so the reports, the roofline and the results format use the same table without
torch: the torch dtype is named here, and gpubench.kernels.workload.torch_dtype looks it up in torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DTYPES", "UNKNOWN", "DType", "get", "itemsize", "kernel_suffix", "name_of", "normalise",
           "torch_name"]  # fmt: skip


@dataclass(frozen=True)
class DType:
    name: str  # as records, shapes, tolerance tables and the command line write it
    itemsize: float  # bytes per element (int4 and fp4 pack two to a byte)
    torch: str | None  # the torch dtype that holds the data (tf32: fp32 data); None: torch has none
    display: str  # how a person reads it (torch's name where torch has one)
    suffix: str | None = None  # the CUDA C kernels' name suffix (softmax_warp_i4_fp16); None: no kernel
    aliases: tuple[str, ...] = ()


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("fp64", 8, "float64", "float64", "fp64", ("float64", "double", "f64")),
    DType("fp32", 4, "float32", "float32", "fp32", ("float32", "float", "f32")),
    DType("tf32", 4, "float32", "tf32 (fp32 data, TF32 dots)", None, ("tensorfloat32",)),
    DType("fp16", 2, "float16", "float16", "fp16", ("float16", "half", "f16")),
    DType("bf16", 2, "bfloat16", "bfloat16", "bf16", ("bfloat16",)),
    DType("fp8", 1, "float8_e4m3fn", "float8_e4m3fn", None,
          ("float8", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "e4m3", "e5m2")),
    DType("fp4", 0.5, None, "fp4 (two per byte)", None, ("float4", "float4_e2m1fn_x2", "nvfp4", "mxfp4")),
    DType("int64", 8, "int64", "int64"),
    DType("int32", 4, "int32", "int32", "i32"),
    DType("int16", 2, "int16", "int16"),
    DType("int8", 1, "int8", "int8", None, ("uint8", "qint8")),
    DType("int4", 0.5, None, "int4 (two per byte)"),
    DType("bool", 1, "bool", "bool"),  # what gpubench.benchmark names a mask argument by
)}  # fmt: skip
# A record's dtype where there is none to name: gpubench.benchmark of a function that takes no tensor.
UNKNOWN = "unknown"
_ALIASES = {alias: d.name for d in DTYPES.values() for alias in d.aliases}


def normalise(dtype: Any) -> str:
    """The suite's name of `dtype`: a torch dtype, or any spelling ('torch.float16', 'half', 'FP16');
    a name the vocabulary does not know passes through, lower-cased."""
    text = str(dtype).strip().lower().removeprefix("torch.")
    return _ALIASES.get(text, text)


def get(name: str, what: str = "dtype") -> DType:
    """The entry of the suite's `name` (ValueError naming `what` and the known names otherwise)."""
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}; expected one of {sorted(DTYPES)}") from None


def itemsize(name: str) -> float:
    return get(name).itemsize


def torch_name(name: str) -> str:
    """The attribute of torch that holds the data of `name` ("float32" for tf32)."""
    d = get(name)
    if d.torch is None:
        raise ValueError(f"dtype {name!r} has no torch dtype (it is packed: {d.display})")
    return d.torch


def name_of(torch_dtype) -> str:
    """The suite's name of a torch dtype (ValueError for one the vocabulary does not know)."""
    name = normalise(torch_dtype)
    get(name, "torch dtype")
    return name


def kernel_suffix(torch_dtype) -> str:
    """The CUDA C kernel suffix for tensors of `torch_dtype` (ValueError where no kernel takes it)."""
    d = get(name_of(torch_dtype), "torch dtype")
    if d.suffix is None:
        raise ValueError(f"no CUDA C kernel is instantiated for {d.display}")
    return d.suffix
