#include "vlm/ops/attention.h"

#include <c10/util/Exception.h>

namespace glyph::vlm::ops {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     double scale, const std::vector<std::int64_t>& segments) {
  TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention: q, k, v must be 3-D");
  TORCH_CHECK(k.sizes() == v.sizes(), "attention: k and v shapes differ");
  TORCH_CHECK(q.size(2) == k.size(2), "attention: head dims differ");
  TORCH_CHECK(k.size(0) > 0 && q.size(0) % k.size(0) == 0,
              "attention: query heads must be a multiple of kv heads");
  TORCH_CHECK(q.device() == k.device() && q.device() == v.device(), "attention: device mismatch");
  TORCH_CHECK(q.scalar_type() == k.scalar_type() && q.scalar_type() == v.scalar_type(),
              "attention: dtype mismatch");
  if (!segments.empty()) {
    TORCH_CHECK(!causal, "attention: segments are bidirectional");
    TORCH_CHECK(q.size(1) == k.size(1), "attention: segments need Lq == Lk");
    TORCH_CHECK(segments.front() == 0 && segments.back() == q.size(1),
                "attention: segments must run from 0 to the sequence length");
  }
  AttentionParams p{q, k, v, causal, scale, segments};
  if (q.numel() == 0) return at::empty_like(q);
#ifdef GLYPH_WITH_CUDA
  if (q.is_cuda() && cuda::attention_supported(p)) return cuda::attention_kernel(p);
#endif
  return cpu::attention_kernel(p);
}

}  // namespace glyph::vlm::ops
