// int8 W8A8 GEMMs: C = (A * sa) @ (B * sb)^T with A [M][K] and B [N][K] int8, both row-major (K
// contiguous), int32 accumulation, then the epilogue: fp32 accumulator x sa (one value, or one per row
// of A) x sb (one value, or one per row of B = per output column), rounded once to fp16/bf16; the *_i32
// instantiations store the raw int32 accumulator instead (no scales), which the tests compare exactly.
//
// gemm_int8_dp4a_*: the simple version. 64x64 block tile, K step 32 bytes, 256 threads with a 4x4
//   micro-tile each (rows ty + 16 i, columns tx + 16 j), dp4a on 4-byte words from shared memory. Tiles
//   are filled byte by byte with bounds checks, so any M, N, K and alignment work.
// gemm_int8_mma_*: tensor cores through mma.sync.m16n8k32.row.col.s32.s8.s8.s32 (sm_80+): the 8-bit
//   pipeline of gpubench/byte_mma.cuh (which fp8_gemm.cu shares), with int32 accumulators.
#include <gpubench/types.cuh>
#include <gpubench/byte_mma.cuh>

// Mirrored by DP4A_TILE / DP4A_THREADS in config.py (the mma kernel's tile: gpubench/byte_mma.cuh).
constexpr int kDpBM = 64;
constexpr int kDpBN = 64;
constexpr int kDpBK = 32;
constexpr int kDpThreads = 256;
constexpr int kDpRow = kDpBK + 4;  // bytes; 9 words, so 16 consecutive rows hit 16 different banks
static_assert(kDpBM * kDpBK / 8 == kDpThreads, "each thread fills 8 bytes of A and 8 of B per K step");

#ifndef GPUBENCH_EMULATED_PTX
// c + the dot product of the four signed bytes of a and b.
__device__ __forceinline__ int dp4a_s8(int a, int b, int c) {
  int d;
  asm("dp4a.s32.s32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}
#endif  // GPUBENCH_EMULATED_PTX

// ---- dp4a ----
// Bytes [c, c + 8) of row r of an R x K int8 matrix into dst, zeros outside the matrix.
__device__ __forceinline__ void fill8(signed char* dst, const signed char* __restrict__ src, int R, int K,
                                      int r, int c) {
#pragma unroll
  for (int i = 0; i < 8; ++i) dst[i] = (r < R && c + i < K) ? src[(long long)r * K + c + i] : 0;
}

template <class OutT>
__device__ __forceinline__ void gemm_dp4a(const signed char* __restrict__ A, const signed char* __restrict__ B,
                                          const float* __restrict__ sa, const float* __restrict__ sb,
                                          OutT* __restrict__ C, int M, int N, int K, int a_rows, int b_rows,
                                          int group_m) {
  __align__(16) __shared__ signed char as[kDpBM * kDpRow];
  __align__(16) __shared__ signed char bs[kDpBN * kDpRow];
  int tm, tn;
  grouped_tile((M + kDpBM - 1) / kDpBM, (N + kDpBN - 1) / kDpBN, group_m, tm, tn);
  const int m0 = tm * kDpBM, n0 = tn * kDpBN;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int fr = threadIdx.x / 4, fc = (threadIdx.x % 4) * 8;  // the 8 bytes this thread fills
  int acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0;

  for (int k0 = 0; k0 < K; k0 += kDpBK) {
    fill8(as + fr * kDpRow + fc, A, M, K, m0 + fr, k0 + fc);
    fill8(bs + fr * kDpRow + fc, B, N, K, n0 + fr, k0 + fc);
    __syncthreads();
#pragma unroll
    for (int w = 0; w < kDpBK / 4; ++w) {
      int a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = *reinterpret_cast<const int*>(as + (ty + 16 * i) * kDpRow + 4 * w);
        b[i] = *reinterpret_cast<const int*>(bs + (tx + 16 * i) * kDpRow + 4 * w);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = dp4a_s8(a[i], b[j], acc[i][j]);
    }
    __syncthreads();  // the tiles are refilled next step
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int row = m0 + ty + 16 * i, col = n0 + tx + 16 * j;
      if (row < M && col < N)
        C[(long long)row * N + col] = Epilogue<OutT>::apply(acc[i][j], sa, sb, a_rows, b_rows, row, col);
    }
}

#define GPUBENCH_INT8_GEMM(OutT, NAME)                                                                   \
  extern "C" __global__ void __launch_bounds__(kDpThreads)                                              \
      gemm_int8_dp4a_##NAME(const signed char* A, const signed char* B, const float* sa, const float* sb, \
                            OutT* C, int M, int N, int K, int a_rows, int b_rows, int group_m) {        \
    gemm_dp4a<OutT>(A, B, sa, sb, C, M, N, K, a_rows, b_rows, group_m);                                 \
  }                                                                                                      \
  extern "C" __global__ void __launch_bounds__(kMmaThreads, 2)                                          \
      gemm_int8_mma_##NAME(const signed char* A, const signed char* B, const float* sa, const float* sb,  \
                           OutT* C, int M, int N, int K, int a_rows, int b_rows, int group_m) {         \
    gemm_mma<OutT, MmaS8>(A, B, sa, sb, C, M, N, K, a_rows, b_rows, group_m);                                  \
  }

GPUBENCH_INT8_GEMM(f16, fp16)
GPUBENCH_INT8_GEMM(bf16, bf16)
GPUBENCH_INT8_GEMM(int, i32)
