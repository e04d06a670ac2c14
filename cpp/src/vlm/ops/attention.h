// Attention ops, declared once here and validated once at their entry (attention.cpp); each
// dispatches to a backend (AttentionBackend below): ops/cpu/attention_kernel.cpp is always built
// (ATen; runs on any device), PyTorch's flash kernel (ops/flash_attention.cpp) serves CUDA
// tensors it supports, and the CUDA kernels in ops/cuda/ take the shapes they support when built
// with GLYPH_WITH_CUDA. Model code calls these and never tests the device.
//
// Two forms, after flash-attention's varlen and kvcache interfaces:
//
//   attention_varlen: packed sequences of any lengths in one call (the vision tower: every page's
//     patches, bidirectional within a page; a text prefill).
//       q [Tq, H, d], k/v [Tk, Hkv, d]; cu_seqlens_q/k int32 [B + 1] (0 first, cumulative) on q's
//       device: sequence b's queries are rows [cu_q[b], cu_q[b+1]) of q, its keys rows
//       [cu_k[b], cu_k[b+1]) of k and v. Returns [Tq, H, d]. max_seqlen_q/k must be at least
//       every sequence's query/key count: the ATen path checks (it reads the offsets on the
//       host); the CUDA backends cannot without a sync and trust them (a query row past
//       max_seqlen_q would be left unwritten), as flash-attention's varlen interface does.
//
//   attention_with_kvcache: new queries of B sequences against their caches (chunked prefill:
//     Lq tokens per sequence; decode: Lq = 1), with static shapes whatever the lengths (a decode
//     step can be captured in a CUDA graph).
//       q [B, Lq, H, d]; k_cache/v_cache [B, capacity, Hkv, d] (THE KV-cache layout: per layer,
//       one such pair); cache_seqlens int32 [B] on q's device: tokens cached per sequence;
//       k_new/v_new [B, Lq, Hkv, d] (optional): written into the cache at cache_seqlens[b] first,
//       in place (the caller then advances its lengths). Returns [B, Lq, H, d]. The caller keeps
//       cache_seqlens[b] + Lq <= capacity (KvCache::reserve sizes it once): the CPU path checks
//       and raises; the CUDA kernels cannot without a host sync (the lengths stay on the device),
//       so there a new token past the capacity is not written and no query sees it: the queries
//       within the capacity get their exact result, the ones past it miss their own keys.
//
// Shared rules: GQA without copying K/V (query head h reads kv head h / (H / Hkv)); `scale`
// multiplies q.k; causal: query i of a sequence with lq queries and lk visible keys sees keys
// j <= i + (lk - lq) (queries are the last lq positions, bottom-right aligned); a query that sees
// no key gets zeros. `out`, when given, receives the result (same shape and dtype as q).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glyph::vlm::ops {

at::Tensor attention_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            std::int64_t max_seqlen_q, std::int64_t max_seqlen_k, bool causal,
                            double scale, const std::optional<at::Tensor>& out = std::nullopt);

at::Tensor attention_with_kvcache(const at::Tensor& q, const at::Tensor& k_cache,
                                  const at::Tensor& v_cache, const at::Tensor& cache_seqlens,
                                  const std::optional<at::Tensor>& k_new,
                                  const std::optional<at::Tensor>& v_new, bool causal,
                                  double scale,
                                  const std::optional<at::Tensor>& out = std::nullopt);

// One sequence in the heads-first layout (q [H, Lq, d], k/v [Hkv, Lk, d]), optionally split into
// bidirectional segments (cumulative lengths on the host). The form before attention_varlen;
// kept for its tests and for callers outside the model, it runs through attention_varlen.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     double scale, const std::vector<std::int64_t>& segments = {});

// Whether this build holds the CUDA kernels (GLYPH_WITH_CUDA); without them CUDA tensors take
// PyTorch's flash kernel where it applies, else the ATen path, which works on any device.
bool cuda_kernels_built();
// Whether it also holds version 3 of the packed kernel (sm_90a, backend kGlyphWgmma): built when
// the CUDA architectures include 9.0.
bool cuda_hopper_kernel_built();

// Which implementation serves a call on CUDA tensors (CPU tensors always take the ATen path):
//   kGlyph: this library's kernels (ops/cuda, GLYPH_WITH_CUDA);
//   kGlyphMma: the same, with version 2 of the packed kernel for varlen calls and prefill
//           chunks (ops/cuda/attention_mma.cu; docs/kernel-notes.md); only when chosen, by the
//           setting or a table row, until a GPU run has measured it;
//   kGlyphWgmma: the same, with version 3 (ops/cuda/hopper/attention_wgmma.cu: Hopper's
//           warpgroup MMA; compute capability 9.0 only); likewise only when chosen;
//   kFlash: PyTorch's FlashAttention-2 through ATen (ops/flash_attention.cpp);
//   kAten:  the portable path (ops/cpu: SDPA per sequence; reads the lengths on the host);
//   kAuto:  per op and size, the backend the dispatch table names (below: attention.cpp's,
//           measured by scripts/gpu_check.py, or one set_attention_dispatch set); where it names
//           none, kGlyph.
// A chosen backend that cannot take a call (dtype, head size, strides) passes it on: kAuto in the
// order glyph, flash, aten; the others straight to aten. Process-wide; the initial value comes
// from the environment variable GLYPH_ATTENTION_BACKEND (auto, glyph, mma, wgmma, flash, aten).
enum class AttentionBackend { kAuto, kGlyph, kGlyphMma, kGlyphWgmma, kFlash, kAten };
void set_attention_backend(AttentionBackend b);
AttentionBackend attention_backend();
// "auto", "glyph", "mma", "wgmma", "flash", "aten"; parse_attention_backend throws
// glyph::InputError naming them.
const char* attention_backend_name(AttentionBackend b);
AttentionBackend parse_attention_backend(const std::string& name);
// The backend the calling thread's last attention call ran on (its name above, never "auto"; ""
// before any): for tests and benchmarks.
const char* last_attention_backend();

// The dispatch table kAuto follows. A call has a form (attention_varlen: kVision when
// bidirectional, kPrefill when causal; attention_with_kvcache: kChunk with several new tokens,
// kDecode with one) and a key count (attention_varlen's max_seqlen_k; the cache's capacity). The
// first rule of its form with keys <= max_keys names the backend tried first; then glyph, then
// flash, as above. The built-in table (attention.cpp) holds measured rows only.
// set_attention_dispatch replaces it process-wide (a table measured on this GPU, as
// scripts/gpu_check.py derives from its `dispatch` lines; std::nullopt restores the built-in
// one); a rule's backend cannot be kAuto, and max_keys must be >= 0 (glyph::InputError naming the
// rule otherwise).
enum class AttentionForm { kVision, kPrefill, kChunk, kDecode };
struct DispatchRule {
  AttentionForm form = AttentionForm::kVision;
  std::int64_t max_keys = 0;
  AttentionBackend backend = AttentionBackend::kGlyph;
};
std::vector<DispatchRule> attention_dispatch();
void set_attention_dispatch(const std::optional<std::vector<DispatchRule>>& rules);
// "vision", "prefill", "chunk", "decode"; parse_attention_form throws glyph::InputError naming
// them.
const char* attention_form_name(AttentionForm f);
AttentionForm parse_attention_form(const std::string& name);

// Whether [B, L, ...] is B * L rows of stride(1): the batch stride is L rows (or one sequence).
// The backends that read a batch of sequences (or caches) as rows need it.
inline bool rows_of_sequences(const at::Tensor& t) {
  return t.size(0) == 1 || t.stride(0) == t.size(1) * t.stride(1);
}

// Validated arguments, as the backends receive them.
struct VarlenArgs {
  at::Tensor q, k, v, cu_seqlens_q, cu_seqlens_k, out;
  std::int64_t max_seqlen_q = 0, max_seqlen_k = 0;
  bool causal = false;
  double scale = 1.0;
};
struct KvCacheArgs {
  at::Tensor q, k_cache, v_cache, cache_seqlens, k_new, v_new, out;  // k_new/v_new may be undefined
  bool causal = false;
  double scale = 1.0;
};

namespace cpu {
void attention_varlen_kernel(const VarlenArgs& a);
void attention_with_kvcache_kernel(const KvCacheArgs& a);
}  // namespace cpu
namespace flash {
bool attention_varlen_supported(const VarlenArgs& a);
void attention_varlen_kernel(const VarlenArgs& a);
bool attention_with_kvcache_supported(const KvCacheArgs& a);
void attention_with_kvcache_kernel(const KvCacheArgs& a);
}  // namespace flash
#ifdef GLYPH_WITH_CUDA
namespace cuda {
bool attention_varlen_supported(const VarlenArgs& a);
void attention_varlen_kernel(const VarlenArgs& a);
bool attention_with_kvcache_supported(const KvCacheArgs& a);
void attention_with_kvcache_kernel(const KvCacheArgs& a);
// Backend kGlyphMma: version 2 of the varlen kernel (the same shapes as above, on any sm_80 or
// sm_90 card: it needs 51 KB of shared memory where v1 needs 107 KB), and version 2 of the
// split-KV decode (the GQA group on the tensor cores).
bool attention_varlen_mma_supported(const VarlenArgs& a);
void attention_varlen_mma_kernel(const VarlenArgs& a);
bool attention_with_kvcache_mma_supported(const KvCacheArgs& a);
void attention_with_kvcache_mma_kernel(const KvCacheArgs& a);
// Backend kGlyphWgmma: version 3 (compute capability 9.0, 160 KB of shared memory); decode
// through version 2 of the split-KV kernel, as for kGlyphMma.
bool attention_varlen_wgmma_supported(const VarlenArgs& a);
void attention_varlen_wgmma_kernel(const VarlenArgs& a);
bool attention_with_kvcache_wgmma_supported(const KvCacheArgs& a);
void attention_with_kvcache_wgmma_kernel(const KvCacheArgs& a);
}  // namespace cuda
#endif

}  // namespace glyph::vlm::ops
