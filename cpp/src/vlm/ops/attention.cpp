#include "vlm/ops/attention.h"

#include <ATen/MemoryOverlap.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "common/check.h"

namespace glyph::vlm::ops {

namespace {

// ---- which backend serves a CUDA call -------------------------------------------------------

// The built-in dispatch table of AttentionBackend::kAuto (attention.h, DispatchRule). Rows come
// from the `dispatch` lines of scripts/gpu_check.py, which time every backend through these ops on
// the model's shapes; each row cites its measurement. No GPU has run this code yet
// (docs/benchmarks.md), so the table has no row: nothing is chosen on numbers not measured.
const std::vector<DispatchRule>& builtin_dispatch() {
  static const std::vector<DispatchRule> table = {};
  return table;
}

// The table in force: read on every call (an atomic load), replaced by set_attention_dispatch.
// Every table ever set stays alive, since a call on another thread may still be reading one.
std::atomic<const std::vector<DispatchRule>*>& dispatch_table() {
  static std::atomic<const std::vector<DispatchRule>*> table{&builtin_dispatch()};
  return table;
}

AttentionBackend from_environment() {
  const char* env = std::getenv("GLYPH_ATTENTION_BACKEND");
  if (env == nullptr || *env == '\0') return AttentionBackend::kAuto;
  try {
    return parse_attention_backend(env);
  } catch (const InputError& e) {
    throw InputError(std::string("GLYPH_ATTENTION_BACKEND: ") + e.what());
  }
}

std::atomic<int>& backend_setting() {
  static std::atomic<int> b{static_cast<int>(from_environment())};
  return b;
}

thread_local const char* g_last_backend = "";

constexpr int kBackends = static_cast<int>(AttentionBackend::kAten) + 1;

// The implementations of one op: a support check and a kernel per backend (null where this
// build has none), indexed by AttentionBackend; the ATen path takes what none of them does.
template <class Args>
struct Backends {
  struct Impl {
    bool (*ok)(const Args&) = nullptr;
    void (*run)(const Args&) = nullptr;
  };
  Impl by[kBackends];
  void (*aten)(const Args&) = nullptr;
  void set(AttentionBackend b, bool (*ok)(const Args&), void (*run)(const Args&)) {
    by[static_cast<int>(b)] = {ok, run};
  }
};

template <class Args>
void run_backend(const Args& a, const Backends<Args>& be, AttentionForm form,
                 std::int64_t keys) {
  using B = AttentionBackend;
  if (a.q.is_cuda()) {
    B order[3];  // the backends to try, best first (no allocation: this runs per layer)
    int n = 0;
    const B pick = attention_backend();
    if (pick == B::kAuto) {
      B rule = B::kAuto;  // none
      for (const DispatchRule& r : *dispatch_table().load(std::memory_order_acquire))
        if (r.form == form && keys <= r.max_keys) {
          rule = r.backend;
          break;
        }
      if (rule != B::kAten) {  // (a rule naming aten sends the call straight there)
        if (rule != B::kAuto) order[n++] = rule;
        order[n++] = B::kGlyph;
        order[n++] = B::kFlash;
      }
    } else if (pick != B::kAten) {
      order[n++] = pick;
    }
    for (int i = 0; i < n; ++i) {
      const auto& impl = be.by[static_cast<int>(order[i])];
      if (impl.run == nullptr || !impl.ok(a)) continue;
      if (order[i] != B::kFlash) {
        impl.run(a);
        g_last_backend = attention_backend_name(order[i]);
        return;
      }
      try {
        impl.run(a);
        g_last_backend = "flash";
        return;
      } catch (const c10::OutOfMemoryError&) {
        throw;
      } catch (const c10::Error& e) {  // the kernel refused the device: not tried again
        TORCH_WARN_ONCE("glyph: PyTorch's flash attention is not available here (",
                        e.what_without_backtrace(), "); attention takes another backend");
      }
    }
  }
  be.aten(a);
  g_last_backend = "aten";
}

void check_same(const at::Tensor& a, const at::Tensor& b, const char* op, const char* an,
                const char* bn) {
  TORCH_CHECK(a.device() == b.device(), op, ": ", an, " is on ", a.device(), ", ", bn, " on ",
              b.device());
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), op, ": ", an, " is ", a.scalar_type(), ", ", bn,
              " is ", b.scalar_type());
}

void check_lengths(const at::Tensor& t, const at::Tensor& q, const char* op, const char* name) {
  TORCH_CHECK(t.dim() == 1 && t.scalar_type() == at::kInt, op, ": ", name,
              " must be a 1-D int32 tensor, got ", t.scalar_type(), " ", t.sizes());
  TORCH_CHECK(t.device() == q.device(), op, ": ", name, " must be on q's device (", q.device(),
              "), got ", t.device());
}

at::Tensor output(const std::optional<at::Tensor>& out, const at::Tensor& q, const char* op) {
  if (!out) return at::empty_like(q, at::MemoryFormat::Contiguous);
  TORCH_CHECK(out->sizes() == q.sizes() && out->scalar_type() == q.scalar_type() &&
                  out->device() == q.device(),
              op, ": out must match q (", q.sizes(), " ", q.scalar_type(), "), got ",
              out->sizes(), " ", out->scalar_type());
  // An expanded tensor (a stride of 0) would have several kernel threads write one element.
  TORCH_CHECK(at::has_internal_overlap(*out) != at::MemOverlap::Yes, op,
              ": out has elements that share memory (an expanded tensor); "
              "pass a tensor of its own");
  return *out;
}

}  // namespace

bool cuda_kernels_built() {
#ifdef GLYPH_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_hopper_kernel_built() {
#ifdef GLYPH_WITH_SM90A
  return true;
#else
  return false;
#endif
}

const char* attention_backend_name(AttentionBackend b) {
  switch (b) {
    case AttentionBackend::kAuto: return "auto";
    case AttentionBackend::kGlyph: return "glyph";
    case AttentionBackend::kGlyphMma: return "mma";
    case AttentionBackend::kGlyphWgmma: return "wgmma";
    case AttentionBackend::kFlash: return "flash";
    case AttentionBackend::kAten: return "aten";
  }
  return "?";
}

AttentionBackend parse_attention_backend(const std::string& name) {
  for (int i = 0; i < kBackends; ++i)
    if (name == attention_backend_name(static_cast<AttentionBackend>(i)))
      return static_cast<AttentionBackend>(i);
  GLYPH_THROW(InputError,
              "unknown attention backend '{}': expected auto, glyph, mma, wgmma, flash or aten",
              name);
}

void set_attention_backend(AttentionBackend b) {
  backend_setting().store(static_cast<int>(b));
}

AttentionBackend attention_backend() {
  return static_cast<AttentionBackend>(backend_setting().load());
}

const char* last_attention_backend() { return g_last_backend; }

const char* attention_form_name(AttentionForm f) {
  switch (f) {
    case AttentionForm::kVision: return "vision";
    case AttentionForm::kPrefill: return "prefill";
    case AttentionForm::kChunk: return "chunk";
    case AttentionForm::kDecode: return "decode";
  }
  return "?";
}

AttentionForm parse_attention_form(const std::string& name) {
  for (AttentionForm f : {AttentionForm::kVision, AttentionForm::kPrefill, AttentionForm::kChunk,
                          AttentionForm::kDecode})
    if (name == attention_form_name(f)) return f;
  GLYPH_THROW(InputError,
              "unknown attention form '{}': expected vision, prefill, chunk or decode", name);
}

std::vector<DispatchRule> attention_dispatch() {
  return *dispatch_table().load(std::memory_order_acquire);
}

void set_attention_dispatch(const std::optional<std::vector<DispatchRule>>& rules) {
  if (!rules) {
    dispatch_table().store(&builtin_dispatch(), std::memory_order_release);
    return;
  }
  for (std::size_t i = 0; i < rules->size(); ++i) {
    const DispatchRule& r = (*rules)[i];
    if (r.backend == AttentionBackend::kAuto)
      GLYPH_THROW(InputError, "dispatch rule {} ({}): 'auto' cannot be a rule's backend", i,
                  attention_form_name(r.form));
    if (r.max_keys < 0)
      GLYPH_THROW(InputError, "dispatch rule {} ({}): max_keys must be >= 0, got {}", i,
                  attention_form_name(r.form), r.max_keys);
  }
  static std::mutex mu;
  static std::vector<std::unique_ptr<const std::vector<DispatchRule>>> kept;
  const std::lock_guard<std::mutex> lock(mu);
  kept.push_back(std::make_unique<const std::vector<DispatchRule>>(*rules));
  dispatch_table().store(kept.back().get(), std::memory_order_release);
}

at::Tensor attention_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            std::int64_t max_seqlen_q, std::int64_t max_seqlen_k, bool causal,
                            double scale, const std::optional<at::Tensor>& out) {
  constexpr const char* op = "attention_varlen";
  TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, op,
              ": q [tokens, heads, d], k and v [tokens, kv_heads, d] must be 3-D, got ",
              q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  TORCH_CHECK(k.sizes() == v.sizes(), op, ": k ", k.sizes(), " and v ", v.sizes(), " differ");
  TORCH_CHECK(q.size(2) == k.size(2), op, ": head dims differ: q ", q.size(2), ", k ", k.size(2));
  TORCH_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, op, ": query heads (", q.size(1),
              ") must be a multiple of kv heads (", k.size(1), ")");
  check_same(q, k, op, "q", "k");
  check_same(q, v, op, "q", "v");
  check_lengths(cu_seqlens_q, q, op, "cu_seqlens_q");
  check_lengths(cu_seqlens_k, q, op, "cu_seqlens_k");
  TORCH_CHECK(cu_seqlens_q.size(0) >= 1 && cu_seqlens_q.size(0) == cu_seqlens_k.size(0), op,
              ": cu_seqlens_q and cu_seqlens_k must both hold batch + 1 offsets, got ",
              cu_seqlens_q.size(0), " and ", cu_seqlens_k.size(0));
  TORCH_CHECK(max_seqlen_q >= 0 && max_seqlen_k >= 0, op, ": max_seqlen must be >= 0");
  VarlenArgs a{q, k, v, cu_seqlens_q, cu_seqlens_k, output(out, q, op), max_seqlen_q,
               max_seqlen_k, causal, scale};
  if (q.numel() == 0) return a.out;
  using B = AttentionBackend;
  Backends<VarlenArgs> be;
#ifdef GLYPH_WITH_CUDA
  be.set(B::kGlyph, cuda::attention_varlen_supported, cuda::attention_varlen_kernel);
  be.set(B::kGlyphMma, cuda::attention_varlen_mma_supported, cuda::attention_varlen_mma_kernel);
  be.set(B::kGlyphWgmma, cuda::attention_varlen_wgmma_supported,
         cuda::attention_varlen_wgmma_kernel);
#endif
  be.set(B::kFlash, flash::attention_varlen_supported, flash::attention_varlen_kernel);
  be.aten = cpu::attention_varlen_kernel;
  run_backend(a, be, causal ? AttentionForm::kPrefill : AttentionForm::kVision, max_seqlen_k);
  return a.out;
}

at::Tensor attention_with_kvcache(const at::Tensor& q, const at::Tensor& k_cache,
                                  const at::Tensor& v_cache, const at::Tensor& cache_seqlens,
                                  const std::optional<at::Tensor>& k_new,
                                  const std::optional<at::Tensor>& v_new, bool causal,
                                  double scale, const std::optional<at::Tensor>& out) {
  constexpr const char* op = "attention_with_kvcache";
  TORCH_CHECK(q.dim() == 4, op, ": q must be [batch, new tokens, heads, d], got ", q.sizes());
  TORCH_CHECK(k_cache.dim() == 4 && k_cache.sizes() == v_cache.sizes(), op,
              ": k_cache and v_cache must both be [batch, capacity, kv_heads, d], got ",
              k_cache.sizes(), " and ", v_cache.sizes());
  TORCH_CHECK(k_cache.size(0) == q.size(0), op, ": q has ", q.size(0), " sequences, the cache ",
              k_cache.size(0));
  TORCH_CHECK(k_cache.size(3) == q.size(3), op, ": head dims differ: q ", q.size(3), ", cache ",
              k_cache.size(3));
  TORCH_CHECK(k_cache.size(2) > 0 && q.size(2) % k_cache.size(2) == 0, op, ": query heads (",
              q.size(2), ") must be a multiple of kv heads (", k_cache.size(2), ")");
  check_same(q, k_cache, op, "q", "k_cache");
  check_same(q, v_cache, op, "q", "v_cache");
  check_lengths(cache_seqlens, q, op, "cache_seqlens");
  TORCH_CHECK(cache_seqlens.size(0) == q.size(0), op, ": cache_seqlens has ",
              cache_seqlens.size(0), " entries for ", q.size(0), " sequences");
  TORCH_CHECK(k_new.has_value() == v_new.has_value(), op, ": k_new and v_new go together");
  at::Tensor kn, vn;
  if (k_new) {
    const std::vector<std::int64_t> want = {q.size(0), q.size(1), k_cache.size(2), q.size(3)};
    TORCH_CHECK(k_new->sizes() == want && v_new->sizes() == want, op,
                ": k_new and v_new must be [batch, new tokens, kv_heads, d] = ", want, ", got ",
                k_new->sizes(), " and ", v_new->sizes());
    check_same(q, *k_new, op, "q", "k_new");
    check_same(q, *v_new, op, "q", "v_new");
    kn = *k_new;
    vn = *v_new;
  }
  KvCacheArgs a{q, k_cache, v_cache, cache_seqlens, kn, vn, output(out, q, op), causal, scale};
  if (q.numel() == 0) return a.out;
  using B = AttentionBackend;
  Backends<KvCacheArgs> be;
#ifdef GLYPH_WITH_CUDA
  be.set(B::kGlyph, cuda::attention_with_kvcache_supported, cuda::attention_with_kvcache_kernel);
  be.set(B::kGlyphMma, cuda::attention_with_kvcache_mma_supported,
         cuda::attention_with_kvcache_mma_kernel);
  be.set(B::kGlyphWgmma, cuda::attention_with_kvcache_wgmma_supported,
         cuda::attention_with_kvcache_wgmma_kernel);
#endif
  be.set(B::kFlash, flash::attention_with_kvcache_supported, flash::attention_with_kvcache_kernel);
  be.aten = cpu::attention_with_kvcache_kernel;
  run_backend(a, be, q.size(1) == 1 ? AttentionForm::kDecode : AttentionForm::kChunk,
              k_cache.size(1));
  return a.out;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     double scale, const std::vector<std::int64_t>& segments) {
  TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention: q, k, v must be 3-D");
  TORCH_CHECK(k.sizes() == v.sizes(), "attention: k and v shapes differ");
  std::vector<std::int32_t> cq, ck;
  if (!segments.empty()) {
    TORCH_CHECK(!causal, "attention: segments are bidirectional");
    TORCH_CHECK(q.size(1) == k.size(1), "attention: segments need Lq == Lk");
    TORCH_CHECK(segments.front() == 0 && segments.back() == q.size(1),
                "attention: segments must run from 0 to the sequence length");
    cq.assign(segments.begin(), segments.end());
    ck = cq;
  } else {
    cq = {0, static_cast<std::int32_t>(q.size(1))};
    ck = {0, static_cast<std::int32_t>(k.size(1))};
  }
  std::int64_t max_q = 0, max_k = 0;
  for (std::size_t i = 0; i + 1 < cq.size(); ++i) {
    max_q = std::max<std::int64_t>(max_q, cq[i + 1] - cq[i]);
    max_k = std::max<std::int64_t>(max_k, ck[i + 1] - ck[i]);
  }
  auto offsets = [&](const std::vector<std::int32_t>& c) {
    return at::tensor(c, at::TensorOptions().dtype(at::kInt)).to(q.device());
  };
  return attention_varlen(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), offsets(cq),
                          offsets(ck), max_q, max_k, causal, scale)
      .transpose(0, 1);
}

}  // namespace glyph::vlm::ops
