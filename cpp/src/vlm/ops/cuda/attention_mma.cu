// The packed (varlen) attention, version 2 (docs/kernel-notes.md): the same contract and the same
// VarlenParams as varlen_kernel in attention_kernel.cu (packed sequences, or a prefill chunk in
// the cache form), with FlashAttention-2's register-resident design instead of v1's WMMA tiles
// round-tripping through shared memory:
//
//   - one block = 64 query rows of one head of one sequence, four warps of 16 rows; each warp's
//     Q fragments, scores, probabilities and output accumulator live in registers;
//   - Q.K^T and P.V are raw `mma.sync.m16n8k16` (fp16/bf16 in, fp32 accumulate), their operands
//     loaded from shared memory with `ldmatrix` (`.trans` for V), rows padded by 8 elements so
//     the eight 16-byte row reads of an ldmatrix hit distinct banks;
//   - the scores' accumulator layout is the next MMA's A-operand layout, so P goes from the
//     softmax to P.V without touching shared memory;
//   - K and V tiles (64 keys) arrive by `cp.async` (rows past the sequence zero-filled): V(i)'s
//     copy overlaps Q.K(i)^T, K(i + 1)'s (double-buffered) the softmax and P.V(i);
//   - online softmax in the log2 domain, row max reduced over the four lanes sharing a row, the
//     row sum kept per lane and reduced once at the end; bottom-right causal masking, computed
//     only on the tiles that need it (the last one, those on the diagonal); a row that sees no
//     key is written as zeros.
//
// Shared memory: two K tiles and one V tile, 3 * 64 * (D + 8) elements (51 KB at D = 128, opted
// in; every sm_80+ card allows 99 KB or more). Never run on a GPU yet: the op tests run it as
// backend "mma".
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "vlm/ops/cuda/attention_cuda.h"
#include "vlm/ops/cuda/mma_fragments.cuh"
#include "vlm/ops/cuda/varlen_common.cuh"

namespace glyph::vlm::ops::cuda {

namespace {

constexpr int kRows = 64;   // query rows per block
constexpr int kKeys = 64;   // keys per tile
constexpr int kMmaThreads = 128;
constexpr int kRowPad = 8;  // elements of padding per shared-memory row

// kKeys (or kRows) rows of D elements, row r at src + r * stride, into shared rows of D + kRowPad;
// rows from `valid` on are zero-filled.
template <typename T, int D>
__device__ __forceinline__ void load_rows_async(T* dst, const T* src, long long stride,
                                                int valid) {
  constexpr int kChunks = D / 8;  // 16-byte pieces a row
  for (int i = threadIdx.x; i < kKeys * kChunks; i += kMmaThreads) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool in = r < valid;
    cp_async16(dst + r * (D + kRowPad) + c, in ? src + r * stride + c : src, in ? 16 : 0);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kMmaThreads) varlen_mma_kernel(VarlenParams p) {
  static_assert(kRows == kKeys, "the Q tile is staged in the V buffer");
  constexpr int S = D + kRowPad;  // shared row stride, elements
  constexpr int kDChunks = D / 16;  // k-steps of Q.K^T; pairs of 8-column output tiles of P.V
  constexpr int kKeyTiles = kKeys / 8;  // 8-key score tiles per row
  const int b = blockIdx.z, h = blockIdx.y, row0 = blockIdx.x * kRows;
  const SeqBounds sb = seq_bounds(p, b);
  const long long q_begin = sb.q_begin, k_begin = sb.k_begin;
  const int lq = sb.lq, lk = sb.lk, shift = sb.shift;
  if (row0 >= lq) return;
  const int kvh = h / (p.heads / p.kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // the MMA fragments' row group and column pair

  extern __shared__ __align__(128) unsigned char smem_mma[];
  T* sK = reinterpret_cast<T*>(smem_mma);  // two K tiles: tile i in buffer i % 2
  T* sV = sK + 2 * kKeys * S;

  const int last_row = min(row0 + kRows, lq) - 1;
  const int k_end = p.causal ? min(lk, last_row + shift + 1) : lk;
  const T* kbase = static_cast<const T*>(p.k) + k_begin * p.k_tok + kvh * p.k_head;
  const T* vbase = static_cast<const T*>(p.v) + k_begin * p.v_tok + kvh * p.v_head;

  // Q: staged through sV, then held as A fragments (16 rows x 16 columns per k-step); the first
  // K tile is on its way meanwhile.
  const T* q = static_cast<const T*>(p.q) + (q_begin + row0) * p.q_tok + h * p.q_head;
  load_rows_async<T, D>(sV, q, p.q_tok, lq - row0);
  cp_async_commit();
  if (k_end > 0) load_rows_async<T, D>(sK, kbase, p.k_tok, lk);
  cp_async_commit();  // (an empty group when there is no key: waits still count it)
  cp_async_wait<1>();  // Q has arrived
  __syncthreads();
  unsigned qf[kDChunks][4];
  #pragma unroll
  for (int kk = 0; kk < kDChunks; ++kk)
    ldmatrix_x4(qf[kk], sV + (warp * 16 + lane % 16) * S + kk * 16 + (lane / 16) * 8);
  __syncthreads();  // every warp holds its Q before sV takes V

  // This lane's two rows (g and g + 8 of the warp's 16) and the last key each may see.
  const int q0 = row0 + warp * 16 + g, q1 = q0 + 8;
  const int lim0 = p.causal ? q0 + shift : lk - 1;
  const int lim1 = p.causal ? q1 + shift : lk - 1;
  const float scale_log2 = p.scale * kLog2eFrag;

  float o[2 * kDChunks][4];  // 8-column output tiles: rows g (0, 1) and g + 8 (2, 3)
  #pragma unroll
  for (auto& tile : o)
    #pragma unroll
    for (float& x : tile) x = 0.f;
  RowPair rows;

  // The pipeline, per tile i: V(i) is copied while Q.K(i)^T runs, K(i + 1) while the softmax
  // and P.V(i) run (into the other K buffer, last read by tile i - 1 before its closing barrier).
  for (int n0 = 0, i = 0; n0 < k_end; n0 += kKeys, ++i) {
    const T* sKi = sK + (i % 2) * kKeys * S;
    load_rows_async<T, D>(sV, vbase + n0 * p.v_tok, p.v_tok, lk - n0);
    cp_async_commit();
    cp_async_wait<1>();  // K(i) has arrived (V(i) may still be on its way)
    __syncthreads();

    // Scores: 16 rows x 64 keys per warp, eight 8-key tiles.
    float s[kKeyTiles][4];
    #pragma unroll
    for (auto& tile : s)
      #pragma unroll
      for (float& x : tile) x = 0.f;
    #pragma unroll
    for (int kk = 0; kk < kDChunks; ++kk) {
      #pragma unroll
      for (int np = 0; np < kKeyTiles / 2; ++np) {
        // Matrices: keys 16np + [0, 8) then + [8, 16); columns 16kk + [0, 8) then + [8, 16).
        const int mi = lane / 8, r = lane % 8;
        unsigned kf[4];
        ldmatrix_x4(kf, sKi + (np * 16 + r + (mi / 2) * 8) * S + kk * 16 + (mi % 2) * 8);
        mma16816<T>(s[2 * np], qf[kk], kf[0], kf[1]);
        mma16816<T>(s[2 * np + 1], qf[kk], kf[2], kf[3]);
      }
    }

    const bool more = n0 + kKeys < k_end;
    if (more) {
      load_rows_async<T, D>(sK + ((i + 1) % 2) * kKeys * S, kbase + (n0 + kKeys) * p.k_tok,
                            p.k_tok, lk - n0 - kKeys);
      cp_async_commit();
    }

    softmax_tile(s, o, rows, n0, t, lk, lim0, lim1, scale_log2,
                 !whole_tile(n0, kKeys, lk, p.causal, row0, shift));

    if (more)
      cp_async_wait<1>();  // V(i) has arrived (K(i + 1) may still be on its way)
    else
      cp_async_wait<0>();
    __syncthreads();

    // O += P V: P's fragments straight from the score registers (16 keys per k-step).
    #pragma unroll
    for (int kc = 0; kc < kKeys / 16; ++kc) {
      unsigned pa[4];
      p_fragment<T>(pa, s, kc);
      #pragma unroll
      for (int dp = 0; dp < kDChunks; ++dp) {
        // Matrices: keys 16kc + [0, 8) then + [8, 16); columns 16dp + [0, 8) then + [8, 16).
        const int mi = lane / 8, r = lane % 8;
        unsigned vf[4];
        ldmatrix_x4_trans(vf, sV + (kc * 16 + r + (mi % 2) * 8) * S + dp * 16 + (mi / 2) * 8);
        mma16816<T>(o[2 * dp], pa, vf[0], vf[1]);
        mma16816<T>(o[2 * dp + 1], pa, vf[2], vf[3]);
      }
    }
    __syncthreads();  // every warp is done with this K/V tile before the next one is loaded
  }

  store_rows<T>(static_cast<T*>(p.out) + q_begin * p.o_tok + h * p.o_head + 2 * t, p.o_tok, o,
                rows, q0, lq);
}

template <typename T, int D>
const char* varlen_mma_launch(const VarlenParams& p, cudaStream_t stream) {
  const std::size_t smem = sizeof(T) * 3 * kKeys * (D + kRowPad);  // K twice, V once: 51 KB at 128
  const dim3 grid((p.max_seqlen_q + kRows - 1) / kRows, p.heads, p.batch);
  return launch_with_smem(varlen_mma_kernel<T, D>, grid, kMmaThreads, smem, stream, p);
}

}  // namespace

const char* launch_varlen_mma(const VarlenParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_varlen: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return varlen_mma_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

}  // namespace glyph::vlm::ops::cuda
