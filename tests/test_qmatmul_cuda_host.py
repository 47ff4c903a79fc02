"""The CUDA C int8 GEMMs (kernels/qmatmul/int8_gemm.cu), compiled for the CPU with the thread-per-CUDA-
thread emulator (tests/support/cuda_host/emu.h) and emulated PTX (cp.async, dp4a, and mma.sync m16n8k32 with
the PTX ISA's fragment layout, tests/support/cuda_host/qmatmul_int8_main.cpp), launched with the geometry the
CuPy launcher plans: int32 results exact against torch's int32 matmul, the epilogue against the float64
reference, ragged edges zero-filled, every output written. Real execution is covered by tests/gpu."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gpubench import dtypes, kernels
from gpubench.bench.cpucheck import nvrtc
from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.qmatmul import cupy_int8, quant
from gpubench.kernels.workload import torch_dtype

HERE = Path(__file__).parent / "support" / "cuda_host"
SRC = Path(kernels.__file__).parent / "qmatmul"
CXX = shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the host emulation")
pytestmark = pytest.mark.slow  # host builds and emulated launches, and an NVRTC compile


def _build(folder: Path, *defines: str) -> Path:
    exe = folder / "qmatmul_int8_main"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", f"-I{HERE}", f"-I{SRC}", *defines,
           str(HERE / "qmatmul_int8_main.cpp"), "-o", str(exe)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"host build failed:\n{proc.stderr[-3000:]}")
    return exe


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("emu"))


def _run(binary, kind, out, a, sa, b, sb):
    """The emulated kernel's output, `out` (fp16, bf16, int32) as the launcher plans it."""
    M, K = a.shape
    N = b.shape[0]
    p = cupy_int8.plan(kind, dtypes.get(out).suffix, M, N, K)
    a_rows, b_rows = int(sa.numel() == M and M > 1), int(sb.numel() == N and N > 1)
    args = [p.kernel, p.grid[0], p.block[0], p.group_m, M, N, K, a_rows, b_rows]
    data = b"".join(t.contiguous().numpy().tobytes() for t in (a, b, sa, sb))
    proc = subprocess.run([str(binary), *map(str, args)], input=data, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return torch.frombuffer(bytearray(proc.stdout), dtype=torch_dtype(out)).view(M, N)


def _extreme(M, N, K, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(-128, 128, (M, K), generator=g, dtype=torch.int8)
    b = torch.randint(-128, 128, (N, K), generator=g, dtype=torch.int8)
    a[0], b[0] = 127, 127
    a[-1], b[-1] = -128, -128
    return a, b


# M, N, K: one tile, ragged tiles on every side, several K steps, a partial group of row tiles
CASES = [(1, 8, 16), (130, 136, 96), (33, 257, 48), (300, 70, 160)]


@needs_cxx
@pytest.mark.parametrize("kind", ["mma", "dp4a"])
@pytest.mark.parametrize("M,N,K", CASES)
def test_int32_accumulator_is_exact(binary, kind, M, N, K):
    a, b = _extreme(M, N, K, seed=M + N + K)
    got = _run(binary, kind, "int32", a, torch.ones(1), b, torch.ones(1))
    assert torch.equal(got, a.to(torch.int32) @ b.to(torch.int32).t())


@needs_cxx
def test_dp4a_takes_any_k(binary):
    a, b = _extreme(19, 21, 37, seed=1)
    got = _run(binary, "dp4a", "int32", a, torch.ones(1), b, torch.ones(1))
    assert torch.equal(got, a.to(torch.int32) @ b.to(torch.int32).t())


@needs_cxx
@pytest.mark.parametrize("kind", ["mma", "dp4a"])
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_epilogue_applies_row_and_column_scales(binary, kind, dtype):
    w = kernels.get("qmatmul_int8")
    shape = {"M": 130, "N": 72, "K": 64}
    a, sa, b, sb, a_deq, b_deq = w.make_inputs(shape, dtype, torch.device("cpu"), seed=9)
    got = _run(binary, kind, dtype, a, sa, b, sb)
    tol = _common.KERNEL_TOLERANCES[dtype]
    torch.testing.assert_close(got.double(), w.reference(a, sa, b, sb, a_deq, b_deq).double(),
                               atol=tol.atol, rtol=tol.rtol)  # fmt: skip
    # one scale per tensor on both sides
    x, wt = _common.unquantised(shape, dtype, torch.device("cpu"), 3)
    a, sa = quant.quantize_int8(x, "tensor")
    b, sb = quant.quantize_int8(wt, "tensor")
    want = _common.matmul64(quant.dequantize(a, sa), quant.dequantize(b, sb), torch_dtype(dtype))
    got = _run(binary, kind, dtype, a, sa, b, sb)
    torch.testing.assert_close(got.double(), want.double(), atol=tol.atol, rtol=tol.rtol)


@needs_cxx
def test_a_wrong_fragment_layout_is_caught(tmp_path):
    """With b0 and b1 read the other way round, the mma kernel's results are wrong: the emulation checks
    the kernel's fragment mapping, it does not merely mirror it."""
    wrong = _build(tmp_path, "-DGPUBENCH_EMU_SWAPPED_B")
    a, b = _extreme(33, 40, 64, seed=2)
    got = _run(wrong, "mma", "int32", a, torch.ones(1), b, torch.ones(1))
    assert not torch.equal(got, a.to(torch.int32) @ b.to(torch.int32).t())
    same = _run(wrong, "dp4a", "int32", a, torch.ones(1), b, torch.ones(1))  # no mma in it: unaffected
    assert torch.equal(same, a.to(torch.int32) @ b.to(torch.int32).t())


@pytest.mark.skipif(not nvrtc.cuda_sources(SRC), reason="no CUDA sources")
def test_mma_kernel_fits_two_blocks_per_sm():
    """__launch_bounds__(256, 2): at most 128 registers a thread and 36 KiB of static shared memory."""
    try:
        nvrtc.load_library()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(str(exc))
    for arch in nvrtc.ARCHS:
        result = nvrtc.compile_file(cupy_int8.SOURCE, arch)
        mma = [k for k in result.kernels if "_mma_" in k.name]
        assert len(mma) == 3 and not result.spills
        for k in mma:
            assert k.registers <= 128 and k.smem_bytes == 36 * 1024, (arch, k)
