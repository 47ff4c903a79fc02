// LayerNorm forward over the last dimension of a contiguous [rows, cols] tensor, one block per row,
// statistics in fp32: y = (x - mean) * rsqrt(var + eps) * w + b, var the biased variance.
//   layernorm_block_t{T}_i{ITEMS}_*: cols <= T * ITEMS: the row is cached in registers (x read once);
//                                    mean, then the sum of squared deviations (no cancellation), each a
//                                    block reduction (warp shuffles, then shared memory across warps).
//   layernorm_stream_t{T}_*:         any length: pass 1 keeps a Welford (count, mean, M2) per thread,
//                                    merged across the block by Chan's update; pass 2 writes y
//                                    (x read twice, the second time mostly from L2).
#include <gpubench/types.cuh>

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over THREADS threads (a multiple of 32, at most 1024); every thread gets the result. `scratch`
// holds THREADS / 32 floats.
template <int THREADS>
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // the scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < THREADS / 32 ? scratch[lane] : 0.f);
}

// Chan et al.'s merge of two Welford states (n, mean, m2).
__device__ __forceinline__ void welford_merge(float& n, float& mean, float& m2, float n2, float mean2, float m22) {
  const float total = n + n2;
  if (total == 0.f) return;
  const float delta = mean2 - mean;
  const float r = n2 / total;
  mean += delta * r;
  m2 += m22 + delta * delta * n * r;
  n = total;
}

template <class T, int THREADS, int ITEMS>
__device__ __forceinline__ void layernorm_block(const T* __restrict__ x, const T* __restrict__ w,
                                                const T* __restrict__ b, T* __restrict__ y, int cols, float eps) {
  __shared__ float scratch[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* yr = y + row * cols;
  float v[ITEMS];
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    v[k] = c < cols ? to_float(xr[c]) : 0.f;
    s += v[k];
  }
  const float mean = block_sum<THREADS>(s, scratch) / cols;
  float q = 0.f;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const float d = (int)threadIdx.x + THREADS * k < cols ? v[k] - mean : 0.f;
    q += d * d;
  }
  const float rstd = rsqrtf(block_sum<THREADS>(q, scratch) / cols + eps);
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    if (c < cols) yr[c] = from_float<T>((v[k] - mean) * rstd * to_float(w[c]) + to_float(b[c]));
  }
}

template <class T, int THREADS>
__device__ __forceinline__ void layernorm_stream(const T* __restrict__ x, const T* __restrict__ w,
                                                 const T* __restrict__ b, T* __restrict__ y, long long cols,
                                                 float eps) {
  __shared__ float s_n[THREADS / 32], s_mean[THREADS / 32], s_m2[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* yr = y + row * cols;
  float n = 0.f, mean = 0.f, m2 = 0.f;
  for (long long c = threadIdx.x; c < cols; c += THREADS) {
    const float v = to_float(xr[c]);
    n += 1.f;
    const float d = v - mean;
    mean += __fdividef(d, n);
    m2 += d * (v - mean);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float n2 = __shfl_xor_sync(0xffffffffu, n, o);
    const float mean2 = __shfl_xor_sync(0xffffffffu, mean, o);
    const float m22 = __shfl_xor_sync(0xffffffffu, m2, o);
    welford_merge(n, mean, m2, n2, mean2, m22);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    s_n[warp] = n;
    s_mean[warp] = mean;
    s_m2[warp] = m2;
  }
  __syncthreads();
  const bool has = lane < THREADS / 32;
  n = has ? s_n[lane] : 0.f;
  mean = has ? s_mean[lane] : 0.f;
  m2 = has ? s_m2[lane] : 0.f;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float n2 = __shfl_xor_sync(0xffffffffu, n, o);
    const float mean2 = __shfl_xor_sync(0xffffffffu, mean, o);
    const float m22 = __shfl_xor_sync(0xffffffffu, m2, o);
    welford_merge(n, mean, m2, n2, mean2, m22);
  }
  const float rstd = rsqrtf(m2 / (float)cols + eps);
  for (long long c = threadIdx.x; c < cols; c += THREADS)
    yr[c] = from_float<T>((to_float(xr[c]) - mean) * rstd * to_float(w[c]) + to_float(b[c]));
}

#define GPUBENCH_LAYERNORM_BLOCK(T, NAME, THREADS, ITEMS)                                              \
  extern "C" __global__ void __launch_bounds__(THREADS) layernorm_block_t##THREADS##_i##ITEMS##_##NAME( \
      const T* x, const T* w, const T* b, T* y, int cols, float eps) {                                 \
    layernorm_block<T, THREADS, ITEMS>(x, w, b, y, cols, eps);                                         \
  }

#define GPUBENCH_LAYERNORM_STREAM(T, NAME, THREADS)                                                    \
  extern "C" __global__ void __launch_bounds__(THREADS) layernorm_stream_t##THREADS##_##NAME(          \
      const T* x, const T* w, const T* b, T* y, long long cols, float eps) {                           \
    layernorm_stream<T, THREADS>(x, w, b, y, cols, eps);                                               \
  }

#define GPUBENCH_LAYERNORM(T, NAME)            \
  GPUBENCH_LAYERNORM_BLOCK(T, NAME, 128, 8)    \
  GPUBENCH_LAYERNORM_BLOCK(T, NAME, 256, 8)    \
  GPUBENCH_LAYERNORM_BLOCK(T, NAME, 512, 8)    \
  GPUBENCH_LAYERNORM_BLOCK(T, NAME, 512, 16)   \
  GPUBENCH_LAYERNORM_STREAM(T, NAME, 1024)

GPUBENCH_LAYERNORM(float, fp32)
GPUBENCH_LAYERNORM(f16, fp16)
GPUBENCH_LAYERNORM(bf16, bf16)
