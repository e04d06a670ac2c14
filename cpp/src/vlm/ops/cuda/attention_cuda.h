// What the CUDA attention kernels receive: plain structs of pointers, strides (in elements; the
// head dimension is contiguous) and sizes, filled by attention_launch.cpp after the op's entry
// checked the tensors (ops/attention.cpp). No torch header here, so the .cu files compile with
// nvcc alone.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace glyph::vlm::ops::cuda {

enum class DType : int { kHalf = 0, kBFloat16 = 1 };

// attention_varlen: q [Tq, H, d], k/v [Tk, Hkv, d], out [Tq, H, d]; cu_q/cu_k int32 [batch + 1]
// on the device.
//
// The same kernel serves a prefill chunk against a KV cache (attention_with_kvcache with several
// new tokens): with seqused_k set, sequence b's queries are rows [b * fixed_lq, (b + 1) * fixed_lq)
// (cu_q unused) and its keys rows [b * k_rows, b * k_rows + seqused_k[b] + k_extra) (cu_k unused):
// q [B, L, H, d] and the cache [B, capacity, Hkv, d] seen as rows, the cache's length read on the
// device (k_extra = L when the chunk's own keys were appended first), so the shapes stay static.
struct VarlenParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  long long q_tok = 0, q_head = 0, k_tok = 0, k_head = 0, v_tok = 0, v_head = 0, o_tok = 0,
            o_head = 0;
  const int* cu_q = nullptr;
  const int* cu_k = nullptr;
  int batch = 0, heads = 0, kv_heads = 0, head_dim = 0, max_seqlen_q = 0;
  bool causal = false;
  float scale = 1.f;
  DType dtype = DType::kBFloat16;
  const int* seqused_k = nullptr;  // the cache form (above); null for packed sequences
  int fixed_lq = 0, k_extra = 0;
  long long k_rows = 0;
};

// attention_with_kvcache for one new token per sequence (decode): q/out [B, 1, H, d],
// k_cache/v_cache [B, capacity, Hkv, d], k_new/v_new [B, 1, Hkv, d] or null, seqlens int32 [B] on
// the device. The key range of each sequence is split `splits` ways (flash-decoding); the partial
// results go to the float workspaces and a second kernel combines them. launch_append writes
// new_tokens tokens of k_new/v_new ([B, new_tokens, Hkv, d]) into the cache at seqlens[b] (the
// decode launch does it itself for its one token).
struct DecodeParams {
  const void* q = nullptr;
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  const void* k_new = nullptr;
  const void* v_new = nullptr;
  void* out = nullptr;
  long long q_b = 0, q_head = 0;
  long long kc_b = 0, kc_tok = 0, kc_head = 0, vc_b = 0, vc_tok = 0, vc_head = 0;
  long long kn_b = 0, kn_tok = 0, kn_head = 0, vn_b = 0, vn_tok = 0, vn_head = 0;
  long long o_b = 0, o_head = 0;
  const int* seqlens = nullptr;
  int batch = 0, heads = 0, kv_heads = 0, head_dim = 0, capacity = 0, splits = 1, new_tokens = 1;
  float scale = 1.f;
  DType dtype = DType::kBFloat16;
  float* partial_o = nullptr;   // [B, splits, H, d]
  float* partial_ml = nullptr;  // [B, splits, H, 2]: running max (log2 domain) and sum
};

// The shapes the kernels take (the launchers check the rest: device, dtype, strides, alignment).
constexpr bool head_dim_supported(int d) { return d == 64 || d == 128; }
constexpr int kMaxDecodeGroup = 16;  // query heads per KV head in the decode kernel (GLM-4: 16)

// Each returns nullptr on success, else a message naming what failed (a CUDA error string).
const char* launch_varlen(const VarlenParams& p, cudaStream_t stream);
// The same contract, version 2 (attention_mma.cu: registers, mma.sync + ldmatrix, cp.async).
const char* launch_varlen_mma(const VarlenParams& p, cudaStream_t stream);
// Version 3 (hopper/attention_wgmma.cu: warpgroup MMA, swizzled shared-memory tiles), built for
// sm_90a alone: only compute capability 9.0 runs it. varlen_wgmma_shared_bytes: its dynamic
// shared memory (160 KB at head_dim 128).
const char* launch_varlen_wgmma(const VarlenParams& p, cudaStream_t stream);
std::size_t varlen_wgmma_shared_bytes(int head_dim);
const char* launch_decode(const DecodeParams& p, cudaStream_t stream);
const char* launch_append(const DecodeParams& p, cudaStream_t stream);
// Version 2 of the decode (attention_decode_mma.cu): the same contract as launch_decode, the GQA
// group as the 16 rows of mma.sync tiles, K/V by cp.async. Its dynamic shared memory:
// decode_mma_shared_bytes (74 KB at head_dim 128, which every sm_80+ card gives a block).
const char* launch_decode_mma(const DecodeParams& p, cudaStream_t stream);
std::size_t decode_mma_shared_bytes(int head_dim);
// The second kernel of both decodes: out = the splits' partial results combined (DecodeParams'
// workspaces, p.splits of them per sequence and head).
const char* launch_decode_combine(const DecodeParams& p, cudaStream_t stream);
int decode_key_tile();  // keys per decode tile (a split is a multiple of it)
// Dynamic shared memory launch_varlen's kernel needs (107 KB at head_dim 128: above the 99 KB a
// block may have on sm_86/sm_89, so the launcher checks it). launch_varlen_mma's is 51 KB.
std::size_t varlen_shared_bytes(int head_dim, int elem_bytes);

}  // namespace glyph::vlm::ops::cuda
