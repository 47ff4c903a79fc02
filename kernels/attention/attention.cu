// Flash-attention forward in CUDA C, SIMT: O = softmax(Q K^T / sqrt(D) + mask) V and the rows' LSE.
//
// A block owns BLOCK_M = 32 query rows of one (batch, head); its 128 threads are 32 rows x 4 lanes (the
// 4 lanes of a row are adjacent lanes of one warp). The Q tile is staged once in shared memory as fp32;
// K and V go through shared memory BLOCK_N = 16 keys at a time. Per key tile each thread computes 4 of
// its row's 16 scores, the row's maximum and sum are combined across its 4 lanes with shuffles, and the
// online softmax rescales the running sum and the fp32 accumulator (each thread holds D / 4 output
// columns) by exp2(m_old - m_new) whenever the maximum grows. P goes through shared memory to the P V
// step. fp32 math throughout; the output is rounded once.
//
// Causal masking is bottom-right aligned: query i sees keys j <= i + seq_k - seq_q; key tiles above the
// tile's last row's limit are skipped and causal tiles run longest first. A row that sees no key writes
// zeros and LSE +inf. Grouped-query attention: head h reads kv head h / group.
// Shared memory rows are padded by one float so that the lanes of a warp hit distinct banks.
#include <gpubench/types.cuh>

#define GPUBENCH_ATTN_INF __int_as_float(0x7f800000)
#define GPUBENCH_ATTN_LN2 0.69314718055994531f

namespace attn {
constexpr int BLOCK_M = 32;
constexpr int BLOCK_N = 16;
constexpr int LANES = 4;  // threads per query row
constexpr int THREADS = BLOCK_M * LANES;
constexpr int KEYS = BLOCK_N / LANES;  // scores per thread per key tile
}  // namespace attn

template <class T, int D>
__device__ __forceinline__ void attention_simt(const T* __restrict__ q, const T* __restrict__ k,
                                               const T* __restrict__ v, T* __restrict__ o,
                                               float* __restrict__ lse, int heads, int group, int seq_q,
                                               int seq_k, int m_tiles, int causal, float qk_scale) {
  using namespace attn;
  constexpr int COLS = D / LANES;  // output columns per thread: lane, lane + 4, ...
  __shared__ float qs[BLOCK_M][D + 1];
  __shared__ float ks[BLOCK_N][D + 1];
  __shared__ float vs[BLOCK_N][D];
  __shared__ float ps[BLOCK_M][BLOCK_N + 1];

  const int tid = threadIdx.x, row = tid / LANES, lane = tid % LANES;
  const int bh = blockIdx.x / m_tiles;
  int tile = blockIdx.x % m_tiles;
  if (causal) tile = m_tiles - 1 - tile;  // longest tiles first
  const int b = bh / heads, h = bh % heads;
  const long long bkv = (long long)b * (heads / group) + h / group;
  const int m0 = tile * BLOCK_M;
  const T* qh = q + (long long)bh * seq_q * D;
  const T* kh = k + bkv * seq_k * D;
  const T* vh = v + bkv * seq_k * D;

  for (int idx = tid; idx < BLOCK_M * D; idx += THREADS) {
    const int r = idx / D, c = idx % D;
    qs[r][c] = m0 + r < seq_q ? to_float(qh[(long long)(m0 + r) * D + c]) : 0.f;
  }
  const int i = m0 + row;  // this thread's query
  const int offset = seq_k - seq_q;
  int hi = seq_k;  // keys [0, hi) are visited
  if (causal) {
    const long long lim = (long long)m0 + BLOCK_M + offset;  // one past the tile's last row's limit
    hi = lim < 0 ? 0 : (lim < seq_k ? (int)lim : seq_k);
  }
  float m = -GPUBENCH_ATTN_INF, l = 0.f;
  float acc[COLS];
#pragma unroll
  for (int c = 0; c < COLS; ++c) acc[c] = 0.f;

  for (int n0 = 0; n0 < hi; n0 += BLOCK_N) {
    __syncthreads();  // the previous tile is no longer read (and the Q tile is complete)
    for (int idx = tid; idx < BLOCK_N * D; idx += THREADS) {
      const int r = idx / D, c = idx % D;
      const bool ok = n0 + r < seq_k;
      ks[r][c] = ok ? to_float(kh[(long long)(n0 + r) * D + c]) : 0.f;
      vs[r][c] = ok ? to_float(vh[(long long)(n0 + r) * D + c]) : 0.f;
    }
    __syncthreads();
    float s[KEYS];
#pragma unroll
    for (int t = 0; t < KEYS; ++t) s[t] = 0.f;
    for (int c = 0; c < D; ++c) {
      const float qv = qs[row][c];
#pragma unroll
      for (int t = 0; t < KEYS; ++t) s[t] += qv * ks[lane + LANES * t][c];
    }
    float tile_max = -GPUBENCH_ATTN_INF;
#pragma unroll
    for (int t = 0; t < KEYS; ++t) {
      const int j = n0 + lane + LANES * t;
      const bool ok = j < seq_k && (!causal || j <= i + offset);
      s[t] = ok ? s[t] * qk_scale : -GPUBENCH_ATTN_INF;
      tile_max = fmaxf(tile_max, s[t]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float m_new = fmaxf(m, tile_max);
    // A row that has seen no key yet subtracts 0, not -inf (exp2(-inf - -inf) is NaN).
    const float m_use = m_new == -GPUBENCH_ATTN_INF ? 0.f : m_new;
    const float alpha = exp2f(m - m_use);
    float psum = 0.f;
#pragma unroll
    for (int t = 0; t < KEYS; ++t) {
      const float p = exp2f(s[t] - m_use);
      ps[row][lane + LANES * t] = p;
      psum += p;
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    psum += __shfl_xor_sync(0xffffffffu, psum, 2);
    l = l * alpha + psum;
    m = m_new;
    __syncthreads();  // the row's P is complete
#pragma unroll
    for (int c = 0; c < COLS; ++c) acc[c] *= alpha;
    for (int n = 0; n < BLOCK_N; ++n) {
      const float p = ps[row][n];
#pragma unroll
      for (int c = 0; c < COLS; ++c) acc[c] += p * vs[n][lane + LANES * c];
    }
  }
  if (i < seq_q) {
    const float inv = l > 0.f ? 1.f / l : 0.f;  // no key seen: acc is 0, and so is the output
    T* orow = o + ((long long)bh * seq_q + i) * D;
#pragma unroll
    for (int c = 0; c < COLS; ++c) orow[lane + LANES * c] = from_float<T>(acc[c] * inv);
    if (lane == 0) lse[(long long)bh * seq_q + i] = l > 0.f ? (m + log2f(l)) * GPUBENCH_ATTN_LN2 : GPUBENCH_ATTN_INF;
  }
}

#define GPUBENCH_ATTENTION(T, NAME, D)                                                                   \
  extern "C" __global__ void __launch_bounds__(attn::THREADS)                                            \
      attention_simt_##NAME##_d##D(const T* q, const T* k, const T* v, T* o, float* lse, int heads,      \
                                   int group, int seq_q, int seq_k, int m_tiles, int causal,             \
                                   float qk_scale) {                                                     \
    attention_simt<T, D>(q, k, v, o, lse, heads, group, seq_q, seq_k, m_tiles, causal, qk_scale);        \
  }

#define GPUBENCH_ATTENTION_DIMS(T, NAME) \
  GPUBENCH_ATTENTION(T, NAME, 32)        \
  GPUBENCH_ATTENTION(T, NAME, 64)        \
  GPUBENCH_ATTENTION(T, NAME, 128)

GPUBENCH_ATTENTION_DIMS(float, fp32)
GPUBENCH_ATTENTION_DIMS(f16, fp16)
GPUBENCH_ATTENTION_DIMS(bf16, bf16)
