// The 8-bit tensor-core GEMM both quantised formats share: C = (A * sa) @ (B * sb)^T with A [M][K] and B
// [N][K] one byte a value, both row-major (K contiguous), through mma.sync.m16n8k32 (sm_80+ for s8, sm_89+
// for e4m3): 128x128 block tile, K step 32 bytes (one mma k-step), 3-stage cp.async pipeline, 8 warps in a
// 2 (M) x 4 (N) grid, each warp 64x32 outputs = 4 x 4 mma tiles = 64 accumulators a thread. Needs K % 16
// == 0 and 16-byte aligned A and B (16-byte cp.async chunks); rows, columns and K past the edges are
// zero-filled. The epilogue: accumulator x sa (one, or one per row of A) x sb (one, or one per row of B =
// per output column), rounded once to fp16/bf16; an int32 output (s8 only) keeps the raw accumulator.
//
// m16n8k32 fragments of 8-bit types (PTX ISA, "Matrix Fragments for mma.m16n8k32": the same for .s8 and
// .e4m3), g = lane / 4, t = lane % 4:
//   A: a0 = A[g][4t..4t+3], a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..] (4 bytes each)
//   B ("col", i.e. K-contiguous per column n): b0 = B[n=g][k=4t..4t+3], b1 = B[n=g][k=16+4t..]
//   C/D: d0, d1 = C[g][2t], C[g][2t+1]; d2, d3 = C[g+8][2t], C[g+8][2t+1]
// Both operands are K-contiguous in shared memory, so every fragment register is one aligned 32-bit
// load. Rows are padded from 32 to 48 bytes: the 8 rows x 4 words a fragment load touches then fall in 32
// different banks (row r, word t -> bank (12 r + t) % 32), and 16-byte chunks stay aligned for cp.async.
#pragma once
#include <gpubench/mma_common.cuh>

// Mirrored by MMA_TILE / MMA_STAGES / MMA_THREADS in kernels/qmatmul/config.py.
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

#ifndef GPUBENCH_EMULATED_PTX
// d += a * b on one 16x8x32 int8 tile, int32 accumulators.
__device__ __forceinline__ void mma_s8_16832(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// d += a * b on one 16x8x32 fp8 e4m3 tile, fp32 accumulators. The instruction exists from sm_89 on; the
// module also compiles for older GPUs (its int8 kernels run there), where the launcher refuses fp8 and this
// stops the kernel should it ever run.
__device__ __forceinline__ void mma_e4m3_16832(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 890
  asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}
#endif  // GPUBENCH_EMULATED_PTX

// The two 8-bit MMAs as the kernel uses them: the accumulator type and the instruction.
struct MmaS8 {
  using Acc = int;
  static __device__ __forceinline__ void run(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    mma_s8_16832(d, a, b);
  }
};
struct MmaE4M3 {
  using Acc = float;
  static __device__ __forceinline__ void run(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    mma_e4m3_16832(d, a, b);
  }
};

// ---- epilogue ----
template <class OutT>
struct Epilogue {
  // acc * sa[row] * sb[col] rounded to OutT; a_rows / b_rows: one scale per row, else sa[0] / sb[0].
  template <class Acc>
  static __device__ __forceinline__ OutT apply(Acc acc, const float* sa, const float* sb, int a_rows,
                                               int b_rows, int row, int col) {
    const float s = sa[a_rows ? row : 0] * sb[b_rows ? col : 0];
    return from_float<OutT>(static_cast<float>(acc) * s);
  }
};
template <>
struct Epilogue<int> {  // the raw int32 accumulator (s8 only), which the tests compare exactly
  static __device__ __forceinline__ int apply(int acc, const float*, const float*, int, int, int, int) {
    return acc;
  }
};

template <class OutT, class Acc>
__device__ __forceinline__ void store_pair(OutT* C, int M, int N, int row, int col, Acc v0, Acc v1,
                                           const float* sa, const float* sb, int a_rows, int b_rows) {
  if (row >= M) return;
  OutT* out = C + (long long)row * N + col;
  if (col < N) out[0] = Epilogue<OutT>::apply(v0, sa, sb, a_rows, b_rows, row, col);
  if (col + 1 < N) out[1] = Epilogue<OutT>::apply(v1, sa, sb, a_rows, b_rows, row, col + 1);
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

template <class OutT, class Mma>
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

  typename Mma::Acc acc[kMi][kNi][4];
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
      for (int j = 0; j < kNi; ++j) Mma::run(acc[i][j], af[i], bf[j]);
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

