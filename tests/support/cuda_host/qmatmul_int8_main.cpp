// Host driver for kernels/qmatmul/int8_gemm.cu under emu.h, with the PTX it uses emulated here:
// cp.async as a synchronous copy with zero fill, dp4a as a byte-wise dot product, and mma.sync
// m16n8k32 s8 as a warp-wide exchange (every lane stages its fragments, a barrier, each lane computes
// its four accumulators from the warp's fragments, read back with the PTX ISA's fragment layout written
// out independently below, another barrier). All warps of a block issue the same mma sequence, so the
// block barrier stands in for a warp barrier.
// usage: qmatmul_int8_main KERNEL GRID BLOCK GROUP_M M N K A_ROWS B_ROWS
//        < A (M*K int8) B (N*K int8) sa (fp32, M or 1) sb (fp32, N or 1) > C (M*N of the output type)
#include "emu.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#undef __shared__
#define __shared__ static  // one copy per block: blocks run one after another
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#define GPUBENCH_EMULATED_PTX

inline void cp_async16(void* dst, const void* src, int bytes) {
  std::memset(dst, 0, 16);
  std::memcpy(dst, src, bytes);
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

inline int dp4a_s8(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) c += (signed char)(a >> (8 * i)) * (signed char)(b >> (8 * i));
  return c;
}

struct Fragments {
  unsigned a[4];
  unsigned b[2];
};
inline Fragments emu_fragments[32][32];  // [warp][lane]

inline int byte_of(unsigned w, int i) { return (signed char)(w >> (8 * i)); }
// A[r][k] (16 x 32) and B[k][n] (32 x 8) of the warp's mma, from the lanes that hold them.
inline int frag_a(const Fragments* f, int r, int k) {
  const int lane = (r % 8) * 4 + (k % 16) / 4, reg = (r >= 8 ? 1 : 0) + (k >= 16 ? 2 : 0);
  return byte_of(f[lane].a[reg], k % 4);
}
inline int frag_b(const Fragments* f, int k, int n) {
#ifdef GPUBENCH_EMU_SWAPPED_B  // a wrong reading of the layout (b0 and b1 exchanged): the tests must notice
  const int lane = n * 4 + (k % 16) / 4, reg = k >= 16 ? 0 : 1;
#else
  const int lane = n * 4 + (k % 16) / 4, reg = k >= 16 ? 1 : 0;
#endif
  return byte_of(f[lane].b[reg], k % 4);
}

inline void mma_s8_16832(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  Fragments& mine = emu_fragments[warp][lane];
  for (int i = 0; i < 4; ++i) mine.a[i] = a[i];
  for (int i = 0; i < 2; ++i) mine.b[i] = b[i];
  __syncthreads();
  const Fragments* f = emu_fragments[warp];
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    for (int k = 0; k < 32; ++k) d[e] += frag_a(f, row, k) * frag_b(f, k, col);
  }
  __syncthreads();  // nobody restages before every lane has read
}

#include "int8_gemm.cu"

template <class T>
static std::vector<T> read(size_t n) {
  std::vector<T> v(n);
  if (n && fread(v.data(), sizeof(T), n, stdin) != n) exit(3);
  return v;
}

template <class OutT>
using Kernel = void (*)(const signed char*, const signed char*, const float*, const float*, OutT*, int, int, int,
                        int, int, int);

template <class OutT>
static int run(Kernel<OutT> k, unsigned grid, unsigned block, int group_m, int M, int N, int K, int ar, int br) {
  auto A = read<signed char>((size_t)M * K);
  auto B = read<signed char>((size_t)N * K);
  auto sa = read<float>(ar ? M : 1);
  auto sb = read<float>(br ? N : 1);
  std::vector<OutT> C((size_t)M * N);
  std::memset(C.data(), 0x5a, C.size() * sizeof(OutT));  // poison: every output must be written
  emu_launch(grid, block, [&] { k(A.data(), B.data(), sa.data(), sb.data(), C.data(), M, N, K, ar, br, group_m); });
  fwrite(C.data(), sizeof(OutT), C.size(), stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 10) return 2;
  const std::string name = argv[1];
  const unsigned grid = atoi(argv[2]), block = atoi(argv[3]);
  const int group_m = atoi(argv[4]), M = atoi(argv[5]), N = atoi(argv[6]), K = atoi(argv[7]);
  const int ar = atoi(argv[8]), br = atoi(argv[9]);
#define GPUBENCH_RUN(KNAME, T) \
  if (name == #KNAME) return run<T>(KNAME, grid, block, group_m, M, N, K, ar, br);
  GPUBENCH_RUN(gemm_int8_dp4a_fp16, f16)
  GPUBENCH_RUN(gemm_int8_dp4a_bf16, bf16)
  GPUBENCH_RUN(gemm_int8_dp4a_i32, int)
  GPUBENCH_RUN(gemm_int8_mma_fp16, f16)
  GPUBENCH_RUN(gemm_int8_mma_bf16, bf16)
  GPUBENCH_RUN(gemm_int8_mma_i32, int)
  return 4;
}
