// out = x + y, elementwise. Two forms:
//   *_simple: one element per thread, the textbook kernel.
//   *_vec:    grid-stride loop over 16-byte packets (float4 or 8 halves), one scalar tail;
//             needs 16-byte aligned pointers (the launcher checks and falls back otherwise).
#include <gpubench/types.cuh>

template <class T>
__device__ __forceinline__ void add_simple(const T* __restrict__ x, const T* __restrict__ y,
                                           T* __restrict__ out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = from_float<T>(to_float(x[i]) + to_float(y[i]));
}

// A 16-byte packet holding 16 / sizeof(T) elements.
template <class T>
__device__ __forceinline__ void add_vec(const T* __restrict__ x, const T* __restrict__ y,
                                        T* __restrict__ out, long long n) {
  constexpr int kPer = 16 / sizeof(T);
  const long long packets = n / kPer;
  const long long stride = (long long)gridDim.x * blockDim.x;
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  const uint4* yv = reinterpret_cast<const uint4*>(y);
  uint4* ov = reinterpret_cast<uint4*>(out);
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < packets; p += stride) {
    uint4 a = xv[p], b = yv[p], c;
    const T* ae = reinterpret_cast<const T*>(&a);
    const T* be = reinterpret_cast<const T*>(&b);
    T* ce = reinterpret_cast<T*>(&c);
#pragma unroll
    for (int k = 0; k < kPer; ++k) ce[k] = from_float<T>(to_float(ae[k]) + to_float(be[k]));
    ov[p] = c;
  }
  // Tail: fewer than one packet of elements, handled by the first threads of block 0.
  if (blockIdx.x == 0) {
    long long i = packets * kPer + threadIdx.x;
    if (i < n) out[i] = from_float<T>(to_float(x[i]) + to_float(y[i]));
  }
}

#define GPUBENCH_VECTOR_ADD(T, NAME)                                                          \
  extern "C" __global__ void vector_add_simple_##NAME(const T* x, const T* y, T* out,        \
                                                      long long n) {                          \
    add_simple<T>(x, y, out, n);                                                              \
  }                                                                                           \
  extern "C" __global__ void vector_add_vec_##NAME(const T* x, const T* y, T* out, long long n) { \
    add_vec<T>(x, y, out, n);                                                                 \
  }

GPUBENCH_VECTOR_ADD(float, fp32)
GPUBENCH_VECTOR_ADD(f16, fp16)
GPUBENCH_VECTOR_ADD(bf16, bf16)
