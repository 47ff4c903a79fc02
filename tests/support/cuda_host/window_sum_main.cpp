// Host driver for kernels/window_sum/window_sum.cu under emu.h.
// usage: window_sum_main naive DTYPE N RADIUS THREADS < x > out
//        window_sum_main shared DTYPE N RADIUS SEG GROUPS THREADS HALO OBUF [OFFSET] < x > out
// DTYPE is fp32, fp16 or bf16 (raw little-endian values on stdin and stdout). The shared kernel's
// configurations come from WINDOW_CONFIGS, a list of X(SEG, GROUPS, THREADS) passed as a define.
// OFFSET (elements, default 0) places both arrays that far past a 16-byte boundary: 1 takes the
// kernel's path for misaligned pointers.
#include "emu.h"
#include "window_sum.cu"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef WINDOW_CONFIGS
#define WINDOW_CONFIGS X(GPUBENCH_WINDOW_SEG, GPUBENCH_WINDOW_GROUPS, GPUBENCH_WINDOW_THREADS)
#endif

template <class T>
static int run(int argc, char** argv) {
  const bool shared = argv[1][0] == 's';
  const long long n = atoll(argv[3]), r = atoll(argv[4]);
  const int offset = argc == 11 ? atoi(argv[10]) : 0;
  std::vector<T> xs(n + offset), outs(n + offset);
  T *x = xs.data() + offset, *out = outs.data() + offset;
  std::memset(out, 0xA5, n * sizeof(T));  // a pattern no window sum of the tests gives
  if (fread(x, sizeof(T), n, stdin) != (size_t)n) return 3;
  if (!shared) {
    if (argc != 6) return 2;
    const unsigned threads = atoi(argv[5]);
    emu_launch((n + threads - 1) / threads, threads, [&] { window_naive<T>(x, out, n, r); });
  } else {
    if (argc != 10 && argc != 11) return 2;
    const int seg = atoi(argv[5]), groups = atoi(argv[6]), threads = atoi(argv[7]);
    const int halo = atoi(argv[8]), obuf = atoi(argv[9]);
    bool found = false;
#define X(S, G, NT)                                                                   \
  if (seg == S && groups == G && threads == NT) {                                     \
    const long long tile = (long long)(S) * (G) * (NT);                               \
    emu_launch((n + tile - 1) / tile, NT, [&] {                                       \
      window_shared<T, S, G, NT>(x, out, n, r, halo, obuf);                           \
    });                                                                               \
    found = true;                                                                     \
  }
    WINDOW_CONFIGS
#undef X
    if (!found) return 4;
  }
  fwrite(out, sizeof(T), n, stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 6) return 2;
  const std::string dtype = argv[2];
  if (dtype == "fp32") return run<float>(argc, argv);
  if (dtype == "fp16") return run<f16>(argc, argv);
  if (dtype == "bf16") return run<bf16>(argc, argv);
  return 2;
}
