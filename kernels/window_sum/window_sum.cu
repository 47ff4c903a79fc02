// Window sum: out[i] = sum of x[j] for |j - i| <= radius and 0 <= j < n (zero padding), fp32 accumulation.
#include <gpubench/types.cuh>

// Naive: each thread reads its 2r+1 inputs straight from global memory (L1/L2 catch the reuse).
template <class T>
__device__ __forceinline__ void window_naive(const T* __restrict__ x, T* __restrict__ out, long long n,
                                             long long radius) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  long long lo = i - radius < 0 ? 0 : i - radius;
  long long hi = i + radius >= n ? n - 1 : i + radius;
  float acc = 0.f;
  for (long long j = lo; j <= hi; ++j) acc += to_float(x[j]);
  out[i] = from_float<T>(acc);
}

// Shared memory: a block owns TILE = blockDim.x * ITEMS consecutive outputs. It stages the inputs its
// windows cover, [tile_start - r, tile_end + r), through a shared buffer of `chunk` floats (zero padded
// outside [0, n)), one chunk at a time when the halo is larger than the buffer. Each thread owns ITEMS
// consecutive outputs and slides its window across them: one add and one subtract per step. ITEMS is
// odd so that threads reading at stride ITEMS hit distinct banks.
template <class T, int ITEMS>
__device__ __forceinline__ void window_shared(const T* __restrict__ x, T* __restrict__ out, long long n,
                                              long long radius, int chunk) {
  extern __shared__ float buf[];
  const long long tile = (long long)blockDim.x * ITEMS;
  const long long tile_start = (long long)blockIdx.x * tile;
  const long long first = tile_start + (long long)threadIdx.x * ITEMS;  // this thread's first output
  const long long span_lo = tile_start - radius;
  const long long span_hi = tile_start + tile + radius;  // exclusive
  float acc[ITEMS];
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) acc[k] = 0.f;

  for (long long c0 = span_lo; c0 < span_hi; c0 += chunk) {
    const long long c1 = c0 + chunk < span_hi ? c0 + chunk : span_hi;  // exclusive
    __syncthreads();  // the previous chunk is no longer read
    for (long long j = c0 + threadIdx.x; j < c1; j += blockDim.x)
      buf[j - c0] = (j >= 0 && j < n) ? to_float(x[j]) : 0.f;
    __syncthreads();
    // Window of output i clipped to the chunk: [max(i - r, c0), min(i + r, c1 - 1)].
    long long lo = first - radius > c0 ? first - radius : c0;
    long long hi = first + radius < c1 - 1 ? first + radius : c1 - 1;
    float s = 0.f;
    for (long long j = lo; j <= hi; ++j) s += buf[j - c0];
    acc[0] += s;
#pragma unroll
    for (int k = 1; k < ITEMS; ++k) {
      const long long i = first + k;
      const long long nlo = i - radius > c0 ? i - radius : c0;
      const long long nhi = i + radius < c1 - 1 ? i + radius : c1 - 1;
      if (nlo > lo && lo <= hi) s -= buf[lo - c0];
      if (nhi > hi && nhi >= nlo) s += buf[nhi - c0];
      if (nlo > nhi) s = 0.f;  // the window has left this chunk
      lo = nlo;
      hi = nhi;
      acc[k] += s;
    }
  }
#pragma unroll
  for (int k = 0; k < ITEMS; ++k)
    if (first + k < n) out[first + k] = from_float<T>(acc[k]);
}

#define GPUBENCH_WINDOW_SUM(T, NAME)                                                                 \
  extern "C" __global__ void window_sum_naive_##NAME(const T* x, T* out, long long n, long long r) { \
    window_naive<T>(x, out, n, r);                                                                   \
  }                                                                                                  \
  extern "C" __global__ void window_sum_shared_##NAME(const T* x, T* out, long long n, long long r,  \
                                                      int chunk) {                                   \
    window_shared<T, GPUBENCH_WINDOW_ITEMS>(x, out, n, r, chunk);                                    \
  }

#ifndef GPUBENCH_WINDOW_ITEMS
#define GPUBENCH_WINDOW_ITEMS 5
#endif

GPUBENCH_WINDOW_SUM(float, fp32)
GPUBENCH_WINDOW_SUM(f16, fp16)
GPUBENCH_WINDOW_SUM(bf16, bf16)
