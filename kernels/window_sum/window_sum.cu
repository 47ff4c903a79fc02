// Window sum: out[i] = sum of x[j] for |j - i| <= radius and 0 <= j < n (zero padding), fp32 accumulation.
// Neither kernel subtracts: a value reaches exactly the outputs whose window holds it (NaN and inf
// included), and an output's rounding error depends on its own window only.
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

// Shared memory. A block owns TILE = THREADS * SEG * GROUPS consecutive outputs; each thread owns GROUPS
// runs of SEG consecutive outputs (runs of neighbouring threads are adjacent: SEG is odd, so threads
// reading at stride SEG hit distinct banks). In span coordinates, where span[0] is x[tile_start - r],
// output q + k of a run starting at q has the window span[q + k .. q + k + 2r], which for SEG <= 2r is
//   suffix from k of span[q .. q + SEG)  +  middle span[q + SEG .. q + 2r)  +  prefix to k of
//   span[q + 2r .. q + 2r + SEG),
// the form of van Herk / Gil-Werman with blocks aligned to each run instead of to the array. Per output
// that is (SEG + 2r) / SEG shared-memory reads and about 3 + (2r - SEG) / SEG adds, against 2r + 1 of
// each for a direct sum: at r = 16 (SEG 31) 2 reads and 3 adds instead of 33 and 32, which keeps the
// shared-memory traffic (32 floats per clock per SM) well under what the DRAM stream needs. The
// launcher picks the longest SEG <= 2r from a few compiled lengths: at r = 1 (SEG 1) it is the direct
// 3-term sum, and beyond r = 16 the middle grows as 2r / 31 reads per output (5 at r = 64).
//
// The span [tile_start - r, tile_start + TILE + r) is staged once, converted to float and zero padded
// outside [0, n): the tile with 16-byte loads issued all before any is used (the bytes in flight are
// what a memory-bound kernel lives on), the halo with scalar ones. The results go through a second
// buffer so that the global stores are coalesced 16-byte ones too. `halo` is where the tile starts in
// shared memory (r rounded up to 4 floats, so that the tile is 16-byte aligned), `obuf` where the
// results go; halo < 0 means the span does not fit (very large r): the runs then read global memory
// directly, slowly but exactly. Indices inside the block are 32-bit, global ones 64-bit.

template <class T>
struct __align__(16) Pack {
  T v[16 / sizeof(T)];
};

struct SmemSpan {  // a staged span
  const float* s;
  __device__ __forceinline__ float operator()(int j) const { return s[j]; }
};

template <class T>
struct GlobalSpan {  // the same values, read from global memory
  const T* x;
  long long n, origin;
  __device__ __forceinline__ float operator()(long long j) const {
    const long long g = origin + j;
    return (g >= 0 && g < n) ? to_float(x[g]) : 0.f;
  }
};

// The outputs of the run at span position q into o[0 .. SEG). Needs SEG <= r2 = 2r, or r2 = 0 (a copy).
template <int SEG, class Span, class I>
__device__ __forceinline__ void run_sums(const Span& v, I q, I r2, float* o) {
  if (r2 == 0) {
#pragma unroll
    for (int k = 0; k < SEG; ++k) o[k] = v(q + k);
    return;
  }
  float suf[SEG];
  suf[SEG - 1] = v(q + SEG - 1);
#pragma unroll
  for (int k = SEG - 2; k >= 0; --k) suf[k] = v(q + k) + suf[k + 1];
  // Four partial sums: the middle is a dependent chain of adds otherwise.
  float m0 = 0.f, m1 = 0.f, m2 = 0.f, m3 = 0.f;
  I j = q + SEG;
  const I end = q + r2;
  for (; j + 3 < end; j += 4) {
    m0 += v(j);
    m1 += v(j + 1);
    m2 += v(j + 2);
    m3 += v(j + 3);
  }
  for (; j < end; ++j) m0 += v(j);
  const float mid = (m0 + m1) + (m2 + m3);
  float pre = 0.f;
#pragma unroll
  for (int k = 0; k < SEG; ++k) {
    pre += v(q + r2 + k);
    o[k] = (suf[k] + mid) + pre;
  }
}

__device__ __forceinline__ bool aligned16(const void* p) {
  return (reinterpret_cast<unsigned long long>(p) & 15) == 0;
}

// x[start, start + TILE) into dst as floats, zero from `valid` on.
template <class T, int TILE, int THREADS>
__device__ __forceinline__ void stage_tile(const T* __restrict__ x, long long start, int valid, bool vec,
                                           float* dst) {
  constexpr int V = 16 / sizeof(T);
  constexpr int PER = (TILE / V + THREADS - 1) / THREADS;
  static_assert(TILE % V == 0 && V % 4 == 0, "whole 16-byte packs");
  if (vec) {
    const Pack<T>* src = reinterpret_cast<const Pack<T>*>(x + start);
    Pack<T> p[PER];
#pragma unroll
    for (int u = 0; u < PER; ++u) {
      const int j = u * THREADS + threadIdx.x;
      if (j < TILE / V) p[u] = src[j];
    }
#pragma unroll
    for (int u = 0; u < PER; ++u) {
      const int j = u * THREADS + threadIdx.x;
      if (j >= TILE / V) continue;
      Pack<float>* d = reinterpret_cast<Pack<float>*>(dst) + j * (V / 4);
#pragma unroll
      for (int h = 0; h < V / 4; ++h) {
        Pack<float> f;
#pragma unroll
        for (int e = 0; e < 4; ++e) f.v[e] = to_float(p[u].v[4 * h + e]);
        d[h] = f;
      }
    }
  } else {
    for (int j = threadIdx.x; j < TILE; j += THREADS) dst[j] = j < valid ? to_float(x[start + j]) : 0.f;
  }
}

// src[0, valid) to out[start, start + valid).
template <class T, int TILE, int THREADS>
__device__ __forceinline__ void store_tile(const float* src, T* __restrict__ out, long long start, int valid,
                                           bool vec) {
  constexpr int V = 16 / sizeof(T);
  if (vec) {
    Pack<T>* dst = reinterpret_cast<Pack<T>*>(out + start);
    for (int j = threadIdx.x; j < TILE / V; j += THREADS) {
      const Pack<float>* s = reinterpret_cast<const Pack<float>*>(src) + j * (V / 4);
      Pack<T> p;
#pragma unroll
      for (int h = 0; h < V / 4; ++h) {
        const Pack<float> f = s[h];
#pragma unroll
        for (int e = 0; e < 4; ++e) p.v[4 * h + e] = from_float<T>(f.v[e]);
      }
      dst[j] = p;
    }
  } else {
    for (int j = threadIdx.x; j < valid; j += THREADS) out[start + j] = from_float<T>(src[j]);
  }
}

template <class T, int SEG, int GROUPS, int THREADS>
__device__ __forceinline__ void window_shared(const T* __restrict__ x, T* __restrict__ out, long long n,
                                              long long radius, int halo, int obuf) {
  extern __shared__ float buf[];
  constexpr int TILE = THREADS * SEG * GROUPS;
  const long long tile_start = (long long)blockIdx.x * TILE;
  const int valid = n - tile_start < TILE ? (int)(n - tile_start) : TILE;
  const bool vec = valid == TILE && aligned16(x) && aligned16(out);
  float* o = buf + obuf;
  if (halo >= 0) {
    const int r = (int)radius;
    stage_tile<T, TILE, THREADS>(x, tile_start, valid, vec, buf + halo);
    for (int j = threadIdx.x; j < 2 * r; j += THREADS) {
      const bool left = j < r;
      const long long g = left ? tile_start - r + j : tile_start + TILE + (j - r);
      buf[left ? halo - r + j : halo + TILE + (j - r)] = (g >= 0 && g < n) ? to_float(x[g]) : 0.f;
    }
    __syncthreads();
    const SmemSpan v{buf + halo - r};
    for (int g = 0; g < GROUPS; ++g) {
      const int q = (g * THREADS + (int)threadIdx.x) * SEG;
      if (q < valid) run_sums<SEG>(v, q, 2 * r, o + q);
    }
  } else {
    const GlobalSpan<T> v{x, n, tile_start - radius};
    for (int g = 0; g < GROUPS; ++g) {
      const int q = (g * THREADS + (int)threadIdx.x) * SEG;
      if (q < valid) run_sums<SEG>(v, (long long)q, 2 * radius, o + q);
    }
  }
  __syncthreads();
  store_tile<T, TILE, THREADS>(o, out, tile_start, valid, vec);
}

// The run length, runs per thread and block size are compiled in; the launcher passes them as defines
// (kernels/window_sum/config.py). These defaults are one of its configurations.
#ifndef GPUBENCH_WINDOW_SEG
#define GPUBENCH_WINDOW_SEG 7
#endif
#ifndef GPUBENCH_WINDOW_GROUPS
#define GPUBENCH_WINDOW_GROUPS 4
#endif
#ifndef GPUBENCH_WINDOW_THREADS
#define GPUBENCH_WINDOW_THREADS 128
#endif
#ifndef GPUBENCH_WINDOW_MIN_BLOCKS
#define GPUBENCH_WINDOW_MIN_BLOCKS 6
#endif

#define GPUBENCH_WINDOW_SUM(T, NAME)                                                                   \
  extern "C" __global__ void window_sum_naive_##NAME(const T* x, T* out, long long n, long long r) {   \
    window_naive<T>(x, out, n, r);                                                                     \
  }                                                                                                    \
  extern "C" __global__ void __launch_bounds__(GPUBENCH_WINDOW_THREADS, GPUBENCH_WINDOW_MIN_BLOCKS)    \
      window_sum_shared_##NAME(const T* x, T* out, long long n, long long r, int halo, int obuf) {     \
    window_shared<T, GPUBENCH_WINDOW_SEG, GPUBENCH_WINDOW_GROUPS, GPUBENCH_WINDOW_THREADS>(x, out, n, r, \
                                                                                           halo, obuf); \
  }

GPUBENCH_WINDOW_SUM(float, fp32)
GPUBENCH_WINDOW_SUM(f16, fp16)
GPUBENCH_WINDOW_SUM(bf16, bf16)
