// Attention op: declared once here; ops/cpu/attention_kernel.cpp is the always-built
// implementation (ATen's scaled_dot_product_attention, which also runs on CUDA tensors);
// a hand-written CUDA kernel registers in attention.cpp's dispatch when GLYPH_WITH_CUDA is on.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace glyph::vlm::ops {

// Validated arguments handed to a kernel. q [heads, Lq, d]; k, v [kv_heads, Lk, d] with
// heads % kv_heads == 0 (GQA: query head h reads kv head h / (heads / kv_heads)).
// causal: query i (of Lq) sees keys j <= i + (Lk - Lq), i.e. queries are the last Lq positions.
// segments: optional cumulative lengths (cu_seqlens); attention stays inside each segment
// (bidirectional within; used by the vision tower, where each image is one segment).
struct AttentionParams {
  at::Tensor q, k, v;
  bool causal = false;
  double scale = 1.0;
  std::vector<std::int64_t> segments;
};

// Returns [heads, Lq, d] in q's dtype.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     double scale, const std::vector<std::int64_t>& segments = {});

namespace cpu {
at::Tensor attention_kernel(const AttentionParams& p);
}
#ifdef GLYPH_WITH_CUDA
namespace cuda {
bool attention_supported(const AttentionParams& p);
at::Tensor attention_kernel(const AttentionParams& p);
}  // namespace cuda
#endif

}  // namespace glyph::vlm::ops
