// Arithmetic-intensity sweep (empirical roofline), launched by bench/micro/sweep.py.
//
// Each thread reads 16-byte packets of a DRAM-sized buffer in a grid-stride loop (kUnroll packets in
// flight per thread, as in the DRAM read kernel). Every element e it loads goes through K dependent
// FMAs, v = v * b + c starting from v = e, and is then added to one of four accumulators:
// 2 * K + 1 FLOPs per element (fp32: 4 bytes, fp16: 2 bytes). The FMAs of the elements of one trip
// are independent chains, interleaved. The accumulators' bits are written only if they equal
// `sentinel` (practically never), so nothing can be eliminated. ai_sweep_<dtype>_k<K>.

constexpr int kUnroll = 4;

__device__ __forceinline__ float fma_f32(float a, float b, float c) {
  float d;
  asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(d) : "f"(a), "f"(b), "f"(c));
  return d;
}

__device__ __forceinline__ unsigned fma_f16x2(unsigned a, unsigned b, unsigned c) {
  unsigned d;
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

__device__ __forceinline__ unsigned add_f16x2(unsigned a, unsigned b) {
  unsigned d;
  asm("add.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

// fp32: a packet is 4 elements. b, c are fp32 values.
template <int K>
__device__ __forceinline__ void sweep_fp32(const uint4* __restrict__ x, long long packets, float b, float c,
                                           unsigned sentinel, unsigned* __restrict__ sink) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
    float v[kUnroll * 4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const uint4 p = x[i + u * stride];
      v[4 * u + 0] = __uint_as_float(p.x);
      v[4 * u + 1] = __uint_as_float(p.y);
      v[4 * u + 2] = __uint_as_float(p.z);
      v[4 * u + 3] = __uint_as_float(p.w);
    }
#pragma unroll 16
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int e = 0; e < kUnroll * 4; ++e) v[e] = fma_f32(v[e], b, c);
    }
#pragma unroll
    for (int e = 0; e < kUnroll * 4; ++e) acc[e & 3] += v[e];
  }
  for (; i < packets; i += stride) {
    const uint4 p = x[i];
    float v[4] = {__uint_as_float(p.x), __uint_as_float(p.y), __uint_as_float(p.z), __uint_as_float(p.w)};
#pragma unroll 16
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int e = 0; e < 4; ++e) v[e] = fma_f32(v[e], b, c);
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[e] += v[e];
  }
  const unsigned bits = __float_as_uint(acc[0]) ^ __float_as_uint(acc[1]) ^ __float_as_uint(acc[2]) ^
                        __float_as_uint(acc[3]);
  if (bits == sentinel) sink[blockIdx.x * blockDim.x + threadIdx.x] = bits;
}

// fp16: a packet is 8 elements held as 4 packed half2 words; one f16x2 instruction is two FMAs (adds).
// b, c are packed half2 bit patterns.
template <int K>
__device__ __forceinline__ void sweep_fp16(const uint4* __restrict__ x, long long packets, unsigned b,
                                           unsigned c, unsigned sentinel, unsigned* __restrict__ sink) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  unsigned acc[4] = {0u, 0u, 0u, 0u};
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
    unsigned v[kUnroll * 4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const uint4 p = x[i + u * stride];
      v[4 * u + 0] = p.x;
      v[4 * u + 1] = p.y;
      v[4 * u + 2] = p.z;
      v[4 * u + 3] = p.w;
    }
#pragma unroll 16
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int e = 0; e < kUnroll * 4; ++e) v[e] = fma_f16x2(v[e], b, c);
    }
#pragma unroll
    for (int e = 0; e < kUnroll * 4; ++e) acc[e & 3] = add_f16x2(acc[e & 3], v[e]);
  }
  for (; i < packets; i += stride) {
    const uint4 p = x[i];
    unsigned v[4] = {p.x, p.y, p.z, p.w};
#pragma unroll 16
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int e = 0; e < 4; ++e) v[e] = fma_f16x2(v[e], b, c);
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[e] = add_f16x2(acc[e], v[e]);
  }
  const unsigned bits = acc[0] ^ acc[1] ^ acc[2] ^ acc[3];
  if (bits == sentinel) sink[blockIdx.x * blockDim.x + threadIdx.x] = bits;
}

#define GPUBENCH_AI_SWEEP(K)                                                                             \
  extern "C" __global__ void __launch_bounds__(256)                                                     \
      ai_sweep_fp32_k##K(const uint4* x, long long packets, float b, float c, unsigned sentinel,         \
                         unsigned* sink) {                                                              \
    sweep_fp32<K>(x, packets, b, c, sentinel, sink);                                                    \
  }                                                                                                     \
  extern "C" __global__ void __launch_bounds__(256)                                                     \
      ai_sweep_fp16_k##K(const uint4* x, long long packets, unsigned b, unsigned c, unsigned sentinel,   \
                         unsigned* sink) {                                                              \
    sweep_fp16<K>(x, packets, b, c, sentinel, sink);                                                    \
  }

// K = 0 and powers of two up to 1024; bench/micro/sweep.py `SWEEP_K` lists the same values.
GPUBENCH_AI_SWEEP(0)
GPUBENCH_AI_SWEEP(1)
GPUBENCH_AI_SWEEP(2)
GPUBENCH_AI_SWEEP(4)
GPUBENCH_AI_SWEEP(8)
GPUBENCH_AI_SWEEP(16)
GPUBENCH_AI_SWEEP(32)
GPUBENCH_AI_SWEEP(64)
GPUBENCH_AI_SWEEP(128)
GPUBENCH_AI_SWEEP(256)
GPUBENCH_AI_SWEEP(512)
GPUBENCH_AI_SWEEP(1024)
