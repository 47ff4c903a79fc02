// What the host drivers of the mma.sync kernels share under emu.h: cp.async as a synchronous copy with
// zero fill, and mma.sync as a warp-wide exchange (every lane stages its fragments, a barrier, each lane
// computes its four accumulators from the warp's fragments, read back with the PTX ISA's fragment layouts
// written out independently below, another barrier). All warps of a block issue the same mma sequence, so
// the block barrier stands in for a warp barrier. The products are summed in double and added to the
// accumulator once per instruction (fp8 tensor cores keep fewer bits: kernels/qmatmul/common.py).
#pragma once
#include <cmath>
#include <cstring>

#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#define GPUBENCH_EMULATED_PTX
#define __trap() abort()

inline void cp_async16(void* dst, const void* src, int bytes) {
  std::memset(dst, 0, 16);
  std::memcpy(dst, src, bytes);
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

struct Fragments {
  unsigned a[4];
  unsigned b[2];
};
inline Fragments emu_fragments[32][32];  // [warp][lane]

// ---- m16n8k32, 8-bit operands (.s8 and .e4m3 alike): the byte of A[r][k] (16 x 32) and of B[k][n] (32 x 8)
inline unsigned char frag8_a(const Fragments* f, int r, int k) {
  const int lane = (r % 8) * 4 + (k % 16) / 4, reg = (r >= 8 ? 1 : 0) + (k >= 16 ? 2 : 0);
  return (unsigned char)(f[lane].a[reg] >> (8 * (k % 4)));
}
inline unsigned char frag8_b(const Fragments* f, int k, int n) {
#ifdef GPUBENCH_EMU_SWAPPED_B  // a wrong reading of the layout (b0 and b1 exchanged): the tests must notice
  const int lane = n * 4 + (k % 16) / 4, reg = k >= 16 ? 0 : 1;
#else
  const int lane = n * 4 + (k % 16) / 4, reg = k >= 16 ? 1 : 0;
#endif
  return (unsigned char)(f[lane].b[reg] >> (8 * (k % 4)));
}

// ---- m16n8k16, 16-bit operands (.f16 and .bf16): the bits of A[r][k] (16 x 16) and of B[k][n] (16 x 8);
// a register holds two consecutive k, the lower in its low half.
inline unsigned short frag16_a(const Fragments* f, int r, int k) {
  const int lane = (r % 8) * 4 + (k % 8) / 2, reg = (r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
  return (unsigned short)(f[lane].a[reg] >> (16 * (k % 2)));
}
inline unsigned short frag16_b(const Fragments* f, int k, int n) {
  const int lane = n * 4 + (k % 8) / 2, reg = k >= 8 ? 1 : 0;
  return (unsigned short)(f[lane].b[reg] >> (16 * (k % 2)));
}

// e4m3 (float8_e4m3fn): sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN.
inline float e4m3(unsigned char v) {
  const int e = (v >> 3) & 0xF, m = v & 7;
  if (e == 15 && m == 7) return NAN;
  const float mag = e == 0 ? std::ldexp((float)m, -9) : std::ldexp((float)(8 + m), e - 10);
  return (v & 0x80) ? -mag : mag;
}

// d += A B for the warp's tile: C/D fragments d0, d1 = C[g][2t], C[g][2t+1]; d2, d3 = C[g+8][2t], C[g+8][2t+1].
// a_at(f, r, k) and b_at(f, k, n) give the operands' values as double.
template <class Acc, class AAt, class BAt>
inline void emu_mma(Acc (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2], int depth, AAt a_at, BAt b_at) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  Fragments& mine = emu_fragments[warp][lane];
  for (int i = 0; i < 4; ++i) mine.a[i] = a[i];
  for (int i = 0; i < 2; ++i) mine.b[i] = b[i];
  __syncthreads();
  const Fragments* f = emu_fragments[warp];
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    double sum = 0;
    for (int k = 0; k < depth; ++k) sum += a_at(f, row, k) * b_at(f, k, col);
    d[e] = (Acc)(d[e] + sum);
  }
  __syncthreads();  // nobody restages before every lane has read
}
