// Register-blocked SIMT SGEMM, C = A @ B in IEEE fp32 on the FMA units (no tensor cores, no TF32).
// A is MxK, B is KxN, C is MxN, all row-major.
//
// Block tile 128x128, K step 8, 256 threads; thread (ty, tx) = (tid / 16, tid % 16) owns an 8x8
// micro-tile made of rows {ty*4 .. ty*4+3, 64+ty*4 .. 64+ty*4+3} and the same pattern of columns with
// tx, so its shared-memory reads are two float4s per operand per k and a warp's reads are broadcasts
// (A) or two conflict-free wavefronts (B). Per k: 4 LDS.128 feed 64 FMAs.
//   Shared memory, double buffered: As[k][m] holds the A tile transposed (so a thread's 4 rows are one
//   float4), padded to 132 columns so the transposing stores hit distinct banks; Bs[k][n] as in memory.
//   The next K tile is copied global -> shared with cp.async (sm_80+) into the other buffer while the
//   current one is consumed (no staging registers, which the 64 accumulators need): one barrier per
//   K step.
//   Blocks walk the C tiles in grouped order (GROUP_M row tiles, then the next column) for L2 reuse.
// Two instantiations: *_vec4 needs N a multiple of 4 and 16-byte aligned pointers (16-byte copies of B,
// float4 stores of C); *_scalar copies and stores element by element and takes any sizes. Both zero-fill
// ragged tiles (A is always copied 4 bytes at a time because its tile is transposed on the way in).
#include <gpubench/types.cuh>
#include <gpubench/mma_common.cuh>  // grouped_tile: the grouped order of output tiles

// Mirrored by SIMT_TILE / SIMT_THREADS in config.py.
constexpr int kSimtBM = 128;
constexpr int kSimtBN = 128;
constexpr int kSimtBK = 8;
constexpr int kSimtThreads = 256;
constexpr int kAPad = 4;

// cp.async (sm_80+): global -> shared without a trip through registers; `valid == false` copies zero
// bytes and zero-fills the destination (the source address is then not read). A host emulation may
// define GPUBENCH_EMULATED_PTX and provide its own.
#ifndef GPUBENCH_EMULATED_PTX
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
#endif  // GPUBENCH_EMULATED_PTX

// Stage the K tile starting at k0 into the buffers As, Bs. A: row a_row, columns k0+a_k .. +3, written
// transposed (4-byte copies). B: row k0+b_k, columns n0+b_col .. +3 (one 16-byte copy when VEC).
template <bool VEC>
__device__ __forceinline__ void stage_tile(const float* __restrict__ A, const float* __restrict__ B,
                                           float (*As)[kSimtBM + kAPad], float (*Bs)[kSimtBN], int M, int N,
                                           int K, int m0, int n0, int k0, int a_row, int a_k, int b_k,
                                           int b_col) {
  const int r = m0 + a_row;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int k = k0 + a_k + i;
    const bool ok = r < M && k < K;
    cp_async4(&As[a_k + i][a_row], ok ? A + (long long)r * K + k : A, ok);
  }
  const int kb = k0 + b_k, c = n0 + b_col;
  if (VEC) {  // N % 4 == 0 and c % 4 == 0: the 4 columns are wholly inside or wholly outside
    const bool ok = kb < K && c < N;
    cp_async16(&Bs[b_k][b_col], ok ? B + (long long)kb * N + c : B, ok);
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const bool ok = kb < K && c + j < N;
      cp_async4(&Bs[b_k][b_col + j], ok ? B + (long long)kb * N + c + j : B, ok);
    }
  }
}

template <bool VEC>
__device__ __forceinline__ void gemm_simt(const float* __restrict__ A, const float* __restrict__ B,
                                          float* __restrict__ C, int M, int N, int K, int group_m) {
  __shared__ __align__(16) float As[2][kSimtBK][kSimtBM + kAPad];
  __shared__ __align__(16) float Bs[2][kSimtBK][kSimtBN];

  int tile_m, tile_n;
  grouped_tile((M + kSimtBM - 1) / kSimtBM, (N + kSimtBN - 1) / kSimtBN, group_m, tile_m, tile_n);
  const int m0 = tile_m * kSimtBM, n0 = tile_n * kSimtBN;
  const int tid = threadIdx.x;
  const int a_row = tid >> 1, a_k = (tid & 1) * 4;    // A tile 128 x 8: 4 floats per thread
  const int b_k = tid >> 5, b_col = (tid & 31) * 4;   // B tile 8 x 128: 4 floats per thread
  const int tx = tid & 15, ty = tid >> 4;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  stage_tile<VEC>(A, B, As[0], Bs[0], M, N, K, m0, n0, 0, a_row, a_k, b_k, b_col);
  cp_async_wait_all();
  __syncthreads();

  const int k_tiles = (K + kSimtBK - 1) / kSimtBK;
  for (int kt = 0; kt < k_tiles; ++kt) {
    const int cur = kt & 1;
    const bool more = kt + 1 < k_tiles;
    // Start copying the next tile into the other buffer (last read before the previous barrier); the
    // copies land while this tile is consumed.
    if (more) stage_tile<VEC>(A, B, As[cur ^ 1], Bs[cur ^ 1], M, N, K, m0, n0, (kt + 1) * kSimtBK, a_row,
                              a_k, b_k, b_col);
#pragma unroll
    for (int k = 0; k < kSimtBK; ++k) {
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[cur][k][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[cur][k][64 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&Bs[cur][k][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&Bs[cur][k][64 + tx * 4]);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    cp_async_wait_all();
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int row = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (row >= M) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int col = n0 + h * 64 + tx * 4;
      float* out = C + (long long)row * N + col;
      if (VEC) {
        if (col < N)
          *reinterpret_cast<float4*>(out) =
              make_float4(acc[i][h * 4], acc[i][h * 4 + 1], acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (col + j < N) out[j] = acc[i][h * 4 + j];
      }
    }
  }
}

extern "C" __global__ void __launch_bounds__(kSimtThreads, 2)
    gemm_simt_fp32_vec4(const float* A, const float* B, float* C, int M, int N, int K, int group_m) {
  gemm_simt<true>(A, B, C, M, N, K, group_m);
}

extern "C" __global__ void __launch_bounds__(kSimtThreads, 2)
    gemm_simt_fp32_scalar(const float* A, const float* B, float* C, int M, int N, int K, int group_m) {
  gemm_simt<false>(A, B, C, M, N, K, group_m);
}
