// The split-KV decode, version 2 (docs/kernel-notes.md): the same contract and DecodeParams as
// decode_kernel in attention_kernel.cu (one new token per sequence against its cache, lengths on
// the device, splits from the static shapes, partial results combined by the same second
// kernel), with the arithmetic on the tensor cores instead of v1's scalar loops.
//
// Why: with GQA, the query heads of one KV head read the same keys. v1 keeps them in shared
// memory and walks them with scalar loads; at GLM-4's group of 16, by counting its loads, it
// spends about 6,400 shared-memory cycles per 64-key tile of a block (about 5 bytes of K/V a
// cycle per SM), a third of what the H200's HBM delivers. Here the group is the 16 rows of
// `mma.sync.m16n8k16` tiles (padded with zero rows below 16 heads), as in v2 of the packed
// kernel: S = Q K^T and O += P V are MMAs on fragments ldmatrix reads, P goes from the softmax to
// P V in registers, and the shared-memory traffic per key falls about 25-fold, so the HBM stream
// is what bounds it.
//
//   - one block = one split of one sequence's keys for one KV head and its group; four warps,
//     each taking every fourth 16-key tile of the split with its own double-buffered K/V tiles
//     (cp.async, rows past the split zero-filled), so no barrier is shared in the key loop;
//   - each warp keeps its own online softmax (mma_fragments.cuh); at the end the four warps'
//     (output, max, sum) are merged in shared memory into the block's one partial result.
//
// Shared memory: Q (16 rows) and 4 warps x 2 stages x (K, V) 16-key tiles, rows padded by 8
// elements: 74 KB at head_dim 128. Never run on a GPU yet: the op tests run it as the decode of
// backends "mma" and "wgmma".
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "vlm/ops/cuda/attention_cuda.h"
#include "vlm/ops/cuda/mma_fragments.cuh"
#include "vlm/ops/cuda/varlen_common.cuh"

namespace glyph::vlm::ops::cuda {

namespace {

constexpr int kDecWarps = 4;
constexpr int kDecThreads = kDecWarps * 32;
constexpr int kWarpKeys = 16;                          // keys per warp tile
constexpr int kBlockKeys = kDecWarps * kWarpKeys;      // keys a block covers per round: 64
constexpr int kStages = 2;
constexpr int kRowPadD = 8;  // elements of padding per shared row (ldmatrix: distinct banks)
constexpr int kGroupRows = 16;                         // MMA rows: the GQA group, padded
constexpr int kOPad = 4;     // floats of padding per row of the merge buffer
static_assert(kMaxDecodeGroup <= kGroupRows, "the group must fit the MMA's 16 rows");

template <int D>
constexpr std::size_t decode_mma_smem(std::size_t elem_bytes) {
  return elem_bytes * (kGroupRows + kDecWarps * kStages * 2 * kWarpKeys) * (D + kRowPadD);
}
// The merge at the end reuses the K/V tiles: each warp's output rows and (max, sum) pairs.
template <int D>
constexpr std::size_t merge_bytes() {
  return sizeof(float) * kDecWarps * kGroupRows * ((D + kOPad) + 2);
}
static_assert(merge_bytes<128>() <= decode_mma_smem<128>(2) - 2 * kGroupRows * (128 + kRowPadD));
static_assert(merge_bytes<64>() <= decode_mma_smem<64>(2) - 2 * kGroupRows * (64 + kRowPadD));

// One warp's tile: kWarpKeys rows of D elements (row r at src + r * stride) into shared rows of
// D + kRowPadD, asynchronously; rows from `valid` on are zero-filled.
template <typename T, int D>
__device__ __forceinline__ void load_warp_tile(T* dst, const T* src, long long stride, int valid,
                                               int lane) {
  constexpr int kChunks = D / 8;  // 16-byte pieces a row
  #pragma unroll
  for (int i = lane; i < kWarpKeys * kChunks; i += 32) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool in = r < valid;
    cp_async16(dst + r * (D + kRowPadD) + c, in ? src + r * stride + c : src, in ? 16 : 0);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kDecThreads) decode_mma_kernel(DecodeParams p) {
  constexpr int S = D + kRowPadD;   // shared row stride, elements
  constexpr int kDChunks = D / 16;  // k-steps of Q K^T; pairs of 8-column output tiles of P V
  constexpr int kTileElems = kWarpKeys * S;
  const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int group = p.heads / p.kv_heads;  // <= kMaxDecodeGroup (checked by the launcher)
  const int h0 = kvh * group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int t = lane % 4;  // the fragments' column pair (rows lane / 4 and lane / 4 + 8)
  const int mi = lane / 8, r8 = lane % 8;  // ldmatrix: which matrix this lane addresses, its row

  // Never past the cache, whatever the lengths say (as v1). This split's keys: an equal share,
  // rounded up to whole rounds of the four warps' tiles.
  const int total = min(p.seqlens[b] + (p.k_new ? 1 : 0), p.capacity);
  const int per = ((total + p.splits - 1) / p.splits + kBlockKeys - 1) / kBlockKeys * kBlockKeys;
  const int begin = split * per, end = min(total, begin + per);

  extern __shared__ __align__(128) unsigned char smem_dec[];
  T* sQ = reinterpret_cast<T*>(smem_dec);
  T* sKV = sQ + kGroupRows * S;
  T* mine = sKV + warp * kStages * 2 * kTileElems;  // stage s: K at 2s, V at 2s + 1 tiles

  const T* kbase = static_cast<const T*>(p.k_cache) + b * p.kc_b + kvh * p.kc_head;
  const T* vbase = static_cast<const T*>(p.v_cache) + b * p.vc_b + kvh * p.vc_head;
  auto load_stage = [&](int stage, int n0) {
    load_warp_tile<T, D>(mine + 2 * stage * kTileElems, kbase + n0 * p.kc_tok, p.kc_tok, end - n0,
                         lane);
    load_warp_tile<T, D>(mine + (2 * stage + 1) * kTileElems, vbase + n0 * p.vc_tok, p.vc_tok,
                         end - n0, lane);
  };

  // This warp's first tile is on its way while the block stages Q (its group's rows, zeros below).
  int n0 = begin + warp * kWarpKeys;
  if (n0 < end) load_stage(0, n0);
  cp_async_commit();
  const T* q = static_cast<const T*>(p.q) + b * p.q_b + h0 * p.q_head;
  for (int i = threadIdx.x; i < kGroupRows * (D / 8); i += kDecThreads) {
    const int r = i / (D / 8), c = (i % (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < group) v = *reinterpret_cast<const uint4*>(q + r * p.q_head + c);
    *reinterpret_cast<uint4*>(sQ + r * S + c) = v;
  }
  __syncthreads();
  unsigned qf[kDChunks][4];
  #pragma unroll
  for (int kk = 0; kk < kDChunks; ++kk)
    ldmatrix_x4(qf[kk], sQ + (lane % 16) * S + kk * 16 + (lane / 16) * 8);

  const float scale_log2 = p.scale * kLog2eFrag;
  float o[2 * kDChunks][4];  // 8-column output tiles: rows lane / 4 (0, 1) and + 8 (2, 3)
  #pragma unroll
  for (auto& tile : o)
    #pragma unroll
    for (float& x : tile) x = 0.f;
  RowPair rows;

  for (int i = 0; n0 < end; ++i, n0 += kBlockKeys) {
    // The next tile into the other stage (last read in iteration i - 1, before its __syncwarp);
    // a group is committed either way, so the wait below always leaves exactly one in flight.
    if (n0 + kBlockKeys < end) load_stage((i + 1) % kStages, n0 + kBlockKeys);
    cp_async_commit();
    cp_async_wait<1>();  // this tile has arrived (this lane's copies)
    __syncwarp();        // ... and every lane's
    const T* sK = mine + 2 * (i % kStages) * kTileElems;
    const T* sV = sK + kTileElems;

    // Scores: 16 rows x 16 keys, two 8-key tiles. Matrices: keys [0, 8) then [8, 16); columns
    // 16 kk + [0, 8) then + [8, 16).
    float s[2][4];
    #pragma unroll
    for (auto& tile : s)
      #pragma unroll
      for (float& x : tile) x = 0.f;
    #pragma unroll
    for (int kk = 0; kk < kDChunks; ++kk) {
      unsigned kf[4];
      ldmatrix_x4(kf, sK + (r8 + (mi / 2) * 8) * S + kk * 16 + (mi % 2) * 8);
      mma16816<T>(s[0], qf[kk], kf[0], kf[1]);
      mma16816<T>(s[1], qf[kk], kf[2], kf[3]);
    }
    // Every key below the split's end is visible (decode: the query is the newest token).
    softmax_tile(s, o, rows, n0, t, end, end - 1, end - 1, scale_log2);

    // O += P V: P's fragment straight from the score registers. Matrices: keys [0, 8) then
    // [8, 16); columns 16 dp + [0, 8) then + [8, 16).
    unsigned pa[4];
    p_fragment<T>(pa, s, 0);
    #pragma unroll
    for (int dp = 0; dp < kDChunks; ++dp) {
      unsigned vf[4];
      ldmatrix_x4_trans(vf, sV + (r8 + (mi % 2) * 8) * S + dp * 16 + (mi / 2) * 8);
      mma16816<T>(o[2 * dp], pa, vf[0], vf[1]);
      mma16816<T>(o[2 * dp + 1], pa, vf[2], vf[3]);
    }
    __syncwarp();  // every lane is done with this stage before a later tile is copied into it
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with its tiles: the region takes the merge buffers

  // The four warps' results into one: each writes its unnormalised rows and (max, sum) pairs.
  constexpr int OS = D + kOPad;
  float* sO = reinterpret_cast<float*>(sKV);          // [warp][row][OS]
  float* sML = sO + kDecWarps * kGroupRows * OS;       // [warp][row][2]
  float l0 = rows.l0, l1 = rows.l1;  // this lane's share: reduced over the row's four lanes
  #pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, off);
    l1 += __shfl_xor_sync(0xffffffffu, l1, off);
  }
  const int g0 = lane / 4, g1 = g0 + 8;
  float* ow = sO + warp * kGroupRows * OS;
  #pragma unroll
  for (int j = 0; j < 2 * kDChunks; ++j) {
    ow[g0 * OS + 8 * j + 2 * t] = o[j][0];
    ow[g0 * OS + 8 * j + 2 * t + 1] = o[j][1];
    ow[g1 * OS + 8 * j + 2 * t] = o[j][2];
    ow[g1 * OS + 8 * j + 2 * t + 1] = o[j][3];
  }
  if (t == 0) {
    float* ml = sML + warp * kGroupRows * 2;
    ml[g0 * 2] = rows.m0;
    ml[g0 * 2 + 1] = l0;
    ml[g1 * 2] = rows.m1;
    ml[g1 * 2 + 1] = l1;
  }
  __syncthreads();

  // The block's partial result for each real head (rows below the group): relative to the
  // largest of the warps' maxima; a warp that saw no key (max -inf, sum 0) adds nothing, and a
  // split with no key at all writes (-inf, 0) and zeros, which the combine kernel skips.
  const long long slot = (static_cast<long long>(b) * p.splits + split) * p.heads + h0;
  for (int i = threadIdx.x; i < group * D; i += kDecThreads) {
    const int r = i / D, c = i % D;
    float m = -INFINITY;
    #pragma unroll
    for (int w = 0; w < kDecWarps; ++w) m = fmaxf(m, sML[(w * kGroupRows + r) * 2]);
    float acc = 0.f;
    #pragma unroll
    for (int w = 0; w < kDecWarps; ++w) {
      const float mw = sML[(w * kGroupRows + r) * 2];
      if (mw != -INFINITY) acc += exp2f(mw - m) * sO[(w * kGroupRows + r) * OS + c];
    }
    p.partial_o[(slot + r) * D + c] = acc;
  }
  for (int r = threadIdx.x; r < group; r += kDecThreads) {
    float m = -INFINITY;
    for (int w = 0; w < kDecWarps; ++w) m = fmaxf(m, sML[(w * kGroupRows + r) * 2]);
    float l = 0.f;
    for (int w = 0; w < kDecWarps; ++w) {
      const float mw = sML[(w * kGroupRows + r) * 2];
      if (mw != -INFINITY) l += exp2f(mw - m) * sML[(w * kGroupRows + r) * 2 + 1];
    }
    p.partial_ml[(slot + r) * 2] = m;
    p.partial_ml[(slot + r) * 2 + 1] = l;
  }
}

template <typename T, int D>
const char* decode_mma_launch(const DecodeParams& p, cudaStream_t stream) {
  if (p.k_new) {
    const char* err = launch_append(p, stream);
    if (err) return err;
  }
  const char* err =
      launch_with_smem(decode_mma_kernel<T, D>, dim3(p.splits, p.kv_heads, p.batch), kDecThreads,
                       decode_mma_smem<D>(sizeof(T)), stream, p);
  if (err) return err;
  return launch_decode_combine(p, stream);
}

}  // namespace

const char* launch_decode_mma(const DecodeParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_with_kvcache: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return decode_mma_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

std::size_t decode_mma_shared_bytes(int head_dim) {
  return head_dim == 128 ? decode_mma_smem<128>(2) : decode_mma_smem<64>(2);
}

}  // namespace glyph::vlm::ops::cuda
