"""The CUDA C int8 and fp8 GEMMs (kernels/qmatmul/int8_gemm.cu, fp8_gemm.cu), compiled for the CPU with the
thread-per-CUDA-thread emulator (tests/support/cuda_host/emu.h) and emulated PTX (cp.async, dp4a, and
mma.sync m16n8k32 s8 and e4m3 with the PTX ISA's fragment layout, tests/support/cuda_host/mma_emu.h),
launched with the geometry the CuPy launcher plans: int32 results exact against torch's int32 matmul, e4m3
decoded exactly (every one of the 256 codes against torch's), the epilogues against the float64 references
with both scale granularities, ragged edges zero-filled, every output written. Real execution is covered
by tests/gpu."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gpubench import dtypes, kernels
from gpubench.bench.cpucheck import nvrtc
from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.qmatmul import cupy_scaled, quant
from gpubench.kernels.workload import torch_dtype

HERE = Path(__file__).parent / "support" / "cuda_host"
SRC = Path(kernels.__file__).parent / "qmatmul"
INCLUDE = Path(kernels.__file__).parent / "cuda_include"  # after HERE: its types.cuh stand-in comes first
CXX = shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the host emulation")
pytestmark = pytest.mark.slow  # host builds and emulated launches, and an NVRTC compile


def _build(folder: Path, *defines: str) -> Path:
    exe = folder / "qmatmul_scaled_main"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", f"-I{HERE}", f"-I{INCLUDE}", f"-I{SRC}", *defines,
           str(HERE / "qmatmul_scaled_main.cpp"), "-o", str(exe)]  # fmt: skip
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
    p = cupy_scaled.plan(kind, dtypes.get(out).suffix, M, N, K)
    a_rows, b_rows = int(sa.numel() == M and M > 1), int(sb.numel() == N and N > 1)
    args = [p.kernel, p.grid[0], p.block[0], p.group_m, M, N, K, a_rows, b_rows]
    data = b"".join(t.contiguous().view(torch.uint8).numpy().tobytes() for t in (a, b, sa, sb))
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
        result = nvrtc.compile_file(cupy_scaled.SOURCE, arch)
        mma = [k for k in result.kernels if "_mma_" in k.name]
        assert len(mma) == 3 and not result.spills
        for k in mma:
            assert k.registers <= 128 and k.smem_bytes == 36 * 1024, (arch, k)


# ---- fp8 e4m3 ----


@needs_cxx
def test_every_e4m3_code_decodes_as_torch_decodes_it(binary):
    proc = subprocess.run([str(binary), "decode"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = torch.frombuffer(bytearray(proc.stdout), dtype=torch.float32)
    want = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).to(torch.float32)
    assert torch.equal(got.isnan(), want.isnan()) and int(want.isnan().sum()) == 2  # 0x7f and 0xff
    assert torch.equal(got[~got.isnan()], want[~want.isnan()])  # subnormals, +-0 and +-448 exactly


@needs_cxx
@pytest.mark.parametrize("name", ["qmatmul_fp8", "qmatmul_fp8_rowwise"])
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_fp8_mma_matches_the_reference(binary, name, dtype):
    """Both scale granularities; ragged tiles (130 x 72) and several K steps."""
    w = kernels.get(name)
    shape = {"M": 130, "N": 72, "K": 96}
    a, sa, b, sb, a_deq, b_deq = w.make_inputs(shape, dtype, torch.device("cpu"), seed=5)
    got = _run(binary, "fp8", dtype, a, sa, b, sb)
    tol = _common.kernel_tolerance(dtype, shape["K"], "fp8")
    torch.testing.assert_close(got.double(), w.reference(a, sa, b, sb, a_deq, b_deq).double(),
                               atol=tol.atol, rtol=tol.rtol)  # fmt: skip


@needs_cxx
def test_fp8_mma_multiplies_the_extreme_codes_exactly(binary):
    """Every finite code against every other: products of two e4m3 values are exact in fp32, so with unit
    scales and one nonzero term per output the kernel's output is the product rounded once to bf16."""
    codes = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn)
    finite = codes[~codes.to(torch.float32).isnan()]  # 254 codes: 0 and -0, subnormals, +-448
    K = 32
    a = torch.zeros(finite.numel(), K, dtype=torch.float8_e4m3fn)
    a[:, 5] = finite
    b = torch.zeros(finite.numel(), K, dtype=torch.float8_e4m3fn)
    b[:, 5] = finite
    one = torch.ones(1)
    got = _run(binary, "fp8", "bf16", a, one, b, one)
    want = (finite.to(torch.float64)[:, None] * finite.to(torch.float64)[None, :]).to(torch.bfloat16)
    assert torch.equal(got, want)


@pytest.mark.skipif(not nvrtc.cuda_sources(SRC), reason="no CUDA sources")
def test_fp8_kernel_compiles_for_both_targets_without_spills():
    """sm_90 runs it; sm_80 builds the stub the module needs there (its int8 kernels run on sm_80): the
    launcher refuses fp8 below sm_89. One block an SM: up to 255 registers, 36 KiB of shared memory."""
    try:
        nvrtc.load_library()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(str(exc))
    for arch in nvrtc.ARCHS:
        result = nvrtc.compile_file(cupy_scaled.FP8_SOURCE, arch)
        assert len(result.kernels) == 2 and not result.spills, (arch, result.log[-2000:])
        assert all(k.smem_bytes == 36 * 1024 for k in result.kernels), arch
