// Host driver for kernels/conv2d/conv2d.cu under emu.h (shared memory and barriers only: no PTX to emulate).
// usage: conv2d_main KERNEL GRID BLOCK N H W C K P Q R S Cg Kg STRIDE PAD DIL GROUP_M
//        < x (N*H*W*C) w (K*R*S*Cg) [bias (K)] > out (N*P*Q*K), raw values of the kernel's storage type
#include "emu.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#undef __shared__
#define __shared__ static  // one copy per block: blocks run one after another
#include "conv2d.cu"

template <class T>
static std::vector<T> read(size_t n) {
  std::vector<T> v(n);
  if (n && fread(v.data(), sizeof(T), n, stdin) != n) exit(3);
  return v;
}

template <class T>
static int run(bool bias_relu, unsigned grid, unsigned block, const int* a) {
  const int N = a[0], H = a[1], W = a[2], C = a[3], K = a[4], P = a[5], Q = a[6], R = a[7], S = a[8];
  const int Cg = a[9], Kg = a[10], stride = a[11], pad = a[12], dil = a[13], group_m = a[14];
  auto x = read<T>((size_t)N * H * W * C);
  auto w = read<T>((size_t)K * R * S * Cg);
  auto bias = read<T>(bias_relu ? K : 0);
  std::vector<T> out((size_t)N * P * Q * K);
  std::memset(out.data(), 0x5a, out.size() * sizeof(T));  // poison: every output must be written
  emu_launch(grid, block, [&] {
    if (bias_relu)
      conv2d_igemm<T, true>(x.data(), w.data(), bias.data(), out.data(),
                            ConvDims{N, H, W, C, K, P, Q, R, S, Cg, Kg, stride, pad, dil, group_m});
    else
      conv2d_igemm<T, false>(x.data(), w.data(), nullptr, out.data(),
                             ConvDims{N, H, W, C, K, P, Q, R, S, Cg, Kg, stride, pad, dil, group_m});
  });
  fwrite(out.data(), sizeof(T), out.size(), stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 19) return 2;
  const std::string name = argv[1];
  const unsigned grid = atoi(argv[2]), block = atoi(argv[3]);
  int a[15];
  for (int i = 0; i < 15; ++i) a[i] = atoi(argv[4 + i]);
  const bool bias_relu = name.find("bias_relu") != std::string::npos;
  const std::string suffix = name.substr(name.rfind('_') + 1);
  if (suffix == "fp32") return run<float>(bias_relu, grid, block, a);
  if (suffix == "fp16") return run<f16>(bias_relu, grid, block, a);
  if (suffix == "bf16") return run<bf16>(bias_relu, grid, block, a);
  return 4;
}
