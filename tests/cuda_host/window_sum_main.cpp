// Host driver for kernels/window_sum/window_sum.cu under emu.h.
// usage: window_sum_main KERNEL(naive|shared) N RADIUS THREADS CHUNK < x.f32 > out.f32
#include "emu.h"
#include "window_sum.cu"

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 6) return 2;
  const bool shared = argv[1][0] == 's';
  const long long n = atoll(argv[2]), r = atoll(argv[3]);
  const unsigned threads = atoi(argv[4]);
  const int chunk = atoi(argv[5]);
  std::vector<float> x(n), out(n, -12345.f);
  if (fread(x.data(), 4, n, stdin) != (size_t)n) return 3;
  if (shared) {
    const long long tile = (long long)threads * GPUBENCH_WINDOW_ITEMS;
    emu_launch((n + tile - 1) / tile, threads,
               [&] { window_sum_shared_fp32(x.data(), out.data(), n, r, chunk); });
  } else {
    emu_launch((n + threads - 1) / threads, threads, [&] { window_sum_naive_fp32(x.data(), out.data(), n, r); });
  }
  fwrite(out.data(), 4, n, stdout);
  return 0;
}
