// Runs CUDA C kernels on the CPU for logic tests: one OS thread per CUDA thread, blocks one after
// another, __syncthreads as a barrier. Enough for kernels that use shared memory and barriers but no
// warp intrinsics or inline PTX; it checks a kernel's indexing, halos and chunking, not its speed.
#pragma once
#include <barrier>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_barrier = nullptr;
alignas(16) inline float emu_shared[1 << 16];  // the block's dynamic shared memory

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __launch_bounds__(...)
#define __shared__
#define buf emu_shared  // the kernels' `extern __shared__ float buf[]`
inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

// Launch `body` (a call of the kernel) on grid x block threads, block by block.
inline void emu_launch(unsigned grid, unsigned block, const std::function<void()>& body) {
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b) {
    std::barrier<> bar(block);
    emu_barrier = &bar;
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned t = 0; t < block; ++t)
      threads.emplace_back([&, t, b] {
        threadIdx.x = t;
        blockIdx.x = b;
        body();
      });
    for (auto& th : threads) th.join();
  }
}
