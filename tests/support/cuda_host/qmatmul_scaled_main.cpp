// Host driver for kernels/qmatmul/int8_gemm.cu and fp8_gemm.cu under emu.h, with the PTX they use emulated
// here: cp.async as a synchronous copy with zero fill, dp4a as a byte-wise dot product, and mma.sync
// m16n8k32 (s8, and e4m3 decoded exactly, mma_emu.h) as a warp-wide exchange of fragments read back with
// the PTX ISA's fragment layout written out independently.
// usage: qmatmul_scaled_main KERNEL GRID BLOCK GROUP_M M N K A_ROWS B_ROWS
//        < A (M*K bytes) B (N*K bytes) sa (fp32, M or 1) sb (fp32, N or 1) > C (M*N of the output type)
//        qmatmul_scaled_main decode > the 256 e4m3 codes as fp32
#include "emu.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#undef __shared__
#define __shared__ static  // one copy per block: blocks run one after another
#include "mma_emu.h"

inline int dp4a_s8(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) c += (signed char)(a >> (8 * i)) * (signed char)(b >> (8 * i));
  return c;
}

inline void mma_s8_16832(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  emu_mma(d, a, b, 32, [](const Fragments* f, int r, int k) { return (double)(signed char)frag8_a(f, r, k); },
          [](const Fragments* f, int k, int n) { return (double)(signed char)frag8_b(f, k, n); });
}
inline void mma_e4m3_16832(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  emu_mma(d, a, b, 32, [](const Fragments* f, int r, int k) { return (double)e4m3(frag8_a(f, r, k)); },
          [](const Fragments* f, int k, int n) { return (double)e4m3(frag8_b(f, k, n)); });
}

#include "int8_gemm.cu"
#include "fp8_gemm.cu"

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
  if (argc == 2 && std::string(argv[1]) == "decode") {
    for (int v = 0; v < 256; ++v) {
      const float f = e4m3((unsigned char)v);
      fwrite(&f, sizeof f, 1, stdout);
    }
    return 0;
  }
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
  GPUBENCH_RUN(gemm_fp8_mma_fp16, f16)
  GPUBENCH_RUN(gemm_fp8_mma_bf16, bf16)
  return 4;
}
