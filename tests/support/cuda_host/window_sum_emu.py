"""The window-sum CUDA kernels built for the CPU under emu.h and run like their launchers run them.

`build` compiles window_sum_main.cpp with the shared-memory kernel instantiated for every run length of
the given configs (the suite's own and small ones that make many blocks out of a short input); the
launch geometry comes from the launcher's own `plan_shared`, so the emulation runs what the GPU runs.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import torch

from gpubench import kernels
from gpubench.dtypes import kernel_suffix
from gpubench.kernels.window_sum.config import CudaSegment, WindowSumConfig, config_for
from gpubench.kernels.window_sum.validate import validate

HERE = Path(__file__).parent
SRC = Path(kernels.__file__).parent / "window_sum"
CXX = shutil.which("g++")
SUITE = config_for(torch.device("cpu"))
# Eight threads and tiles of 32 to 248 outputs: a few thousand elements make dozens of blocks.
SMALL = dataclasses.replace(
    SUITE,
    cuda_threads=8,
    cuda_segments=tuple(CudaSegment(s, g) for s, g in ((1, 4), (3, 2), (7, 1), (15, 1), (31, 1))),
)


def build(out_dir: Path, configs=(SUITE, SMALL)) -> Path:
    triples = sorted({(s.seg, s.groups, c.cuda_threads) for c in configs for s in c.cuda_segments})
    exe = out_dir / "window_sum_main"
    cmd = [
        CXX,
        "-std=c++20",
        "-O1",
        "-fno-strict-aliasing",
        "-pthread",
        f"-I{HERE}",
        f"-I{SRC}",
        "-DWINDOW_CONFIGS=" + " ".join(f"X({s},{g},{t})" for s, g, t in triples),
        str(HERE / "window_sum_main.cpp"),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"host build failed:\n{proc.stderr[-3000:]}")
    return exe


def _run(binary: Path, args: list, x: torch.Tensor) -> torch.Tensor:
    if x.numel() == 0:  # the launchers return before launching
        return torch.empty_like(x)
    proc = subprocess.run(
        [str(binary), *map(str, args)],
        input=x.contiguous().view(torch.uint8).numpy().tobytes(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr!r}"
    return torch.frombuffer(bytearray(proc.stdout), dtype=x.dtype)


def naive(binary: Path, x: torch.Tensor, radius: int, threads: int | None = None) -> torch.Tensor:
    r = validate(x, radius)
    threads = threads or SUITE.cuda_naive_threads
    return _run(binary, ["naive", kernel_suffix(x.dtype), x.numel(), r, threads], x)


def shared(
    binary: Path, x: torch.Tensor, radius: int, cfg: WindowSumConfig = SUITE, offset: int = 0
) -> torch.Tensor:
    """What window_sum_shared computes on a GPU with `cfg`, run on the host; `offset` elements past a
    16-byte boundary (1: misaligned arrays)."""
    from gpubench.kernels.window_sum.cupy_kernels import plan_shared

    r = validate(x, radius)
    p = plan_shared(x.numel(), r, cfg)
    args = [
        "shared",
        kernel_suffix(x.dtype),
        x.numel(),
        r,
        p.seg.seg,
        p.seg.groups,
        p.threads,
        p.halo,
        p.obuf,
        offset,
    ]
    return _run(binary, args, x)
