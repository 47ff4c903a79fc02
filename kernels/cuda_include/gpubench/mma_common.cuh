// What the suite's mma.sync GEMMs share: cp.async copies into shared memory and the grouped order of
// output tiles. A host emulation (tests/support/cuda_host) defines GPUBENCH_EMULATED_PTX and provides its
// own cp_async16, cp_async_commit and cp_async_wait.
#pragma once

#ifndef GPUBENCH_EMULATED_PTX
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// Copy `bytes` (16 or 0) from global to shared memory and zero-fill the rest of the 16.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
#endif  // GPUBENCH_EMULATED_PTX

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// (row tile, column tile) of this block in grouped order: down group_m row tiles, then one column right.
__device__ __forceinline__ void grouped_tile(int tiles_m, int tiles_n, int group_m, int& tm, int& tn) {
  const int id = blockIdx.x;
  const int per_group = group_m * tiles_n;
  const int first = (id / per_group) * group_m;
  const int rows = imin(tiles_m - first, group_m);
  tm = first + (id % per_group) % rows;
  tn = (id % per_group) / rows;
}
