// fp8 e4m3 GEMMs: C = (A * sa) @ (B * sb)^T with A [M][K] and B [N][K] float8_e4m3fn, both row-major (K
// contiguous), one fp32 scale per tensor or per row (token / output column), fp32 accumulation, rounded
// once to fp16/bf16: the same formats, scales and layouts as the Triton kernels (triton_scaled.py) and
// torch._scaled_mm's inputs.
//
// gemm_fp8_mma_*: tensor cores through mma.sync.m16n8k32.row.col.f32.e4m3.e4m3.f32 (sm_89+), the 8-bit
//   pipeline of gpubench/byte_mma.cuh shared with the int8 kernel: the fragments of e4m3 and s8 are laid
//   out alike (PTX ISA, "Matrix Fragments for mma.m16n8k32"), so only the instruction and the accumulator
//   type differ. The tensor cores add each instruction's products at reduced precision; the kernel keeps
//   the mma's fp32 accumulators across its whole K (32 deep a step): kernels/qmatmul/common.py's
//   accumulation model bounds the error that costs. One block an SM (__launch_bounds__(256, 1)): the fp32
//   accumulators and their conversion in the epilogue take 160 registers a thread in NVRTC 13's sm_90
//   build, and capped at 128 for two blocks it spilled 16 bytes.
#include <gpubench/types.cuh>
#include <gpubench/byte_mma.cuh>

#define GPUBENCH_FP8_GEMM(OutT, NAME)                                                                    \
  extern "C" __global__ void __launch_bounds__(kMmaThreads, 1)                                          \
      gemm_fp8_mma_##NAME(const signed char* A, const signed char* B, const float* sa, const float* sb,   \
                          OutT* C, int M, int N, int K, int a_rows, int b_rows, int group_m) {          \
    gemm_mma<OutT, MmaE4M3>(A, B, sa, sb, C, M, N, K, a_rows, b_rows, group_m);                         \
  }

GPUBENCH_FP8_GEMM(f16, fp16)
GPUBENCH_FP8_GEMM(bf16, bf16)
