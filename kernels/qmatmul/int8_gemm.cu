// int8 W8A8 GEMMs: C = (A * sa) @ (B * sb)^T with A [M][K] and B [N][K] int8, both row-major (K
// contiguous), int32 accumulation, then the epilogue: fp32 accumulator x sa (one value, or one per row
// of A) x sb (one value, or one per row of B = per output column), rounded once to fp16/bf16; the *_i32
// instantiations store the raw int32 accumulator instead (no scales), which the tests compare exactly.
//
// gemm_int8_dp4a_*: the simple version. 64x64 block tile, K step 32 bytes, 256 threads with a 4x4
//   micro-tile each (rows ty + 16 i, columns tx + 16 j), dp4a on 4-byte words from shared memory. Tiles
//   are filled byte by byte with bounds checks, so any M, N, K and alignment work.
// gemm_int8_mma_*: tensor cores through mma.sync.m16n8k32.row.col.s32.s8.s8.s32 (sm_80+). 128x128 block
//   tile, K step 32 bytes (one mma k-step), 3-stage cp.async pipeline, 8 warps in a 2 (M) x 4 (N) grid,
//   each warp 64x32 outputs = 4 x 4 mma tiles = 64 int32 accumulators per thread. Needs K % 16 == 0 and
//   16-byte aligned A and B (16-byte cp.async chunks); rows/columns/K past the edges are zero-filled.
//
// mma.m16n8k32 .s8 fragments (PTX ISA, "Matrix Fragments for mma.m16n8k32"), g = lane / 4, t = lane % 4:
//   A: a0 = A[g][4t..4t+3], a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..] (4 bytes each)
//   B ("col", i.e. K-contiguous per column n): b0 = B[n=g][k=4t..4t+3], b1 = B[n=g][k=16+4t..]
//   C/D: d0, d1 = C[g][2t], C[g][2t+1]; d2, d3 = C[g+8][2t], C[g+8][2t+1]
// Both operands are K-contiguous in shared memory, so every fragment register is one aligned 32-bit
// load. Rows are padded from 32 to 48 bytes: the 8 rows x 4 words a fragment load touches then fall in 32
// different banks (row r, word t -> bank (12 r + t) % 32), and 16-byte chunks stay aligned for cp.async.
#include <gpubench/types.cuh>

// Mirrored by MMA_TILE / MMA_STAGES / MMA_THREADS and DP4A_TILE / DP4A_THREADS in config.py.
constexpr int kMmaBM = 128;
constexpr int kMmaBN = 128;
constexpr int kMmaBK = 32;
constexpr int kMmaStages = 3;
constexpr int kMmaThreads = 256;
constexpr int kRow = kMmaBK + 16;  // padded shared-memory row, bytes
constexpr int kWarpM = 64;
constexpr int kWarpN = 32;
constexpr int kMi = kWarpM / 16;
constexpr int kNi = kWarpN / 8;
constexpr int kStage = kMmaBM * kRow;  // bytes of one operand's stage (BM == BN)
static_assert(kMmaBM == kMmaBN, "A and B stages share one size");
static_assert((kMmaBM / kWarpM) * (kMmaBN / kWarpN) * 32 == kMmaThreads, "warp grid");
static_assert(kMmaBM * kMmaBK / 16 == kMmaThreads, "one 16-byte chunk of A and one of B per thread");

constexpr int kDpBM = 64;
constexpr int kDpBN = 64;
constexpr int kDpBK = 32;
constexpr int kDpThreads = 256;
constexpr int kDpRow = kDpBK + 4;  // bytes; 9 words, so 16 consecutive rows hit 16 different banks
static_assert(kDpBM * kDpBK / 8 == kDpThreads, "each thread fills 8 bytes of A and 8 of B per K step");

// ---- PTX wrappers (a host emulation may define GPUBENCH_EMULATED_PTX and provide its own) ----
#ifndef GPUBENCH_EMULATED_PTX
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// Copy `bytes` (16 or 0) from global to shared memory and zero-fill the rest of the 16.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
// d += a * b on one 16x8x32 int8 tile, int32 accumulators.
__device__ __forceinline__ void mma_s8_16832(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// c + the dot product of the four signed bytes of a and b.
__device__ __forceinline__ int dp4a_s8(int a, int b, int c) {
  int d;
  asm("dp4a.s32.s32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}
#endif  // GPUBENCH_EMULATED_PTX

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// (row tile, column tile) of this block in grouped order: down group_m row tiles, then one column right.
__device__ __forceinline__ void grouped_tile(int tiles_m, int tiles_n, int group_m, int& tm, int& tn) {
  const int id = blockIdx.x;
  const int per_group = group_m * tiles_n;
  const int first = (id / per_group) * group_m;
  const int rows = imin(tiles_m - first, group_m);
  tm = first + (id % per_group) % rows;
  tn = (id % per_group) / rows;
}

// ---- epilogue ----
template <class OutT>
struct Epilogue {
  // acc * sa[row] * sb[col] rounded to OutT; a_rows / b_rows: one scale per row, else sa[0] / sb[0].
  static __device__ __forceinline__ OutT apply(int acc, const float* sa, const float* sb, int a_rows,
                                               int b_rows, int row, int col) {
    const float s = sa[a_rows ? row : 0] * sb[b_rows ? col : 0];
    return from_float<OutT>(static_cast<float>(acc) * s);
  }
};
template <>
struct Epilogue<int> {
  static __device__ __forceinline__ int apply(int acc, const float*, const float*, int, int, int, int) {
    return acc;
  }
};

template <class OutT>
__device__ __forceinline__ void store_pair(OutT* C, int M, int N, int row, int col, int v0, int v1,
                                           const float* sa, const float* sb, int a_rows, int b_rows) {
  if (row >= M) return;
  OutT* out = C + (long long)row * N + col;
  if (col < N) out[0] = Epilogue<OutT>::apply(v0, sa, sb, a_rows, b_rows, row, col);
  if (col + 1 < N) out[1] = Epilogue<OutT>::apply(v1, sa, sb, a_rows, b_rows, row, col + 1);
}

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

// ---- mma.sync ----
// One 16-byte chunk of A and one of B per thread per stage: rows tid / 2, byte offset 16 * (tid % 2).
__device__ __forceinline__ void load_stage(signed char* as, signed char* bs, const signed char* A,
                                           const signed char* B, int M, int N, int K, int m0, int n0,
                                           int k0) {
  const int r = threadIdx.x >> 1, c = (threadIdx.x & 1) * 16;
  const bool k_ok = k0 + c < K;  // K % 16 == 0: a chunk is wholly inside or wholly outside
  const bool a_ok = k_ok && m0 + r < M, b_ok = k_ok && n0 + r < N;
  cp_async16(as + r * kRow + c, a_ok ? A + (long long)(m0 + r) * K + k0 + c : A, a_ok ? 16 : 0);
  cp_async16(bs + r * kRow + c, b_ok ? B + (long long)(n0 + r) * K + k0 + c : B, b_ok ? 16 : 0);
}

__device__ __forceinline__ unsigned word(const signed char* p) { return *reinterpret_cast<const unsigned*>(p); }

template <class OutT>
__device__ __forceinline__ void gemm_mma(const signed char* __restrict__ A, const signed char* __restrict__ B,
                                         const float* __restrict__ sa, const float* __restrict__ sb,
                                         OutT* __restrict__ C, int M, int N, int K, int a_rows, int b_rows,
                                         int group_m) {
  __align__(128) __shared__ signed char smem[2 * kMmaStages * kStage];  // 36 KiB
  signed char* const sa_buf = smem;
  signed char* const sb_buf = smem + kMmaStages * kStage;
  int tm, tn;
  grouped_tile((M + kMmaBM - 1) / kMmaBM, (N + kMmaBN - 1) / kMmaBN, group_m, tm, tn);
  const int m0 = tm * kMmaBM, n0 = tn * kMmaBN;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  const int g = lane >> 2, t = lane & 3;

  int acc[kMi][kNi][4];
#pragma unroll
  for (int i = 0; i < kMi; ++i)
#pragma unroll
    for (int j = 0; j < kNi; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

  const int k_tiles = (K + kMmaBK - 1) / kMmaBK;
  // Prologue: stages 0 .. S-2 in flight, one commit group per stage (empty ones included), so that
  // "at most S-2 groups pending" always means "the stage about to be read has landed".
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    if (s < k_tiles) load_stage(sa_buf + s * kStage, sb_buf + s * kStage, A, B, M, N, K, m0, n0, s * kMmaBK);
    cp_async_commit();
  }
  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kMmaStages - 2>();
    __syncthreads();  // stage kt visible to every warp; stage kt - 1 no longer read by any
    const int next = kt + kMmaStages - 1;
    if (next < k_tiles) {
      const int s = next % kMmaStages;
      load_stage(sa_buf + s * kStage, sb_buf + s * kStage, A, B, M, N, K, m0, n0, next * kMmaBK);
    }
    cp_async_commit();
    const signed char* as = sa_buf + (kt % kMmaStages) * kStage;
    const signed char* bs = sb_buf + (kt % kMmaStages) * kStage;
    unsigned af[kMi][4], bf[kNi][2];
#pragma unroll
    for (int i = 0; i < kMi; ++i) {
      const signed char* p = as + (wm * kWarpM + i * 16 + g) * kRow + 4 * t;
      af[i][0] = word(p);
      af[i][1] = word(p + 8 * kRow);
      af[i][2] = word(p + 16);
      af[i][3] = word(p + 8 * kRow + 16);
    }
#pragma unroll
    for (int j = 0; j < kNi; ++j) {
      const signed char* p = bs + (wn * kWarpN + j * 8 + g) * kRow + 4 * t;
      bf[j][0] = word(p);
      bf[j][1] = word(p + 16);
    }
#pragma unroll
    for (int i = 0; i < kMi; ++i)
#pragma unroll
      for (int j = 0; j < kNi; ++j) mma_s8_16832(acc[i][j], af[i], bf[j]);
  }
#pragma unroll
  for (int i = 0; i < kMi; ++i)
#pragma unroll
    for (int j = 0; j < kNi; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = m0 + wm * kWarpM + i * 16 + g + 8 * h;
        const int col = n0 + wn * kWarpN + j * 8 + 2 * t;
        store_pair(C, M, N, row, col, acc[i][j][2 * h], acc[i][j][2 * h + 1], sa, sb, a_rows, b_rows);
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
    gemm_mma<OutT>(A, B, sa, sb, C, M, N, K, a_rows, b_rows, group_m);                                  \
  }

GPUBENCH_INT8_GEMM(f16, fp16)
GPUBENCH_INT8_GEMM(bf16, bf16)
GPUBENCH_INT8_GEMM(int, i32)
