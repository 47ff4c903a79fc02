// Bandwidth micro-benchmarks: DRAM read / write / copy / triad, the cache working-set sweep, and shared
// memory. Launched by bench/micro/memory.py; byte accounting lives there, next to the launches.
//
// Every global access is a 16-byte packet (float4 / uint4). The DRAM kernels run a grid-stride loop
// unrolled by kUnroll with the bound checked once per group, so each thread has kUnroll independent
// 16-byte loads in flight; a plain grid-stride loop mops up the remainder.

constexpr int kUnroll = 4;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Sums `packets` float4 packets; block b writes its partial sum to partials[b]. A real reduction (the
// host can check sum(partials) against the buffer's sum), so no load can be eliminated.
extern "C" __global__ void __launch_bounds__(256) dram_read(const float4* __restrict__ x, long long packets,
                                                           float* __restrict__ partials) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
    const float4 v0 = x[i], v1 = x[i + stride], v2 = x[i + 2 * stride], v3 = x[i + 3 * stride];
    a0 += (v0.x + v0.y) + (v0.z + v0.w);
    a1 += (v1.x + v1.y) + (v1.z + v1.w);
    a2 += (v2.x + v2.y) + (v2.z + v2.w);
    a3 += (v3.x + v3.y) + (v3.z + v3.w);
  }
  for (; i < packets; i += stride) {
    const float4 v = x[i];
    a0 += (v.x + v.y) + (v.z + v.w);
  }
  float s = warp_sum((a0 + a1) + (a2 + a3));
  __shared__ float warp_part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_part[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < (int)(blockDim.x >> 5) ? warp_part[lane] : 0.f;
    s = warp_sum(s);
    if (lane == 0) partials[blockIdx.x] = s;
  }
}

// The value written to packet i: a cheap hash of (i, seed), so the written data is not uniform.
// bench/micro/memory.py `write_pattern` computes the same words for the host-side check.
__device__ __forceinline__ uint4 pattern(long long i, unsigned seed) {
  const unsigned h = (unsigned)i * 0x9E3779B1u + seed;
  uint4 v;
  v.x = h;
  v.y = h ^ 0x55555555u;
  v.z = h + 0x3C6EF372u;
  v.w = ~h;
  return v;
}

extern "C" __global__ void __launch_bounds__(256) dram_write(uint4* __restrict__ y, long long packets,
                                                            unsigned seed) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) y[i + u * stride] = pattern(i + u * stride, seed);
  }
  for (; i < packets; i += stride) y[i] = pattern(i, seed);
}

extern "C" __global__ void __launch_bounds__(256) dram_copy(const uint4* __restrict__ x, uint4* __restrict__ y,
                                                           long long packets) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
    const uint4 v0 = x[i], v1 = x[i + stride], v2 = x[i + 2 * stride], v3 = x[i + 3 * stride];
    y[i] = v0;
    y[i + stride] = v1;
    y[i + 2 * stride] = v2;
    y[i + 3 * stride] = v3;
  }
  for (; i < packets; i += stride) y[i] = x[i];
}

// a = b + s * c (STREAM triad), float4 packets.
extern "C" __global__ void __launch_bounds__(256) dram_triad(float4* __restrict__ a, const float4* __restrict__ b,
                                                            const float4* __restrict__ c, float s,
                                                            long long packets) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < packets; i += kUnroll * stride) {
    float4 vb[kUnroll], vc[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      vb[u] = b[i + u * stride];
      vc[u] = c[i + u * stride];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float4 r;
      r.x = vb[u].x + s * vc[u].x;
      r.y = vb[u].y + s * vc[u].y;
      r.z = vb[u].z + s * vc[u].z;
      r.w = vb[u].w + s * vc[u].w;
      a[i + u * stride] = r;
    }
  }
  for (; i < packets; i += stride) {
    const float4 vb = b[i], vc = c[i];
    float4 r;
    r.x = vb.x + s * vc.x;
    r.y = vb.y + s * vc.y;
    r.z = vb.z + s * vc.z;
    r.w = vb.w + s * vc.w;
    a[i] = r;
  }
}

// Working-set sweep. The first ws_packets = ws_mask + 1 packets of buf (a power of two, >= blockDim
// and >= 32) are the working set. Block b starts at offset b * ws / gridDim (rounded down to 32
// packets) and each of its threads then reads `iters` packets, advancing by blockDim and wrapping at
// ws. Every block so streams through the whole working set (the per-SM working set equals ws, which
// exposes L1), and because neighbouring blocks are staggered by ws / gridDim, a line is re-read by
// another block after about ws bytes of traffic (so it hits in L2 exactly when ws fits there).
// iters % 4 == 0. The sink is written only if the sum equals `sentinel` (practically never), which the
// compiler cannot know, so every load is kept.
extern "C" __global__ void __launch_bounds__(256) cache_sweep(const uint4* __restrict__ buf, unsigned ws_mask,
                                                             long long iters, unsigned sentinel,
                                                             unsigned* __restrict__ sink) {
  const unsigned long long ws_packets = (unsigned long long)ws_mask + 1ull;
  unsigned p = ((unsigned)((unsigned long long)blockIdx.x * ws_packets / gridDim.x) & ~31u) + threadIdx.x;
  p &= ws_mask;
  const unsigned step = blockDim.x;
  unsigned a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (long long it = 0; it < iters; it += 4) {
    const uint4 v0 = buf[p];
    p = (p + step) & ws_mask;
    const uint4 v1 = buf[p];
    p = (p + step) & ws_mask;
    const uint4 v2 = buf[p];
    p = (p + step) & ws_mask;
    const uint4 v3 = buf[p];
    p = (p + step) & ws_mask;
    a0 += (v0.x + v0.y) + (v0.z + v0.w);
    a1 += (v1.x + v1.y) + (v1.z + v1.w);
    a2 += (v2.x + v2.y) + (v2.z + v2.w);
    a3 += (v3.x + v3.y) + (v3.z + v3.w);
  }
  const unsigned total = (a0 + a1) + (a2 + a3);
  if (total == sentinel) sink[blockIdx.x * blockDim.x + threadIdx.x] = total;
}

// The same sweep with L1 bypassed, for the L2 and DRAM points: ld.global.cg caches in L2 only, so no
// working set can be served from L1 however many SMs hold a part of it. The working set is ws_packets
// packets, any multiple of 32 that is at least blockDim, wrapped by a compare instead of a mask, so
// sizes between powers of two can be swept (several points on the L2 plateau).
__device__ __forceinline__ uint4 load_cg(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.cg.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ unsigned wrap(unsigned p, unsigned n) { return p >= n ? p - n : p; }

extern "C" __global__ void __launch_bounds__(256) cache_sweep_cg(const uint4* __restrict__ buf,
                                                                unsigned ws_packets, long long iters,
                                                                unsigned sentinel, unsigned* __restrict__ sink) {
  const unsigned step = blockDim.x;
  unsigned p = (unsigned)((unsigned long long)blockIdx.x * ws_packets / gridDim.x) & ~31u;
  p = wrap(p + threadIdx.x, ws_packets);
  unsigned a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (long long it = 0; it < iters; it += 4) {
    const uint4 v0 = load_cg(buf + p);
    p = wrap(p + step, ws_packets);
    const uint4 v1 = load_cg(buf + p);
    p = wrap(p + step, ws_packets);
    const uint4 v2 = load_cg(buf + p);
    p = wrap(p + step, ws_packets);
    const uint4 v3 = load_cg(buf + p);
    p = wrap(p + step, ws_packets);
    a0 += (v0.x + v0.y) + (v0.z + v0.w);
    a1 += (v1.x + v1.y) + (v1.z + v1.w);
    a2 += (v2.x + v2.y) + (v2.z + v2.w);
    a3 += (v3.x + v3.y) + (v3.z + v3.w);
  }
  const unsigned total = (a0 + a1) + (a2 + a3);
  if (total == sentinel) sink[blockIdx.x * blockDim.x + threadIdx.x] = total;
}

// Shared-memory bandwidth: each block fills a 32 KiB tile, then every thread reads `iters` float4
// packets from it, four per loop trip at base + tid + j * 256 (j = 0..3), where base advances by the
// run-time `step` (a multiple of 32) modulo 1024. Eight consecutive threads read 128 contiguous bytes,
// one word per bank: conflict-free. The run-time step keeps the compiler from hoisting the loads out of
// the loop. Needs blockDim == 256 and iters % 4 == 0.
constexpr int kSmemPackets = 2048;  // 32 KiB: base (< 1024) + tid (< 256) + 3 * 256 < 2048
extern "C" __global__ void __launch_bounds__(256) smem_read(long long iters, unsigned step, float sentinel,
                                                           float* __restrict__ sink) {
  __shared__ float4 tile[kSmemPackets];
  for (int i = threadIdx.x; i < kSmemPackets; i += blockDim.x) {
    const float f = (float)(i & 255) * 0.0078125f;
    float4 v;
    v.x = f;
    v.y = f + 1.f;
    v.z = f + 2.f;
    v.w = f + 3.f;
    tile[i] = v;
  }
  __syncthreads();
  float4 acc;
  acc.x = acc.y = acc.z = acc.w = 0.f;
  unsigned base = 0;
  for (long long it = 0; it < iters; it += 4) {
    const float4* row = tile + base + threadIdx.x;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float4 v = row[j * 256];
      acc.x += v.x;
      acc.y += v.y;
      acc.z += v.z;
      acc.w += v.w;
    }
    base = (base + step) & 1023u;
  }
  const float total = (acc.x + acc.y) + (acc.z + acc.w);
  if (total == sentinel) sink[blockIdx.x * blockDim.x + threadIdx.x] = total;
}
