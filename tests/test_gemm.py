"""gemm specifics on the CPU: accounting, inputs, the Triton variants in the interpreter (compiled for the
GPU: tests/test_compile_gate.py), NVRTC reports of the CUDA sources, the CUDA kernels under a host
emulation, bad inputs, and wrong kernels rejected."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from gpubench.bench.cpucheck import nvrtc  # noqa: E402
from gpubench.bench.measure.correctness import CorrectnessError, check_variant  # noqa: E402
from gpubench.kernels.gemm import WORKLOAD, config  # noqa: E402
from gpubench.kernels.gemm import triton_kernels as tk  # noqa: E402
from gpubench.kernels.gemm.validate import matmul_tf32  # noqa: E402
from gpubench.kernels.workload import Variant  # noqa: E402

CPU = torch.device("cpu")
GEMM_DIR = Path(config.__file__).parent
REPO = GEMM_DIR.parents[1]


def _s(M, N, K):
    return {"M": M, "N": N, "K": K}


# ---- accounting and inputs ----


def test_flops_and_bytes_by_hand():
    assert WORKLOAD.flops(_s(2, 3, 4)) == 2 * 2 * 3 * 4
    # A 2x4 + B 4x3 + C 2x3 = 8 + 12 + 6 = 26 elements
    assert WORKLOAD.bytes(_s(2, 3, 4), "fp32") == 26 * 4
    assert WORKLOAD.bytes(_s(2, 3, 4), "tf32") == 26 * 4
    assert WORKLOAD.bytes(_s(2, 3, 4), "bf16") == 26 * 2
    assert WORKLOAD.bytes(_s(4096, 4096, 4096), "fp16") == 3 * 4096 * 4096 * 2


def test_shape_sets():
    assert {"test", "bench", "quick"} <= set(WORKLOAD.shapes)
    bench = WORKLOAD.shapes["bench"]
    assert _s(8192, 8192, 8192) in bench and _s(4095, 4097, 4093) in bench
    assert _s(1, 8192, 8192) in bench and _s(16, 8192, 8192) in bench
    assert all(s in bench for s in WORKLOAD.shapes["quick"])
    assert WORKLOAD.uses_tensor_cores


def test_inputs_are_seeded_order_one_and_carry_the_tf32_flag():
    a, b, flag = WORKLOAD.make_inputs(_s(64, 48, 512), "fp32", CPU, 3)
    a2, b2, _ = WORKLOAD.make_inputs(_s(64, 48, 512), "fp32", CPU, 3)
    assert flag is False and torch.equal(a, a2) and torch.equal(b, b2)
    assert a.shape == (64, 512) and b.shape == (512, 48) and a.dtype == torch.float32
    c = a.double() @ b.double()
    assert 0.7 < float(c.std()) < 1.3  # K^-1/4 on each input keeps C ~ N(0, 1)
    assert WORKLOAD.make_inputs(_s(4, 4, 4), "tf32", CPU, 0)[2] is True
    a, b, flag = WORKLOAD.make_inputs(_s(4, 4, 4), "bf16", CPU, 0)
    assert a.dtype == b.dtype == torch.bfloat16 and flag is False


def test_reference_by_hand():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    out = WORKLOAD.reference(a, b, False)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[19.0, 22.0], [43.0, 50.0]]))
    assert WORKLOAD.reference(a.half(), b.half(), False).dtype == torch.float16


def test_matmul_tf32_switch_restores_the_setting():
    m = torch.backends.cuda.matmul
    before = m.allow_tf32
    for allowed in (True, False):
        with matmul_tf32(allowed):
            assert m.allow_tf32 is allowed
        assert m.allow_tf32 == before
    with pytest.raises(RuntimeError, match="boom"), matmul_tf32(not before):
        raise RuntimeError("boom")
    assert m.allow_tf32 == before


# ---- the Triton variants in the interpreter ----


@pytest.mark.parametrize("fn", [tk.matmul_tiled, tk.matmul_persistent_tma])
def test_triton_exact_on_small_integers(fn):
    """Integer-valued fp32 data: every product and sum is exact, so the result must be exact."""
    g = torch.Generator().manual_seed(0)
    a = torch.randint(-3, 4, (72, 40), generator=g).float()
    b = torch.randint(-3, 4, (40, 96), generator=g).float()
    assert torch.equal(fn(a, b, False), a @ b)


@pytest.mark.parametrize("vname", ["triton", "triton_persistent_tma"])
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_triton_variants_on_more_tiles(vname, dtype):
    """Several groups and a partial last group (interpreter tile 32, group of 3 rows), many K steps."""
    v = WORKLOAD.variant(vname)
    for shape in (_s(160, 104, 72), _s(130, 96, 264)):
        assert v.skip_reason(CPU, shape, dtype) is None
        check_variant(WORKLOAD, v, shape, dtype, CPU)


def test_bf16_and_tma_alignment_skip_with_reasons():
    shape = _s(64, 64, 64)
    for vname in ("triton", "triton_persistent_tma"):
        reason = WORKLOAD.variant(vname).skip_reason(CPU, shape, "bf16")
        assert "11584" in reason and "GPU only" in reason
    tma = WORKLOAD.variant("triton_persistent_tma")
    assert "multiples of 8" in tma.skip_reason(CPU, _s(33, 65, 17), "fp16")
    assert "multiples of 4" in tma.skip_reason(CPU, _s(8, 6, 8), "fp32")
    assert tma.skip_reason(CPU, _s(8, 8, 4), "fp32") is None
    with pytest.raises(ValueError, match="16-byte aligned row strides"):
        tk.matmul_persistent_tma(torch.randn(8, 5), torch.randn(5, 8), False)


def test_triton_autotune_lists_per_architecture():
    """Hopper, Ampere and the interpreter each have their own lists; the interpreter's has one entry."""
    assert config.triton_lists(CPU).half == (config.INTERPRETER_TILE,)
    assert len(config.tma_lists(CPU).fp32) == 1
    hopper, ampere = config._HOPPER, config._AMPERE
    assert (128, 256, 64) in {(t.block_m, t.block_n, t.block_k) for t in hopper.half}
    for lists in (hopper, ampere, config._HOPPER_TMA, config._HOPPER_TMA_CUDA13):
        for tiles in (lists.half, lists.tf32, lists.fp32):
            assert 1 <= len(tiles) <= 6  # short lists: every bench shape autotunes once
            for t in tiles:
                for n in (t.block_m, t.block_n, t.block_k):
                    assert n & (n - 1) == 0  # powers of two
                assert t.num_warps in (4, 8) and t.num_stages >= 2


@pytest.mark.parametrize("fn", [tk.matmul_tiled, tk.matmul_persistent_tma])
def test_degenerate_sizes(fn):
    assert fn(torch.randn(0, 8), torch.randn(8, 8), False).shape == (0, 8)
    out = fn(torch.randn(4, 0), torch.randn(0, 8), False)
    assert out.shape == (4, 8) and torch.count_nonzero(out) == 0


# ---- wrong kernels are rejected ----


def _drop_last_k(a, b, allow_tf32):
    """Off by one in the K loop: the last K column/row is never accumulated."""
    return tk.matmul_tiled(a[:, :-1].contiguous(), b[:-1].contiguous(), allow_tf32)


def _transposed(a, b, allow_tf32):
    return tk.matmul_tiled(a, b, allow_tf32).t().contiguous()


def _tf32_leak(a, b, allow_tf32):
    """fp32 computed with TF32 inputs (10-bit mantissa, truncated): what a TF32 leak into fp32 looks like."""
    mask = torch.tensor(-(1 << 13), dtype=torch.int32)  # keep the sign, exponent and 10 mantissa bits
    a10 = (a.view(torch.int32) & mask).view(torch.float32)
    b10 = (b.view(torch.int32) & mask).view(torch.float32)
    return (a10.double() @ b10.double()).float()


@pytest.mark.parametrize(
    "fn,shape,dtype",
    [
        (_drop_last_k, _s(33, 65, 17), "fp32"),
        (_drop_last_k, _s(64, 64, 64), "fp16"),
        (_drop_last_k, _s(16, 64, 200), "tf32"),
        (_transposed, _s(64, 64, 64), "fp32"),
        (_tf32_leak, _s(64, 64, 512), "fp32"),
    ],
)
def test_wrong_kernels_are_rejected(fn, shape, dtype):
    with pytest.raises(CorrectnessError, match="differs from the reference"):
        check_variant(WORKLOAD, Variant("wrong", "triton", fn), shape, dtype, CPU)


def test_tf32_leak_passes_the_tf32_tolerance():
    """The same TF32-rounded computation is acceptable when the dtype allows TF32."""
    check_variant(WORKLOAD, Variant("tf32", "torch", _tf32_leak), _s(64, 64, 512), "tf32", CPU)


# ---- bad input ----


@pytest.mark.parametrize(
    "fn",
    [tk.matmul_tiled, tk.matmul_persistent_tma, WORKLOAD.variant("torch").fn],
    ids=["triton", "tma", "torch"],
)
def test_bad_inputs_get_clear_errors(fn):
    a = torch.randn(8, 16)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        fn(a, torch.randn(8, 8), False)
    with pytest.raises(ValueError, match="must be 2-D"):
        fn(torch.randn(2, 8, 16), torch.randn(16, 8), False)
    with pytest.raises(ValueError, match="b must be 2-D"):
        fn(a, torch.randn(16), False)
    with pytest.raises(TypeError, match="dtype"):
        fn(a, torch.randn(16, 8, dtype=torch.float16), False)
    with pytest.raises(TypeError, match="dtype"):
        fn(torch.ones(8, 16, dtype=torch.int32), torch.ones(16, 8, dtype=torch.int32), False)
    with pytest.raises(ValueError, match="contiguous"):
        fn(torch.randn(16, 8).t(), torch.randn(16, 8), False)
    with pytest.raises(TypeError, match="torch.Tensor"):
        fn([[1.0]], [[1.0]], False)
    with pytest.raises(TypeError, match="allow_tf32 must be a bool"):
        fn(a, torch.randn(16, 8), 1)
    with pytest.raises(ValueError, match="float32 inputs only"):
        fn(a.half(), torch.randn(16, 8).half(), True)


def test_cuda_variants_refuse_cpu_tensors_before_touching_cuda():
    from gpubench.kernels.gemm import cupy_kernels

    a, b = torch.randn(8, 16), torch.randn(16, 8)
    for fn in (
        cupy_kernels.gemm_naive,
        cupy_kernels.gemm_smem,
        cupy_kernels.gemm_simt,
        cupy_kernels.gemm_mma,
    ):
        with pytest.raises(ValueError, match="needs a cuda tensor"):
            fn(a, b, False)


def test_supported_reasons():
    big, small = _s(4096, 4096, 4096), _s(2048, 2048, 2048)
    for vname in ("cuda_naive", "cuda_smem"):
        v = WORKLOAD.variant(vname)
        assert "too slow to be worth timing" in v.supported(CPU, big, "fp32")
        assert v.supported(CPU, small, "bf16") is None  # 2^33 itself still runs
        assert "CUDA device" in v.skip_reason(CPU, small, "fp32")
    simt = WORKLOAD.variant("cuda_simt")
    assert simt.supported(CPU, big, "fp32") is None
    assert simt.supported(CPU, big, "tf32") and simt.supported(CPU, big, "fp16")
    mma = WORKLOAD.variant("cuda_mma")
    assert mma.supported(CPU, big, "fp16") is None and mma.supported(CPU, big, "bf16") is None
    assert "fp16/bf16 only" in mma.supported(CPU, big, "fp32")
    assert WORKLOAD.variant("torch").skip_reason(CPU, big, "bf16") is None


def test_importing_the_workload_loads_neither_torch_nor_triton():
    code = "import sys, kernels.gemm; print('torch' in sys.modules, 'triton' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


# ---- CUDA sources: NVRTC ----

try:
    nvrtc.load_library()
    HAVE_NVRTC = True
except nvrtc.NvrtcUnavailable:  # pragma: no cover - the test extra installs it
    HAVE_NVRTC = False

EXPECTED_KERNELS = {
    "gemm_simple.cu": {f"gemm_{k}_{d}" for k in ("naive", "smem") for d in ("fp32", "fp16", "bf16")},
    "gemm_simt.cu": {"gemm_simt_fp32_vec4", "gemm_simt_fp32_scalar"},
    "gemm_mma.cu": {f"gemm_mma_{d}_{f}" for d in ("fp16", "bf16") for f in ("aligned", "any")},
}


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name", sorted(EXPECTED_KERNELS))
def test_cuda_sources_compile_without_spills(name, arch):
    result = nvrtc.compile_file(GEMM_DIR / name, arch)
    assert {k.name for k in result.kernels} == EXPECTED_KERNELS[name], result.log
    assert not result.spills, f"register spills in {result.spills} ({arch}):\n{result.log}"
    for k in result.kernels:
        assert 0 < k.registers <= 255 and k.stack_bytes == 0
        if name != "gemm_simple.cu":  # __launch_bounds__(256, 2): two blocks per SM
            assert k.registers <= 128, k
        if name == "gemm_mma.cu":
            assert k.smem_bytes <= 48 * 1024  # static shared memory, no opt-in needed


def test_config_mirrors_the_compiled_tile_constants():
    def const(name, text):
        return int(re.search(rf"constexpr int {name} = (\d+);", text).group(1))

    simple = (GEMM_DIR / "gemm_simple.cu").read_text()
    simt = (GEMM_DIR / "gemm_simt.cu").read_text()
    mma = (GEMM_DIR / "gemm_mma.cu").read_text()
    assert const("kSmemTile", simple) == config.SMEM_TILE
    assert (const("kSimtBM", simt), const("kSimtBN", simt), const("kSimtBK", simt)) == config.SIMT_TILE
    assert const("kSimtThreads", simt) == config.SIMT_THREADS
    assert (const("kMmaBM", mma), const("kMmaBN", mma), const("kMmaBK", mma)) == config.MMA_TILE
    assert const("kMmaStages", mma) == config.MMA_STAGES and const("kMmaThreads", mma) == config.MMA_THREADS


def test_launch_plans():
    from gpubench.kernels.gemm.cupy_kernels import plan

    p = plan("simt", "fp32", 300, 264, 72)
    assert p.kernel == "gemm_simt_fp32_vec4" and p.grid == (3 * 3,) and p.block == (256,)
    assert plan("simt", "fp32", 300, 263, 72).kernel == "gemm_simt_fp32_scalar"
    assert plan("simt", "fp32", 300, 264, 72, aligned=False).kernel == "gemm_simt_fp32_scalar"
    assert plan("mma", "bf16", 8, 16, 24).kernel == "gemm_mma_bf16_aligned"
    assert plan("mma", "bf16", 8, 16, 20).kernel == "gemm_mma_bf16_any"
    p = plan("naive", "fp16", 33, 65, 17)
    assert p.grid == (5, 3) and p.block == (16, 16) and p.group_m is None
    with pytest.raises(ValueError, match="fp32 only"):
        plan("simt", "fp16", 8, 8, 8)
    with pytest.raises(ValueError, match="grid limit"):
        plan("smem", "fp32", 32 * 65536, 8, 8)


# ---- CUDA kernels under a host emulation ----
# The kernels are compiled for the CPU with g++ against a small CUDA emulation: one OS thread per CUDA
# thread, blocks in turn, __syncthreads as a barrier; cp.async as a synchronous copy with zero fill;
# ldmatrix and mma.sync.m16n8k16 as warp collectives built from the PTX ISA's fragment layouts (lanes
# publish their operands at a warp barrier, each lane computes its own result). The .cu files let the
# emulation replace their PTX wrappers (GPUBENCH_EMULATED_PTX). This checks indexing, swizzles, the
# pipeline's stage bookkeeping, ragged-edge zero fill, grouped tile order and fragment bookkeeping;
# real execution and speed are for tests/gpu/test_gemm_gpu.py.

EMU_HEADER = r"""
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_block_barrier = nullptr;
inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
#define __launch_bounds__(...)
using std::min;
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }

struct EmuWarp {
  std::barrier<> bar{32};
  const unsigned char* ptr[32];
  unsigned a[32][4], b[32][2];
  float c[32][4];
};
inline std::vector<std::unique_ptr<EmuWarp>> emu_warps;
inline EmuWarp& my_warp() { return *emu_warps[threadIdx.x / 32]; }

#define GPUBENCH_EMULATED_PTX 1
inline void cp_async16(void* dst, const void* src, int bytes) {
  std::memset(dst, 0, 16);
  std::memcpy(dst, src, bytes);
}
inline void cp_async16(void* dst, const void* src, bool ok) { cp_async16(dst, src, ok ? 16 : 0); }
inline void cp_async4(void* dst, const void* src, bool ok) {
  std::memset(dst, 0, 4);
  if (ok) std::memcpy(dst, src, 4);
}
inline void cp_async_wait_all() {}
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}

inline unsigned emu_ld16(const unsigned char* p, unsigned i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}
// ldmatrix .x4: lanes 8j..8j+7 give the row addresses of matrix j; lane l receives in register j the
// elements (l/4, 2(l%4)) and (l/4, 2(l%4)+1) of matrix j, or with .trans (2(l%4), l/4), (2(l%4)+1, l/4).
inline void emu_ldmatrix(const void* p, unsigned (&r)[4], bool trans) {
  EmuWarp& w = my_warp();
  const unsigned l = threadIdx.x % 32;
  w.ptr[l] = static_cast<const unsigned char*>(p);
  w.bar.arrive_and_wait();
  for (int j = 0; j < 4; ++j) {
    const unsigned char* row = w.ptr[8 * j + l / 4];
    const unsigned char* row0 = w.ptr[8 * j + 2 * (l % 4)];
    const unsigned char* row1 = w.ptr[8 * j + 2 * (l % 4) + 1];
    if (!trans) r[j] = emu_ld16(row, 2 * (l % 4)) | (emu_ld16(row, 2 * (l % 4) + 1) << 16);
    else r[j] = emu_ld16(row0, l / 4) | (emu_ld16(row1, l / 4) << 16);
  }
  w.bar.arrive_and_wait();
}
inline void ldmatrix_x4(const void* p, unsigned (&r)[4]) { emu_ldmatrix(p, r, false); }
inline void ldmatrix_x4_trans(const void* p, unsigned (&r)[4]) { emu_ldmatrix(p, r, true); }

template <class T> inline float emu_val(unsigned bits) { T v; v.bits = (uint16_t)bits; return to_float(v); }
// mma.m16n8k16 .row.col, f32 accumulators; g = lane/4, t = lane%4:
// A regs: (g, 2t..), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..); B regs: (2t.., g), (2t+8.., g);
// C/D: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
template <class T>
inline void mma_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  EmuWarp& w = my_warp();
  const unsigned l = threadIdx.x % 32;
  for (int i = 0; i < 4; ++i) { w.a[l][i] = a[i]; w.c[l][i] = d[i]; }
  w.b[l][0] = b[0]; w.b[l][1] = b[1];
  w.bar.arrive_and_wait();
  float A[16][16], B[16][8], C[16][8];
  for (int L = 0; L < 32; ++L) {
    const int g = L / 4, t = L % 4;
    const int ar[4] = {g, g + 8, g, g + 8}, ac[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
    for (int r = 0; r < 4; ++r) {
      A[ar[r]][ac[r]] = emu_val<T>(w.a[L][r] & 0xffff);
      A[ar[r]][ac[r] + 1] = emu_val<T>(w.a[L][r] >> 16);
    }
    for (int r = 0; r < 2; ++r) {
      B[2 * t + 8 * r][g] = emu_val<T>(w.b[L][r] & 0xffff);
      B[2 * t + 8 * r + 1][g] = emu_val<T>(w.b[L][r] >> 16);
    }
    C[g][2 * t] = w.c[L][0];
    C[g][2 * t + 1] = w.c[L][1];
    C[g + 8][2 * t] = w.c[L][2];
    C[g + 8][2 * t + 1] = w.c[L][3];
  }
  const int g = l / 4, t = l % 4;
  const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
  for (int e = 0; e < 4; ++e) {
    float s = C[rows[e]][cols[e]];
    for (int k = 0; k < 16; ++k) s += A[rows[e]][k] * B[k][cols[e]];
    d[e] = s;
  }
  w.bar.arrive_and_wait();
}

inline void emu_launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  gridDim = grid;
  blockDim = block;
  const unsigned n = block.x * block.y;
  for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
      std::barrier<> bar(n);
      emu_block_barrier = &bar;
      emu_warps.clear();
      for (unsigned w = 0; w < (n + 31) / 32; ++w) emu_warps.push_back(std::make_unique<EmuWarp>());
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < n; ++t)
        threads.emplace_back([&, t, bx, by] {
          threadIdx.x = t % block.x;
          threadIdx.y = t / block.x;
          blockIdx.x = bx;
          blockIdx.y = by;
          body();
        });
      for (auto& th : threads) th.join();
    }
}
"""

EMU_MAIN = r"""
// usage: gemm_emu KERNEL ELEM_BYTES M N K GRID_X GRID_Y BLOCK_X BLOCK_Y GROUP_M < A B > C
#include "emu.h"
#include <gpubench/types.cuh>
#include "gemm_simple.cu"
#include "gemm_simt.cu"
#include "gemm_mma.cu"
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

using Fn = void (*)(const void*, const void*, void*, int, int, int, int);
#define K6(NAME, T)                                                      \
  {#NAME, [](const void* a, const void* b, void* c, int M, int N, int K, int) { \
     NAME((const T*)a, (const T*)b, (T*)c, M, N, K);                    \
   }}
#define K7(NAME, T)                                                        \
  {#NAME, [](const void* a, const void* b, void* c, int M, int N, int K, int g) { \
     NAME((const T*)a, (const T*)b, (T*)c, M, N, K, g);                   \
   }}

int main(int argc, char** argv) {
  if (argc != 11) return 2;
  static const std::map<std::string, Fn> table = {
      K6(gemm_naive_fp32, float), K6(gemm_naive_fp16, f16), K6(gemm_naive_bf16, bf16),
      K6(gemm_smem_fp32, float), K6(gemm_smem_fp16, f16), K6(gemm_smem_bf16, bf16),
      K7(gemm_simt_fp32_vec4, float), K7(gemm_simt_fp32_scalar, float),
      K7(gemm_mma_fp16_aligned, f16), K7(gemm_mma_fp16_any, f16),
      K7(gemm_mma_bf16_aligned, bf16), K7(gemm_mma_bf16_any, bf16)};
  auto it = table.find(argv[1]);
  if (it == table.end()) return 3;
  const size_t s = atoi(argv[2]);
  const int M = atoi(argv[3]), N = atoi(argv[4]), K = atoi(argv[5]);
  const dim3 grid{(unsigned)atoi(argv[6]), (unsigned)atoi(argv[7]), 1};
  const dim3 block{(unsigned)atoi(argv[8]), (unsigned)atoi(argv[9]), 1};
  const int group_m = atoi(argv[10]);
  const size_t a_bytes = M * K * s, b_bytes = K * N * s, c_bytes = M * N * s;
  std::vector<float4> A(a_bytes / 16 + 1), B(b_bytes / 16 + 1), C(c_bytes / 16 + 1);  // 16-byte aligned
  if (fread(A.data(), 1, a_bytes, stdin) != a_bytes) return 4;
  if (fread(B.data(), 1, b_bytes, stdin) != b_bytes) return 4;
  std::memset(C.data(), 0xff, C.size() * 16);  // NaN in every dtype: outputs never written show up
  emu_launch(grid, block, [&] { it->second(A.data(), B.data(), C.data(), M, N, K, group_m); });
  fwrite(C.data(), 1, c_bytes, stdout);
  return 0;
}
"""

CXX = shutil.which("g++")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    if CXX is None:
        pytest.skip("needs g++ (C++20) to build the host emulation")
    d = tmp_path_factory.mktemp("gemm_emu")
    (d / "emu.h").write_text(EMU_HEADER)
    (d / "main.cpp").write_text(EMU_MAIN)
    exe = d / "gemm_emu"
    cmd = [
        CXX,
        "-std=c++20",
        "-O1",
        "-pthread",
        f"-I{d}",
        f"-I{REPO / 'tests' / 'support' / 'cuda_host'}",  # host stand-in for gpubench/types.cuh
        f"-I{REPO / 'kernels' / 'cuda_include'}",  # gpubench/mma_common.cuh, after the stand-in
        f"-I{GEMM_DIR}",
        str(d / "main.cpp"),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"host build failed:\n{proc.stderr[-4000:]}")
    return exe


def _emulate(exe, kind, dtype, shape, aligned=True):
    from gpubench.kernels.gemm.cupy_kernels import plan

    a, b, _ = WORKLOAD.make_inputs(shape, dtype, CPU, 11)
    M, N, K = shape["M"], shape["N"], shape["K"]
    suffix = "fp32" if dtype == "tf32" else dtype
    p = plan(kind, suffix, M, N, K, aligned=aligned)
    grid = (*p.grid, 1)[:2]
    block = (*p.block, 1)[:2]
    raw = lambda t: t.view(torch.int16 if t.element_size() == 2 else torch.int32).numpy().tobytes()  # noqa: E731
    argv = [
        str(exe),
        p.kernel,
        str(a.element_size()),
        str(M),
        str(N),
        str(K),
        *map(str, grid),
        *map(str, block),
    ]
    proc = subprocess.run(
        [*argv, str(p.group_m or 0)], input=raw(a) + raw(b), capture_output=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = torch.frombuffer(bytearray(proc.stdout), dtype=a.dtype).reshape(M, N)
    return p.kernel, out, WORKLOAD.reference(a, b, False)


EMU_CASES = [
    # kind, dtype, shape, aligned
    ("naive", "fp32", _s(7, 13, 5), True),
    ("naive", "fp16", _s(33, 65, 17), True),
    ("naive", "bf16", _s(100, 37, 129), True),
    ("smem", "fp32", _s(100, 37, 129), True),
    ("smem", "fp16", _s(33, 72, 40), True),
    ("smem", "bf16", _s(1, 200, 136), True),
    ("simt", "fp32", _s(300, 264, 72), True),  # vec4, 3x3 tiles, 9 K steps
    ("simt", "fp32", _s(1100, 136, 16), True),  # 9 row tiles: a full group of 8 and a partial one
    ("simt", "fp32", _s(257, 129, 33), True),  # scalar: ragged everything
    ("simt", "fp32", _s(64, 64, 64), False),  # scalar because of alignment
    ("mma", "fp16", _s(300, 264, 72), True),  # aligned, 3 K tiles: the 3-stage ring wraps
    ("mma", "bf16", _s(136, 200, 104), True),  # aligned, 4 K tiles, ragged M and N
    ("mma", "fp16", _s(1100, 136, 40), True),  # two groups of row tiles
    ("mma", "fp16", _s(100, 37, 129), True),  # any: K and N not multiples of 8
    ("mma", "bf16", _s(257, 129, 33), True),
    ("mma", "bf16", _s(1, 1, 1), True),
    ("mma", "fp16", _s(64, 64, 64), False),  # any because of alignment
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind,dtype,shape,aligned",
    EMU_CASES,
    ids=[f"{k}-{d}-{s['M']}x{s['N']}x{s['K']}{'' if al else '-unaligned'}" for k, d, s, al in EMU_CASES],
)
def test_cuda_kernels_under_host_emulation(emulator, kind, dtype, shape, aligned):
    kernel, out, expected = _emulate(emulator, kind, dtype, shape, aligned)
    assert torch.isfinite(out).all(), f"{kernel} left outputs unwritten"
    WORKLOAD.check(out, expected, dtype)


@pytest.mark.slow
def test_host_emulation_catches_a_fragment_bug(emulator, tmp_path):
    """The emulation is sharp enough: B loaded without .trans (the classic layout slip) is caught."""
    src = (GEMM_DIR / "gemm_mma.cu").read_text()
    bad = src.replace(
        "ldmatrix_x4_trans(bs + b_offset(k, chunk), r);", "ldmatrix_x4(bs + b_offset(k, chunk), r);"
    )
    assert bad != src
    for name in ("gemm_simple.cu", "gemm_simt.cu"):
        shutil.copy(GEMM_DIR / name, tmp_path / name)
    (tmp_path / "gemm_mma.cu").write_text(bad)
    d = emulator.parent
    exe = tmp_path / "gemm_emu_bad"
    cmd = [
        CXX,
        "-std=c++20",
        "-O1",
        "-pthread",
        f"-I{d}",
        f"-I{REPO / 'tests' / 'support' / 'cuda_host'}",
        f"-I{REPO / 'kernels' / 'cuda_include'}",
        f"-I{tmp_path}",
    ]
    proc = subprocess.run([*cmd, str(d / "main.cpp"), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, out, expected = _emulate(exe, "mma", "fp16", _s(64, 64, 64))
    with pytest.raises(AssertionError):
        WORKLOAD.check(out, expected, "fp16")
