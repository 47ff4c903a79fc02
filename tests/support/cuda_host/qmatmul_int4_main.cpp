// Host driver for kernels/qmatmul/int4_gemm.cu under emu.h, with cp.async and mma.sync m16n8k16 (f16 and
// bf16 operands, the PTX ISA's fragment layout) emulated by mma_emu.h.
// usage: qmatmul_int4_main KERNEL GRID BLOCK GROUP_M M N K GROUP
//        < X (M*K 16-bit) W (N*K/2 bytes) S (K/GROUP*N 16-bit) > C (M*N 16-bit)
#include "emu.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#undef __shared__
#define __shared__ static  // one copy per block: blocks run one after another
#include "mma_emu.h"
#include <gpubench/types.cuh>  // the host stand-in: the emulated mma below takes its f16 and bf16

template <class T>
inline void emu_mma_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  emu_mma(d, a, b, 16, [](const Fragments* f, int r, int k) { return (double)to_float(T{frag16_a(f, r, k)}); },
          [](const Fragments* f, int k, int n) { return (double)to_float(T{frag16_b(f, k, n)}); });
}
inline void mma_16816(f16, float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  emu_mma_16816<f16>(d, a, b);
}
inline void mma_16816(bf16, float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  emu_mma_16816<bf16>(d, a, b);
}

#include "int4_gemm.cu"

template <class T>
static std::vector<T> read(size_t n) {
  std::vector<T> v(n);
  if (n && fread(v.data(), sizeof(T), n, stdin) != n) exit(3);
  return v;
}

template <class T>
static int run(unsigned grid, unsigned block, int group_m, int M, int N, int K, int group) {
  auto X = read<T>((size_t)M * K);
  auto W = read<unsigned char>((size_t)N * K / 2);
  auto S = read<T>((size_t)K / group * N);
  std::vector<T> C((size_t)M * N);
  std::memset(C.data(), 0x5a, C.size() * sizeof(T));  // poison: every output must be written
  emu_launch(grid, block, [&] { gemm_int4<T>(X.data(), W.data(), S.data(), C.data(), M, N, K, group, group_m); });
  fwrite(C.data(), sizeof(T), C.size(), stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 9) return 2;
  const std::string name = argv[1];
  const unsigned grid = atoi(argv[2]), block = atoi(argv[3]);
  const int group_m = atoi(argv[4]), M = atoi(argv[5]), N = atoi(argv[6]), K = atoi(argv[7]);
  const int group = atoi(argv[8]);
  if (name == "gemm_int4_mma_fp16") return run<f16>(grid, block, group_m, M, N, K, group);
  if (name == "gemm_int4_mma_bf16") return run<bf16>(grid, block, group_m, M, N, K, group);
  return 4;
}
