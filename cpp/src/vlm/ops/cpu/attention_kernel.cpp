// The always-built attention: ATen SDPA per sequence. GQA through SDPA's enable_gqa (query head h
// reads kv head h / rep, transformers' repeat_kv order, without copying K/V); an explicit
// bottom-right causal mask when queries are a suffix of the keys. It reads the sequence offsets
// on the host, so on a CUDA tensor it works but synchronises: the CUDA kernels do not.
#include "vlm/ops/attention.h"

#include <c10/util/Exception.h>

namespace glyph::vlm::ops::cpu {

namespace {

// One sequence: q [lq, H, d], k/v [lk, Hkv, d]; writes out [lq, H, d].
void attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
            double scale, at::Tensor out) {
  const std::int64_t lq = q.size(0), lk = k.size(0);
  if (lq == 0) return;
  // Rows that see no key (no keys at all; or causal with more queries than keys): zeros.
  const std::int64_t first = lk == 0 ? lq : (causal && lq > lk ? lq - lk : 0);
  if (first > 0) out.slice(0, 0, first).zero_();
  if (first == lq) return;
  const at::Tensor qq = q.slice(0, first);
  const std::int64_t n = lq - first;
  std::optional<at::Tensor> mask;
  bool is_causal = false;
  if (causal && n > 1) {
    if (n == lk) {
      is_causal = true;
    } else {
      auto i = at::arange(n, q.options().dtype(at::kLong)).unsqueeze(1);
      auto j = at::arange(lk, q.options().dtype(at::kLong)).unsqueeze(0);
      mask = j <= i + (lk - n);
    }
  }
  at::Tensor r = at::scaled_dot_product_attention(
      qq.transpose(0, 1).unsqueeze(0), k.transpose(0, 1).unsqueeze(0),
      v.transpose(0, 1).unsqueeze(0), mask, 0.0, is_causal, scale,
      /*enable_gqa=*/q.size(1) != k.size(1));
  out.slice(0, first).copy_(r.squeeze(0).transpose(0, 1));
}

}  // namespace

void attention_varlen_kernel(const VarlenArgs& a) {
  const at::Tensor cq = a.cu_seqlens_q.to(at::kCPU).contiguous();
  const at::Tensor ck = a.cu_seqlens_k.to(at::kCPU).contiguous();
  const std::int32_t* pq = cq.data_ptr<std::int32_t>();
  const std::int32_t* pk = ck.data_ptr<std::int32_t>();
  const std::int64_t batch = cq.size(0) - 1;
  TORCH_CHECK(pq[0] == 0 && pk[0] == 0, "attention_varlen: cu_seqlens must start at 0");
  TORCH_CHECK(pq[batch] == a.q.size(0) && pk[batch] == a.k.size(0),
              "attention_varlen: cu_seqlens end at ", pq[batch], " and ", pk[batch],
              ", the tensors hold ", a.q.size(0), " query and ", a.k.size(0), " key tokens");
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t lq = pq[b + 1] - pq[b], lk = pk[b + 1] - pk[b];
    TORCH_CHECK(lq >= 0 && lk >= 0, "attention_varlen: cu_seqlens decrease at sequence ", b);
    TORCH_CHECK(lq <= a.max_seqlen_q && lk <= a.max_seqlen_k, "attention_varlen: sequence ", b,
                " (", lq, " queries, ", lk, " keys) exceeds max_seqlen_q ", a.max_seqlen_q,
                " / max_seqlen_k ", a.max_seqlen_k);
    attend(a.q.slice(0, pq[b], pq[b + 1]), a.k.slice(0, pk[b], pk[b + 1]),
           a.v.slice(0, pk[b], pk[b + 1]), a.causal, a.scale, a.out.slice(0, pq[b], pq[b + 1]));
  }
}

void attention_with_kvcache_kernel(const KvCacheArgs& a) {
  const at::Tensor lens = a.cache_seqlens.to(at::kCPU).contiguous();
  const std::int32_t* len = lens.data_ptr<std::int32_t>();
  const std::int64_t batch = a.q.size(0), lq = a.q.size(1), capacity = a.k_cache.size(1);
  const bool append = a.k_new.defined();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t cached = len[b], total = cached + (append ? lq : 0);
    TORCH_CHECK(cached >= 0 && total <= capacity, "attention_with_kvcache: sequence ", b, " holds ",
                cached, " cached tokens", append ? " + new ones" : "", ", more than the cache's ",
                capacity);
    at::Tensor kc = a.k_cache.select(0, b), vc = a.v_cache.select(0, b);
    if (append) {
      kc.slice(0, cached, total).copy_(a.k_new.select(0, b));
      vc.slice(0, cached, total).copy_(a.v_new.select(0, b));
    }
    attend(a.q.select(0, b), kc.slice(0, 0, total), vc.slice(0, 0, total), a.causal, a.scale,
           a.out.select(0, b));
  }
}

}  // namespace glyph::vlm::ops::cpu
