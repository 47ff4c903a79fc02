// Arithmetic-rate micro-benchmarks: SIMT FMA (fp32, fp64, packed f16x2) and the tensor cores through
// mma.sync m16n8k16 (fp16 and bf16 inputs, fp32 accumulators; needs sm_80+). Launched by
// bench/micro/compute.py, where the FLOP accounting sits next to the launches.
//
// FMA kernels: kChains independent accumulators per thread, each updated `iters` times by a = a * b + c
// (b, c are run-time values, so nothing folds). The iteration loop is unrolled kFmaUnroll times so the
// loop's own instructions cost about 1% of issue slots. The accumulators' bits are XORed together and
// written only if they equal `sentinel` (practically never): the compiler cannot drop the chains.

constexpr int kChains = 8;
constexpr int kFmaUnroll = 16;  // iters must be a multiple of this

__device__ __forceinline__ float fma_f32(float a, float b, float c) {
  float d;
  asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(d) : "f"(a), "f"(b), "f"(c));
  return d;
}

__device__ __forceinline__ double fma_f64(double a, double b, double c) {
  double d;
  asm("fma.rn.f64 %0, %1, %2, %3;" : "=d"(d) : "d"(a), "d"(b), "d"(c));
  return d;
}

// Two fp16 FMAs in one instruction on a packed pair.
__device__ __forceinline__ unsigned fma_f16x2(unsigned a, unsigned b, unsigned c) {
  unsigned d;
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

extern "C" __global__ void __launch_bounds__(256) fma_fp32(long long iters, float b, float c,
                                                          unsigned sentinel, unsigned* __restrict__ sink) {
  const unsigned tid = blockIdx.x * blockDim.x + threadIdx.x;
  float a[kChains];
#pragma unroll
  for (int j = 0; j < kChains; ++j) a[j] = 0.125f * (float)(j + 1) + 1e-6f * (float)(tid & 1023);
  for (long long i = 0; i < iters; i += kFmaUnroll) {
#pragma unroll
    for (int u = 0; u < kFmaUnroll; ++u) {
#pragma unroll
      for (int j = 0; j < kChains; ++j) a[j] = fma_f32(a[j], b, c);
    }
  }
  unsigned x = 0;
#pragma unroll
  for (int j = 0; j < kChains; ++j) x ^= __float_as_uint(a[j]);
  if (x == sentinel) sink[tid] = x;
}

extern "C" __global__ void __launch_bounds__(256) fma_fp64(long long iters, double b, double c,
                                                          unsigned sentinel, unsigned* __restrict__ sink) {
  const unsigned tid = blockIdx.x * blockDim.x + threadIdx.x;
  double a[kChains];
#pragma unroll
  for (int j = 0; j < kChains; ++j) a[j] = 0.125 * (double)(j + 1) + 1e-9 * (double)(tid & 1023);
  for (long long i = 0; i < iters; i += kFmaUnroll) {
#pragma unroll
    for (int u = 0; u < kFmaUnroll; ++u) {
#pragma unroll
      for (int j = 0; j < kChains; ++j) a[j] = fma_f64(a[j], b, c);
    }
  }
  unsigned long long x = 0;
#pragma unroll
  for (int j = 0; j < kChains; ++j) x ^= (unsigned long long)__double_as_longlong(a[j]);
  const unsigned folded = (unsigned)x ^ (unsigned)(x >> 32);
  if (folded == sentinel) sink[tid] = folded;
}

// b and c are packed half2 bit patterns; a[j] starts at a valid packed pair.
extern "C" __global__ void __launch_bounds__(256) fma_f16x2(long long iters, unsigned b, unsigned c,
                                                           unsigned sentinel, unsigned* __restrict__ sink) {
  const unsigned tid = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned a[kChains];
#pragma unroll
  for (int j = 0; j < kChains; ++j) {
    // fp16 bit patterns of 0.25 * (1 + j / 8) in both halves, perturbed in the low mantissa bits
    const unsigned short h = (unsigned short)(0x3400u + (unsigned)j * 0x40u + (tid & 7u));
    a[j] = ((unsigned)h << 16) | (unsigned)h;
  }
  for (long long i = 0; i < iters; i += kFmaUnroll) {
#pragma unroll
    for (int u = 0; u < kFmaUnroll; ++u) {
#pragma unroll
      for (int j = 0; j < kChains; ++j) a[j] = fma_f16x2(a[j], b, c);
    }
  }
  unsigned x = 0;
#pragma unroll
  for (int j = 0; j < kChains; ++j) x ^= a[j];
  if (x == sentinel) sink[tid] = x;
}

// ---- mma.sync: fp16/bf16 m16n8k16 with fp32 accumulators, int8 m16n8k32 with int32 accumulators ----
// Each warp loads its A fragment (4 x b32 per lane: 8 halves, or 16 int8) and B fragment (2 x b32) once
// from `frag` (6 words per lane, shared by all warps), then issues kMmaAcc independent mma chains
// `iters` times (unrolled kMmaUnroll times) with no memory traffic at all, and writes its kMmaAcc x 4
// accumulators once. One m16n8k16 is 2 * 16 * 8 * 16 = 4096 FLOPs; one m16n8k32 is 2 * 16 * 8 * 32 =
// 8192 integer operations. Integer accumulators wrap modulo 2^32 on overflow (no .satfinite): that does
// not change the rate, and the host's check of the int8 kernel uses data that cannot overflow.
constexpr int kMmaAcc = 4;
constexpr int kMmaUnroll = 8;  // iters must be a multiple of this

struct MmaF16 {
  using Acc = float;
  static __device__ __forceinline__ void step(float (&d)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                              unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ float init(int k, int r) { return 0.5f * (float)k + 0.25f * (float)r; }
};

struct MmaBf16 {
  using Acc = float;
  static __device__ __forceinline__ void step(float (&d)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                              unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ float init(int k, int r) { return 0.5f * (float)k + 0.25f * (float)r; }
};

// The accumulators start at k * 4 + r, so the host can check every one after a run on known data.
struct MmaS8 {
  using Acc = int;
  static __device__ __forceinline__ void step(int (&d)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                              unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ int init(int k, int r) { return k * 4 + r; }
};

template <class M>
__device__ __forceinline__ void mma_loop(const unsigned* __restrict__ frag, long long iters,
                                         typename M::Acc* __restrict__ out) {
  const unsigned lane = threadIdx.x & 31u;
  const unsigned a0 = frag[lane * 6 + 0], a1 = frag[lane * 6 + 1], a2 = frag[lane * 6 + 2];
  const unsigned a3 = frag[lane * 6 + 3], b0 = frag[lane * 6 + 4], b1 = frag[lane * 6 + 5];
  typename M::Acc d[kMmaAcc][4];
#pragma unroll
  for (int k = 0; k < kMmaAcc; ++k) {
#pragma unroll
    for (int r = 0; r < 4; ++r) d[k][r] = M::init(k, r);
  }
  for (long long i = 0; i < iters; i += kMmaUnroll) {
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < kMmaAcc; ++k) M::step(d[k], a0, a1, a2, a3, b0, b1);
    }
  }
  const long long gtid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
#pragma unroll
  for (int k = 0; k < kMmaAcc; ++k) {
#pragma unroll
    for (int r = 0; r < 4; ++r) out[gtid * (kMmaAcc * 4) + k * 4 + r] = d[k][r];
  }
}

extern "C" __global__ void __launch_bounds__(256) mma_sync_fp16(const unsigned* __restrict__ frag, long long iters,
                                                               float* __restrict__ out) {
  mma_loop<MmaF16>(frag, iters, out);
}

extern "C" __global__ void __launch_bounds__(256) mma_sync_bf16(const unsigned* __restrict__ frag, long long iters,
                                                               float* __restrict__ out) {
  mma_loop<MmaBf16>(frag, iters, out);
}

extern "C" __global__ void __launch_bounds__(256) mma_sync_int8(const unsigned* __restrict__ frag, long long iters,
                                                               int* __restrict__ out) {
  mma_loop<MmaS8>(frag, iters, out);
}
