// RMSNorm forward over the last dimension of a contiguous [rows, cols] tensor, one block per row, fp32
// statistics: y = x * rsqrt(mean(x^2) + eps) * w.
//   rmsnorm_block_t{T}_i{ITEMS}_*: cols <= T * ITEMS: the row is cached in registers (x read once).
//   rmsnorm_stream_t{T}_*:         any length: pass 1 sums squares, pass 2 writes y (x read twice,
//                                  the second time mostly from L2).
#include <gpubench/types.cuh>

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over THREADS threads (a multiple of 32, at most 1024); every thread gets the result.
template <int THREADS>
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < THREADS / 32 ? scratch[lane] : 0.f);
}

template <class T, int THREADS, int ITEMS>
__device__ __forceinline__ void rmsnorm_block(const T* __restrict__ x, const T* __restrict__ w,
                                              T* __restrict__ y, int cols, float eps) {
  __shared__ float scratch[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* yr = y + row * cols;
  float v[ITEMS];
  float q = 0.f;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    v[k] = c < cols ? to_float(xr[c]) : 0.f;
    q += v[k] * v[k];
  }
  const float r = rsqrtf(block_sum<THREADS>(q, scratch) / cols + eps);
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    if (c < cols) yr[c] = from_float<T>(v[k] * r * to_float(w[c]));
  }
}

template <class T, int THREADS>
__device__ __forceinline__ void rmsnorm_stream(const T* __restrict__ x, const T* __restrict__ w,
                                               T* __restrict__ y, long long cols, float eps) {
  __shared__ float scratch[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* yr = y + row * cols;
  float q = 0.f;
  for (long long c = threadIdx.x; c < cols; c += THREADS) {
    const float v = to_float(xr[c]);
    q += v * v;
  }
  const float r = rsqrtf(block_sum<THREADS>(q, scratch) / (float)cols + eps);
  for (long long c = threadIdx.x; c < cols; c += THREADS) yr[c] = from_float<T>(to_float(xr[c]) * r * to_float(w[c]));
}

#define GPUBENCH_RMSNORM_BLOCK(T, NAME, THREADS, ITEMS)                                                \
  extern "C" __global__ void __launch_bounds__(THREADS) rmsnorm_block_t##THREADS##_i##ITEMS##_##NAME(   \
      const T* x, const T* w, T* y, int cols, float eps) {                                             \
    rmsnorm_block<T, THREADS, ITEMS>(x, w, y, cols, eps);                                              \
  }

#define GPUBENCH_RMSNORM_STREAM(T, NAME, THREADS)                                                      \
  extern "C" __global__ void __launch_bounds__(THREADS) rmsnorm_stream_t##THREADS##_##NAME(            \
      const T* x, const T* w, T* y, long long cols, float eps) {                                       \
    rmsnorm_stream<T, THREADS>(x, w, y, cols, eps);                                                    \
  }

#define GPUBENCH_RMSNORM(T, NAME)            \
  GPUBENCH_RMSNORM_BLOCK(T, NAME, 128, 8)    \
  GPUBENCH_RMSNORM_BLOCK(T, NAME, 256, 8)    \
  GPUBENCH_RMSNORM_BLOCK(T, NAME, 512, 8)    \
  GPUBENCH_RMSNORM_BLOCK(T, NAME, 512, 16)   \
  GPUBENCH_RMSNORM_STREAM(T, NAME, 1024)

GPUBENCH_RMSNORM(float, fp32)
GPUBENCH_RMSNORM(f16, fp16)
GPUBENCH_RMSNORM(bf16, bf16)
