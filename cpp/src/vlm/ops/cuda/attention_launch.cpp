// From the validated tensors of ops/attention.cpp to the plain parameter structs of
// attention_kernel.cu, and the shapes the kernels take (anything else falls back to the ATen path
// of ops/cpu, which runs on any device). Built only with GLYPH_WITH_CUDA.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

#include "vlm/ops/attention.h"
#include "vlm/ops/cuda/attention_cuda.h"

namespace glyph::vlm::ops::cuda {

#ifndef GLYPH_WITH_SM90A
// Built without v3 (the architectures did not include 9.0): no device runs it.
const char* launch_varlen_wgmma(const VarlenParams&, cudaStream_t) {
  return "this build has no sm_90a kernel (backend wgmma)";
}
std::size_t varlen_wgmma_shared_bytes(int) { return SIZE_MAX; }
#endif

namespace {

bool half_type(const at::Tensor& t) {
  return t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
}

// 16-byte vector loads: the head dimension contiguous, every other stride a multiple of 8
// elements, the data 16-byte aligned.
bool vector_friendly(const at::Tensor& t) {
  if (t.stride(-1) != 1) return false;
  for (std::int64_t i = 0; i + 1 < t.dim(); ++i)
    if (t.size(i) > 1 && t.stride(i) % 8 != 0) return false;
  return reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 16 == 0;
}

DType dtype_of(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? DType::kBFloat16 : DType::kHalf;
}

void check(const char* err, const char* op) {
  TORCH_CHECK(err == nullptr, op, ": CUDA kernel launch failed: ", err);
}


// The varlen kernel's pointers, strides and sizes for q/out [..., tokens, heads, d] and k/v
// [..., tokens, kv_heads, d], whose token dimension is `tok` (0: packed sequences; 1: the rows of
// [B, L, ...] tensors). The caller says where the sequences are.
VarlenParams varlen_params(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& out, int tok, bool causal, double scale) {
  VarlenParams p;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.out = out.data_ptr();
  p.q_tok = q.stride(tok), p.q_head = q.stride(tok + 1);
  p.k_tok = k.stride(tok), p.k_head = k.stride(tok + 1);
  p.v_tok = v.stride(tok), p.v_head = v.stride(tok + 1);
  p.o_tok = out.stride(tok), p.o_head = out.stride(tok + 1);
  p.heads = static_cast<int>(q.size(tok + 1));
  p.kv_heads = static_cast<int>(k.size(tok + 1));
  p.head_dim = static_cast<int>(q.size(tok + 2));
  p.causal = causal;
  p.scale = static_cast<float>(scale);
  p.dtype = dtype_of(q);
  return p;
}

// What the launchers need to know of a device, read once per device (so nothing is queried while
// a CUDA graph is being captured after the first call).
struct DeviceInfo {
  int sms = 80;
  int major = 0, minor = 0;
  int smem_optin = 0;  // bytes of shared memory a block may opt in to
};

DeviceInfo device_info(int device) {
  static std::mutex mu;
  static std::map<int, DeviceInfo> known;
  const std::lock_guard<std::mutex> lock(mu);
  auto it = known.find(device);
  if (it != known.end()) return it->second;
  DeviceInfo d;
  int v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device) == cudaSuccess && v > 0)
    d.sms = v;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess)
    d.major = v;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess)
    d.minor = v;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess)
    d.smem_optin = v;
  known[device] = d;
  return d;
}

// The kernels hold machine code for sm_80 (which every 8.x card runs) and sm_90, and no PTX: any
// other architecture takes another backend.
bool runs_here(const at::Tensor& t) {
  const int major = device_info(t.get_device()).major;
  return major == 8 || major == 9;
}

// v1's packed kernel keeps its tiles and accumulators in shared memory: 107 KB at head_dim 128,
// more than sm_86/sm_89 give a block (99 KB).
bool v1_fits(const at::Tensor& q, int head_dim) {
  return varlen_shared_bytes(head_dim, static_cast<int>(q.element_size())) <=
         static_cast<std::size_t>(device_info(q.get_device()).smem_optin);
}

// v3 (hopper/attention_wgmma.cu) is sm_90a machine code, which only compute capability 9.0
// runs, and needs 160 KB of shared memory at head_dim 128.
bool v3_runs(const at::Tensor& q, int head_dim) {
  const DeviceInfo d = device_info(q.get_device());
  return d.major == 9 && d.minor == 0 &&
         varlen_wgmma_shared_bytes(head_dim) <= static_cast<std::size_t>(d.smem_optin);
}

bool varlen_shapes(const VarlenArgs& a) {
  return half_type(a.q) && head_dim_supported(static_cast<int>(a.q.size(2))) &&
         vector_friendly(a.q) && vector_friendly(a.k) && vector_friendly(a.v) &&
         vector_friendly(a.out) && a.cu_seqlens_q.is_contiguous() &&
         a.cu_seqlens_k.is_contiguous() && a.max_seqlen_q <= (1 << 30) &&
         a.cu_seqlens_q.size(0) - 1 <= 65535 && a.q.size(1) <= 65535 &&  // grid z and y
         runs_here(a.q);
}

// Whether a version of the packed kernel runs on q's device at this head_dim: v1_fits, v3_runs,
// or any_card for v2 (51 KB of shared memory, which every sm_80+ card gives a block).
using RunsHere = bool (*)(const at::Tensor& q, int head_dim);
bool any_card(const at::Tensor&, int) { return true; }

bool varlen_takes(const VarlenArgs& a, RunsHere version_runs) {
  return varlen_shapes(a) && version_runs(a.q, static_cast<int>(a.q.size(2)));
}

}  // namespace

bool attention_varlen_supported(const VarlenArgs& a) { return varlen_takes(a, v1_fits); }
bool attention_varlen_mma_supported(const VarlenArgs& a) { return varlen_takes(a, any_card); }
bool attention_varlen_wgmma_supported(const VarlenArgs& a) { return varlen_takes(a, v3_runs); }

namespace {

using VarlenLauncher = const char* (*)(const VarlenParams&, cudaStream_t);

void varlen(const VarlenArgs& a, VarlenLauncher launch) {
  const c10::cuda::CUDAGuard guard(a.q.device());
  VarlenParams p = varlen_params(a.q, a.k, a.v, a.out, /*tok=*/0, a.causal, a.scale);
  p.cu_q = a.cu_seqlens_q.data_ptr<int>();
  p.cu_k = a.cu_seqlens_k.data_ptr<int>();
  p.batch = static_cast<int>(a.cu_seqlens_q.size(0) - 1);
  p.max_seqlen_q = static_cast<int>(a.max_seqlen_q);
  if (p.batch == 0 || p.max_seqlen_q == 0) return;
  check(launch(p, c10::cuda::getCurrentCUDAStream(a.q.get_device()).stream()), "attention_varlen");
}

}  // namespace

void attention_varlen_kernel(const VarlenArgs& a) { varlen(a, launch_varlen); }
void attention_varlen_mma_kernel(const VarlenArgs& a) { varlen(a, launch_varlen_mma); }
void attention_varlen_wgmma_kernel(const VarlenArgs& a) { varlen(a, launch_varlen_wgmma); }

namespace {

bool kvcache_shapes(const KvCacheArgs& a) {
  const std::int64_t group = a.q.size(2) / a.k_cache.size(2);
  bool ok = half_type(a.q) && head_dim_supported(static_cast<int>(a.q.size(3))) &&
            vector_friendly(a.q) && vector_friendly(a.k_cache) && vector_friendly(a.v_cache) &&
            vector_friendly(a.out) && a.cache_seqlens.is_contiguous() &&
            a.k_cache.size(1) <= (1 << 30) && a.q.size(0) <= 65535 &&
            a.q.size(2) <= 65535;  // grid z and y
  if (a.k_new.defined()) ok = ok && vector_friendly(a.k_new) && vector_friendly(a.v_new);
  if (a.q.size(1) == 1) return ok && group <= kMaxDecodeGroup;  // the decode kernel
  // A prefill chunk: the varlen kernel over the rows of q and of the cache.
  return ok && a.q.size(1) <= (1 << 30) && rows_of_sequences(a.q) && rows_of_sequences(a.out) &&
         rows_of_sequences(a.k_cache) && rows_of_sequences(a.v_cache);
}

// v2 of the split-KV decode (attention_decode_mma.cu): 74 KB of shared memory at head_dim 128,
// which every sm_80+ card gives a block (checked all the same).
bool decode_v2_fits(const at::Tensor& q, int head_dim) {
  return decode_mma_shared_bytes(head_dim) <=
         static_cast<std::size_t>(device_info(q.get_device()).smem_optin);
}
bool decode_v1_fits(const at::Tensor&, int) { return true; }  // 47 KB: no opt-in needed

// A prefill chunk takes the version's packed kernel in its cache form (version_runs); decode
// takes the version's split-KV kernel (decode_runs): v1's for backend glyph, v2's for mma and
// wgmma (Hopper's packed kernel has no decode of its own).
bool kvcache_takes(const KvCacheArgs& a, RunsHere version_runs, RunsHere decode_runs) {
  if (!kvcache_shapes(a) || !runs_here(a.q)) return false;
  const int d = static_cast<int>(a.q.size(3));
  return a.q.size(1) == 1 ? decode_runs(a.q, d) : version_runs(a.q, d);
}

}  // namespace

bool attention_with_kvcache_supported(const KvCacheArgs& a) {
  return kvcache_takes(a, v1_fits, decode_v1_fits);
}
bool attention_with_kvcache_mma_supported(const KvCacheArgs& a) {
  return kvcache_takes(a, any_card, decode_v2_fits);
}
bool attention_with_kvcache_wgmma_supported(const KvCacheArgs& a) {
  return kvcache_takes(a, v3_runs, decode_v2_fits);
}

namespace {

using DecodeLauncher = const char* (*)(const DecodeParams&, cudaStream_t);

void kvcache(const KvCacheArgs& a, VarlenLauncher launch_chunk, DecodeLauncher launch_dec) {
  const c10::cuda::CUDAGuard guard(a.q.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(a.q.get_device()).stream();
  DecodeParams p;
  p.q = a.q.data_ptr();
  p.k_cache = a.k_cache.data_ptr();
  p.v_cache = a.v_cache.data_ptr();
  p.out = a.out.data_ptr();
  p.q_b = a.q.stride(0), p.q_head = a.q.stride(2);
  p.kc_b = a.k_cache.stride(0), p.kc_tok = a.k_cache.stride(1), p.kc_head = a.k_cache.stride(2);
  p.vc_b = a.v_cache.stride(0), p.vc_tok = a.v_cache.stride(1), p.vc_head = a.v_cache.stride(2);
  p.o_b = a.out.stride(0), p.o_head = a.out.stride(2);
  if (a.k_new.defined()) {
    p.k_new = a.k_new.data_ptr();
    p.v_new = a.v_new.data_ptr();
    p.kn_b = a.k_new.stride(0), p.kn_tok = a.k_new.stride(1), p.kn_head = a.k_new.stride(2);
    p.vn_b = a.v_new.stride(0), p.vn_tok = a.v_new.stride(1), p.vn_head = a.v_new.stride(2);
  }
  p.seqlens = a.cache_seqlens.data_ptr<int>();
  p.batch = static_cast<int>(a.q.size(0));
  p.new_tokens = static_cast<int>(a.q.size(1));
  p.heads = static_cast<int>(a.q.size(2));
  p.kv_heads = static_cast<int>(a.k_cache.size(2));
  p.head_dim = static_cast<int>(a.q.size(3));
  p.capacity = static_cast<int>(a.k_cache.size(1));
  p.scale = static_cast<float>(a.scale);
  p.dtype = dtype_of(a.q);

  if (p.new_tokens > 1) {
    // A prefill chunk: append its keys and values at each sequence's length, then the varlen
    // kernel in its cache form (attention_cuda.h) attends over cache rows [0, length + chunk).
    if (p.k_new) check(launch_append(p, stream), "attention_with_kvcache");
    VarlenParams v = varlen_params(a.q, a.k_cache, a.v_cache, a.out, /*tok=*/1, a.causal, a.scale);
    v.seqused_k = p.seqlens;
    v.fixed_lq = p.new_tokens;
    v.k_extra = p.k_new ? p.new_tokens : 0;
    v.k_rows = p.capacity;
    v.batch = p.batch;
    v.max_seqlen_q = p.new_tokens;
    check(launch_chunk(v, stream), "attention_with_kvcache");
    return;
  }
  // Splits from the static shapes only (the lengths stay on the device): about two blocks per
  // SM in all, never more splits than the cache has 64-key tiles (both decodes split on them).
  const int tiles = std::max(1, (p.capacity + decode_key_tile() - 1) / decode_key_tile());
  const long long blocks = static_cast<long long>(p.batch) * p.kv_heads;
  const long long want = (2LL * device_info(a.q.get_device()).sms + blocks - 1) / blocks;
  p.splits = static_cast<int>(std::clamp<long long>(want, 1, std::min(tiles, 128)));
  const auto f32 = a.q.options().dtype(at::kFloat);
  at::Tensor partial_o = at::empty({p.batch, p.splits, p.heads, p.head_dim}, f32);
  at::Tensor partial_ml = at::empty({p.batch, p.splits, p.heads, 2}, f32);
  p.partial_o = partial_o.data_ptr<float>();
  p.partial_ml = partial_ml.data_ptr<float>();
  check(launch_dec(p, stream), "attention_with_kvcache");
}

}  // namespace

void attention_with_kvcache_kernel(const KvCacheArgs& a) {
  kvcache(a, launch_varlen, launch_decode);
}
// Prefill chunks through version 2 (3) of the varlen kernel, decode through version 2 of the
// split-KV kernel.
void attention_with_kvcache_mma_kernel(const KvCacheArgs& a) {
  kvcache(a, launch_varlen_mma, launch_decode_mma);
}
void attention_with_kvcache_wgmma_kernel(const KvCacheArgs& a) {
  kvcache(a, launch_varlen_wgmma, launch_decode_mma);
}

}  // namespace glyph::vlm::ops::cuda
