"""Micro-benchmarks that measure the GPU at hand: the empirical ceilings of the rooflines.

Families (each a module here, CUDA C sources next to them, launched through CuPy on torch's stream):
    dram      read (reduction), write (fill), copy (y = x) and triad (a = b + s*c), plus torch's copy_
    cache     working-set sweep, 8 KiB to beyond 4x L2 (L1, L2 and DRAM plateaus)      [memory.py]
    smem      shared-memory bandwidth, conflict-free 16-byte reads                      [memory.py]
    fma       FP32, FP64 and packed FP16x2 FMA rates                                    [compute.py]
    mma       tensor cores through the suite's own mma.sync (fp16, bf16, int8)          [compute.py]
    cublas    tensor-core rates through cuBLAS (torch.matmul, _scaled_mm, _int_mm)       [cublas.py]
    launch    launch overhead: stream launches, CUDA-graph replay, empty-kernel duration [launch.py]
    latency   pointer-chase latency of L1, L2 and DRAM in cycles and ns                 [latency.py]
    transfer  host<->device bandwidth, pinned and pageable                              [transfer.py]
    sweep     mixbench-style arithmetic-intensity sweep (the empirical roofline curve)   [sweep.py]

Each reports entries {name, value, unit, datasheet, percent_of_datasheet, method, params, telemetry,
flags} (see bench.micro.common.make_entry); tensor rates are measured burst and sustained
(bench.micro.rates), cache roofs are read off plateaus (bench.micro.plateau); bench.micro.ceilings
assembles the ceilings file (each roof the best sustained figure of its hardware rate) and
bench.commands.micro_cli is `gpubench micro`. The pure parts (FLOP/byte accounting, the pointer-chase
permutation, the ceilings assembly) need neither torch's CUDA nor a GPU and are tested on the CPU.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

# Family name -> module (under bench.micro) whose `run(ctx)` measures it, in the order they run.
FAMILIES: dict[str, str] = {
    "dram": "memory",
    "cache": "memory",
    "smem": "memory",
    "fma": "compute",
    "mma": "compute",
    "cublas": "cublas",
    "launch": "launch",
    "latency": "latency",
    "transfer": "transfer",
    "sweep": "sweep",
}


def cuda_sources() -> list[Path]:
    """The .cu files of the micro-benchmarks (bench.cpucheck.nvrtc.cuda_sources scans kernels/ only)."""
    return sorted(HERE.glob("*.cu"))
