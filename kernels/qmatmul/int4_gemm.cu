// int4 weight-only GEMM: C = X @ dequantise(W)^T with X [M][K] fp16/bf16 and W packed as
// kernels/qmatmul/quant.py packs it, [N][K/2] bytes (byte j of row n holds k = 2j in its low nibble and
// k = 2j + 1 in its high one, each q + 8), with scales S [K/group][N] in X's dtype: the Triton kernel's
// format (triton_int4.py) and the dense and torch.compile baselines'.
//
// gemm_int4_mma_*: tensor cores through mma.sync.m16n8k16.row.col.f32.{f16,bf16} (sm_80+). 64 x 128 block
//   tile, K step 32 (one group scale row per step: group % 32 == 0, or group == K), 3-stage cp.async
//   pipeline of X (16-byte chunks) and the packed W (16 bytes = 32 k per column), 8 warps in a 2 (M) x 4 (N)
//   grid of 32 x 32 outputs. The weights are dequantised in registers: a B fragment's two k of one column
//   (PTX ISA, "Matrix Fragments for mma.m16n8k16": b0 = B[k=2t..2t+1][n=g], b1 = B[k=2t+8..2t+9][n=g],
//   g = lane / 4, t = lane % 4) are exactly one byte, whose nibbles minus 8 are small integers, exact in
//   fp16/bf16. Each step's products are summed without the scale (fp32 partial accumulators, exact up to
//   fp32 addition), then multiplied by the step's group scale into the fp32 accumulator, as the Triton
//   kernel does; the output is rounded once. Needs K % 32 == 0 and 16-byte aligned X and W.
//   A fragments (row-major X in shared memory): a0 = X[g][2t..2t+1], a1 = X[g+8][2t..], a2 = X[g][2t+8..],
//   a3 = X[g+8][2t+8..], each one 32-bit load; rows padded from 64 to 80 bytes, so a fragment load's 8 rows
//   x 4 words fall in 32 different banks (row r, word t -> bank (20 r + t) % 32).
#include <gpubench/types.cuh>
#include <gpubench/mma_common.cuh>

// Mirrored by INT4_MMA_TILE / INT4_MMA_STAGES / INT4_MMA_THREADS in config.py.
constexpr int kI4BM = 64;
constexpr int kI4BN = 128;
constexpr int kI4BK = 32;
constexpr int kI4Stages = 3;
constexpr int kI4Threads = 256;
constexpr int kI4WarpM = 32;
constexpr int kI4WarpN = 32;
constexpr int kI4Mi = kI4WarpM / 16;
constexpr int kI4Ni = kI4WarpN / 8;
constexpr int kXRow = kI4BK + 8;  // halves: an 80-byte row
constexpr int kWRow = kI4BK / 2;  // bytes: 32 k of one column
constexpr int kXStage = kI4BM * kXRow;  // halves
constexpr int kWStage = kI4BN * kWRow;  // bytes
static_assert((kI4BM / kI4WarpM) * (kI4BN / kI4WarpN) * 32 == kI4Threads, "warp grid");
static_assert(kI4BM * kI4BK * 2 / 16 == kI4Threads, "one 16-byte chunk of X per thread and stage");
static_assert(kI4BN * kWRow / 16 <= kI4Threads, "one 16-byte chunk of W per thread and stage, at most");

#ifndef GPUBENCH_EMULATED_PTX
// d += a * b on one 16x8x16 tile of 16-bit operands, fp32 accumulators.
__device__ __forceinline__ void mma_16816(f16, float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_16816(bf16, float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif  // GPUBENCH_EMULATED_PTX

// The two weights of a packed byte, minus 8, as two 16-bit values in one register (the lower k low).
template <class T>
__device__ __forceinline__ unsigned dequant2(unsigned byte) {
  const unsigned lo = from_float<T>(static_cast<float>(static_cast<int>(byte & 0xF) - 8)).bits;
  const unsigned hi = from_float<T>(static_cast<float>(static_cast<int>(byte >> 4) - 8)).bits;
  return lo | (hi << 16);
}

__device__ __forceinline__ unsigned word16(const unsigned short* p) { return *reinterpret_cast<const unsigned*>(p); }

template <class T>
__device__ __forceinline__ void int4_load_stage(unsigned short* xs, unsigned char* ws, const T* X,
                                                const unsigned char* W, int M, int N, int K, int m0, int n0,
                                                int k0) {
  const int r = threadIdx.x / 4, c = (threadIdx.x % 4) * 8;  // X: 4 chunks of 8 halves a row
  const bool x_ok = m0 + r < M;
  cp_async16(xs + r * kXRow + c, x_ok ? X + (long long)(m0 + r) * K + k0 + c : X, x_ok ? 16 : 0);
  if (threadIdx.x < kI4BN) {  // W: one 16-byte chunk (32 k) of a column
    const int n = threadIdx.x;
    const bool w_ok = n0 + n < N;
    cp_async16(ws + n * kWRow, w_ok ? W + (long long)(n0 + n) * (K / 2) + k0 / 2 : W, w_ok ? 16 : 0);
  }
}

template <class T>
__device__ __forceinline__ void gemm_int4(const T* __restrict__ X, const unsigned char* __restrict__ W,
                                          const T* __restrict__ S, T* __restrict__ C, int M, int N, int K,
                                          int group, int group_m) {
  __align__(128) __shared__ unsigned short xsm[kI4Stages * kXStage];
  __align__(128) __shared__ unsigned char wsm[kI4Stages * kWStage];
  int tm, tn;
  grouped_tile((M + kI4BM - 1) / kI4BM, (N + kI4BN - 1) / kI4BN, group_m, tm, tn);
  const int m0 = tm * kI4BM, n0 = tn * kI4BN;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  const int g = lane >> 2, t = lane & 3;
  float acc[kI4Mi][kI4Ni][4];
#pragma unroll
  for (int i = 0; i < kI4Mi; ++i)
#pragma unroll
    for (int j = 0; j < kI4Ni; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

  const int k_tiles = K / kI4BK;
#pragma unroll
  for (int s = 0; s < kI4Stages - 1; ++s) {
    if (s < k_tiles) int4_load_stage(xsm + s * kXStage, wsm + s * kWStage, X, W, M, N, K, m0, n0, s * kI4BK);
    cp_async_commit();
  }
  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kI4Stages - 2>();
    __syncthreads();  // stage kt visible to every warp; stage kt - 1 no longer read by any
    const int next = kt + kI4Stages - 1;
    if (next < k_tiles) {
      const int s = next % kI4Stages;
      int4_load_stage(xsm + s * kXStage, wsm + s * kWStage, X, W, M, N, K, m0, n0, next * kI4BK);
    }
    cp_async_commit();
    const unsigned short* xs = xsm + (kt % kI4Stages) * kXStage;
    const unsigned char* ws = wsm + (kt % kI4Stages) * kWStage;
    float part[kI4Mi][kI4Ni][4];
#pragma unroll
    for (int i = 0; i < kI4Mi; ++i)
#pragma unroll
      for (int j = 0; j < kI4Ni; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) part[i][j][e] = 0.f;
#pragma unroll
    for (int ks = 0; ks < kI4BK / 16; ++ks) {
      unsigned af[kI4Mi][4], bf[kI4Ni][2];
#pragma unroll
      for (int i = 0; i < kI4Mi; ++i) {
        const unsigned short* p = xs + (wm * kI4WarpM + i * 16 + g) * kXRow + ks * 16 + 2 * t;
        af[i][0] = word16(p);
        af[i][1] = word16(p + 8 * kXRow);
        af[i][2] = word16(p + 8);
        af[i][3] = word16(p + 8 * kXRow + 8);
      }
#pragma unroll
      for (int j = 0; j < kI4Ni; ++j) {
        const unsigned char* p = ws + (wn * kI4WarpN + j * 8 + g) * kWRow + ks * 8 + t;
        bf[j][0] = dequant2<T>(p[0]);  // k = ks 16 + 2t, 2t + 1
        bf[j][1] = dequant2<T>(p[4]);  // k = ks 16 + 8 + 2t, 2t + 9
      }
#pragma unroll
      for (int i = 0; i < kI4Mi; ++i)
#pragma unroll
        for (int j = 0; j < kI4Ni; ++j) mma_16816(T{}, part[i][j], af[i], bf[j]);
    }
    const T* scales = S + (long long)(kt * kI4BK / group) * N;  // this step's group: one row of S
#pragma unroll
    for (int j = 0; j < kI4Ni; ++j) {
      const int col = n0 + wn * kI4WarpN + j * 8 + 2 * t;
      const float s0 = col < N ? to_float(scales[col]) : 0.f, s1 = col + 1 < N ? to_float(scales[col + 1]) : 0.f;
#pragma unroll
      for (int i = 0; i < kI4Mi; ++i) {
        acc[i][j][0] += part[i][j][0] * s0;
        acc[i][j][1] += part[i][j][1] * s1;
        acc[i][j][2] += part[i][j][2] * s0;
        acc[i][j][3] += part[i][j][3] * s1;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kI4Mi; ++i)
#pragma unroll
    for (int j = 0; j < kI4Ni; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = m0 + wm * kI4WarpM + i * 16 + g + 8 * h;
        const int col = n0 + wn * kI4WarpN + j * 8 + 2 * t;
        if (row >= M) continue;
        T* out = C + (long long)row * N + col;
        if (col < N) out[0] = from_float<T>(acc[i][j][2 * h]);
        if (col + 1 < N) out[1] = from_float<T>(acc[i][j][2 * h + 1]);
      }
}

#define GPUBENCH_INT4_GEMM(T, NAME)                                                                      \
  extern "C" __global__ void __launch_bounds__(kI4Threads, 2)                                           \
      gemm_int4_mma_##NAME(const T* X, const unsigned char* W, const T* S, T* C, int M, int N, int K,    \
                           int group, int group_m) {                                                     \
    gemm_int4<T>(X, W, S, C, M, N, K, group, group_m);                                                   \
  }

GPUBENCH_INT4_GEMM(f16, fp16)
GPUBENCH_INT4_GEMM(bf16, bf16)
