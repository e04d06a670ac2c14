// The attention ops through PyTorch's own FlashAttention-2 (ATen's _flash_attention_forward, the
// kernel behind SDPA's flash backend), in its varlen form: packed sequences by cu_seqlens, GQA
// without copying K/V, bottom-right causal alignment, and `seqused_k` for a KV cache (sequence b's
// keys are rows [b * capacity, b * capacity + seqused_k[b]) of the cache seen as rows), so the
// lengths stay on the device and a decode step can be captured in a CUDA graph.
//
// Called through the dispatcher by name, with the arguments matched to the schema by name (the
// schema grew optional arguments over PyTorch versions; every one not named here keeps its
// default), so one source builds against each torch this project supports. ATen only: it needs no
// nvcc, and serves CUDA tensors in builds without glyphcpp's own kernels too.
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <map>
#include <string>

#include "vlm/ops/attention.h"

namespace glyph::vlm::ops::flash {

namespace {

// A kernel that fails before it ever succeeded refused this process (compute capability below
// 8.0, a torch built without flash): calls go elsewhere from then on instead of failing each
// time. A failure after a success is the call's own (the dispatcher passes that one call on).
std::atomic<bool> g_unavailable{false};
std::atomic<bool> g_succeeded{false};

bool half_type(const at::Tensor& t) {
  return t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
}

// What FlashAttention-2 takes: fp16/bf16 on CUDA, head_dim a multiple of 8 up to 256, the head
// dimension contiguous.
bool takes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& out) {
  const std::int64_t d = q.size(-1);
  return !g_unavailable.load(std::memory_order_relaxed) && q.is_cuda() && half_type(q) &&
         d % 8 == 0 && d <= 256 && q.stride(-1) == 1 && k.stride(-1) == 1 &&
         v.stride(-1) == 1 && out.stride(-1) == 1;
}

// q [Tq, H, d], k/v [Tk, Hkv, d] -> out [Tq, H, d] (written into `out`).
void call(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cu_q,
          const at::Tensor& cu_k, std::int64_t max_q, std::int64_t max_k, bool causal,
          double scale, const std::optional<at::Tensor>& seqused_k, const at::Tensor& out) {
  static const c10::OperatorHandle op =
      c10::Dispatcher::singleton().findSchemaOrThrow("aten::_flash_attention_forward", "");
  const std::map<std::string, c10::IValue> given = {
      {"query", q},
      {"key", k},
      {"value", v},
      {"cum_seq_q", cu_q},
      {"cum_seq_k", cu_k},
      {"max_q", max_q},
      {"max_k", max_k},
      {"dropout_p", 0.0},
      {"is_causal", causal},
      {"return_debug_mask", false},
      {"scale", scale},
      {"seqused_k", seqused_k ? c10::IValue(*seqused_k) : c10::IValue()},
  };
  std::vector<c10::IValue> stack;
  std::size_t used = 0;
  for (const auto& arg : op.schema().arguments()) {
    auto it = given.find(arg.name());
    if (it != given.end()) {
      stack.push_back(it->second);
      ++used;
    } else {
      TORCH_CHECK(arg.default_value().has_value(), "attention (flash): this torch's ",
                  op.schema().name(), " needs an argument glyphcpp does not know: ", arg.name());
      stack.push_back(*arg.default_value());
    }
  }
  TORCH_CHECK(used == given.size(), "attention (flash): this torch's ", op.schema().name(),
              " lacks arguments glyphcpp passes (", op.schema(), ")");
  try {
    op.callBoxed(&stack);
  } catch (const c10::OutOfMemoryError&) {
    throw;  // the device is full, not the kernel unavailable
  } catch (const c10::Error&) {
    // The caller's shapes were valid, so another backend can take the call.
    if (!g_succeeded.load(std::memory_order_relaxed))
      g_unavailable.store(true, std::memory_order_relaxed);
    throw;
  }
  g_succeeded.store(true, std::memory_order_relaxed);
  // The op allocates its result (its schema takes no `out`, in torch 2.11 as in 2.15): one copy
  // of [tokens, heads, d], small beside the attention that made it.
  out.copy_(stack.at(0).toTensor());
}

// Rows of [B, L, ...] as one [B * L, ...] view (no copy): the batch stride must be L rows.
at::Tensor rows(const at::Tensor& t) {
  TORCH_CHECK(rows_of_sequences(t), "attention (flash): a batch must be rows of one buffer");
  return t.as_strided({t.size(0) * t.size(1), t.size(2), t.size(3)},
                      {t.stride(1), t.stride(2), t.stride(3)});
}

}  // namespace

bool attention_varlen_supported(const VarlenArgs& a) {
  return takes(a.q, a.k, a.v, a.out) && a.cu_seqlens_q.is_contiguous() &&
         a.cu_seqlens_k.is_contiguous();
}

void attention_varlen_kernel(const VarlenArgs& a) {
  call(a.q, a.k, a.v, a.cu_seqlens_q, a.cu_seqlens_k, a.max_seqlen_q, a.max_seqlen_k, a.causal,
       a.scale, std::nullopt, a.out);
}

bool attention_with_kvcache_supported(const KvCacheArgs& a) {
  bool ok = takes(a.q, a.k_cache, a.v_cache, a.out) && rows_of_sequences(a.q) &&
            rows_of_sequences(a.out) && rows_of_sequences(a.k_cache) &&
            rows_of_sequences(a.v_cache) && a.cache_seqlens.is_contiguous();
  if (a.k_new.defined()) ok = ok && a.k_new.stride(-1) == 1 && a.v_new.stride(-1) == 1;
  return ok;
}

void attention_with_kvcache_kernel(const KvCacheArgs& a) {
  const std::int64_t B = a.q.size(0), L = a.q.size(1), cap = a.k_cache.size(1);
  const auto i32 = a.cache_seqlens.options();
  at::Tensor used = a.cache_seqlens;
  if (a.k_new.defined()) {
    // The new keys and values go in at each sequence's length, on the device (the lengths are
    // never read on the host). Out-of-range rows are the caller's contract (the op's entry and
    // the model size the cache first); index_put_ on CUDA asserts on them.
    const auto i64 = i32.dtype(at::kLong);
    at::Tensor at_row = a.cache_seqlens.to(at::kLong).unsqueeze(1) + at::arange(L, i64);
    at::Tensor seq = at::arange(B, i64).unsqueeze(1).expand({B, L});
    a.k_cache.index_put_({seq, at_row}, a.k_new);
    a.v_cache.index_put_({seq, at_row}, a.v_new);
    used = a.cache_seqlens + static_cast<int>(L);
  }
  const at::Tensor cu_q = at::arange(0, (B + 1) * L, L, i32);
  const at::Tensor cu_k = at::arange(0, (B + 1) * cap, cap, i32);
  call(rows(a.q), rows(a.k_cache), rows(a.v_cache), cu_q, cu_k, L, cap, a.causal, a.scale, used,
       rows(a.out));
}

}  // namespace glyph::vlm::ops::flash
