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
// odd so that threads reading at stride ITEMS hit distinct banks. The results go back through the same
// buffer so that the global stores are coalesced (thread t storing element t, t + blockDim, ...): stored
// straight from registers, a warp's stores would be ITEMS elements apart. Indices inside the block are
// 32-bit (chunk and tile fit easily); only the global ones are 64-bit.
template <class T, int ITEMS>
__device__ __forceinline__ void window_shared(const T* __restrict__ x, T* __restrict__ out, long long n,
                                              long long radius, int chunk) {
  extern __shared__ float buf[];
  const int tile = blockDim.x * ITEMS;
  const long long tile_start = (long long)blockIdx.x * tile;
  const int first = threadIdx.x * ITEMS;  // this thread's first output, relative to tile_start
  const long long span_lo = tile_start - radius;
  const long long span_hi = tile_start + tile + radius;  // exclusive
  float acc[ITEMS];
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) acc[k] = 0.f;

  for (long long c0 = span_lo; c0 < span_hi; c0 += chunk) {
    const int len = (int)(c0 + chunk < span_hi ? chunk : span_hi - c0);
    __syncthreads();  // the previous chunk is no longer read
    for (int j = threadIdx.x; j < len; j += blockDim.x) {
      const long long g = c0 + j;
      buf[j] = (g >= 0 && g < n) ? to_float(x[g]) : 0.f;
    }
    __syncthreads();
    // Window of output i, in chunk coordinates and clipped to the chunk: [max(i - r - c0, 0), min(i + r
    // - c0, len - 1)]. Clamped in 64 bits first: r may exceed the int range of the chunk coordinates.
    const long long base = tile_start + first - c0;  // output `first` in chunk coordinates
    int lo = (int)(base - radius > 0 ? base - radius : 0);
    long long hi64 = base + radius < len - 1 ? base + radius : len - 1;
    int hi = (int)(hi64 < -1 ? -1 : hi64);
    // Four partial sums: a 2r+1 term window is a dependent chain of adds otherwise.
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    int j = lo;
    for (; j + 3 <= hi; j += 4) {
      s0 += buf[j];
      s1 += buf[j + 1];
      s2 += buf[j + 2];
      s3 += buf[j + 3];
    }
    for (; j <= hi; ++j) s0 += buf[j];
    float s = (s0 + s1) + (s2 + s3);
    acc[0] += s;
#pragma unroll
    for (int k = 1; k < ITEMS; ++k) {
      const long long b = base + k;
      const int nlo = (int)(b - radius > 0 ? b - radius : 0);
      const long long nhi64 = b + radius < len - 1 ? b + radius : len - 1;
      const int nhi = (int)(nhi64 < -1 ? -1 : nhi64);
      if (nlo > lo && lo <= hi) s -= buf[lo];
      if (nhi > hi && nhi >= nlo) s += buf[nhi];
      if (nlo > nhi) s = 0.f;  // the window has left this chunk
      lo = nlo;
      hi = nhi;
      acc[k] += s;
    }
  }
  // Stage the tile's results through the buffer, `chunk` at a time (once when chunk >= tile, as the
  // launcher arranges), and store them coalesced.
  const int valid = (int)(n - tile_start < tile ? n - tile_start : tile);
  for (int p0 = 0; p0 < valid; p0 += chunk) {
    __syncthreads();
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
      const int idx = first + k - p0;
      if (idx >= 0 && idx < chunk) buf[idx] = acc[k];
    }
    __syncthreads();
    const int m = valid - p0 < chunk ? valid - p0 : chunk;
    for (int j = threadIdx.x; j < m; j += blockDim.x) out[tile_start + p0 + j] = from_float<T>(buf[j]);
  }
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
