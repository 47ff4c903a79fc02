// A kernel that faults on purpose: it writes through a pointer the caller guarantees is invalid.
// Used only by the harness's isolation tests (GPUBENCH_SELFTEST=1).
extern "C" __global__ void write_through_bad_pointer(float* bad, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) bad[i * 1048576LL] = 1.0f;
}
