// Pointer-chase latency, launched <<<1, 1>>> by bench/micro/latency.py.
//
// The table holds absolute addresses: the 8-byte word at each slot is the address of the next slot of
// one random cycle over all slots (slots `stride` >= 128 bytes apart), so each load's address is the
// previous load's value and nothing else: p = *p. `warm` steps are taken first (untimed: one full
// cycle brings a working set that fits into the cache under test), then `steps` timed steps between
// two reads of the SM cycle counter (%clock64) and of the global nanosecond timer (%globaltimer).
// out[0] = cycles, out[1] = nanoseconds, out[2] = the final address (keeps the chain alive).
// chase_l1 uses ld.global with no cache operator (SASS LDG.E.64, an ordinary load, which sm_70+ caches
// in L1; ptxas turns an explicit ld.global.ca into LDG.E.64.STRONG.SM, another instruction, so .ca is
// not used); chase_l2 uses ld.global.cg (LDG.E.64.STRONG.GPU: cached in L2 only, never in L1), for the
// L2 and DRAM levels.
// steps and warm must be multiples of 8 (the loop is unrolled 8 times).

template <bool kL1>
__device__ __forceinline__ unsigned long long load_next(unsigned long long p) {
  unsigned long long v;
  if (kL1) {
    asm volatile("ld.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  } else {
    asm volatile("ld.global.cg.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  }
  return v;
}

template <bool kL1>
__device__ __forceinline__ unsigned long long walk(unsigned long long p, long long steps) {
  for (long long i = 0; i < steps; i += 8) {
#pragma unroll
    for (int u = 0; u < 8; ++u) p = load_next<kL1>(p);
  }
  return p;
}

template <bool kL1>
__device__ __forceinline__ void chase(unsigned long long start, long long warm, long long steps,
                                      unsigned long long* __restrict__ out) {
  unsigned long long p = walk<kL1>(start, warm);
  unsigned long long c0, c1, t0, t1;
  asm volatile("mov.u64 %0, %%clock64;" : "=l"(c0) : : "memory");
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0) : : "memory");
  p = walk<kL1>(p, steps);
  asm volatile("mov.u64 %0, %%clock64;" : "=l"(c1) : : "memory");
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1) : : "memory");
  out[0] = c1 - c0;
  out[1] = t1 - t0;
  out[2] = p;
}

extern "C" __global__ void chase_l1(unsigned long long start, long long warm, long long steps,
                                    unsigned long long* __restrict__ out) {
  chase<true>(start, warm, steps, out);
}

extern "C" __global__ void chase_l2(unsigned long long start, long long warm, long long steps,
                                    unsigned long long* __restrict__ out) {
  chase<false>(start, warm, steps, out);
}
