// Tensor-core GEMM with warp-level mma.sync (sm_80+), C = A @ B for fp16 and bf16 storage, fp32
// accumulation. A is MxK, B is KxN, C is MxN, all row-major; C in the input's storage type.
//
// Block tile 128x128, K step 32, 3-stage cp.async pipeline, 8 warps in a 2 (M) x 4 (N) grid: each warp
// owns a 64x32 sub-tile of C = 4 x 4 mma.m16n8k16 tiles = 64 fp32 accumulators per thread.
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"): with
// g = lane / 4 and t = lane % 4, the A fragment is four 32-bit registers holding the 16-bit pairs
// A[g][2t..2t+1], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]; the B fragment (16x8, "col") is two
// registers holding B[2t..2t+1][g] and B[2t+8..2t+9][g]; the accumulator holds C[g][2t..2t+1] and
// C[g+8][2t..2t+1].
//   A (row-major in shared memory, [m][k]): ldmatrix.x4 on the four 8x8 blocks (rows 0-7 | 8-15) x
//   (k 0-7 | 8-15), lane l giving the address of row l % 16 at k offset 8 * (l / 16); register j of
//   every lane then holds block j's row g, elements 2t..2t+1: exactly the A fragment order above.
//   B (row-major in shared memory, [k][n], i.e. N-contiguous): ldmatrix.x4.trans on the blocks
//   (k 0-7 | 8-15) x (n 0-7 | 8-15), lane l giving the address of k row l % 16 at n offset 8 * (l / 16).
//   .trans hands each lane the elements [2t][g] and [2t+1][g] of a block, i.e. B[2t..2t+1][g]: the B
//   fragment. Registers 0-1 serve the n 0-7 tile and 2-3 the n 8-15 tile.
// Shared memory is swizzled at 16-byte granularity so that the 8 row addresses of each ldmatrix block
// fall in 8 different bank groups: A (64-byte rows) chunk c of row r lives at c ^ ((r / 2) % 4), B
// (256-byte rows) chunk c of row k at c ^ (k % 8).
// Ragged edges: out-of-range rows/columns/K are zero-filled in shared memory (cp.async with a source
// size of 0), and the epilogue stores only in-range elements. The *_aligned instantiation copies 16
// bytes at a time with cp.async and needs K and N multiples of 8 and 16-byte aligned A and B; the
// other one (any sizes) loads element by element through registers.
#include <gpubench/types.cuh>
#include <gpubench/mma_common.cuh>

// Mirrored by MMA_TILE / MMA_STAGES / MMA_THREADS in config.py.
constexpr int kMmaBM = 128;
constexpr int kMmaBN = 128;
constexpr int kMmaBK = 32;
constexpr int kMmaStages = 3;
constexpr int kMmaThreads = 256;
constexpr int kWarpM = 64;  // warps: (kMmaBM / kWarpM) x (kMmaBN / kWarpN) = 2 x 4
constexpr int kWarpN = 32;
constexpr int kMi = kWarpM / 16;  // m16 tiles per warp
constexpr int kNi = kWarpN / 8;   // n8 tiles per warp
constexpr int kAStage = kMmaBM * kMmaBK;  // 16-bit elements per stage
constexpr int kBStage = kMmaBK * kMmaBN;
static_assert((kMmaBM / kWarpM) * (kMmaBN / kWarpN) * 32 == kMmaThreads, "warp grid");
static_assert(kMmaBM * kMmaBK / 8 == 2 * kMmaThreads && kMmaBK * kMmaBN / 8 == 2 * kMmaThreads,
              "each thread copies two 16-byte chunks of A and two of B per stage");

// Offsets (in 16-bit elements) of 16-byte chunk `c` of a row in the swizzled stage buffers.
__device__ __forceinline__ int a_offset(int row, int c) {
  return row * kMmaBK + ((c ^ ((row >> 1) & 3)) << 3);
}
__device__ __forceinline__ int b_offset(int k, int c) { return k * kMmaBN + ((c ^ (k & 7)) << 3); }

// ---- PTX wrappers (a host emulation may define GPUBENCH_EMULATED_PTX and provide its own); cp.async and
// the grouped tile order come from gpubench/mma_common.cuh ----
#ifndef GPUBENCH_EMULATED_PTX
__device__ __forceinline__ void ldmatrix_x4(const void* p, unsigned (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(const void* p, unsigned (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
// d += a * b on one 16x8x16 tile, fp32 accumulators.
template <class T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]);
template <>
__device__ __forceinline__ void mma_16816<f16>(float (&d)[4], const unsigned (&a)[4],
                                               const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma_16816<bf16>(float (&d)[4], const unsigned (&a)[4],
                                                const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif  // GPUBENCH_EMULATED_PTX

// Eight consecutive 16-bit elements (row r, columns c .. c+7 of an R x Cn row-major matrix) into a
// 16-byte shared-memory chunk, zeros outside the matrix.
template <bool ALIGNED>
__device__ __forceinline__ void copy_chunk(unsigned short* dst, const unsigned short* __restrict__ src, int R,
                                           int Cn, int r, int c) {
  if (ALIGNED) {  // Cn % 8 == 0 and c % 8 == 0: the chunk is wholly inside or wholly outside
    const bool ok = r < R && c < Cn;
    cp_async16(dst, ok ? src + (long long)r * Cn + c : src, ok ? 16 : 0);
  } else {
    unsigned w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const unsigned lo = (r < R && c + 2 * i < Cn) ? src[(long long)r * Cn + c + 2 * i] : 0u;
      const unsigned hi = (r < R && c + 2 * i + 1 < Cn) ? src[(long long)r * Cn + c + 2 * i + 1] : 0u;
      w[i] = lo | (hi << 16);
    }
    *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

template <bool ALIGNED>
__device__ __forceinline__ void load_stage(unsigned short* as, unsigned short* bs, const unsigned short* A,
                                           const unsigned short* B, int M, int N, int K, int m0, int n0,
                                           int k0) {
#pragma unroll
  for (int it = 0; it < 2; ++it) {
    const int id = threadIdx.x + it * kMmaThreads;
    const int ar = id >> 2, ac = id & 3;  // A: 128 rows x 4 chunks; 4 threads read one 64-byte row run
    copy_chunk<ALIGNED>(as + a_offset(ar, ac), A, M, K, m0 + ar, k0 + ac * 8);
    const int bk = id >> 4, bc = id & 15;  // B: 32 rows x 16 chunks; 16 threads read one 256-byte row run
    copy_chunk<ALIGNED>(bs + b_offset(bk, bc), B, K, N, k0 + bk, n0 + bc * 8);
  }
}

template <class T, bool ALIGNED>
__device__ __forceinline__ void gemm_mma(const T* __restrict__ A_, const T* __restrict__ B_,
                                         T* __restrict__ C, int M, int N, int K, int group_m) {
  __shared__ __align__(128) unsigned short smem[kMmaStages * (kAStage + kBStage)];  // 48 KiB
  unsigned short* const sa = smem;
  unsigned short* const sb = smem + kMmaStages * kAStage;
  const unsigned short* A = reinterpret_cast<const unsigned short*>(A_);
  const unsigned short* B = reinterpret_cast<const unsigned short*>(B_);

  int tile_m, tile_n;
  grouped_tile((M + kMmaBM - 1) / kMmaBM, (N + kMmaBN - 1) / kMmaBN, group_m, tile_m, tile_n);
  const int m0 = tile_m * kMmaBM, n0 = tile_n * kMmaBN;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp >> 2, wn = warp & 3;  // warp grid 2 x 4

  float acc[kMi][kNi][4];
#pragma unroll
  for (int i = 0; i < kMi; ++i)
#pragma unroll
    for (int j = 0; j < kNi; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

  const int k_tiles = (K + kMmaBK - 1) / kMmaBK;
  // Prologue: stages 0 .. S-2 in flight. One commit group per stage, empty ones included, so that
  // "wait until at most S-2 groups are pending" always means "the stage about to be read has landed".
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    if (s < k_tiles)
      load_stage<ALIGNED>(sa + s * kAStage, sb + s * kBStage, A, B, M, N, K, m0, n0, s * kMmaBK);
    cp_async_commit();
  }

  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kMmaStages - 2>();
    __syncthreads();  // stage kt visible to all warps; stage kt-1 no longer read by any warp
    const int next = kt + kMmaStages - 1;
    if (next < k_tiles) {
      const int s = next % kMmaStages;
      load_stage<ALIGNED>(sa + s * kAStage, sb + s * kBStage, A, B, M, N, K, m0, n0, next * kMmaBK);
    }
    cp_async_commit();

    const unsigned short* as = sa + (kt % kMmaStages) * kAStage;
    const unsigned short* bs = sb + (kt % kMmaStages) * kBStage;
#pragma unroll
    for (int ks = 0; ks < kMmaBK / 16; ++ks) {
      unsigned af[kMi][4];
      unsigned bf[kNi][2];
#pragma unroll
      for (int i = 0; i < kMi; ++i) {
        const int row = wm * kWarpM + i * 16 + (lane & 15);
        ldmatrix_x4(as + a_offset(row, ks * 2 + (lane >> 4)), af[i]);
      }
#pragma unroll
      for (int p = 0; p < kNi / 2; ++p) {
        const int k = ks * 16 + (lane & 15);
        const int chunk = (wn * kWarpN + p * 16) / 8 + (lane >> 4);
        unsigned r[4];
        ldmatrix_x4_trans(bs + b_offset(k, chunk), r);
        bf[2 * p][0] = r[0];
        bf[2 * p][1] = r[1];
        bf[2 * p + 1][0] = r[2];
        bf[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < kMi; ++i)
#pragma unroll
        for (int j = 0; j < kNi; ++j) mma_16816<T>(acc[i][j], af[i], bf[j]);
    }
  }

  // Epilogue: lane (g, t) holds C[g][2t..2t+1] and C[g+8][2t..2t+1] of every 16x8 tile.
  const int g = lane >> 2, t = lane & 3;
  const bool pairs = (N & 1) == 0;  // then (row * N + col) is even: a 4-byte store of two elements
#pragma unroll
  for (int i = 0; i < kMi; ++i)
#pragma unroll
    for (int j = 0; j < kNi; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = m0 + wm * kWarpM + i * 16 + g + h * 8;
        const int col = n0 + wn * kWarpN + j * 8 + t * 2;
        if (row >= M) continue;
        const T lo = from_float<T>(acc[i][j][2 * h]);
        const T hi = from_float<T>(acc[i][j][2 * h + 1]);
        T* out = C + (long long)row * N + col;
        if (pairs && col + 1 < N) {
          *reinterpret_cast<unsigned*>(out) = (unsigned)lo.bits | ((unsigned)hi.bits << 16);
        } else {
          if (col < N) out[0] = lo;
          if (col + 1 < N) out[1] = hi;
        }
      }
}

#define GPUBENCH_GEMM_MMA(T, NAME)                                                                     \
  extern "C" __global__ void __launch_bounds__(kMmaThreads, 2)                                         \
      gemm_mma_##NAME##_aligned(const T* A, const T* B, T* C, int M, int N, int K, int group_m) {      \
    gemm_mma<T, true>(A, B, C, M, N, K, group_m);                                                      \
  }                                                                                                    \
  extern "C" __global__ void __launch_bounds__(kMmaThreads, 2)                                         \
      gemm_mma_##NAME##_any(const T* A, const T* B, T* C, int M, int N, int K, int group_m) {          \
    gemm_mma<T, false>(A, B, C, M, N, K, group_m);                                                     \
  }

GPUBENCH_GEMM_MMA(f16, fp16)
GPUBENCH_GEMM_MMA(bf16, bf16)
