// Softmax over the last dimension of a contiguous [rows, cols] tensor, fp32 math, output in the input dtype.
//   softmax_warp_i{ITEMS}_*:        one warp per row (cols <= 32 * ITEMS): the row is cached in registers,
//                                   max and sum reduced with warp shuffles; x is read once.
//   softmax_block_t{T}_i{ITEMS}_*:  one block of T threads per row (cols <= T * ITEMS): cached in
//                                   registers, block reductions (shuffles within warps, shared memory
//                                   across warps); x is read once.
//   softmax_stream_t{T}_*:          one block per row of any length: pass 1 keeps an online (max, sum)
//                                   pair per thread, merged across the block; pass 2 writes
//                                   exp(x - max) / sum. x is read twice (the second time mostly from L2).
// -inf entries give exp(-inf) = 0; a row of -inf only gives NaN (0/0) and a row holding +inf gives NaN,
// as torch does.
#include <gpubench/types.cuh>

#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide reductions for THREADS threads (a multiple of 32, at most 1024). `scratch` holds
// THREADS / 32 floats; every warp reduces the per-warp partials, so each thread gets the result.
template <int THREADS>
__device__ __forceinline__ float block_max(float v, float* scratch) {
  constexpr int kWarps = THREADS / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_max(v);
  __syncthreads();  // the scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_max(lane < kWarps ? scratch[lane] : NEG_INF);
}

template <int THREADS>
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  constexpr int kWarps = THREADS / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < kWarps ? scratch[lane] : 0.f);
}

// exp(x - m) when m may be -inf: a lane that has only seen -inf subtracts 0 instead (exp(-inf) = 0),
// never -inf - -inf = NaN. +inf and NaN still propagate.
__device__ __forceinline__ float safe_max(float m) { return m == NEG_INF ? 0.f : m; }

// Merge two online-softmax states (m, s), s being a sum of exp(x - m).
__device__ __forceinline__ void online_merge(float& m, float& s, float m2, float s2) {
  const float mn = fmaxf(m, m2);
  const float ms = safe_max(mn);
  s = s * __expf(m - ms) + s2 * __expf(m2 - ms);
  m = mn;
}

// ---- one warp per row ---------------------------------------------------------------------------
template <class T, int ITEMS>
__device__ __forceinline__ void softmax_warp(const T* __restrict__ x, T* __restrict__ out, long long rows,
                                             int cols) {
  const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;  // whole warps leave together: the shuffles below stay full-warp
  const int lane = threadIdx.x & 31;
  const T* xr = x + row * cols;
  T* outr = out + row * cols;
  float v[ITEMS];
  float m = NEG_INF;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = lane + 32 * k;
    v[k] = c < cols ? to_float(xr[c]) : NEG_INF;
    m = fmaxf(m, v[k]);
  }
  m = warp_max(m);
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    v[k] = __expf(v[k] - m);  // columns past the end: exp(-inf - m) = 0 (or NaN on a -inf row: not stored)
    s += lane + 32 * k < cols ? v[k] : 0.f;
  }
  const float inv = 1.f / warp_sum(s);
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = lane + 32 * k;
    if (c < cols) outr[c] = from_float<T>(v[k] * inv);
  }
}

// ---- one block per row, row cached in registers -------------------------------------------------
template <class T, int THREADS, int ITEMS>
__device__ __forceinline__ void softmax_block(const T* __restrict__ x, T* __restrict__ out, int cols) {
  __shared__ float scratch[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* outr = out + row * cols;
  float v[ITEMS];
  float m = NEG_INF;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    v[k] = c < cols ? to_float(xr[c]) : NEG_INF;
    m = fmaxf(m, v[k]);
  }
  m = block_max<THREADS>(m, scratch);
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    v[k] = __expf(v[k] - m);
    s += (int)threadIdx.x + THREADS * k < cols ? v[k] : 0.f;
  }
  const float inv = 1.f / block_sum<THREADS>(s, scratch);
#pragma unroll
  for (int k = 0; k < ITEMS; ++k) {
    const int c = threadIdx.x + THREADS * k;
    if (c < cols) outr[c] = from_float<T>(v[k] * inv);
  }
}

// ---- one block per row, streaming (online max and sum) ------------------------------------------
template <class T, int THREADS>
__device__ __forceinline__ void softmax_stream(const T* __restrict__ x, T* __restrict__ out, long long cols) {
  constexpr int kUnroll = 4;  // loads in flight per thread before their (dependent) online updates
  __shared__ float scratch_m[THREADS / 32], scratch_s[THREADS / 32];
  const long long row = blockIdx.x;
  const T* xr = x + row * cols;
  T* outr = out + row * cols;
  float m = NEG_INF, s = 0.f;
  long long c = threadIdx.x;
  for (; c + (kUnroll - 1) * THREADS < cols; c += kUnroll * THREADS) {
    float v[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) v[k] = to_float(xr[c + k * THREADS]);
    float mc = v[0];
#pragma unroll
    for (int k = 1; k < kUnroll; ++k) mc = fmaxf(mc, v[k]);
    const float mn = fmaxf(m, mc);
    const float ms = safe_max(mn);
    s *= __expf(m - ms);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) s += __expf(v[k] - ms);
    m = mn;
  }
  for (; c < cols; c += THREADS) online_merge(m, s, to_float(xr[c]), 1.f);
  // Merge the per-thread states: within each warp by shuffles, then across warps through shared memory.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    online_merge(m, s, m2, s2);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    scratch_m[warp] = m;
    scratch_s[warp] = s;
  }
  __syncthreads();
  m = lane < THREADS / 32 ? scratch_m[lane] : NEG_INF;
  s = lane < THREADS / 32 ? scratch_s[lane] : 0.f;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    online_merge(m, s, m2, s2);
  }
  const float inv = 1.f / s;
  for (long long j = threadIdx.x; j < cols; j += THREADS) outr[j] = from_float<T>(__expf(to_float(xr[j]) - m) * inv);
}

#define GPUBENCH_SOFTMAX_WARP(T, NAME, ITEMS)                                                        \
  extern "C" __global__ void __launch_bounds__(256)                                                  \
      softmax_warp_i##ITEMS##_##NAME(const T* x, T* out, long long rows, int cols) {                 \
    softmax_warp<T, ITEMS>(x, out, rows, cols);                                                      \
  }

#define GPUBENCH_SOFTMAX_BLOCK(T, NAME, THREADS, ITEMS)                                              \
  extern "C" __global__ void __launch_bounds__(THREADS)                                              \
      softmax_block_t##THREADS##_i##ITEMS##_##NAME(const T* x, T* out, int cols) {                   \
    softmax_block<T, THREADS, ITEMS>(x, out, cols);                                                  \
  }

#define GPUBENCH_SOFTMAX_STREAM(T, NAME, THREADS)                                                    \
  extern "C" __global__ void __launch_bounds__(THREADS)                                              \
      softmax_stream_t##THREADS##_##NAME(const T* x, T* out, long long cols) {                       \
    softmax_stream<T, THREADS>(x, out, cols);                                                        \
  }

#define GPUBENCH_SOFTMAX(T, NAME)            \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 1)          \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 2)          \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 4)          \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 8)          \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 16)         \
  GPUBENCH_SOFTMAX_WARP(T, NAME, 32)         \
  GPUBENCH_SOFTMAX_BLOCK(T, NAME, 256, 8)    \
  GPUBENCH_SOFTMAX_BLOCK(T, NAME, 512, 8)    \
  GPUBENCH_SOFTMAX_BLOCK(T, NAME, 512, 16)   \
  GPUBENCH_SOFTMAX_STREAM(T, NAME, 1024)

GPUBENCH_SOFTMAX(float, fp32)
GPUBENCH_SOFTMAX(f16, fp16)
GPUBENCH_SOFTMAX(bf16, bf16)
