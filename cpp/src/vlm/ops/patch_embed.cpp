#include "vlm/ops/patch_embed.h"

#include <c10/util/Exception.h>

namespace glyph::vlm::ops {

at::Tensor patch_embed(const at::Tensor& patches, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(patches.dim() == 2, "patch_embed: patches must be [N, K]");
  TORCH_CHECK(weight.dim() >= 2, "patch_embed: weight must be [D, ...]");
  const auto d = weight.size(0);
  const auto k = weight.numel() / d;
  TORCH_CHECK(patches.size(1) == k, "patch_embed: patches have ", patches.size(1),
              " values, the weight expects ", k);
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == d),
              "patch_embed: bias must be [D]");
  TORCH_CHECK(patches.device() == weight.device(), "patch_embed: device mismatch");
  PatchEmbedParams p{patches.to(weight.scalar_type()).contiguous(), weight.reshape({d, k}), bias};
  if (patches.size(0) == 0) return at::empty({0, d}, weight.options());
  // On CUDA tensors too: the GEMM is cuBLAS's through ATen, which a hand-written kernel would not
  // beat; the fused page-to-patch kernel (issue 10, not written yet) will start from uint8 pages.
  return cpu::patch_embed_kernel(p);
}

}  // namespace glyph::vlm::ops
