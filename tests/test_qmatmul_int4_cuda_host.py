"""The CUDA C int4 weight-only GEMM (kernels/qmatmul/int4_gemm.cu) compiled for the CPU with the
thread-per-CUDA-thread emulator (tests/support/cuda_host/emu.h) and emulated PTX (cp.async, and mma.sync
m16n8k16 on fp16/bf16 with the PTX ISA's fragment layout, tests/support/cuda_host/mma_emu.h), launched with
the geometry the CuPy launcher plans, on the workload's own inputs (quant.py's packing and group scales, the
Triton kernel's): against the float64 reference at the kernels' tolerance, per group and per channel,
ragged tiles; a swapped nibble order is caught; its tile constants are the compiled ones; NVRTC builds it
for sm_80 and sm_90 without spills. Real execution is covered by tests/gpu."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gpubench import dtypes, kernels
from gpubench.bench.cpucheck import nvrtc
from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.qmatmul import config, cupy_int4
from gpubench.kernels.workload import torch_dtype

HERE = Path(__file__).parent / "support" / "cuda_host"
SRC = Path(kernels.__file__).parent / "qmatmul"
INCLUDE = Path(kernels.__file__).parent / "cuda_include"  # after HERE: its types.cuh stand-in comes first
CXX = shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the host emulation")
W = kernels.get("qmatmul_int4")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    exe = tmp_path_factory.mktemp("emu") / "qmatmul_int4_main"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", f"-I{HERE}", f"-I{INCLUDE}", f"-I{SRC}",
           str(HERE / "qmatmul_int4_main.cpp"), "-o", str(exe)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"host build failed:\n{proc.stderr[-3000:]}")
    return exe


def _run(binary, x, w_packed, w_scales, group):
    M, K = x.shape
    N = w_packed.shape[0]
    dtype = dtypes.name_of(x.dtype)
    p = cupy_int4.plan(dtypes.get(dtype).suffix, M, N, K, group)
    args = [p.kernel, p.grid[0], p.block[0], p.group_m, M, N, K, group]
    data = b"".join(t.contiguous().view(torch.uint8).numpy().tobytes() for t in (x, w_packed, w_scales))
    proc = subprocess.run([str(binary), *map(str, args)], input=data, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return torch.frombuffer(bytearray(proc.stdout), dtype=torch_dtype(dtype)).view(M, N)


# M, N, K, group: one row; per-channel on a ragged N; two groups a row with M over one tile; ragged both
CASES = [(1, 16, 64, 32), (17, 40, 96, 96), (70, 136, 128, 64), (65, 129, 256, 128)]


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("M,N,K,group", CASES)
def test_the_emulated_kernel_matches_the_reference(binary, dtype, M, N, K, group):
    shape = {"M": M, "N": N, "K": K, "group": group}
    inputs = W.make_inputs(shape, dtype, CPU, seed=M + N)
    got = _run(binary, *inputs[:4])
    tol = _common.KERNEL_TOLERANCES[dtype]
    torch.testing.assert_close(got.double(), W.reference(*inputs).double(), atol=tol.atol, rtol=tol.rtol)


@needs_cxx
@pytest.mark.slow
def test_swapped_nibbles_are_caught(binary):
    """The weights packed the other way round (even k in the high nibble) give another product."""
    shape = {"M": 17, "N": 40, "K": 96, "group": 96}
    x, w_packed, w_scales, group, *rest = W.make_inputs(shape, "fp16", CPU, seed=1)
    swapped = ((w_packed & 0xF) << 4) | (w_packed >> 4)
    got = _run(binary, x, swapped, w_scales, group)
    with pytest.raises(AssertionError):
        W.check(got, W.reference(x, w_packed, w_scales, group, *rest), "fp16", shape)


def test_the_tile_constants_are_the_ones_compiled_in():
    text = cupy_int4.SOURCE.read_text()
    found = {n: int(v) for n, v in re.findall(r"constexpr int (kI4\w+) = (\d+);", text)}
    assert (found["kI4BM"], found["kI4BN"], found["kI4BK"]) == config.INT4_MMA_TILE
    assert (found["kI4Stages"], found["kI4Threads"]) == (config.INT4_MMA_STAGES, config.INT4_MMA_THREADS)


def test_the_launch_plan_and_its_refusals():
    p = cupy_int4.plan("bf16", 130, 300, 4096, 128)
    assert p.kernel == "gemm_int4_mma_bf16" and p.grid == (3 * 3,) and p.block == (256,)
    assert cupy_int4.problem(4096, 4096) is None and cupy_int4.problem(96, 96) is None
    refused = (((4096, 16), "multiple of 32"), ((100, 100), "K must be"), ((64, 32, False), "aligned"))
    for args, what in refused:
        assert what in cupy_int4.problem(*args)
    with pytest.raises(ValueError, match="fp16 or bf16"):
        cupy_int4.plan("fp32", 1, 1, 32, 32)


@pytest.mark.slow
def test_nvrtc_builds_it_without_spills():
    """__launch_bounds__(256, 2): at most 128 registers, 21 KiB of shared memory (3 stages of X and W)."""
    try:
        nvrtc.load_library()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(str(exc))
    for arch in nvrtc.ARCHS:
        result = nvrtc.compile_file(cupy_int4.SOURCE, arch)
        assert len(result.kernels) == 2 and not result.spills, (arch, result.log[-2000:])
        assert all(k.registers <= 128 and k.smem_bytes == 21 * 1024 for k in result.kernels), arch
