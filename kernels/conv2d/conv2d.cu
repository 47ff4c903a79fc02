// 2-D convolution as an implicit GEMM on channels_last (NHWC) tensors: out[n][p][q][k] = sum over (r, s, c)
// of x[n][p stride - pad + r dil][q stride - pad + s dil][g Cg + c] * w[k][r][s][c], zero outside the input,
// with k in group g = k / Kg. The GEMM's rows are the M = N P Q output pixels, its columns a group's Kg
// filters, its reduction the R S Cg entries (r, s, c) with c fastest, so a filter's row of B is contiguous.
//
// One block computes a 64 x 64 tile (pixels x filters) of one group: each 16-deep step gathers the A tile
// (the im2col rows of its pixels, each entry's tap decoded and bounds-checked, converted to float) and the
// B tile into shared memory, then 256 threads each add a 4 x 4 micro-tile (rows ty + 16 i, columns tx + 16 j)
// with fp32 FMAs. The A gather runs along the reduction, so consecutive threads read consecutive channels
// of one pixel. Blocks walk the tiles of one group in grouped order (row tiles down a group, then right),
// the groups one after another along blockIdx.x (one grid dimension: the host emulation launches the same).
// conv2d_bias_relu_*: the epilogue adds the bias and clamps at zero before the one rounding.
#include <gpubench/types.cuh>

// Mirrored by CUDA_TILE / CUDA_THREADS in config.py.
constexpr int kConvBM = 64;
constexpr int kConvBN = 64;
constexpr int kConvBK = 16;
constexpr int kConvThreads = 256;
static_assert(kConvBM * kConvBK == 4 * kConvThreads && kConvBN * kConvBK == 4 * kConvThreads, "4 loads each");
static_assert((kConvBM / 4) * (kConvBN / 4) == kConvThreads, "a 4x4 micro-tile per thread");

struct ConvDims {
  int N, H, W, C, K, P, Q, R, S, Cg, Kg, stride, pad, dil, group_m;
};

template <class T, bool kBiasRelu>
__device__ __forceinline__ void conv2d_igemm(const T* __restrict__ x, const T* __restrict__ w,
                                             const T* __restrict__ bias, T* __restrict__ out, ConvDims d) {
  __shared__ float as[kConvBK][kConvBM + 4];  // A^T: a thread's 4 rows are 16 apart in one k row
  __shared__ float bs[kConvBK][kConvBN + 4];
  const int M = d.N * d.P * d.Q, RSC = d.R * d.S * d.Cg;
  const int tiles_m = (M + kConvBM - 1) / kConvBM, tiles_n = (d.Kg + kConvBN - 1) / kConvBN;
  const int g = blockIdx.x / (tiles_m * tiles_n), id = blockIdx.x % (tiles_m * tiles_n);
  const int per_group = d.group_m * tiles_n, first = (id / per_group) * d.group_m;
  const int rows = tiles_m - first < d.group_m ? tiles_m - first : d.group_m;
  const int m0 = (first + (id % per_group) % rows) * kConvBM, n0 = ((id % per_group) / rows) * kConvBN;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  for (int k0 = 0; k0 < RSC; k0 += kConvBK) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int e = threadIdx.x + i * kConvThreads, kk = e % kConvBK, k = k0 + kk;
      const int m = m0 + e / kConvBK;
      float v = 0.f;
      if (m < M && k < RSC) {
        const int n = m / (d.P * d.Q), p = (m / d.Q) % d.P, q = m % d.Q;
        const int c = k % d.Cg, r = k / (d.S * d.Cg), s = (k / d.Cg) % d.S;
        const int ih = p * d.stride - d.pad + r * d.dil, iw = q * d.stride - d.pad + s * d.dil;
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W)
          v = to_float(x[(((long long)n * d.H + ih) * d.W + iw) * d.C + g * d.Cg + c]);
      }
      as[kk][e / kConvBK] = v;
      const int f = n0 + e / kConvBK;
      bs[kk][e / kConvBK] = (f < d.Kg && k < RSC) ? to_float(w[(long long)(g * d.Kg + f) * RSC + k]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kConvBK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = as[kk][ty + 16 * i];
        b[i] = bs[kk][tx + 16 * i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();  // the tiles are refilled next step
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty + 16 * i, f = n0 + tx + 16 * j;
      if (m >= M || f >= d.Kg) continue;
      const int k = g * d.Kg + f;
      float v = acc[i][j];
      if (kBiasRelu) v = fmaxf(v + to_float(bias[k]), 0.f);
      out[(long long)m * d.K + k] = from_float<T>(v);
    }
}

// The sizes as plain ints (what every launcher passes), in ConvDims' order.
#define GPUBENCH_CONV_ARGS                                                                                \
  int N, int H, int W, int C, int K, int P, int Q, int R, int S, int Cg, int Kg, int stride, int pad,    \
      int dil, int group_m
#define GPUBENCH_CONV_DIMS ConvDims{N, H, W, C, K, P, Q, R, S, Cg, Kg, stride, pad, dil, group_m}

#define GPUBENCH_CONV2D(T, NAME)                                                                          \
  extern "C" __global__ void __launch_bounds__(kConvThreads)                                             \
      conv2d_##NAME(const T* x, const T* w, T* out, GPUBENCH_CONV_ARGS) {                                \
    conv2d_igemm<T, false>(x, w, nullptr, out, GPUBENCH_CONV_DIMS);                                      \
  }                                                                                                      \
  extern "C" __global__ void __launch_bounds__(kConvThreads)                                             \
      conv2d_bias_relu_##NAME(const T* x, const T* w, const T* bias, T* out, GPUBENCH_CONV_ARGS) {       \
    conv2d_igemm<T, true>(x, w, bias, out, GPUBENCH_CONV_DIMS);                                          \
  }

GPUBENCH_CONV2D(float, fp32)
GPUBENCH_CONV2D(f16, fp16)
GPUBENCH_CONV2D(bf16, bf16)
