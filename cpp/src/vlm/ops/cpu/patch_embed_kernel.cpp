#include "vlm/ops/patch_embed.h"

namespace glyph::vlm::ops::cpu {

at::Tensor patch_embed_kernel(const PatchEmbedParams& p) {
  if (p.bias.defined()) return at::addmm(p.bias, p.patches, p.weight.t());
  return at::mm(p.patches, p.weight.t());
}

}  // namespace glyph::vlm::ops::cpu
