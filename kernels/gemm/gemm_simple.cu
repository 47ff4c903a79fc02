// C = A @ B, A is MxK and B is KxN, row-major; fp32 accumulation, C in the input's storage type.
// The two textbook kernels, one instantiation per storage type (float, f16, bf16):
//   gemm_naive_*: one thread per output, reading a row of A and a column of B from global memory
//                 (16x16 threads per block; blockIdx.x runs along N so a warp reads B coalesced).
//   gemm_smem_*:  32x32 output tile per 32x32-thread block; each K step stages a 32x32 tile of A and of
//                 B in shared memory (converted to float), so each global element is read once per
//                 tile instead of once per output. Ragged edges are zero-filled in shared memory.
#include <gpubench/types.cuh>

template <class T>
__device__ __forceinline__ void gemm_naive(const T* __restrict__ A, const T* __restrict__ B,
                                           T* __restrict__ C, int M, int N, int K) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= M || col >= N) return;
  const T* a = A + (long long)row * K;
  const T* b = B + col;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc = fmaf(to_float(a[k]), to_float(b[(long long)k * N]), acc);
  C[(long long)row * N + col] = from_float<T>(acc);
}

constexpr int kSmemTile = 32;  // mirrored by SMEM_TILE in config.py

template <class T>
__device__ __forceinline__ void gemm_smem(const T* __restrict__ A, const T* __restrict__ B,
                                          T* __restrict__ C, int M, int N, int K) {
  __shared__ float As[kSmemTile][kSmemTile];
  __shared__ float Bs[kSmemTile][kSmemTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kSmemTile + ty;
  const int col = blockIdx.x * kSmemTile + tx;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += kSmemTile) {
    // Thread (ty, tx) stages A[row][k0 + tx] and B[k0 + ty][col]: consecutive tx read consecutive
    // addresses of one row, so both loads are coalesced.
    As[ty][tx] = (row < M && k0 + tx < K) ? to_float(A[(long long)row * K + k0 + tx]) : 0.f;
    Bs[ty][tx] = (k0 + ty < K && col < N) ? to_float(B[(long long)(k0 + ty) * N + col]) : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kSmemTile; ++k) acc = fmaf(As[ty][k], Bs[k][tx], acc);  // As: broadcast
    __syncthreads();
  }
  if (row < M && col < N) C[(long long)row * N + col] = from_float<T>(acc);
}

#define GPUBENCH_GEMM_SIMPLE(T, NAME)                                                                  \
  extern "C" __global__ void __launch_bounds__(256)                                                    \
      gemm_naive_##NAME(const T* A, const T* B, T* C, int M, int N, int K) {                           \
    gemm_naive<T>(A, B, C, M, N, K);                                                                   \
  }                                                                                                    \
  extern "C" __global__ void __launch_bounds__(kSmemTile * kSmemTile)                                  \
      gemm_smem_##NAME(const T* A, const T* B, T* C, int M, int N, int K) {                            \
    gemm_smem<T>(A, B, C, M, N, K);                                                                    \
  }

GPUBENCH_GEMM_SIMPLE(float, fp32)
GPUBENCH_GEMM_SIMPLE(f16, fp16)
GPUBENCH_GEMM_SIMPLE(bf16, bf16)
