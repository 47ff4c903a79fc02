"""Loading CUDA C sources for CuPy: one compile per (file, options, device) per process.

The .cu files live next to their launchers; kernels run on torch's current stream so that the
harness's CUDA events bracket them exactly like Triton and torch launches.
"""

from __future__ import annotations

import functools
from pathlib import Path

INCLUDE_DIR = Path(__file__).with_name("cuda_include")
# Options shared by every source; the NVRTC check (bench.cpucheck.nvrtc) compiles with the same ones. No -std:
# NVRTC's default (C++17) suffices, and CuPy may pass its own.
NVRTC_OPTIONS: tuple[str, ...] = (f"-I{INCLUDE_DIR}",)
# What CuPy's RawModule appends to the options of every NVRTC compile (cupy.cuda.compiler's
# _compile_with_cache_cuda): the CPU checks compile with it too, so that they build what the GPU runs.
CUPY_OPTIONS: tuple[str, ...] = ("-ftz=true",)
# Sources whose launchers pass options of their own (defines), and the function (module:name, no
# arguments) listing every set they can pass; every other source is compiled with its defaults only.
_OPTION_SETS = {"window_sum.cu": "gpubench.kernels.window_sum.cupy_kernels:option_sets"}


def option_sets(path: str | Path) -> list[tuple[str, ...]]:
    """Every set of extra options a launcher compiles the source at `path` with (`()`: none)."""
    import importlib

    where = _OPTION_SETS.get(Path(path).name)
    if where is None:
        return [()]
    module, name = where.split(":")
    return list(getattr(importlib.import_module(module), name)())


def source_path(anchor: str, filename: str) -> Path:
    """Path of a .cu file sitting next to the module `anchor` (pass __file__)."""
    return Path(anchor).with_name(filename)


@functools.cache
def _module(path: str, options: tuple[str, ...], device_id: int):
    import cupy

    code = Path(path).read_text()
    with cupy.cuda.Device(device_id):
        module = cupy.RawModule(code=code, options=NVRTC_OPTIONS + options, backend="nvrtc")
        module.compile()
    return module


def get_function(path: Path, name: str, options: tuple[str, ...] = (), device_id: int | None = None):
    """A compiled kernel function `name` from the .cu file at `path` (compiled once, then cached)."""
    import cupy

    if device_id is None:
        device_id = cupy.cuda.runtime.getDevice()
    return _module(str(path), tuple(options), device_id).get_function(name)


def current_stream(device: int | None = None):
    """torch's current CUDA stream (of `device`) as a CuPy stream, so CuPy kernels order with torch work."""
    import cupy
    import torch

    return cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream)


def launch(kernel, grid, block, args, shared_mem: int = 0) -> None:
    """Launch a RawModule kernel on torch's current stream of the tensors' device."""
    import cupy

    device = None
    for a in args:
        if hasattr(a, "device") and getattr(a.device, "type", None) == "cuda":
            device = a.device.index
            break
    if device is None:
        device = cupy.cuda.runtime.getDevice()
    # The stream as a context (not a keyword) works for both RawKernel and Function objects.
    with cupy.cuda.Device(device), current_stream(device):
        kernel(grid, block, tuple(_arg(a) for a in args), shared_mem=shared_mem)


def _arg(a):
    """Pass torch tensors as raw device pointers; scalars go through as numpy-typed values."""
    if hasattr(a, "data_ptr"):
        import numpy

        return numpy.uintp(a.data_ptr())
    return a
