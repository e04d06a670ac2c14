// The always-built attention: ATen SDPA per segment, GQA through SDPA's enable_gqa (query head h
// reads kv head h / rep, transformers' repeat_kv order, without copying the cache), an explicit
// bottom-right causal mask when queries are a suffix of the keys.
#include "vlm/ops/attention.h"

namespace glyph::vlm::ops::cpu {

namespace {
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
               double scale) {
  const auto lq = q.size(1), lk = k.size(1);
  std::optional<at::Tensor> mask;
  bool is_causal = false;
  if (causal && lq > 1) {
    if (lq == lk) {
      is_causal = true;
    } else {
      auto i = at::arange(lq, q.options().dtype(at::kLong)).unsqueeze(1);
      auto j = at::arange(lk, q.options().dtype(at::kLong)).unsqueeze(0);
      mask = j <= i + (lk - lq);
    }
  }
  return at::scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), mask,
                                          0.0, is_causal, scale,
                                          /*enable_gqa=*/q.size(0) != k.size(0))
      .squeeze(0);
}
}  // namespace

at::Tensor attention_kernel(const AttentionParams& p) {
  if (p.segments.size() <= 2) return sdpa(p.q, p.k, p.v, p.causal, p.scale);
  std::vector<at::Tensor> outs;
  for (std::size_t s = 0; s + 1 < p.segments.size(); ++s) {
    const auto b = p.segments[s], e = p.segments[s + 1];
    outs.push_back(sdpa(p.q.slice(1, b, e), p.k.slice(1, b, e), p.v.slice(1, b, e), false, p.scale));
  }
  return at::cat(outs, 1);
}

}  // namespace glyph::vlm::ops::cpu
